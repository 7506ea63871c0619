use iogate::{Client, WsException, gateway, middleware, subscribe_message, use_guards};

struct Chat;

#[gateway]
#[subscribe_message("message")]
impl Chat {
    #[subscribe_message("a")]
    #[subscribe_message("b")]
    async fn two_events(&self) {}

    #[subscribe_message("c")]
    #[middleware]
    async fn both(&self, _client: Client) -> Result<(), WsException> {
        Ok(())
    }

    #[subscribe_message("d")]
    #[use_guards()]
    async fn no_guard(&self) {}

    #[middleware(always)]
    async fn with_arguments(&self, _client: Client) -> Result<(), WsException> {
        Ok(())
    }
}

struct Display;

#[gateway]
impl std::fmt::Debug for Display {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Display")
    }
}

fn main() {}

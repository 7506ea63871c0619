use iogate::{Client, middleware, subscribe_message, use_guards};

#[subscribe_message("message")]
async fn handle_message() {}

struct Chat;

#[use_guards(|_: &iogate::Context| true)]
impl Chat {
    #[middleware]
    async fn authenticate(&self, _client: Client) -> Result<(), iogate::WsException> {
        Ok(())
    }
}

fn main() {}

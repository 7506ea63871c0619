use iogate::{Client, Context, gateway, use_guards};

struct Chat;

fn signed_in(_: &Context) -> bool {
    true
}

#[gateway]
impl Chat {
    #[use_guards(signed_in)]
    async fn helper(&self) {}

    #[use_guards(signed_in)]
    async fn handle_connection(&self, _client: Client) {}
}

fn main() {}

use iogate::{Client, Server, gateway};

struct Hooks;

#[gateway]
impl Hooks {
    async fn handle_connection(&self) {}

    fn handle_disconnect(&self, _client: Client) {}

    async fn after_init(&self, _server: Server) {}
}

struct WrongType;

#[gateway]
impl WrongType {
    async fn handle_connection(&self, _client: String) {}
}

fn main() {}

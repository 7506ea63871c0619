//! The hooks' shorter forms: `handle_disconnect` without the reason, `after_init` without the
//! server, and a `handle_connection` that may refuse.

use iogate::{Client, Exception, IntoGateway, gateway};

struct Hooks;

#[gateway(namespace = "/hooks")]
impl Hooks {
    fn after_init(&self) {}

    async fn handle_connection(&self, client: Client) -> Result<(), Exception> {
        client.join("lobby")?;
        Ok(())
    }

    async fn handle_disconnect(&self, _client: Client) {}
}

fn main() {
    let _ = Hooks.into_gateway();
}

//! Methods without a receiver, on a gateway without options (the namespace `/`).

use iogate::{Data, IntoGateway, Server, gateway, subscribe_message};

struct Stateless;

#[gateway]
impl Stateless {
    fn after_init(_server: Server) {}

    #[subscribe_message("ping")]
    async fn ping() -> &'static str {
        "pong"
    }

    #[subscribe_message("double")]
    async fn double(Data(n): Data<i64>) -> i64 {
        n * 2
    }
}

fn main() {
    assert_eq!(Stateless.into_gateway().namespace(), "/");
}

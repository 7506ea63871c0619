//! The attributes by their full paths, without imports, in any order below `#[gateway]`; a
//! gateway extended by hand after `into_gateway`; methods under `#[cfg]`.

use iogate::IntoGateway;

struct Paths;

#[iogate::gateway(namespace = "/paths")]
impl Paths {
    #[iogate::use_pipes(|body| Ok::<_, iogate::WsException>(body))]
    #[iogate::subscribe_message("a")]
    #[iogate::use_guards(|_: &iogate::Context| true)]
    async fn a(&self) {}

    #[cfg(any())]
    #[iogate::subscribe_message("b")]
    async fn b_never(&self) {}

    #[cfg(not(any()))]
    #[iogate::subscribe_message("b")]
    async fn b(&self) -> u8 {
        1
    }
}

fn main() {
    let gateway = Paths
        .into_gateway()
        .subscribe_message("c", async || "by hand")
        .middleware(async |_client: iogate::Client| Ok::<_, iogate::WsException>(()));
    assert_eq!(gateway.namespace(), "/paths");
}

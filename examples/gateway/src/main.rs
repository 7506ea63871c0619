//! The guide's Gateway section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-gateway
//! ```
//!
//! With `socket.io-client`:
//! `io("http://127.0.0.1:3000").emit("message", "hi", console.log)` prints `Message received`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_gateway::app().build();
    example_support::serve("example-gateway", app.into_router(axum::Router::new())).await
}

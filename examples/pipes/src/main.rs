//! The guide's Pipes section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-pipes
//! ```
//!
//! With `socket.io-client`: `socket.emit("createMessage", { text: "hi" }, console.log)`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_pipes::app().build();
    example_support::serve("example-pipes", app.into_router(axum::Router::new())).await
}

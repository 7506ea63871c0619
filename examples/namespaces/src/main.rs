//! The guide's Namespaces section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-namespaces
//! ```
//!
//! With `socket.io-client`: `io("http://127.0.0.1:3000/notifications").emit("ping", console.log)`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_namespaces::app().build();
    example_support::serve("example-namespaces", app.into_router(axum::Router::new())).await
}

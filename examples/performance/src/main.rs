//! The guide's performance options, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-performance
//! ```
//!
//! Clients must ask for the websocket transport: `io(url, { transports: ["websocket"] })`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_performance::app().build();
    example_support::serve("example-performance", app.into_router(axum::Router::new())).await
}

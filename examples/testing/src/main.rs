//! The guide's Testing section: the gateway under test, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-testing
//! ```
//!
//! Its test: `cargo test -p example-testing`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_testing::app(example_testing::Messages::default()).build();
    example_support::serve("example-testing", app.into_router(axum::Router::new())).await
}

//! The guide's Exception filters section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-exception-filters
//! ```
//!
//! With `socket.io-client`: `socket.on("exception", console.log); socket.emit("fail")`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_exception_filters::app().build();
    example_support::serve(
        "example-exception-filters",
        app.into_router(axum::Router::new()),
    )
    .await
}

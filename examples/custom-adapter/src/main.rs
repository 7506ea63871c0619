//! The guide's custom adapter options, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-custom-adapter
//! ```
//!
//! Origins come from `ALLOWED_ORIGINS` (comma-separated; any origin when unset).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let origins =
        example_custom_adapter::origins_from_env(std::env::var("ALLOWED_ORIGINS").ok().as_deref());
    let app = example_custom_adapter::app(&origins).build();
    example_support::serve(
        "example-custom-adapter",
        app.into_router(axum::Router::new()),
    )
    .await
}

//! The guide's custom adapter options, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-custom-adapter
//! ```
//!
//! Origins come from `ALLOWED_ORIGINS` (comma-separated; any origin when unset).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let origins =
        example_custom_adapter::origins_from_env(std::env::var("ALLOWED_ORIGINS").ok().as_deref());
    let router = example_custom_adapter::app(&origins)
        .build()
        .into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-custom-adapter listening on http://{}",
        listener.local_addr()?
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

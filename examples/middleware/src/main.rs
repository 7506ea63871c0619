//! The guide's Middleware section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-middleware
//! ```
//!
//! Tokens are HS256 JWTs signed with `JWT_SECRET`; connect with
//! `io("http://127.0.0.1:3000/chat", { auth: { token } })`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        tracing::warn!("JWT_SECRET is not set: using a development secret");
        "dev-secret-change-me".to_owned()
    });
    let router = example_middleware::app(secret.as_bytes())
        .build()
        .into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-middleware listening on http://{}",
        listener.local_addr()?
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

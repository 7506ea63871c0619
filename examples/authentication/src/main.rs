//! The guide's Authentication section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-authentication
//! ```
//!
//! Tokens are signed with `JWT_SECRET` (a development secret when unset); a token for the user
//! `dev-user` is printed at start. With `socket.io-client`:
//! `io("http://127.0.0.1:3000/events", { auth: { token } })`.

const DEV_SECRET: &str = "dev-secret-change-me";

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
        DEV_SECRET.to_owned()
    });
    let router = example_authentication::app(secret.as_bytes())
        .build()
        .into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-authentication listening on http://{}",
        listener.local_addr()?
    );
    println!(
        "a token for dev-user, valid one hour: {}",
        example_authentication::token(secret.as_bytes(), "dev-user", 3600)
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

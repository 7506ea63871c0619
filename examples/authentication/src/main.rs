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
    example_support::logs();
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        tracing::warn!("JWT_SECRET is not set: using a development secret");
        DEV_SECRET.to_owned()
    });
    println!(
        "a token for dev-user, valid one hour: {}",
        example_authentication::token(secret.as_bytes(), "dev-user", 3600)
    );
    let app = example_authentication::app(secret.as_bytes()).build();
    example_support::serve(
        "example-authentication",
        app.into_router(axum::Router::new()),
    )
    .await
}

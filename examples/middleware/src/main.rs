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
    example_support::logs();
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        tracing::warn!("JWT_SECRET is not set: using a development secret");
        "dev-secret-change-me".to_owned()
    });
    let app = example_middleware::app(secret.as_bytes()).build();
    example_support::serve("example-middleware", app.into_router(axum::Router::new())).await
}

//! The guide's Rooms section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-rooms
//! ```
//!
//! With `socket.io-client`: `socket.emit("joinRoom", "lobby")`, then
//! `socket.emit("messageToRoom", { room: "lobby", message: "hi" })` from any client.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let router = example_rooms::app()
        .build()
        .into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-rooms listening on http://{}",
        listener.local_addr()?
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

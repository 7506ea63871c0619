//! The server of the official Socket.IO protocol test suite, written with iogate.
//!
//! ```text
//! cargo run -p example-conformance
//! ```
//!
//! Then, in a copy of the `test-suite/` folder of the socket.io-protocol repository:
//! `npm install && npx mocha test-suite.js` (the suite expects port 3000).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `RUST_LOG=debug` shows what the server does; nothing is logged by default.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let router = example_conformance::app()
        .build()
        .into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-conformance listening on http://{}",
        listener.local_addr()?
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

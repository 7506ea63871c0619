//! The server of the official Engine.IO and Socket.IO protocol test suites, written with
//! iogate, on one port: the Socket.IO suite's app at `/socket.io/`, the Engine.IO suite's bare
//! echo at `/engine.io/`.
//!
//! ```text
//! cargo run -p example-conformance
//! ```
//!
//! Then, in a copy of the `test-suite/` folder of the socket.io-protocol (or engine.io-protocol)
//! repository: `npm ci && npx mocha test-suite.js` (the suites expect port 3000). `PORT` picks
//! another port; `PARSER=msgpack` speaks `socket.io-msgpack-parser`.

// One thread, as Node: the Engine.IO suite sends a GET poll and a POST `1` at the same instant
// on two connections and expects them handled in the order sent, which only a single-threaded
// server guarantees; a real client's GET is always waiting before it sends `1`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    // `RUST_LOG=debug` shows what the server does; nothing is logged by default.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    // `PARSER=msgpack` speaks socket.io-msgpack-parser instead of the default parser.
    let parser = match std::env::var("PARSER").as_deref() {
        Ok("msgpack") => iogate::Parser::Msgpack,
        _ => iogate::Parser::Json,
    };
    let router = example_conformance::app_with(parser)
        .build()
        .into_router(example_conformance::engine_io_echo());
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

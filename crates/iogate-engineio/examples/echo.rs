//! A bare Engine.IO echo server: every message is sent back as is.
//!
//! Configured like the official protocol test suite expects
//! (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6), at
//! `http://127.0.0.1:$PORT/engine.io/` (PORT defaults to 3000).
//!
//! `PING_INTERVAL_MS` and `PING_TIMEOUT_MS` change the heartbeat (e.g. to
//! Node's 25000 and 20000 when holding thousands of idle connections).
//! `DEFLATE=1` enables permessage-deflate with the defaults of
//! [`Deflate`]; `DEFLATE=takeover` also keeps the compression context
//! between messages in both directions (more memory per connection);
//! `DEFLATE_LEVEL` sets the zlib level (0 to 9).
//!
//! ```text
//! cargo run --release -p iogate-engineio --example echo
//! DEFLATE=1 PORT=3001 cargo run --release -p iogate-engineio --example echo
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iogate_engineio::{CloseReason, Config, Deflate, Engine, Frame, Handler, Message, Session};
use tower_http::cors::CorsLayer;

struct Echo;

impl Handler for Echo {
    type Data = ();

    fn on_open(&self, _session: &Arc<Session<()>>) {}

    fn on_message(&self, session: &Arc<Session<()>>, msg: Message) {
        let frame = match msg {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(bytes) => Frame::binary(bytes),
        };
        // A full queue closes the session by itself; nothing to do here.
        let _ = session.send(frame);
    }

    fn on_close(&self, _session: &Arc<Session<()>>, _reason: CloseReason) {}
}

// One thread, like Node: the suite sends some requests at the same instant on
// separate connections (a GET poll and a POST `1`) and expects them handled in
// the order they were sent, which only a single-threaded server guarantees.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let level = std::env::var("DEFLATE_LEVEL")
        .ok()
        .and_then(|v| v.parse().ok());
    let deflate = Deflate {
        level: level.unwrap_or(Deflate::default().level),
        ..Deflate::default()
    };
    let per_message_deflate = match std::env::var("DEFLATE").as_deref() {
        Ok("takeover") => Some(Deflate {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..deflate
        }),
        Ok("1" | "true") => Some(deflate),
        _ => None,
    };
    let millis = |name, default| {
        let ms = std::env::var(name).ok().and_then(|v| v.parse().ok());
        Duration::from_millis(ms.unwrap_or(default))
    };
    let config = Config {
        ping_interval: millis("PING_INTERVAL_MS", 300),
        ping_timeout: millis("PING_TIMEOUT_MS", 200),
        max_payload: 1_000_000,
        per_message_deflate,
        ..Config::default()
    };
    let engine = Engine::new(config, Echo);
    let app = axum::Router::new()
        .route_service("/engine.io/", engine)
        .layer(CorsLayer::permissive());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("engine.io echo listening on http://127.0.0.1:{port}/engine.io/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

//! The server that the official Socket.IO protocol test suite (`test-suite/` of the
//! socket.io-protocol repository) runs against, written with iogate gateways; and the bare
//! Engine.IO echo that the Engine.IO suite (engine.io-protocol) runs against, written with the
//! Engine.IO layer alone.
//!
//! What the suite expects:
//! - ping interval 300 ms, ping timeout 200 ms, max payload 1,000,000 bytes, connect timeout
//!   1,000 ms, CORS `*`, every transport;
//! - on connection to `/` and to `/custom`, the event `auth` with the client's handshake auth
//!   (`{}` when it sent none);
//! - on `/`, `message` emitted back as `message-back` with the same arguments, binary
//!   attachments included, and `message-with-ack` acknowledged with its own arguments.
//!
//! Both echoes take [`Args`]: the arguments exactly as the client sent them, binary
//! attachments included, which go back out the same way.

use std::sync::Arc;
use std::time::Duration;

use iogate::{Ack, App, Args, Client, Cors, Gateway, Options, Parser, WsResponse};
use serde_json::{Value, json};

/// The suite's options.
pub fn options() -> Options {
    Options::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .connect_timeout(Duration::from_millis(1_000))
        .cors(Cors::Any)
}

/// The app: `/` echoes, `/custom` only greets.
pub fn app() -> App {
    app_with(Parser::Json)
}

/// The app, speaking `parser` (the suites use the default one; `socket.io-msgpack-parser`
/// clients need [`Parser::Msgpack`]).
pub fn app_with(parser: Parser) -> App {
    let main = Gateway::new("/")
        .handle_connection(emit_auth)
        .subscribe_message("message", async |args: Args| {
            WsResponse::new("message-back", args)
        })
        .subscribe_message("message-with-ack", async |args: Args| Ack(args));
    let custom = Gateway::new("/custom").handle_connection(emit_auth);
    App::new()
        .options(options().parser(parser))
        .gateway(main)
        .gateway(custom)
}

/// Emits `auth` with the handshake's auth payload, `{}` when the client sent none (as Node's
/// `socket.handshake.auth`).
async fn emit_auth(client: Client) -> Result<(), iogate::EmitError> {
    let auth = match client.auth() {
        Value::Null => json!({}),
        auth => auth.clone(),
    };
    client.emit("auth", &auth)
}

/// The Engine.IO suite's server: every message sent back as is, at `/engine.io/`, with the
/// suite's heartbeat and payload limit (those of [`options`]).
pub fn engine_io_echo() -> axum::Router {
    use iogate_engineio::{Config, Engine};
    let config = Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..Config::default()
    };
    axum::Router::new().route_service("/engine.io/", Engine::new(config, Echo))
}

/// Sends every message back.
struct Echo;

impl iogate_engineio::Handler for Echo {
    type Data = ();

    fn on_open(&self, _: &Arc<iogate_engineio::Session<()>>) {}

    fn on_message(
        &self,
        session: &Arc<iogate_engineio::Session<()>>,
        msg: iogate_engineio::Message,
    ) {
        use iogate_engineio::{Frame, Message};
        let frame = match msg {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(bytes) => Frame::binary(bytes),
        };
        // A session over its outgoing bound is closed by the engine itself.
        let _ = session.send(frame);
    }

    fn on_close(&self, _: &Arc<iogate_engineio::Session<()>>, _: iogate_engineio::CloseReason) {}
}

//! The guide's performance options: fewer round trips, bounded sizes, a tuned heartbeat.
//!
//! ```ts
//! @WebSocketGateway({
//!   transports: ['websocket'],
//!   pingInterval: 10000,
//!   pingTimeout: 5000,
//!   maxHttpBufferSize: 1e6,
//! })
//! ```
//!
//! - **WebSocket only**: no long-polling handshake and upgrade, and no sticky sessions needed
//!   behind a load balancer. A polling request is answered `400`.
//! - **Heartbeat**: a ping every 10 s, 5 s to answer; a dead connection is noticed in 15 s.
//! - **Payload limit**: the largest packet a client may send.
//! - **Backpressure** (iogate's own): how many packets may wait to be written to a client that
//!   reads slowly before it is disconnected, and how many of its events may wait for their
//!   handler before the extra ones are refused with `Too many requests`.
//!
//! socket.io's `perMessageDeflate` has no counterpart: the server never compresses, which is
//! what `perMessageDeflate: false` asks for.

use std::time::Duration;

use iogate::{App, Data, Gateway, Options, Transports};
use serde_json::Value;

/// The options.
pub fn options() -> Options {
    Options::default()
        .transports(Transports::WebsocketOnly)
        .ping_interval(Duration::from_secs(10))
        .ping_timeout(Duration::from_secs(5))
        .max_payload(1_000_000)
        .max_outgoing_packets(1_024)
        .max_pending_events(256)
}

/// The app: an echo gateway with those options.
pub fn app() -> App {
    App::new()
        .options(options())
        .gateway(Gateway::new("/").subscribe_message("events", async |Data(v): Data<Value>| v))
}

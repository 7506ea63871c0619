//! An Engine.IO v4 server: the transport layer under Socket.IO.
//!
//! [`Engine`] is a tower service (mount it at `/engine.io/` or `/socket.io/`)
//! that opens [`Session`]s over HTTP long-polling or WebSocket, upgrades
//! polling sessions to WebSocket, keeps them alive with PING/PONG, and hands
//! every incoming [`Message`] to a [`Handler`]. It knows nothing of Socket.IO.
//!
//! Memory per session is bounded: one outgoing queue capped by
//! [`Config::max_outgoing_bytes`] and [`Config::max_outgoing_packets`],
//! incoming data capped by [`Config::max_payload`], and at most one task per
//! connection.
//!
//! WebSocket messages can be compressed with permessage-deflate (RFC 7692):
//! off by default as in socket.io, on with [`Config::per_message_deflate`]
//! (see [`Deflate`] for what it costs). A decompressed message is bounded by
//! `max_payload` like any other.
//!
//! Modules, each owning one thing: `packet` (encoding, no I/O), `polling` and
//! `websocket` (one transport each and its buffers; `websocket::frame` and
//! `websocket::deflate` hold the frame bytes and the extension, no I/O),
//! `session` (the queue, the heartbeat and the task driving a session),
//! `engine` (routing requests), `forwarded` (the client's address behind trusted proxies,
//! no I/O).

mod config;
mod driver;
mod engine;
mod errors;
pub mod forwarded;
mod packet;
mod polling;
mod session;
mod shared;
mod str;
mod websocket;

use std::sync::Arc;

pub use config::{Config, Deflate, Transports};
pub use engine::Engine;
pub use forwarded::{ForwardedHeader, TrustedProxies};
pub use packet::{Frame, Message};
pub use session::Session;
pub use str::Str;

/// The layer above: told when sessions open, receive messages and close.
pub trait Handler: Send + Sync + 'static {
    /// Per-session state of the layer above, created with `Default` at the handshake.
    type Data: Default + Send + Sync + 'static;

    /// A handshake was accepted; called before the OPEN packet is written, so
    /// frames sent here follow OPEN.
    fn on_open(&self, session: &Arc<Session<Self::Data>>);

    /// A MESSAGE packet arrived. Called synchronously, in arrival order, in the
    /// task reading the transport: do not block here.
    fn on_message(&self, session: &Arc<Session<Self::Data>>, msg: Message);

    /// The session closed; called exactly once per opened session, after which
    /// the engine keeps nothing of it.
    fn on_close(&self, session: &Arc<Session<Self::Data>>, reason: CloseReason);

    /// The session moved from long-polling to its websocket. Nothing by default.
    fn on_upgrade(&self, session: &Arc<Session<Self::Data>>) {
        let _ = session;
    }
}

/// Why a session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client sent CLOSE or closed the websocket.
    TransportClose,
    /// Reading from or writing to the transport failed, or the client broke
    /// the protocol (overlapping polls, a message over `max_payload`...).
    TransportError,
    /// No PONG within `ping_timeout` of a PING.
    PingTimeout,
    /// The client sent something that is not an Engine.IO packet.
    ParseError,
    /// [`Session::close`] was called.
    ServerClose,
    /// The outgoing queue went over its bounds (the client does not read fast enough).
    OutgoingFull,
    /// A websocket write did not complete within `write_timeout`.
    WriteTimeout,
    /// [`Engine::close`] was called.
    ServerShutdown,
}

impl CloseReason {
    /// The reason as Node's engine.io names it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ServerClose => "forced close",
            CloseReason::OutgoingFull => "outgoing queue full",
            CloseReason::WriteTimeout => "write timeout",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`Session::send`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// The frame would take the session over its outgoing bounds; the engine
    /// closes the session with [`CloseReason::OutgoingFull`].
    Full,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::Closed => "session closed",
            SendError::Full => "outgoing queue full",
        })
    }
}

impl std::error::Error for SendError {}

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::Websocket => "websocket",
        }
    }
}

//! # iogate-socketio: Socket.IO v5 over iogate's Engine.IO layer
//!
//! The protocol layer between the Engine.IO transports (`iogate-engineio`) and iogate's
//! gateways. It knows packets, namespaces, sockets, acknowledgements, binary attachments and
//! rooms; it knows nothing of gateways, guards or handlers: the layer above gives each
//! namespace an [`NsHandler`], which admits clients and receives their events.
//!
//! | module | owns |
//! |---|---|
//! | [`packet`] | the text of a packet: parse and encode, no I/O |
//! | [`parser`] | which [`Parser`] the wire speaks: every packet sent is written through it |
//! | [`msgpack`] | `socket.io-msgpack-parser`'s packets, and msgpack values to JSON with placeholders and back |
//! | [`ser`] | event data to JSON arguments, bytes to binary attachments |
//! | [`io`] | the server: one Engine.IO connection's packets, CONNECT, binary reassembly, the connect timeout |
//! | [`ns`] | a namespace: its sockets and rooms, broadcasts |
//! | [`socket`] | one client in one namespace: emit, acknowledgements, rooms, disconnect |
//! | [`adapter`] | forwarding operations to the other nodes of a cluster |
//! | [`recovery`] | the sessions of broken connections and the events they missed |
//! | [`observe`] | what a watching tool (the Admin UI) is told |
//!
//! A socket's id is public (it is the client's `socket.id`, sent in CONNECT as socket.io
//! does); the Engine.IO session id, which authorizes a long-polling client's requests, never
//! leaves its own transport.

pub mod adapter;
pub mod io;
pub mod msgpack;
pub mod ns;
pub mod observe;
pub mod packet;
pub mod parser;
pub mod recovery;
pub mod ser;
pub mod socket;

pub use adapter::{
    Adapter, AdapterError, AdapterFuture, BroadcastOptions, EventData, Local, MissedEvent,
    SessionRecord, SharedSessions, Single, SocketInfo, done,
};
pub use io::{AdapterInit, Builder, Config, Io};
pub use iogate_engineio as engineio;
pub use iogate_engineio::{Str, TransportKind};
pub use ns::{ConnectError, Event, Namespace, NsHandler};
pub use observe::Observer;
pub use parser::Parser;
pub use recovery::{Recovery, RecoveryStats};
pub use socket::{AckData, AckError, EmitError, Sid, Socket};

/// Milliseconds since the Unix epoch, as JavaScript's `Date.now()`.
pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a socket left its namespace, with socket.io's names (what `disconnect` listeners see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client closed the connection.
    TransportClose,
    /// The connection broke.
    TransportError,
    /// No pong in time.
    PingTimeout,
    /// The client sent something that is not the protocol.
    ParseError,
    /// The server closed the connection (`socket.disconnect(true)`, the connect timeout).
    ForcedClose,
    /// The server disconnected the socket from its namespace.
    ServerNamespaceDisconnect,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client read too slowly: its outgoing queue went over its bound (iogate's own).
    OutgoingFull,
    /// A write to the client did not complete in time (iogate's own).
    WriteTimeout,
}

impl DisconnectReason {
    /// socket.io's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::OutgoingFull => "outgoing queue full",
            Self::WriteTimeout => "write timeout",
        }
    }
}

impl DisconnectReason {
    /// Whether the client may get its state back after this (the connection broke, or the
    /// server went down): not after a disconnection either side asked for.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportClose
                | Self::TransportError
                | Self::PingTimeout
                | Self::ServerShuttingDown
                | Self::OutgoingFull
                | Self::WriteTimeout
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! A testing kit: serve gateways on a free port and talk to them as a socket.io client would
//! (feature `testing`).
//!
//! This is the Rust side of the NestJS guide's Testing section. There, a test compiles a
//! testing module, listens, and connects the official `socket.io-client`:
//!
//! ```ts
//! beforeEach(async () => {
//!   const module = await Test.createTestingModule({ providers: [EventsGateway] }).compile();
//!   app = module.createNestApplication();
//!   await app.listen(3001);
//!   client = io('http://localhost:3001');
//! });
//! afterEach(async () => { client.close(); await app.close(); });
//!
//! it('should handle message', (done) => {
//!   client.emit('message', 'test message', (response) => {
//!     expect(response).toBe('Message received');
//!     done();
//!   });
//! });
//! ```
//!
//! With iogate, [`TestServer::start`] serves an [`App`](crate::App) on `127.0.0.1:0`, and [`TestClient`]
//! speaks the socket.io protocol (v5, over the websocket transport of engine.io v4) to it:
//!
//! ```
//! use iogate::testing::{TestClient, TestServer};
//! use iogate::{App, Data, Gateway};
//! use serde_json::{Value, json};
//!
//! fn events_gateway() -> Gateway {
//!     Gateway::new("/")
//!         .subscribe_message("message", async |Data(_): Data<String>| "Message received")
//!         .subscribe_message("events", async |Data(data): Data<Value>| data)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start(App::new().gateway(events_gateway())).await;
//! let mut client = TestClient::connect(&server, "/").await?;
//!
//! // `emit` with an acknowledgement: the handler's return value comes back.
//! let response = client.emit_with_ack("message", "test message").await?;
//! assert_eq!(response, "Message received");
//! assert_eq!(client.emit_with_ack("events", json!({"a": 1})).await?, json!({"a": 1}));
//!
//! client.close().await;
//! server.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! What else a test can check:
//!
//! | the test wants | call |
//! |---|---|
//! | connect with a handshake `auth` payload, headers or query | [`Connect::auth`], [`Connect::header`], [`Connect::query`] |
//! | a refused connection's `connect_error` message | `Err(`[`ConnectError::Refused`]`)` from [`TestClient::connect`] |
//! | emit without an acknowledgement | [`TestClient::emit`] |
//! | several arguments, binary attachments | [`Args`], [`TestClient::emit_args`], [`TestClient::emit_args_with_ack`] |
//! | ask for an acknowledgement now, read it (or its absence) later | [`TestClient::emit_args_with_ack_id`], [`TestClient::wait_for_ack`], [`TestClient::ack_within`] |
//! | an event the server emits | [`TestClient::wait_for`], [`TestClient::next_event`] |
//! | that nothing arrives | [`TestClient::next_event_within`] |
//! | why the client was disconnected | [`TestClient::wait_for_disconnect`] and [`Disconnect`] |
//! | heartbeats | answered by default; [`TestClient::answer_pings`], [`TestClient::pings`] |
//! | a whole app, REST routes included | [`TestServer::start_router`], [`TestServer::request`] |
//!
//! Every wait is bounded by the client's timeout ([`DEFAULT_TIMEOUT`] unless set with
//! [`Connect::timeout`] or [`TestClient::set_timeout`]), so a missing reply fails the test with
//! [`ClientError::Timeout`] instead of hanging it. The waits use real time: do not combine the kit
//! with `tokio::time::pause()`, whose auto-advance would fire them at once.
//!
//! Events that arrive while the client waits for something else (an acknowledgement, another
//! event) are kept, in order, for the next [`TestClient::next_event`] or
//! [`TestClient::wait_for`].
//!
//! The client uses the websocket transport only: it cannot connect to a server whose options
//! allow long-polling only.

//!
//! The kit's parts: [`TestServer`] (`server.rs`) serves the app; [`TestClient`] (`client.rs`)
//! speaks to it; `protocol.rs` reads and writes the raw engine.io and socket.io frames, with no
//! I/O. To test one guard, pipe, extractor or filter without a server, build its
//! [`Context`](crate::Context) with [`Context::builder`](crate::Context::builder) instead.

use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod client;
mod protocol;
mod server;

pub use client::{Connect, TestClient};
pub use server::{HttpError, TestResponse, TestServer};

/// How long a [`TestClient`] waits for anything (a connection, an acknowledgement, an event)
/// unless told otherwise: 5 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Socket.io arguments and their binary attachments: the framework's own [`Args`](crate::Args),
/// used both ways here. The client emits them ([`TestClient::emit_args`]), and an
/// acknowledgement is read as them ([`TestClient::emit_args_with_ack`]), so a test compares
/// what a handler sent back with the `Args` it expects.
///
/// ```
/// use iogate::testing::Args;
/// use serde_json::json;
///
/// let args = Args::new().arg(1).arg("two").binary(vec![1u8, 2, 3]);
/// assert_eq!(args.values, vec![json!(1), json!("two"), json!({"_placeholder": true, "num": 0})]);
/// assert_eq!(args.binaries.len(), 1);
/// ```
#[doc(inline)]
pub use crate::Args;

/// An event the server emitted to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// The event's name.
    pub event: String,
    /// Its arguments; binary ones as placeholders (see [`Args`]).
    pub args: Vec<Value>,
    /// Its binary attachments.
    pub binaries: Vec<Bytes>,
}

impl ServerEvent {
    /// The first argument, `Null` when there is none (iogate emits one argument unless given a
    /// tuple).
    pub fn data(&self) -> &Value {
        self.args.first().unwrap_or(&Value::Null)
    }

    /// The first argument, deserialised into `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(self.data())
    }
}

/// Why a [`TestClient`] is disconnected, named as `socket.io-client` names it in its
/// `disconnect` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// The server disconnected the client from its namespace (`io server disconnect`): on the
    /// server, [`Client::disconnect`](crate::Client::disconnect) or a failed
    /// `handle_connection` hook.
    ServerNamespace,
    /// The test disconnected the client ([`TestClient::disconnect`]; `io client disconnect`).
    ClientNamespace,
    /// The connection was closed (`transport close`): the server closed it (e.g. it got no
    /// pong in time, a packet was too large, it shut down), or the test did
    /// ([`TestClient::close`]).
    TransportClose,
    /// The connection failed (`transport error`), with the reason.
    TransportError(String),
    /// The server sent no ping within its ping interval plus ping timeout (`ping timeout`).
    PingTimeout,
    /// The server sent something that is not socket.io (`parse error`), with what it was.
    ParseError(String),
}

impl Disconnect {
    /// `socket.io-client`'s name for the reason, e.g. `"io server disconnect"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ServerNamespace => "io server disconnect",
            Self::ClientNamespace => "io client disconnect",
            Self::TransportClose => "transport close",
            Self::TransportError(_) => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError(_) => "parse error",
        }
    }
}

impl std::fmt::Display for Disconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TransportError(detail) | Self::ParseError(detail) => {
                write!(f, "{}: {detail}", self.as_str())
            }
            _ => f.write_str(self.as_str()),
        }
    }
}

/// Why [`TestClient::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The namespace refused the client with `connect_error` (a middleware's error, or an
    /// unknown namespace). `message` is what `socket.io-client` shows as `err.message`.
    #[error("connection refused: {message}")]
    Refused {
        /// The refusal's message.
        message: String,
        /// The refusal's `data`, when the server sent any.
        data: Option<Value>,
    },
    /// No answer within the client's timeout.
    #[error("no answer to the connection within {0:?}")]
    Timeout(Duration),
    /// The connection closed before the namespace answered.
    #[error("the connection closed before the namespace answered ({0})")]
    Closed(Disconnect),
    /// The websocket could not be opened: nothing listens there, or the HTTP upgrade was
    /// refused (e.g. the server allows long-polling only).
    #[error("cannot open the websocket: {0}")]
    Transport(String),
    /// The server answered, but not as a socket.io server does.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Why an emit or a wait of a [`TestClient`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing of the kind arrived within the client's timeout.
    #[error("no {waiting_for} within {after:?}")]
    Timeout {
        /// What the client waited for, e.g. ``the event `exception` ``.
        waiting_for: String,
        /// How long it waited.
        after: Duration,
    },
    /// The client is disconnected, for this reason.
    #[error("the client is disconnected: {0}")]
    Closed(Disconnect),
    /// The arguments could not be serialised to JSON.
    #[error("cannot serialise the arguments: {0}")]
    Serialize(String),
}

/// What the engine.io server said when the connection opened (its `open` packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The engine.io session id.
    pub sid: String,
    /// The transports the server offers to upgrade to (none for a websocket connection).
    pub upgrades: Vec<String>,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the server waits for a pong.
    pub ping_timeout: Duration,
    /// The largest packet the server accepts, in bytes.
    pub max_payload: u64,
}

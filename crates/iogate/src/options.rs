//! [`Options`]: what NestJS's `IoAdapter` and the gateway decorators set — CORS, heartbeat,
//! sizes, transports, the parser, recovery and the [`Limits`].

use std::time::Duration;

use crate::defaults;
use crate::engine::sio;
use crate::limits::Limits;
pub use sio::engineio::{ForwardedHeader, TrustedProxies};

/// Which transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transports {
    /// Long-polling first, upgraded to WebSocket (socket.io's default).
    #[default]
    All,
    /// WebSocket only: a polling handshake is refused.
    WebsocketOnly,
    /// Long-polling only.
    PollingOnly,
}

/// The CORS policy of the socket.io endpoint and of the routes next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: browsers only on the same origin.
    SameOrigin,
    /// Any origin (`*`), without credentials.
    Any,
    /// Only these origins, optionally with credentials (cookies).
    Origins {
        /// The allowed origins, e.g. `https://app.example.com`.
        origins: Vec<String>,
        /// Whether browsers may send credentials.
        credentials: bool,
    },
}

impl Cors {
    /// `*` when `origins` is empty or `["*"]`, else that list with credentials.
    pub fn from_list(origins: &[String]) -> Self {
        if origins.is_empty() || origins.iter().any(|o| o == "*") {
            Self::Any
        } else {
            Self::Origins {
                origins: origins.to_vec(),
                credentials: true,
            }
        }
    }
}

/// The server's options: those of NestJS's `IoAdapter` and gateway decorators.
#[derive(Debug, Clone)]
#[must_use]
pub struct Options {
    pub(crate) cors: Cors,
    ping_interval: Duration,
    ping_timeout: Duration,
    connect_timeout: Duration,
    max_payload: u64,
    transports: Transports,
    max_outgoing_packets: usize,
    max_outgoing_bytes: usize,
    write_timeout: Duration,
    ws_read_buffer: usize,
    per_message_deflate: bool,
    pub(crate) http_compression: Option<u16>,
    pub(crate) recovery: Option<Recovery>,
    parser: Parser,
    trusted_proxies: TrustedProxies,
    pub(crate) limits: Limits,
}

impl Default for Options {
    /// socket.io's defaults: ping every 25 s, 20 s to answer, 45 s to join a namespace, 1 MB
    /// payloads, every transport; CORS `*`.
    fn default() -> Self {
        Self {
            cors: Cors::Any,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(45),
            max_payload: defaults::MAX_PAYLOAD,
            transports: Transports::All,
            max_outgoing_packets: defaults::MAX_OUTGOING_PACKETS,
            max_outgoing_bytes: defaults::MAX_OUTGOING_BYTES,
            write_timeout: Duration::from_secs(defaults::WRITE_TIMEOUT_SECS),
            ws_read_buffer: defaults::WS_READ_BUFFER_SIZE,
            per_message_deflate: false,
            http_compression: Some(1024),
            recovery: None,
            parser: Parser::Json,
            trusted_proxies: TrustedProxies::default(),
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// The protocol layer's settings.
    pub(crate) fn protocol(&self) -> sio::Config {
        let engine = sio::engineio::Config {
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_payload: usize::try_from(self.max_payload).unwrap_or(usize::MAX),
            transports: sio::engineio::Transports {
                polling: self.transports != Transports::WebsocketOnly,
                websocket: self.transports != Transports::PollingOnly,
            },
            max_outgoing_bytes: self.max_outgoing_bytes,
            max_outgoing_packets: self.max_outgoing_packets,
            write_timeout: self.write_timeout,
            ws_read_buffer: self.ws_read_buffer,
            per_message_deflate: self
                .per_message_deflate
                .then(sio::engineio::Deflate::default),
            trusted_proxies: self.trusted_proxies.clone(),
            ..sio::engineio::Config::default()
        };
        sio::Config {
            engine,
            connect_timeout: self.connect_timeout,
            recovery: self.recovery.clone().map(|r| r.0),
            parser: match self.parser {
                Parser::Json => sio::Parser::Json,
                Parser::Msgpack => sio::Parser::Msgpack,
            },
            ..sio::Config::default()
        }
    }

    /// The CORS policy (`cors`).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }
    /// How often the server pings (`pingInterval`).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// How long a client has to answer a ping (`pingTimeout`).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// How long a client has to join a namespace after the handshake (`connectTimeout`).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// The largest packet a client may send, in bytes (`maxHttpBufferSize`); a larger one ends
    /// that client's connection.
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.max_payload = bytes;
        self
    }
    /// The transports clients may use (`transports`).
    pub fn transports(mut self, t: Transports) -> Self {
        self.transports = t;
        self
    }
    /// How many packets may wait to be written to one client (default 4,096). A client that
    /// falls that far behind is cut off rather than silently missing messages.
    pub fn max_outgoing_packets(mut self, n: usize) -> Self {
        self.max_outgoing_packets = n.max(1);
        self
    }
    /// How many bytes may wait to be written to one client (default 1 MiB, as Centrifugo's).
    /// A client that stops reading is cut off once its queue would pass this, so it costs the
    /// server at most about this much; it reconnects, and its client knows it missed messages.
    pub fn max_outgoing_bytes(mut self, bytes: usize) -> Self {
        self.max_outgoing_bytes = bytes.max(1);
        self
    }
    /// How long a write to a WebSocket client may take (default 10 s). A client whose TCP
    /// window stays shut that long is cut off.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }
    /// How many bytes a WebSocket connection reads at a time (default 1 KiB). Each connected client holds a buffer of this size: at 1 KiB an idle
    /// client costs 3 KiB less memory than at 4 KiB, and a large message takes a few more
    /// reads. Raise it when clients mostly send large messages.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes.max(64);
        self
    }
    /// Compresses WebSocket messages of at least 1 KiB with permessage-deflate (RFC 7692) for
    /// clients that offer it, as socket.io's `perMessageDeflate` does; off by default, as in
    /// socket.io. Browsers and Node's `ws` offer it. It costs CPU on every large message and
    /// saves bandwidth on text that repeats (JSON). Memory stays flat: each message is
    /// compressed on its own (no context takeover either way), with a compressor borrowed
    /// per thread, so an idle client costs no more than without it.
    pub fn per_message_deflate(mut self, on: bool) -> Self {
        self.per_message_deflate = on;
        self
    }
    /// Compresses long-polling responses of at least `threshold` bytes (gzip or deflate, as
    /// the client's `Accept-Encoding` asks), as socket.io's `httpCompression` does; on by
    /// default with its threshold, 1 KiB. WebSocket messages are compressed only with
    /// [`Options::per_message_deflate`].
    pub fn http_compression(mut self, threshold: u16) -> Self {
        self.http_compression = Some(threshold);
        self
    }
    /// The reverse proxies whose forwarding header names the client (none by default): a
    /// connection from one of them counts as coming from the client's address in its
    /// `X-Forwarded-For` (or `Forwarded`), the rightmost hop that is not one of these proxies.
    /// That address is what the per-IP limit counts, what the logs and
    /// [`Client::address`](crate::Client::address) say. A connection from anywhere else is
    /// taken at its own address, whatever header it sends. Without this, every client behind a
    /// proxy shares the proxy's address, and the per-IP limit then holds for them all together.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }
    /// Sends long-polling responses uncompressed.
    pub fn no_http_compression(mut self) -> Self {
        self.http_compression = None;
        self
    }
    /// Connection state recovery (socket.io's `connectionStateRecovery`; off by default, as in
    /// socket.io): a client whose connection broke (not one that left, or that the server
    /// disconnected) and that comes back within
    /// [`max_disconnection_duration`](Recovery::max_disconnection_duration) keeps its id, its
    /// rooms and its data, gets the events it missed, in order, and
    /// [`Client::recovered`](crate::Client::recovered) is true in its connection hooks.
    ///
    /// With it on, every event sent without an acknowledgement carries an offset as its last
    /// argument, as socket.io's does. When
    /// [`skip_middlewares`](Recovery::skip_middlewares) is on, a recovered client skips the
    /// connection middlewares, unless the JWT it authenticated with has expired meanwhile:
    /// then they all run on the handshake it came back with, so an expired token is refused as
    /// for a new client, and a fresh one for the same user lets it back into its session.
    pub fn connection_state_recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = Some(recovery);
        self
    }
    /// How packets are written ([`Parser`]; socket.io's default parser unless told).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
    /// The rate and size limits ([`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// How many events of one client may wait for their handler (default 4,096); past that
    /// the client gets `exception` `"Too many requests"` for each extra event. A shortcut for
    /// [`Limits::max_pending_events`].
    pub fn max_pending_events(mut self, n: usize) -> Self {
        self.limits = self.limits.max_pending_events(n);
        self
    }
}

/// How packets are written on the wire (socket.io's `parser` option). Clients must use the same
/// one: a client with the other gets `connect_error` saying which the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io's default parser: text packets, binary arguments in messages of their own.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: each packet one msgpack message, binary in place. Clients
    /// pass `parser: require("socket.io-msgpack-parser")` to `io()`.
    Msgpack,
}

/// The settings of connection state recovery ([`Options::connection_state_recovery`]), with
/// socket.io's defaults and iogate's bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery(sio::Recovery);

impl Recovery {
    /// How long a client's session and the events it misses are kept after its connection
    /// broke (default 2 minutes, socket.io's `maxDisconnectionDuration`).
    pub fn max_disconnection_duration(mut self, d: Duration) -> Self {
        self.0.max_disconnection_duration = d;
        self
    }
    /// Whether a recovered client skips the connection middlewares (default true, socket.io's
    /// `skipMiddlewares`); never when the JWT it authenticated with expired meanwhile.
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.0.skip_middlewares = skip;
        self
    }
    /// The most sessions kept at once, on this server (default 10,000); past it, the session
    /// whose connection broke first is forgotten.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.0.max_sessions = n;
        self
    }
    /// The most events kept for replay, on this server (default 10,000).
    pub fn max_packets(mut self, n: usize) -> Self {
        self.0.max_packets = n;
        self
    }
    /// The most bytes of events kept for replay, on this server (default 16 MiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.0.max_bytes = n;
        self
    }
    /// The window ([`max_disconnection_duration`](Self::max_disconnection_duration)).
    pub fn window(&self) -> Duration {
        self.0.max_disconnection_duration
    }
    /// Whether middlewares are skipped ([`skip_middlewares`](Self::skip_middlewares)).
    pub fn skips_middlewares(&self) -> bool {
        self.0.skip_middlewares
    }
    /// The session bound ([`max_sessions`](Self::max_sessions)).
    pub fn sessions_bound(&self) -> usize {
        self.0.max_sessions
    }
    /// The log's bounds in events and bytes ([`max_packets`](Self::max_packets),
    /// [`max_bytes`](Self::max_bytes)).
    pub fn log_bounds(&self) -> (usize, usize) {
        (self.0.max_packets, self.0.max_bytes)
    }
}

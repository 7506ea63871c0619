//! Server configuration; the defaults are Node's engine.io 6.x defaults.

use std::time::Duration;

use crate::forwarded::TrustedProxies;

/// Which transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling (`transport=polling`).
    pub polling: bool,
    /// WebSocket (`transport=websocket`), directly or as an upgrade from polling.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// Engine configuration. `Config::default()` matches Node's engine.io defaults,
/// plus the bounds this crate adds on outgoing memory.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time between the end of a heartbeat and the next PING (Node: `pingInterval`).
    pub ping_interval: Duration,
    /// How long a PONG may take after a PING before the session closes (Node: `pingTimeout`).
    pub ping_timeout: Duration,
    /// How long an upgrade may take between the websocket opening and the client's `5`.
    pub upgrade_timeout: Duration,
    /// Largest POST body and largest websocket message, in bytes (Node: `maxHttpBufferSize`).
    pub max_payload: usize,
    /// Allowed transports.
    pub transports: Transports,
    /// Bytes queued to one session and not yet written; going over closes the session.
    pub max_outgoing_bytes: usize,
    /// Packets queued to one session and not yet written; going over closes the session.
    pub max_outgoing_packets: usize,
    /// A websocket write + flush, or the delivery of a closing session's last
    /// frames, that does not complete in this time closes the session.
    pub write_timeout: Duration,
    /// Initial size of a websocket connection's read buffer; it grows for larger messages.
    pub ws_read_buffer: usize,
    /// permessage-deflate (RFC 7692) on websocket connections; `None`, the
    /// default as in socket.io, never negotiates it.
    pub per_message_deflate: Option<Deflate>,
    /// The reverse proxies whose forwarding header gives a session's client address
    /// ([`Session::peer`](crate::Session::peer)); none by default.
    pub trusted_proxies: TrustedProxies,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            upgrade_timeout: Duration::from_secs(10),
            max_payload: 1_000_000,
            transports: Transports::default(),
            max_outgoing_bytes: 1024 * 1024,
            max_outgoing_packets: 4096,
            write_timeout: Duration::from_secs(10),
            ws_read_buffer: 1024,
            per_message_deflate: None,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// permessage-deflate (RFC 7692) settings: what the server accepts from a
/// client's offer and how it compresses.
///
/// Memory is the cost to watch. A connection that keeps its compression
/// context between messages keeps zlib's state for its whole life: measured
/// with 5,000 clients that each exchanged one 120 KB message, 381 KiB per
/// connection with context takeover both ways, against 6.2 KiB without. So
/// the defaults drop the context after each message in both directions
/// (`server_no_context_takeover`, `client_no_context_takeover`): each message
/// is compressed or decompressed with a state borrowed from a small
/// per-thread pool and reset afterwards, and an idle connection costs what it
/// costs without deflate. The price is a lower ratio on small messages that
/// repeat earlier ones, which the threshold leaves uncompressed anyway.
///
/// CPU is the other cost, set by `level`: compressing a 7.7 KB JSON message
/// took 22 µs at level 1 (to 26% of its size) and 80 µs at level 6 (16%),
/// decompressing it 13–16 µs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflate {
    /// Messages shorter than this many bytes are sent uncompressed (Node's
    /// `ws` and socket.io: 1024). Engine.IO's own packets (PING, PONG, NOOP)
    /// stay under it.
    pub threshold: usize,
    /// zlib compression level, 0 (store) to 9 (smallest). Default 1: most of
    /// the saving at a quarter of the CPU of Node's default, 6.
    pub level: u32,
    /// Reset the server's compressor after every message (and say so in the
    /// response), so no connection keeps a compressor between messages.
    pub server_no_context_takeover: bool,
    /// Ask the client to reset its compressor after every message, so the
    /// server's decompressor keeps no window between messages either.
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window, as a power of two (9 to 15), the server compresses
    /// with; a smaller value the client asks for in its offer wins.
    pub server_max_window_bits: u8,
    /// Largest window (9 to 15) asked of the client, when its offer allows
    /// it (`client_max_window_bits`); it bounds the server's decompressor.
    pub client_max_window_bits: u8,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            threshold: 1024,
            level: 1,
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

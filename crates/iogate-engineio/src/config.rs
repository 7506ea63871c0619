//! Server configuration; the defaults are Node's engine.io 6.x defaults.

use std::time::Duration;

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
        }
    }
}

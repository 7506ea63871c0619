//! The framework's defaults, in one place: [`Limits::default`](crate::Limits) and
//! [`Options::default`](crate::Options) are made of them, and a server that makes these
//! settings configurable (the `iogate` binary) shows them as its own defaults.

/// Largest packet a client may send, in bytes (socket.io's `maxHttpBufferSize`).
pub const MAX_PAYLOAD: u64 = 1_000_000;
/// Packets that may wait to be written to one client.
pub const MAX_OUTGOING_PACKETS: usize = 4096;
/// Bytes that may wait to be written to one client.
pub const MAX_OUTGOING_BYTES: usize = 1 << 20;
/// Seconds a write to a WebSocket client may take.
pub const WRITE_TIMEOUT_SECS: u64 = 10;
/// Bytes a WebSocket connection reads at a time.
pub const WS_READ_BUFFER_SIZE: usize = 1024;

/// Events of one client that may wait for their handler.
pub const MAX_PENDING_EVENTS: usize = 4096;
/// Bytes of one client's events that may wait for their handler.
pub const MAX_PENDING_BYTES: usize = 16 << 20;
/// Sustained events per second per client.
pub const EVENTS_PER_SECOND: u32 = 1000;
/// Events a client may send at once above the sustained rate.
pub const EVENT_BURST: u32 = 4096;
/// Refused events within 10 s after which a client is disconnected as abusive.
pub const ABUSE_REFUSALS: u32 = 1000;
/// Longest event name, in bytes.
pub const MAX_EVENT_NAME_LEN: usize = 128;
/// Deepest JSON nesting of a message's arguments.
pub const MAX_JSON_DEPTH: usize = 32;
/// New connections per second from one IP address (sustained).
pub const CONNECTIONS_PER_IP_PER_SECOND: u32 = 20;
/// New connections one IP address may open at once.
pub const CONNECTION_BURST_PER_IP: u32 = 50;
/// Clients connected to one server.
pub const MAX_CLIENTS: usize = 100_000;
/// Clients of one user on one server.
pub const MAX_CLIENTS_PER_USER: usize = 32;
/// Rooms one client may be in.
pub const MAX_ROOMS_PER_CLIENT: usize = 128;
/// Clients of one room on one node.
pub const MAX_CLIENTS_PER_ROOM: usize = 10_000;
/// Longest room name, in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 128;

/// Seconds a broken connection's session and the events it misses are kept
/// ([`Recovery`](crate::Recovery)).
pub const MAX_DISCONNECTION_DURATION_SECS: u64 = RECOVERY.max_disconnection_duration.as_secs();
/// Whether a recovered client skips the connection middlewares.
pub const SKIP_MIDDLEWARES: bool = RECOVERY.skip_middlewares;
/// Sessions kept for recovery at once.
pub const RECOVERY_MAX_SESSIONS: usize = RECOVERY.max_sessions;
/// Events kept for replay.
pub const RECOVERY_MAX_PACKETS: usize = RECOVERY.max_packets;
/// Bytes of events kept for replay.
pub const RECOVERY_MAX_BYTES: usize = RECOVERY.max_bytes;

const RECOVERY: crate::engine::sio::Recovery = crate::engine::sio::Recovery::DEFAULT;

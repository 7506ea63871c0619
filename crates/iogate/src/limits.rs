//! Rate and size limits: on by default, each configurable.
//!
//! A refused event is a [`Refusal`](crate::Refusal) that goes through the exception filters
//! as a handler's error does; the table shows what the default filter sends.
//!
//! | limit | default | over it, the client gets |
//! |---|---|---|
//! | events per client per second (token bucket) | 1,000/s, burst 4,096 | `exception` `Too many requests`; after 1,000 refusals within 10 s, a disconnect |
//! | pending events per client (waiting for their handler) | 4,096 events, 16 MiB | `exception` `Too many requests` |
//! | event name length | 128 bytes | `exception` `Event name too long` |
//! | JSON nesting depth of a message | 32 | `exception` `Message nested too deeply` |
//! | packet size (`max_payload` in [`Options`](crate::Options)) | 1,000,000 bytes | the connection is closed (as socket.io) |
//! | new connections per IP per second | 20/s, burst 50 | `connect_error` `Too many connections` |
//! | clients per server | 100,000 | `connect_error` `Server is full` |
//! | clients per user (`sub`) | 32 | `connect_error` `Too many connections for this user` |
//! | rooms per client | 128 | `exception` `Too many rooms` |
//! | clients per room (on one node) | 10,000 | `exception` `Room is full` |
//! | room name length | 128 bytes | `exception` `Room name too long` |
//! | outgoing queue per client (`max_outgoing_packets`) | 4,096 packets | a disconnect (the client stopped reading) |
//!
//! The per-IP limit needs each connection's peer address, which [`serve`](crate::serve) (or
//! axum's `into_make_service_with_connect_info::<SocketAddr>()`) provides; served without it,
//! the limit cannot apply, and the first handshake logs a warning saying so.
//!
//! These are the settings; the counts and token buckets they are checked against at run time
//! live in the crate's private `rails` module.

/// The limits, with their defaults (see the [module docs](self); the values are in
/// [`defaults`](crate::defaults)).
#[derive(Debug, Clone)]
#[must_use]
pub struct Limits {
    pub(crate) max_pending_events: usize,
    pub(crate) max_pending_bytes: usize,
    pub(crate) events_per_second: u32,
    pub(crate) event_burst: u32,
    pub(crate) abuse_refusals: u32,
    pub(crate) max_event_name_len: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) connections_per_ip_per_second: u32,
    pub(crate) connection_burst_per_ip: u32,
    pub(crate) max_clients: usize,
    pub(crate) max_clients_per_user: usize,
    pub(crate) max_rooms_per_client: usize,
    pub(crate) max_clients_per_room: usize,
    pub(crate) max_room_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use crate::defaults as d;
        Self {
            max_pending_events: d::MAX_PENDING_EVENTS,
            max_pending_bytes: d::MAX_PENDING_BYTES,
            events_per_second: d::EVENTS_PER_SECOND,
            event_burst: d::EVENT_BURST,
            abuse_refusals: d::ABUSE_REFUSALS,
            max_event_name_len: d::MAX_EVENT_NAME_LEN,
            max_json_depth: d::MAX_JSON_DEPTH,
            connections_per_ip_per_second: d::CONNECTIONS_PER_IP_PER_SECOND,
            connection_burst_per_ip: d::CONNECTION_BURST_PER_IP,
            max_clients: d::MAX_CLIENTS,
            max_clients_per_user: d::MAX_CLIENTS_PER_USER,
            max_rooms_per_client: d::MAX_ROOMS_PER_CLIENT,
            max_clients_per_room: d::MAX_CLIENTS_PER_ROOM,
            max_room_name_len: d::MAX_ROOM_NAME_LEN,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $t) -> Self {
            self.$name = value.max(1);
            self
        }
    )*};
}

impl Limits {
    setters! {
        /// Events of one client that may wait for their handler.
        max_pending_events: usize,
        /// Bytes of one client's events that may wait for their handler.
        max_pending_bytes: usize,
        /// Sustained events per second per client.
        events_per_second: u32,
        /// Events a client may send at once above the sustained rate.
        event_burst: u32,
        /// Refused events within 10 s after which a client is disconnected as abusive.
        abuse_refusals: u32,
        /// Longest event name, in bytes.
        max_event_name_len: usize,
        /// Deepest JSON nesting of a message's arguments.
        max_json_depth: usize,
        /// New connections per second from one IP address (sustained).
        connections_per_ip_per_second: u32,
        /// New connections one IP address may open at once.
        connection_burst_per_ip: u32,
        /// Clients connected to this server (all namespaces).
        max_clients: usize,
        /// Clients of one user (`sub`) on this server.
        max_clients_per_user: usize,
        /// Rooms one client may be in.
        max_rooms_per_client: usize,
        /// Clients of one room on this node.
        max_clients_per_room: usize,
        /// Longest room name, in bytes.
        max_room_name_len: usize,
    }

    /// Limits high enough never to be met, for benchmarks of raw throughput. Not for servers
    /// that face the internet.
    pub fn unlimited() -> Self {
        Self {
            max_pending_events: usize::MAX,
            max_pending_bytes: usize::MAX,
            events_per_second: u32::MAX,
            event_burst: u32::MAX,
            abuse_refusals: u32::MAX,
            max_event_name_len: usize::MAX,
            max_json_depth: 128,
            connections_per_ip_per_second: u32::MAX,
            connection_burst_per_ip: u32::MAX,
            max_clients: usize::MAX,
            max_clients_per_user: usize::MAX,
            max_rooms_per_client: usize::MAX,
            max_clients_per_room: usize::MAX,
            max_room_name_len: usize::MAX,
        }
    }
}

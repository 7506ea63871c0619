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

use crate::defaults as d;

/// Declares [`Limits`] from one list: each limit's doc, type, default and value in
/// [`Limits::unlimited`]. The struct, its `Default`, a setter per limit and `unlimited` are
/// made from it, so a new limit is one entry (and its value in [`defaults`](crate::defaults)).
macro_rules! limits {
    ($($(#[$doc:meta])* $name:ident: $t:ty = $default:expr, unlimited $max:expr;)*) => {
        /// The limits, with their defaults (see the [module docs](self); the values are in
        /// [`defaults`](crate::defaults)).
        #[derive(Debug, Clone)]
        #[must_use]
        pub struct Limits {
            $(pub(crate) $name: $t,)*
        }

        impl Default for Limits {
            fn default() -> Self {
                Self { $($name: $default,)* }
            }
        }

        impl Limits {
            $(
                $(#[$doc])*
                pub fn $name(mut self, value: $t) -> Self {
                    self.$name = value.max(1);
                    self
                }
            )*

            /// Limits high enough never to be met, for benchmarks of raw throughput. Not for
            /// servers that face the internet.
            pub fn unlimited() -> Self {
                Self { $($name: $max,)* }
            }
        }
    };
}

limits! {
    /// Events of one client that may wait for their handler.
    max_pending_events: usize = d::MAX_PENDING_EVENTS, unlimited usize::MAX;
    /// Bytes of one client's events that may wait for their handler.
    max_pending_bytes: usize = d::MAX_PENDING_BYTES, unlimited usize::MAX;
    /// Sustained events per second per client.
    events_per_second: u32 = d::EVENTS_PER_SECOND, unlimited u32::MAX;
    /// Events a client may send at once above the sustained rate.
    event_burst: u32 = d::EVENT_BURST, unlimited u32::MAX;
    /// Refused events within 10 s after which a client is disconnected as abusive.
    abuse_refusals: u32 = d::ABUSE_REFUSALS, unlimited u32::MAX;
    /// Longest event name, in bytes.
    max_event_name_len: usize = d::MAX_EVENT_NAME_LEN, unlimited usize::MAX;
    /// Deepest JSON nesting of a message's arguments.
    // serde_json refuses anything deeper than 128 anyway.
    max_json_depth: usize = d::MAX_JSON_DEPTH, unlimited 128;
    /// New connections per second from one IP address (sustained).
    connections_per_ip_per_second: u32 = d::CONNECTIONS_PER_IP_PER_SECOND, unlimited u32::MAX;
    /// New connections one IP address may open at once.
    connection_burst_per_ip: u32 = d::CONNECTION_BURST_PER_IP, unlimited u32::MAX;
    /// Clients connected to this server (all namespaces).
    max_clients: usize = d::MAX_CLIENTS, unlimited usize::MAX;
    /// Clients of one user (`sub`) on this server.
    max_clients_per_user: usize = d::MAX_CLIENTS_PER_USER, unlimited usize::MAX;
    /// Rooms one client may be in.
    max_rooms_per_client: usize = d::MAX_ROOMS_PER_CLIENT, unlimited usize::MAX;
    /// Clients of one room on this node.
    max_clients_per_room: usize = d::MAX_CLIENTS_PER_ROOM, unlimited usize::MAX;
    /// Longest room name, in bytes.
    max_room_name_len: usize = d::MAX_ROOM_NAME_LEN, unlimited usize::MAX;
}

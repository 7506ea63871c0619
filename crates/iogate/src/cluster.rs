//! Clustering over Redis (feature `redis`): several iogate processes behave as one server.
//!
//! Every operation of the [`Server`](crate::Server) handle (emit to a namespace, a room, a
//! user or a client, `except`, join/leave, disconnect, count) reaches the clients of every node,
//! through Redis pub/sub, in the protocol of Node's `@socket.io/redis-adapter`: Node socket.io
//! servers on the same Redis (with that adapter) share rooms with iogate nodes, and
//! `@socket.io/redis-emitter` (and the emitters of other languages) reach iogate's clients.
//!
//! ## When Redis goes away
//! - Every node keeps serving its own clients: broadcasts still reach the clients of the node
//!   that sent them. What is lost is the copy for the other nodes: a broadcast, join, leave or
//!   disconnect made while Redis is down does not reach the clients of other nodes, and is not
//!   replayed later.
//! - Operations that need answers from other nodes (`count`, `rooms`) fail at once with an
//!   adapter error instead of waiting.
//! - The outage is logged once, when it starts, and once when it ends;
//!   [`Server::cluster_healthy`](crate::Server::cluster_healthy) says which it is now.
//! - The node reconnects by itself and subscribes again: cross-node delivery resumes without
//!   a restart.

pub use iogate_redis::{ClusterError, Redis};

pub(crate) use iogate_redis::Health;

//! Clustering over Redis (feature `redis`): several iogate processes behave as one server.
//!
//! Every operation of the [`Server`](crate::Server) handle (emit to a namespace, a room, a
//! user or a client, `except`, join/leave, disconnect, count, fetch the clients) reaches the
//! clients of every node, and server-side events
//! ([`Namespace::server_side_emit`](crate::Namespace::server_side_emit),
//! [`Gateway::on_server_event`](crate::Gateway::on_server_event)) the other nodes' gateways,
//! in the protocol of one of Node's adapters, chosen with [`Redis::protocol`]:
//! - [`Protocol::PubSub`] (the default), `@socket.io/redis-adapter`: Node socket.io servers on
//!   the same Redis (with that adapter) share rooms with iogate nodes, and
//!   `@socket.io/redis-emitter` (and the emitters of other languages) reach iogate's clients.
//! - [`Protocol::Streams`], `@socket.io/redis-streams-adapter`: with
//!   [`Options::connection_state_recovery`](crate::Options::connection_state_recovery), a
//!   client whose connection broke is recovered on any node, iogate's or Node's. Every
//!   broadcast goes through the stream and comes back to each node, its sender's included,
//!   so that all deliver in one order (a Redis round trip more for the sender's own clients).
//!   On another node a recovered client gets back its id, rooms, user and verified claims;
//!   values stored with [`Client::insert`](crate::Client::insert) stay on the node that has
//!   them.
//! - [`Protocol::Sharded`], `@socket.io/redis-adapter`'s sharded adapter, on a Redis Cluster
//!   (the URL lists its seed nodes, comma-separated): each channel lives on the shard that owns
//!   its slot, and a room's broadcasts reach only the nodes with members in it. A failed
//!   master's replica takes over, and the nodes follow it by themselves.
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
//!   a restart. With the streams adapter, each node goes on reading the stream from the last
//!   entry it read: what other nodes wrote meanwhile arrives late rather than never.

pub use iogate_redis::{ClusterError, Protocol, Redis};

pub(crate) use iogate_redis::Health;

//! # iogate-redis: a Redis adapter for iogate-socketio
//!
//! Several iogate nodes, and Node socket.io nodes using the same adapter, behave as one server
//! through Redis: broadcasts, joins, leaves and disconnects reach the clients of every node,
//! and `fetch_sockets` / `all_rooms` gather every node's answer. Two protocols ([`Protocol`]):
//! - `@socket.io/redis-adapter` 8.x, over pub/sub ([`RedisAdapter`]), which
//!   `@socket.io/redis-emitter` can broadcast through too;
//! - `@socket.io/redis-streams-adapter` 0.3, over one stream ([`StreamsAdapter`]): a client
//!   whose connection broke is recovered on any node;
//! - `@socket.io/redis-adapter` 8.x's sharded adapter, over a Redis Cluster's sharded pub/sub
//!   ([`ShardedAdapter`]): each channel on the shard that owns it.
//!
//! | module | owns |
//! |---|---|
//! | [`wire`] | the messages' formats (msgpack and JSON), no I/O |
//! | [`streams_wire`] | `@socket.io/redis-streams-adapter`'s stream entries, recovery sessions and pub/sub messages, no I/O |
//! | `driver` | the Redis connection (one Redis, or a Redis Cluster): reconnection, resubscription, health |
//! | `peers` | the requests every other node answers, for the streams and sharded adapters |
//! | `adapter` | [`RedisAdapter`], the [`Adapter`](iogate_socketio::Adapter) over pub/sub |
//! | `streams` | [`StreamsAdapter`], the adapter over one stream, for recovery on any node |
//! | `sharded` | [`ShardedAdapter`], the adapter over a Redis Cluster's sharded pub/sub |
//!
//! ## When Redis goes away
//! - Every node keeps serving its own clients: an operation is always carried out on the node
//!   that makes it; what is lost is the copy for the other nodes, which is not replayed later.
//! - Operations fail at once with [`AdapterError::Unavailable`](iogate_socketio::AdapterError)
//!   instead of waiting for Redis.
//! - The outage is logged once when it starts and once when it ends; [`Health::is_up`] says
//!   which it is now.
//! - The node reconnects and subscribes again by itself: cross-node delivery resumes without
//!   a restart.

mod adapter;
mod driver;
mod peers;
pub mod presence;
mod requests;
mod sharded;
mod streams;
pub mod streams_wire;
pub mod wire;

pub use adapter::RedisAdapter;
pub use driver::{ClusterError, Connection, Health, Protocol, Redis, connection};
pub use sharded::ShardedAdapter;
pub use streams::StreamsAdapter;

use std::sync::Arc;

/// The adapter `config` asks for ([`Redis::protocol`]), connected, and its health flag.
pub async fn connect(
    config: Redis,
) -> Result<(Arc<dyn iogate_socketio::Adapter>, Arc<Health>), ClusterError> {
    Ok(match config.protocol {
        Protocol::PubSub => {
            let adapter = RedisAdapter::connect(config).await?;
            let health = adapter.health();
            (Arc::new(adapter), health)
        }
        Protocol::Streams => {
            let adapter = StreamsAdapter::connect(config).await?;
            let health = adapter.health();
            (Arc::new(adapter), health)
        }
        Protocol::Sharded => {
            let adapter = ShardedAdapter::connect(config).await?;
            let health = adapter.health();
            (Arc::new(adapter), health)
        }
    })
}

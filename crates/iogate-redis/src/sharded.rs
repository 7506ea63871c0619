//! [`ShardedAdapter`]: the [`Adapter`] of iogate-socketio over a Redis Cluster's sharded
//! pub/sub, in the protocol of `@socket.io/redis-adapter` 8.x's `createShardedAdapter` (its
//! default `dynamic` mode), so that iogate nodes and Node socket.io nodes share rooms.
//!
//! - **Channels** of namespace `nsp`, with the prefix `p` (default `socket.io`): `p#nsp#` to
//!   every node, `p#nsp#<uid>#` to node `uid`, and `p#nsp#<room>#` for a broadcast to exactly
//!   one room. A node subscribes (`SSUBSCRIBE`) the first two, and a room's channel while it has
//!   sockets in that room, so a room's broadcasts reach only the nodes that have its members.
//!   Each channel lives on the cluster node that owns its slot: the traffic spreads over the
//!   shards instead of reaching every Redis node.
//! - **Messages** are socket.io-adapter's cluster messages `{uid, nsp, type, data}`: JSON
//!   text, msgpack when they hold binary. A broadcast is delivered on its own node at once and
//!   published for the others; a node skips its own messages.
//! - **The nodes are counted** with `PUBSUB SHARDNUMSUB p#nsp#`, for the requests every other
//!   node answers (fetching sockets, server-side events with acknowledgements).
//! - **No recovery across nodes** (as with Node's sharded adapter): a recovery offset is only
//!   known to the node that gave it.
//! - Rooms of one socket use `p#nsp#`: those named like a socket id (20 characters), as Node's
//!   adapter does, and iogate's per-client rooms (`$client:<id>`). Node's `static` and
//!   `dynamic-private` modes are not spoken.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use iogate_socketio::{
    Adapter, AdapterFuture, BoxFuture, BroadcastOptions, EventData, Local, SocketInfo, done,
};
use tokio::sync::{Notify, mpsc};

use crate::driver::{ClusterError, Driver, Health, Message, QUEUE, Redis, Served, serve};
use crate::peers::Peers;
use crate::streams_wire::{self as sw, Op};

/// The sharded Redis adapter of one node. Cheap to clone; clones are the same node.
#[derive(Clone)]
pub struct ShardedAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShardedAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedAdapter")
            .field("uid", &self.inner.peers.uid)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// This node's id, and its requests to the other nodes.
    peers: Arc<Peers>,
    /// The namespaces served, with the tasks handling their messages and room channels.
    namespaces: Mutex<HashMap<String, Namespace>>,
}

struct Namespace {
    /// The namespace's own channels (to every node, to this one), and its two tasks: the
    /// messages', and the room channels'.
    served: Served,
    /// Its rooms' channels.
    rooms: Arc<RoomChannels>,
}

/// The room channels of one namespace: those subscribed, and the rooms changed since the room
/// task last looked, with the wake-up for it. `changed` is a set, not a queue: it holds each
/// room once however often it changes, and the task reads the room's state when it gets to it,
/// so nothing is lost and nothing grows with the churn.
#[derive(Default)]
struct RoomChannels {
    changed: Mutex<HashSet<String>>,
    notify: Notify,
    subscribed: Mutex<HashSet<String>>,
}

impl RoomChannels {
    fn mark(&self, room: &str) {
        lock(&self.changed).insert(room.to_owned());
        self.notify.notify_one();
    }

    fn take(&self) -> HashSet<String> {
        std::mem::take(&mut *lock(&self.changed))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether broadcasts to `room` alone have a channel of their own: not for a room of one
/// socket, whose channel would cost a subscription per connection. That is a socket's id
/// (what a room of socket.io's id length is taken for, as Node's adapter does) and iogate's
/// per-client room (`$client:<id>`, which every client joins).
fn has_own_channel(room: &str) -> bool {
    room.len() != 20 && !room.starts_with("$client:")
}

impl ShardedAdapter {
    /// Connects to the Redis Cluster at `config`'s seed nodes, retrying for its startup timeout.
    pub async fn connect(config: Redis) -> Result<Self, ClusterError> {
        let driver = Driver::connect(&config).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                peers: Arc::new(Peers::new(driver, &config.prefix, config.request_timeout)),
                namespaces: Mutex::default(),
            }),
        })
    }

    /// Whether the Redis Cluster answers now; shared, so it can be kept and read later.
    pub fn health(&self) -> Arc<Health> {
        self.inner.peers.driver.health().clone()
    }

    /// This node's uid in the cluster's messages.
    pub fn uid(&self) -> &str {
        &self.inner.peers.uid
    }

    /// Publishes `body` on namespace `ns`'s channel to every node.
    fn publish_to_all(&self, ns: &str, body: Vec<u8>) -> AdapterFuture {
        let peers = &self.inner.peers;
        peers.driver.publishing(peers.channel(ns, None), body)
    }
}

impl Inner {
    fn lock_namespaces(&self) -> std::sync::MutexGuard<'_, HashMap<String, Namespace>> {
        lock(&self.namespaces)
    }

    /// Handles one message of namespace `ns`.
    fn on_message(&self, ns: &str, local: &Local, payload: &[u8]) {
        let Some(msg) = self.peers.on_payload(ns, local, payload) else {
            return;
        };
        match sw::published_op(&msg) {
            Ok(Op::Broadcast { event, opts }) => local.broadcast(ns, &event, &opts),
            Ok(Op::Rooms { join, opts, rooms }) => {
                if join {
                    local.add_sockets(ns, &opts, &rooms);
                } else {
                    local.del_sockets(ns, &opts, &rooms);
                }
            }
            Ok(Op::Disconnect { opts, close }) => local.disconnect(ns, &opts, close),
            Ok(Op::Other(kind)) => tracing::debug!(kind, "ignoring a cluster message"),
            Err(e) => tracing::debug!(error = %e, "ignoring a cluster message"),
        }
    }
}

/// Keeps the room channels of namespace `ns` subscribed while this node has sockets in the
/// room, until the adapter is gone.
async fn follow_rooms(
    inner: Weak<Inner>,
    ns: String,
    local: Local,
    channels: Arc<RoomChannels>,
    tx: mpsc::Sender<Message>,
) {
    loop {
        channels.notify.notified().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let driver = &inner.peers.driver;
        for room in channels.take() {
            let one = BroadcastOptions {
                rooms: vec![room.clone()],
                ..BroadcastOptions::default()
            };
            let wanted = local.count(&ns, &one) > 0;
            let channel = inner.peers.channel(&ns, Some(&room));
            // A failed subscription stays recorded: the driver makes it again when Redis is
            // back.
            let result = if wanted && lock(&channels.subscribed).insert(room.clone()) {
                driver.subscribe(&[channel], &[], tx.clone()).await
            } else if !wanted && lock(&channels.subscribed).remove(&room) {
                driver.unsubscribe(&[channel], &[]).await
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "a room channel is not (un)subscribed yet");
            }
        }
    }
}

impl Adapter for ShardedAdapter {
    fn init(&self, ns: &str, local: Local) -> AdapterFuture {
        let peers = &self.inner.peers;
        let channels = peers.own_channels(ns);
        let (tx, rx) = mpsc::channel::<Message>(QUEUE);
        let rooms = Arc::new(RoomChannels::default());
        let weak = Arc::downgrade(&self.inner);
        let (name, messages_local) = (ns.to_owned(), local.clone());
        let tasks = vec![
            tokio::spawn(serve(weak.clone(), rx, move |inner: &Inner, msg| {
                inner.on_message(&name, &messages_local, &msg.payload);
            })),
            tokio::spawn(follow_rooms(
                weak,
                ns.to_owned(),
                local,
                rooms.clone(),
                tx.clone(),
            )),
        ];
        let served = Served {
            channels: channels.clone(),
            patterns: Vec::new(),
            tasks,
        };
        let namespace = Namespace { served, rooms };
        if let Some(previous) = self
            .inner
            .lock_namespaces()
            .insert(ns.to_owned(), namespace)
        {
            previous.served.stop();
        }
        peers.driver.subscribing(channels, vec![], tx)
    }

    fn room_changed(&self, ns: &str, room: &str) {
        if !has_own_channel(room) {
            return;
        }
        if let Some(namespace) = self.inner.lock_namespaces().get(ns) {
            namespace.rooms.mark(room);
        }
    }

    fn broadcast(&self, ns: &str, event: &EventData, opts: &BroadcastOptions) -> AdapterFuture {
        let peers = &self.inner.peers;
        let channel = match opts.rooms.as_slice() {
            [room] if has_own_channel(room) => peers.channel(ns, Some(room)),
            _ => peers.channel(ns, None),
        };
        match sw::published_broadcast(&peers.uid, ns, event, opts) {
            Ok(body) => peers.driver.publishing(channel, body),
            Err(e) => done(Err(e.into())),
        }
    }

    fn add_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.publish_to_all(ns, sw::published_rooms(self.uid(), ns, true, opts, rooms))
    }

    fn del_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.publish_to_all(ns, sw::published_rooms(self.uid(), ns, false, opts, rooms))
    }

    fn disconnect_sockets(&self, ns: &str, opts: &BroadcastOptions, close: bool) -> AdapterFuture {
        self.publish_to_all(ns, sw::published_disconnect(self.uid(), ns, opts, close))
    }

    fn fetch_sockets(&self, ns: &str, opts: &BroadcastOptions) -> AdapterFuture<Vec<SocketInfo>> {
        self.inner.peers.fetch_sockets(ns, opts)
    }

    fn all_rooms(&self, ns: &str) -> AdapterFuture<Vec<String>> {
        self.inner.peers.all_rooms(ns)
    }

    fn server_side_emit(
        &self,
        ns: &str,
        args: &[serde_json::Value],
        ack: Option<std::time::Duration>,
    ) -> AdapterFuture<Vec<serde_json::Value>> {
        self.inner.peers.server_side_emit(ns, args, ack)
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let namespaces: Vec<(String, Namespace)> = self.inner.lock_namespaces().drain().collect();
        let peers = self.inner.peers.clone();
        Box::pin(async move {
            for (ns, Namespace { mut served, rooms }) in namespaces {
                // Its tasks stopped first, so that no room is subscribed after the list is taken.
                served.stop();
                let rooms: Vec<String> = lock(&rooms.subscribed).drain().collect();
                served
                    .channels
                    .extend(rooms.iter().map(|room| peers.channel(&ns, Some(room))));
                served.close(&peers.driver).await;
            }
        })
    }
}

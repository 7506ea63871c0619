//! Adapters: how the operations of one node reach the clients of the others.
//!
//! Every operation (broadcast, join, leave, disconnect, fetch, rooms) is carried out on this
//! node by the [`Io`](crate::Io) itself; an [`Adapter`] only forwards it to the other nodes and
//! brings theirs back through [`Local`]. With no other node, [`Single`] forwards nothing.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use iogate_engineio::Str;

use crate::BoxFuture;
use crate::io::IoInner;

/// Which sockets of a namespace an operation is for: those in any of `rooms` (every socket when
/// empty), but none in any of `except`. A socket's id is a room of its own, as in socket.io.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The rooms whose sockets are selected; empty for every socket.
    pub rooms: Vec<String>,
    /// The rooms whose sockets are left out.
    pub except: Vec<String>,
    /// This node only: not forwarded to the others.
    pub local: bool,
}

/// An event as broadcast: its JSON arguments array, `["name", ...args]`, with the placeholders
/// of its binary attachments, and the attachments.
#[derive(Debug, Clone)]
pub struct EventData {
    /// The JSON text of the array.
    pub data: Str,
    /// The binary attachments, in the order of their placeholders' `num`.
    pub attachments: Vec<Bytes>,
}

/// A socket as `fetchSockets` describes it, on any node.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SocketInfo {
    /// The socket's id.
    pub id: String,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// Its `data` (what the application stored on it), `null` when none.
    pub data: serde_json::Value,
    /// Its handshake: `{headers, query, address, time, issued, url, auth, secure, xdomain}`.
    pub handshake: serde_json::Value,
}

/// What went wrong forwarding an operation to the other nodes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdapterError {
    /// The broker cannot be reached now; this node's part was done.
    #[error("the cluster's broker is unavailable: {0}")]
    Unavailable(String),
    /// Some nodes did not answer in time.
    #[error("the other nodes did not answer in time")]
    Timeout,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// What an [`Adapter`] operation comes to once the other nodes are reached (or answered):
/// `T`, or why not.
pub type AdapterFuture<T = ()> = BoxFuture<'static, Result<T, AdapterError>>;

/// Forwards operations to the other nodes of a cluster and brings theirs to this node.
///
/// Each method is called after the operation was carried out on this node, and says nothing
/// of this node's sockets; an operation for this node only (`opts.local`) never reaches it.
pub trait Adapter: Send + Sync + 'static {
    /// Starts serving namespace `ns` (subscribing to its channels); `local` carries the other
    /// nodes' operations to this node.
    fn init(&self, ns: &str, local: Local) -> AdapterFuture;
    /// Sends a broadcast to the other nodes.
    fn broadcast(&self, ns: &str, event: &EventData, opts: &BroadcastOptions) -> AdapterFuture;
    /// Makes the other nodes' selected sockets join `rooms`.
    fn add_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture;
    /// Makes the other nodes' selected sockets leave `rooms`.
    fn del_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture;
    /// Disconnects the other nodes' selected sockets (closing their connection when `close`).
    fn disconnect_sockets(&self, ns: &str, opts: &BroadcastOptions, close: bool) -> AdapterFuture;
    /// The other nodes' selected sockets.
    fn fetch_sockets(&self, ns: &str, opts: &BroadcastOptions) -> AdapterFuture<Vec<SocketInfo>>;
    /// The rooms of the other nodes' sockets.
    fn all_rooms(&self, ns: &str) -> AdapterFuture<Vec<String>>;
    /// Stops forwarding (unsubscribes).
    fn close(&self) -> BoxFuture<'static, ()>;
    /// Sends `args` (`[name, ...args]`) to namespace `ns` of every other node (socket.io's
    /// `serverSideEmit`); with `ack`, waits that long for every other node's answer. Nothing to
    /// send to by default (one node).
    fn server_side_emit(
        &self,
        ns: &str,
        args: &[serde_json::Value],
        ack: Option<Duration>,
    ) -> AdapterFuture<Vec<serde_json::Value>> {
        let _ = (ns, args, ack);
        done(Ok(Vec::new()))
    }
    /// The cluster's store of recovery sessions, for an adapter that orders the cluster's
    /// broadcasts itself (the Redis streams adapter). With one:
    /// - a broadcast is not delivered on this node at once: [`broadcast`](Self::broadcast)
    ///   takes it, in the order of the calls (not of the polls of its future), and the adapter
    ///   delivers it to every node, this one included, through [`Local::deliver`] with the
    ///   offset it gave it; with recovery on, `Socket::emit` goes the same way;
    /// - recovery keeps its sessions there, so that a client can come back on any node.
    fn shared_sessions(&self) -> Option<Arc<dyn SharedSessions>> {
        None
    }
    /// `room` of namespace `ns` got its first socket on this node, or lost its last one (the
    /// sockets' own ids are not rooms here). Called while the rooms are locked, in the order
    /// the changes happen: it must not wait, nor call back into the namespace. For an adapter
    /// that subscribes per room (the sharded Redis adapter). Nothing by default.
    fn room_changed(&self, ns: &str, room: &str) {
        let _ = (ns, room);
    }
}

/// A session as a store shared by the cluster keeps it: what
/// `@socket.io/redis-streams-adapter` writes, `{sid, pid, rooms, data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The socket's id.
    pub sid: String,
    /// The session's private id.
    pub pid: String,
    /// Its rooms, its own id among them (as socket.io lists them).
    pub rooms: Vec<String>,
    /// What the layer above keeps of the socket as JSON (socket.io's `socket.data`; see
    /// [`NsHandler::session_data`](crate::NsHandler::session_data)).
    pub data: serde_json::Value,
    /// Its namespace, when the node that wrote it said so (iogate's nodes do, Node's do not).
    pub nsp: Option<String>,
}

/// A broadcast read back from the cluster's store (see [`SharedSessions::missed`]).
#[derive(Debug, Clone)]
pub struct MissedEvent {
    /// Its offset (the stream entry id).
    pub offset: String,
    /// Its namespace.
    pub ns: String,
    /// The event, without its offset.
    pub event: EventData,
    /// Whom it was for.
    pub opts: BroadcastOptions,
}

/// Where a cluster keeps the sessions of connection state recovery, so that any node can take
/// one back: see [`Adapter::shared_sessions`].
pub trait SharedSessions: Send + Sync + 'static {
    /// Keeps `session` for `ttl` (the recovery window). Fire and forget: a session that could
    /// not be kept is only not recoverable.
    fn persist(&self, session: SessionRecord, ttl: Duration);
    /// Takes session `pid` back (it is gone afterwards); `None` when there is none, or the
    /// store cannot be reached.
    fn take(&self, pid: &str) -> BoxFuture<'static, Option<SessionRecord>>;
    /// The broadcasts after `offset`, oldest first, as the store still holds them: what a
    /// client whose offset this node never read (it started later) missed. `None` when
    /// `offset` itself is not there any more, or the store cannot be reached.
    fn missed(&self, offset: &str) -> BoxFuture<'static, Option<Vec<MissedEvent>>>;
    /// Forgets session `pid`, which this node kept past its bound of sessions: the store holds
    /// no more of a node's sessions than the node does. Fire and forget.
    fn forget(&self, pid: &str);
}

/// One node alone: nothing to forward.
#[derive(Debug, Default, Clone, Copy)]
pub struct Single;

/// A future that is ready with `value` (for adapters that answer at once).
pub fn done<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl Adapter for Single {
    fn init(&self, _: &str, _: Local) -> AdapterFuture {
        done(Ok(()))
    }
    fn broadcast(&self, _: &str, _: &EventData, _: &BroadcastOptions) -> AdapterFuture {
        done(Ok(()))
    }
    fn add_sockets(&self, _: &str, _: &BroadcastOptions, _: &[String]) -> AdapterFuture {
        done(Ok(()))
    }
    fn del_sockets(&self, _: &str, _: &BroadcastOptions, _: &[String]) -> AdapterFuture {
        done(Ok(()))
    }
    fn disconnect_sockets(&self, _: &str, _: &BroadcastOptions, _: bool) -> AdapterFuture {
        done(Ok(()))
    }
    fn fetch_sockets(&self, _: &str, _: &BroadcastOptions) -> AdapterFuture<Vec<SocketInfo>> {
        done(Ok(Vec::new()))
    }
    fn all_rooms(&self, _: &str) -> AdapterFuture<Vec<String>> {
        done(Ok(Vec::new()))
    }
    fn close(&self) -> BoxFuture<'static, ()> {
        done(())
    }
}

/// This node, as an adapter reaches it: the other nodes' operations, carried out here only.
/// Weak: a subscription task that outlives the server keeps nothing of it.
#[derive(Clone)]
pub struct Local {
    pub(crate) io: Weak<IoInner>,
}

impl Local {
    /// Namespace `ns` of this node, while the server lives.
    fn ns(&self, ns: &str) -> Option<Arc<crate::Namespace>> {
        self.io.upgrade()?.namespace(ns)
    }

    /// Delivers another node's broadcast to this node's selected sockets of `ns`.
    pub fn broadcast(&self, ns: &str, event: &EventData, opts: &BroadcastOptions) {
        if let Some(ns) = self.ns(ns) {
            ns.deliver(event, opts);
        }
    }

    /// Delivers a broadcast the adapter ordered (see [`Adapter::shared_sessions`]), this node's
    /// own included, with its `offset` when it has one (with recovery on, it is logged with it).
    pub fn deliver(
        &self,
        ns: &str,
        event: &EventData,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        if let Some(ns) = self.ns(ns) {
            ns.deliver_at(event, opts, offset);
        }
    }

    /// The adapter read its stream up to `offset` (see [`Adapter::shared_sessions`]): a replay
    /// of events read back from the cluster's store stops there, as what comes after reaches
    /// the clients as it is read.
    pub fn read_to(&self, offset: &str) {
        if let Some(store) = self.io.upgrade().and_then(|io| io.store()) {
            store.read_to(offset);
        }
    }

    /// Hands namespace `ns` an event another node sent it (`[name, ...args]`); the future gives
    /// its answer, if any.
    pub fn server_event(
        &self,
        ns: &str,
        args: Vec<serde_json::Value>,
    ) -> BoxFuture<'static, Option<serde_json::Value>> {
        match self.ns(ns) {
            Some(ns) => ns.handler().server_event(args),
            None => done(None),
        }
    }

    /// Makes this node's selected sockets of `ns` join `rooms`.
    pub fn add_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) {
        if let Some(ns) = self.ns(ns) {
            for socket in ns.select(opts) {
                for room in rooms {
                    socket.join(room);
                }
            }
        }
    }

    /// Makes this node's selected sockets of `ns` leave `rooms`.
    pub fn del_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) {
        if let Some(ns) = self.ns(ns) {
            for socket in ns.select(opts) {
                for room in rooms {
                    socket.leave(room);
                }
            }
        }
    }

    /// Disconnects this node's selected sockets of `ns`.
    pub fn disconnect(&self, ns: &str, opts: &BroadcastOptions, close: bool) {
        if let Some(ns) = self.ns(ns) {
            for socket in ns.select(opts) {
                if close {
                    socket.close_connection();
                } else {
                    socket.disconnect();
                }
            }
        }
    }

    /// This node's selected sockets of `ns`.
    pub fn fetch(&self, ns: &str, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.ns(ns)
            .map(|ns| ns.select(opts).iter().map(|s| s.info()).collect())
            .unwrap_or_default()
    }

    /// The rooms of this node's sockets of `ns`.
    pub fn rooms(&self, ns: &str) -> Vec<String> {
        self.ns(ns).map(|ns| ns.room_names()).unwrap_or_default()
    }

    /// How many of this node's sockets of `ns` are selected.
    pub fn count(&self, ns: &str, opts: &BroadcastOptions) -> usize {
        self.ns(ns).map_or(0, |ns| ns.count(opts))
    }
}

//! [`Namespace`]: its sockets, its rooms, and the handler the layer above gives it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use iogate_engineio::Str;
use serde::Serialize;

use crate::adapter::{Adapter, AdapterFuture, BroadcastOptions, EventData, done};
use crate::observe::Observer;
use crate::parser::Parser;
use crate::recovery::Store;
use crate::socket::{EmitError, Sid, Socket};
use crate::{BoxFuture, DisconnectReason, packet};

/// An event from a client: its arguments array as JSON text, `["name", ...args]`, its
/// acknowledgement id, and its binary attachments.
#[derive(Debug, Clone)]
pub struct Event {
    /// The JSON text of the array (valid JSON, a non-empty array starting with the name).
    pub data: Str,
    /// The acknowledgement id, when the client waits for one.
    pub id: Option<i64>,
    /// The binary attachments, in the order of their placeholders' `num`.
    pub attachments: Vec<Bytes>,
}

/// A refused CONNECT: `connect_error` on the client, with `message` and, optionally, `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }
}

/// What the layer above does with a namespace's sockets.
pub trait NsHandler: Send + Sync + 'static {
    /// A client asks to join: admit it (`Ok`) or refuse it. `auth` is the CONNECT payload's
    /// JSON text. The socket is not connected yet: it cannot emit or join rooms.
    fn connect(
        &self,
        socket: Arc<Socket>,
        auth: Option<Str>,
    ) -> BoxFuture<'static, Result<(), ConnectError>>;
    /// The client was admitted and CONNECT was sent: called in a task of its own, a moment
    /// later, so that CONNECT is written first. Events the client sends from now on reach
    /// [`event`](Self::event), maybe before this is called or its future completes; what the
    /// call itself does (not its future) comes before [`disconnect`](Self::disconnect).
    fn connected(&self, socket: Arc<Socket>) -> BoxFuture<'static, ()>;
    /// An event from the client, in the order sent, in the task that read it: queue it, do not
    /// wait in it.
    fn event(&self, socket: &Arc<Socket>, event: Event);
    /// The socket left the namespace, once for each socket that was sent CONNECT and after
    /// [`connected`](Self::connected) was called (or for a socket admitted whose connection
    /// closed before CONNECT could go out); it is out of every room already, but
    /// [`Socket::rooms`] still lists them.
    fn disconnect(&self, socket: &Arc<Socket>, reason: DisconnectReason);
    /// `packets` of this namespace came in from clients, `bytes` in all: the packets' text and
    /// binary attachments, without the transport's framing. Called once per packet, in the
    /// task that read it; it must not wait.
    fn received(&self, packets: usize, bytes: usize) {
        let _ = (packets, bytes);
    }
    /// `packets` of this namespace were queued to clients, `bytes` in all (counted as in
    /// [`received`](Self::received)); a broadcast is reported once, for all its recipients.
    fn sent(&self, packets: usize, bytes: usize) {
        let _ = (packets, bytes);
    }
    /// What this handler keeps of `socket` as JSON (socket.io's `socket.data`): what
    /// `fetch_sockets` reports on any node, and what a recovered session brings back on another
    /// node of the cluster (see [`Socket::previous_data`]). `null` by default.
    fn session_data(&self, socket: &Socket) -> serde_json::Value {
        let _ = socket;
        serde_json::Value::Null
    }
    /// An event another node of the cluster sent to this namespace's servers (socket.io's
    /// `serverSideEmit`): `args` is `[name, ...args]`. What the future gives is the answer, for
    /// a sender that waits for one; `None` sends none. Not answered by default.
    fn server_event(
        &self,
        args: Vec<serde_json::Value>,
    ) -> BoxFuture<'static, Option<serde_json::Value>> {
        let _ = args;
        done(None)
    }
}

/// A namespace.
pub struct Namespace {
    path: Str,
    handler: Arc<dyn NsHandler>,
    adapter: Arc<dyn Adapter>,
    /// The server's recovery log and sessions, when recovery is on.
    store: Option<Arc<Store>>,
    /// How packets are written.
    parser: Parser,
    /// Whether the adapter orders the broadcasts ([`Adapter::shared_sessions`]).
    sequenced: bool,
    /// Who watches the sockets, if anyone.
    observer: Option<Arc<dyn Observer>>,
    sockets: RwLock<HashMap<Sid, Arc<Socket>>>,
    rooms: RwLock<HashMap<Arc<str>, Members>>,
}

/// The sockets of one room, by id.
type Members = HashMap<Sid, Arc<Socket>>;

impl Namespace {
    pub(crate) fn new(
        path: &str,
        handler: Arc<dyn NsHandler>,
        adapter: Arc<dyn Adapter>,
        store: Option<Arc<Store>>,
        parser: Parser,
        observer: Option<Arc<dyn Observer>>,
    ) -> Self {
        Self {
            path: Str::from(path.to_owned()),
            handler,
            sequenced: adapter.shared_sessions().is_some(),
            observer,
            adapter,
            store,
            parser,
            sockets: RwLock::new(HashMap::new()),
            rooms: RwLock::new(HashMap::new()),
        }
    }

    /// The path, e.g. `/chat`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn path_str(&self) -> &Str {
        &self.path
    }

    pub(crate) fn handler(&self) -> &dyn NsHandler {
        &*self.handler
    }

    /// How this namespace's packets are written.
    pub fn parser(&self) -> Parser {
        self.parser
    }

    pub(crate) fn store(&self) -> Option<&Store> {
        self.store.as_deref()
    }

    pub(crate) fn insert(&self, socket: Arc<Socket>) {
        let mut sockets = self.sockets.write().unwrap_or_else(|e| e.into_inner());
        sockets.insert(socket.id.clone(), socket);
    }

    pub(crate) fn remove(&self, id: &str) {
        let mut sockets = self.sockets.write().unwrap_or_else(|e| e.into_inner());
        sockets.remove(id);
        if sockets.capacity() > 64 && sockets.len() < sockets.capacity() / 4 {
            sockets.shrink_to_fit();
        }
    }

    pub(crate) fn index_join(&self, room: &Arc<str>, socket: &Arc<Socket>) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(room.clone()).or_default();
        members.insert(socket.id.clone(), socket.clone());
        if members.len() == 1 {
            self.adapter.room_changed(&self.path, room);
        }
    }

    pub(crate) fn index_leave(&self, room: &str, id: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        if let Some(members) = rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                rooms.remove(room);
                self.adapter.room_changed(&self.path, room);
            }
        }
    }

    /// Every socket of this node in this namespace.
    pub fn sockets(&self) -> Vec<Arc<Socket>> {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        sockets.values().cloned().collect()
    }

    /// The socket `id` of this node.
    pub fn socket(&self, id: &str) -> Option<Arc<Socket>> {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        sockets.get(id).cloned()
    }

    /// This node's sockets that `opts` selects. Collected, so that nothing is locked while
    /// they are written to.
    pub fn select(&self, opts: &BroadcastOptions) -> Vec<Arc<Socket>> {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let excluded: HashSet<&str> = opts
            .except
            .iter()
            .flat_map(|room| {
                let members = rooms.get(room.as_str()).into_iter().flat_map(|m| m.keys());
                let own = sockets.get_key_value(room.as_str()).map(|(id, _)| id);
                members.chain(own).map(|id| &**id)
            })
            .collect();
        let keep = |s: &&Arc<Socket>| !excluded.contains(&*s.id);
        if opts.rooms.is_empty() {
            return sockets.values().filter(keep).cloned().collect();
        }
        let mut picked: Vec<Arc<Socket>> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let several = opts.rooms.len() > 1;
        for room in &opts.rooms {
            let members = rooms
                .get(room.as_str())
                .into_iter()
                .flat_map(|m| m.values());
            let own = sockets.get(room.as_str());
            for s in members.chain(own) {
                if keep(&s) && (!several || seen.insert(&s.id)) {
                    picked.push(s.clone());
                }
            }
        }
        picked
    }

    /// How many of this node's sockets `opts` selects.
    pub fn count(&self, opts: &BroadcastOptions) -> usize {
        if opts.rooms.len() == 1 && opts.except.is_empty() {
            let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
            let named = rooms.get(opts.rooms[0].as_str()).map_or(0, HashMap::len);
            let own = self
                .sockets
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(opts.rooms[0].as_str());
            return named + usize::from(own);
        }
        if opts.rooms.is_empty() && opts.except.is_empty() {
            return self.sockets.read().unwrap_or_else(|e| e.into_inner()).len();
        }
        self.select(opts).len()
    }

    /// The rooms of this node's sockets (joined by name; sockets' own ids left out).
    pub fn room_names(&self) -> Vec<String> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms.keys().map(|r| r.to_string()).collect()
    }

    /// Delivers an encoded event to this node's selected sockets; returns how many there were.
    /// With recovery on, the event gets its offset and is kept first (unless the adapter gives
    /// the offsets: then an event delivered here only has none).
    pub(crate) fn deliver(&self, event: &EventData, opts: &BroadcastOptions) -> usize {
        match self.store() {
            Some(store) if !store.is_shared() => {
                store.record(&self.path, event, opts, |event| self.push_to(event, opts))
            }
            _ => self.push_to(event, opts),
        }
    }

    /// Delivers an event the adapter ordered, logged with its `offset` when recovery is on.
    pub(crate) fn deliver_at(
        &self,
        event: &EventData,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        match (self.store(), offset) {
            (Some(store), Some(offset)) => {
                store.record_at(&self.path, event, opts, offset, |event| {
                    self.push_to(event, opts)
                });
            }
            _ => {
                self.push_to(event, opts);
            }
        }
    }

    /// Who watches the sockets, if anyone.
    pub(crate) fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref()
    }

    /// Whether the adapter orders this namespace's broadcasts and delivers them here too.
    pub(crate) fn sequenced(&self) -> bool {
        self.sequenced
    }

    /// Hands an event to the adapter that orders the broadcasts; it comes back through
    /// [`Local::deliver`](crate::Local::deliver).
    pub(crate) fn sequence(&self, event: &EventData, opts: &BroadcastOptions) -> AdapterFuture {
        self.adapter.broadcast(self.path(), event, opts)
    }

    fn push_to(&self, event: &EventData, opts: &BroadcastOptions) -> usize {
        let frames =
            self.parser
                .data_frames(self.path(), false, None, &event.data, &event.attachments);
        let targets = self.select(opts);
        let mut queued = 0;
        let watcher = self.observer().filter(|o| o.wants_events());
        for socket in &targets {
            // A client over its outgoing bound is cut off by the engine: nothing else to do.
            let pushed = socket.push(&frames).is_ok();
            queued += usize::from(pushed);
            if let (true, Some(observer)) = (pushed, watcher) {
                observer.sent(socket, &event.data);
            }
        }
        if queued > 0 {
            self.handler()
                .sent(queued, queued * packet::frames_len(&frames));
        }
        targets.len()
    }

    /// Emits `event` with `data` to the selected sockets of every node: encoded once, delivered
    /// here, then forwarded (unless `opts.local`). The future is only the forwarding.
    pub fn broadcast<T: Serialize + ?Sized>(
        &self,
        opts: &BroadcastOptions,
        event: &str,
        data: &T,
    ) -> Result<AdapterFuture, EmitError> {
        let (text, attachments) = crate::socket::event_args(event, data)?;
        let event = EventData {
            data: Str::from(text),
            attachments,
        };
        if self.sequenced && !opts.local {
            return Ok(self.sequence(&event, opts));
        }
        self.deliver(&event, opts);
        Ok(self.forward(opts, |a, ns| a.broadcast(ns, &event, opts)))
    }

    /// Makes the selected sockets of every node join `rooms`.
    pub fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        for socket in self.select(opts) {
            for room in rooms {
                socket.join(room);
            }
        }
        self.forward(opts, |a, ns| a.add_sockets(ns, opts, rooms))
    }

    /// Makes the selected sockets of every node leave `rooms`.
    pub fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        for socket in self.select(opts) {
            for room in rooms {
                socket.leave(room);
            }
        }
        self.forward(opts, |a, ns| a.del_sockets(ns, opts, rooms))
    }

    /// Disconnects the selected sockets of every node.
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) -> AdapterFuture {
        for socket in self.select(opts) {
            if close {
                socket.close_connection();
            } else {
                socket.disconnect();
            }
        }
        self.forward(opts, |a, ns| a.disconnect_sockets(ns, opts, close))
    }

    /// The selected sockets of every node, this node's first.
    pub fn fetch_sockets(&self, opts: &BroadcastOptions) -> AdapterFuture<Vec<crate::SocketInfo>> {
        let mine: Vec<_> = self.select(opts).iter().map(|s| s.info()).collect();
        if opts.local {
            return done(Ok(mine));
        }
        let theirs = self.adapter.fetch_sockets(self.path(), opts);
        Box::pin(async move {
            let mut all = mine;
            all.extend(theirs.await?);
            Ok(all)
        })
    }

    /// How many sockets `opts` selects on every node.
    pub fn count_all(&self, opts: &BroadcastOptions) -> AdapterFuture<usize> {
        let mine = self.count(opts);
        if opts.local {
            return done(Ok(mine));
        }
        let theirs = self.adapter.fetch_sockets(self.path(), opts);
        Box::pin(async move { Ok(mine + theirs.await?.len()) })
    }

    /// The rooms of every node's sockets, without repeats.
    pub fn all_rooms(&self) -> AdapterFuture<Vec<String>> {
        let mine = self.room_names();
        let theirs = self.adapter.all_rooms(self.path());
        Box::pin(async move {
            let mut all: HashSet<String> = mine.into_iter().collect();
            all.extend(theirs.await?);
            Ok(all.into_iter().collect())
        })
    }

    /// Sends `event` with `data` to this namespace on every other node of the cluster
    /// (socket.io's `serverSideEmit`); with `ack`, waits that long for each other node's
    /// answer, and the future gives them. Binary data cannot be sent this way.
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        ack: Option<std::time::Duration>,
    ) -> Result<AdapterFuture<Vec<serde_json::Value>>, EmitError> {
        let (text, attachments) = crate::socket::event_args(event, data)?;
        if !attachments.is_empty() {
            return Err(EmitError::Serialize(serde::ser::Error::custom(
                "binary data cannot be sent to the other nodes",
            )));
        }
        let args: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        Ok(self.adapter.server_side_emit(self.path(), &args, ack))
    }

    fn forward(
        &self,
        opts: &BroadcastOptions,
        op: impl FnOnce(&dyn Adapter, &str) -> AdapterFuture,
    ) -> AdapterFuture {
        if opts.local {
            done(Ok(()))
        } else {
            op(&*self.adapter, self.path())
        }
    }
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("path", &self.path())
            .finish()
    }
}

//! [`Socket`]: one client in one namespace.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use iogate_engineio::{CloseReason, Frame, SendError, Session, Str, TransportKind};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::adapter::{BroadcastOptions, EventData, SocketInfo};
use crate::io::Conn;
use crate::ns::Namespace;
use crate::packet::RESERVED_EVENTS;
use crate::recovery::Kept;
use crate::{DisconnectReason, packet, ser};

/// A socket's id: public, sent in CONNECT, safe to share.
pub type Sid = Arc<str>;

/// An acknowledgement the client sent back: its arguments array (JSON text) and attachments.
#[derive(Debug, Clone)]
pub struct AckData {
    /// The JSON text of the arguments array.
    pub data: Str,
    /// The binary attachments.
    pub attachments: Vec<Bytes>,
}

/// Why an emit did not reach the client.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Closed,
    /// The client's outgoing queue is over its bound: the connection was cut off.
    #[error("the client's outgoing queue is full")]
    Full,
    /// The data could not be serialised.
    #[error("could not serialise the data: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The event's name is one socket.io keeps for itself ([`RESERVED_EVENTS`]): a client
    /// would take it for the protocol's own. Nothing was sent.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
}

/// The arguments of `event` with `data`, as [`ser::args`] writes them; refused when `event`
/// is reserved, as socket.io refuses it.
pub(crate) fn event_args<T: Serialize + ?Sized>(
    event: &str,
    data: &T,
) -> Result<(String, Vec<bytes::Bytes>), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    Ok(ser::args(Some(event), data)?)
}

impl From<SendError> for EmitError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Closed => Self::Closed,
            SendError::Full => Self::Full,
        }
    }
}

/// Why [`Socket::emit_with_ack`] got no acknowledgement.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// No acknowledgement in time.
    #[error("the client did not acknowledge in time")]
    Timeout,
    /// The socket disconnected first.
    #[error("the socket disconnected before acknowledging")]
    Closed,
}

/// Where a connected socket is with its connection hooks, which start a moment after CONNECT.
enum Hooks {
    /// Not started yet.
    Waiting,
    /// The socket left before they started; the handler is told when they do.
    GoneWhileWaiting(DisconnectReason),
    /// Started: departures go to the handler at once.
    Started,
}

/// One client in one namespace.
pub struct Socket {
    pub(crate) id: Sid,
    /// The private id of its session, with which a client whose connection broke gets its
    /// state back; `None` when recovery is off.
    pub(crate) pid: Option<Sid>,
    /// The layer above's state of the session this socket recovered, if it did (a unit value
    /// when the session came from another node).
    previous: Option<Arc<dyn Any + Send + Sync>>,
    /// The layer above's state as JSON, when the session came from another node.
    previous_data: Option<serde_json::Value>,
    pub(crate) ns: Arc<Namespace>,
    pub(crate) session: Arc<Session<Conn>>,
    /// The rooms joined by name (its own id is implied). Few per socket, so a list.
    rooms: Mutex<Vec<Arc<str>>>,
    /// Acknowledgements the server waits for, allocated on the first.
    acks: Mutex<Option<HashMap<i64, oneshot::Sender<AckData>>>>,
    next_ack: AtomicI64,
    connected: AtomicBool,
    /// Whether the connection hooks started; see [`Socket::start_hooks`].
    hooks: Mutex<Hooks>,
    /// When the handshake was accepted (milliseconds since the epoch), for `handshake.issued`.
    issued: u64,
    /// The layer above's state for this socket.
    pub ext: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl Socket {
    pub(crate) fn new(
        id: Sid,
        pid: Option<Sid>,
        previous: Option<(Arc<dyn Any + Send + Sync>, Option<serde_json::Value>)>,
        ns: Arc<Namespace>,
        session: Arc<Session<Conn>>,
    ) -> Self {
        let issued = crate::unix_millis();
        let (previous, previous_data) = previous.unzip();
        Self {
            id,
            pid,
            previous,
            previous_data: previous_data.flatten(),
            ns,
            session,
            rooms: Mutex::new(Vec::new()),
            acks: Mutex::new(None),
            next_ack: AtomicI64::new(0),
            connected: AtomicBool::new(false),
            hooks: Mutex::new(Hooks::Waiting),
            issued,
            ext: OnceLock::new(),
        }
    }

    /// The socket's id (what the client's `socket.id` is).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this socket is a client's recovered session (socket.io's `socket.recovered`):
    /// same id, same rooms, and the events it missed replayed.
    pub fn recovered(&self) -> bool {
        self.previous.is_some()
    }

    /// The layer above's state of the recovered session, as its socket's
    /// [`ext`](Self::ext) held it.
    pub fn previous_ext(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.previous.as_ref()
    }

    /// The layer above's state of a session recovered from another node of the cluster, as
    /// [`NsHandler::session_data`](crate::NsHandler::session_data) wrote it there (or a Node
    /// node's `socket.data`); `None` for a session of this node.
    pub fn previous_data(&self) -> Option<&serde_json::Value> {
        self.previous_data.as_ref()
    }

    /// The namespace's path.
    pub fn ns(&self) -> &str {
        self.ns.path()
    }

    /// The handshake request's head.
    pub fn head(&self) -> &http::request::Parts {
        self.session.head()
    }

    /// The client's address, when the server was given it.
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.session.peer()
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        self.session.transport()
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// An event's or acknowledgement's frames for this socket, in its namespace's parser.
    pub(crate) fn frames(
        &self,
        ack: bool,
        id: Option<i64>,
        data: &str,
        attachments: &[Bytes],
    ) -> Vec<Frame> {
        let parser = self.ns.parser();
        parser.data_frames(self.ns(), ack, id, data, attachments)
    }

    /// Sends one packet's frames to this client, and counts it.
    pub(crate) fn send(&self, frames: &[Frame]) -> Result<(), EmitError> {
        self.push(frames)?;
        self.ns.handler().sent(1, packet::frames_len(frames));
        Ok(())
    }

    /// Sends one packet's frames to this client; the caller counts it.
    pub(crate) fn push(&self, frames: &[Frame]) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Closed);
        }
        Ok(self.session.send_all(frames)?)
    }

    /// Emits `event` with `data` (a tuple is several arguments; bytes are attachments).
    /// With recovery on, the event gets an offset and is kept, as a broadcast to the socket's
    /// own room, so that it is replayed if the connection breaks before it is read.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let (text, bins) = event_args(event, data)?;
        let Some(store) = self.ns.store() else {
            self.send(&self.frames(false, None, &text, &bins))?;
            self.observe_sent(&text);
            return Ok(());
        };
        let event = EventData {
            data: Str::from(text),
            attachments: bins,
        };
        let own = BroadcastOptions {
            rooms: vec![self.id.to_string()],
            ..BroadcastOptions::default()
        };
        if self.ns.sequenced() {
            // The cluster orders it and gives its offset, as socket.io's streams adapter does.
            if !self.connected() {
                return Err(EmitError::Closed);
            }
            drop(self.ns.sequence(&event, &own));
            return Ok(());
        }
        store.record(self.ns.path_str(), &event, &own, |event| {
            self.send(&self.frames(false, None, &event.data, &event.attachments))
        })?;
        self.observe_sent(&event.data);
        Ok(())
    }

    /// Tells the observer, if it wants events, that `args` was sent to this socket.
    fn observe_sent(&self, args: &str) {
        if let Some(observer) = self.ns.observer().filter(|o| o.wants_events()) {
            observer.sent(self, args);
        }
    }

    /// Answers the client's acknowledgement request `id` with `data`.
    pub fn ack<T: Serialize + ?Sized>(&self, id: i64, data: &T) -> Result<(), EmitError> {
        let (text, bins) = ser::args(None, data)?;
        self.send(&self.frames(true, Some(id), &text, &bins))
    }

    /// Emits `event` asking for an acknowledgement, and waits up to `timeout` for it.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        self: &Arc<Self>,
        event: &str,
        data: &T,
        timeout: std::time::Duration,
    ) -> Result<impl Future<Output = Result<AckData, AckError>> + Send + 'static, EmitError> {
        let (text, bins) = event_args(event, data)?;
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(id, tx);
        let forget = PendingAck {
            socket: self.clone(),
            id,
        };
        self.send(&self.frames(false, Some(id), &text, &bins))?;
        Ok(async move {
            let answered = tokio::time::timeout(timeout, rx).await;
            drop(forget);
            match answered {
                Ok(Ok(data)) => Ok(data),
                Ok(Err(_)) => Err(AckError::Closed),
                Err(_) => Err(AckError::Timeout),
            }
        })
    }

    /// Resolves an acknowledgement the server waits for.
    pub(crate) fn acked(&self, id: i64, data: AckData) {
        let tx = self
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|acks| acks.remove(&id));
        if let Some(tx) = tx {
            let _ = tx.send(data);
        }
    }

    /// Joins `room`. Before the socket is connected (in a connection middleware) the room is
    /// noted, and joined when the socket connects.
    pub fn join(self: &Arc<Self>, room: &str) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if rooms.iter().any(|r| &**r == room) {
            return;
        }
        let room: Arc<str> = room.into();
        rooms.push(room.clone());
        if !self.connected() {
            // Listed in its rooms when it connects (and so told to the observer then).
            return;
        }
        self.ns.index_join(&room, self);
        drop(rooms);
        if let Some(observer) = self.ns.observer() {
            observer.joined(self, &room);
        }
    }

    /// Connects the socket: it is listed by its namespace and in the rooms it joined so far.
    pub(crate) fn connect(self: &Arc<Self>) {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        self.connected.store(true, Ordering::Release);
        self.ns.insert(self.clone());
        for room in rooms.iter() {
            self.ns.index_join(room, self);
        }
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = rooms.iter().position(|r| &**r == room) {
            let room = rooms.swap_remove(i);
            if !self.connected() {
                return;
            }
            self.ns.index_leave(&room, &self.id);
            drop(rooms);
            if let Some(observer) = self.ns.observer() {
                observer.left(self, &room);
            }
        }
    }

    /// The rooms joined by name (its own id left out). Still readable once disconnected.
    pub fn rooms(&self) -> Vec<String> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.iter().map(|r| r.to_string()).collect()
    }

    /// Whether the socket is in `room`.
    pub fn in_room(&self, room: &str) -> bool {
        &*self.id == room
            || self
                .rooms
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|r| &**r == room)
    }

    /// Disconnects the socket from its namespace (`socket.disconnect()`): the client is told,
    /// and sees `io server disconnect`; its connection stays for other namespaces.
    pub fn disconnect(self: &Arc<Self>) {
        if self.gone(DisconnectReason::ServerNamespaceDisconnect) {
            let frame = self.ns.parser().disconnect(self.ns());
            let len = packet::frames_len(std::slice::from_ref(&frame));
            if self.session.send(frame).is_ok() {
                self.ns.handler().sent(1, len);
            }
        }
    }

    /// Closes the client's whole connection (`socket.disconnect(true)`).
    pub fn close_connection(&self) {
        self.session.close(CloseReason::ServerClose);
    }

    /// Leaves the namespace: out of its rooms, out of the connection's sockets, the handler
    /// told once. Returns whether this call did it.
    pub(crate) fn gone(self: &Arc<Self>, reason: DisconnectReason) -> bool {
        if !self.connected.swap(false, Ordering::AcqRel) {
            return false;
        }
        {
            let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            for room in rooms.iter() {
                self.ns.index_leave(room, &self.id);
            }
        }
        self.ns.remove(&self.id);
        self.session.data.remove(self.ns());
        if let (Some(store), Some(pid)) = (self.ns.store(), &self.pid)
            && reason.is_recoverable()
        {
            let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let kept = Kept::new(
                self.id.clone(),
                self.ns.path_str().clone(),
                rooms,
                self.ext.get().cloned(),
            );
            store.persist(pid.clone(), kept, || self.ns.handler().session_data(self));
        }
        if let Some(observer) = self.ns.observer() {
            observer.disconnected(self, reason);
        }
        // Acknowledgements still awaited will not come.
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).take();
        {
            let mut hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
            if let Hooks::Waiting = *hooks {
                // The handler hears of it once its connection hooks started.
                *hooks = Hooks::GoneWhileWaiting(reason);
                return true;
            }
        }
        self.ns.handler().disconnect(self, reason);
        true
    }

    /// Starts the connection hooks, then tells the handler of a departure that came first:
    /// the handler always sees [`connected`](crate::NsHandler::connected) before
    /// [`disconnect`](crate::NsHandler::disconnect) for a socket that was sent CONNECT.
    pub(crate) async fn start_hooks(self: Arc<Self>) {
        let ns = self.ns.clone();
        let handler = ns.handler();
        let hooks = handler.connected(self.clone());
        let early = std::mem::replace(
            &mut *self.hooks.lock().unwrap_or_else(|e| e.into_inner()),
            Hooks::Started,
        );
        if let Hooks::GoneWhileWaiting(reason) = early {
            handler.disconnect(&self, reason);
        }
        hooks.await;
    }

    /// An id of the socket's connection, the same for its sockets of every namespace, safe to
    /// show (socket.io's Admin UI groups sockets by it): not the Engine.IO session id, which
    /// would let its holder post as the client, but 48 bits of a keyed hash of it.
    pub fn connection_id(&self) -> String {
        use std::hash::BuildHasher;
        static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
        let hash = KEY
            .get_or_init(Default::default)
            .hash_one(self.session.sid());
        format!("{:012x}", hash >> 16)
    }

    /// The socket as `fetchSockets` describes it.
    pub fn info(&self) -> SocketInfo {
        let head = self.head();
        let headers: serde_json::Map<String, serde_json::Value> = head
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.into())))
            .collect();
        let query: serde_json::Map<String, serde_json::Value> = head
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned().into()))
            .collect();
        let mut rooms = self.rooms();
        rooms.insert(0, self.id.to_string());
        SocketInfo {
            id: self.id.to_string(),
            rooms,
            data: self.ns.handler().session_data(self),
            handshake: serde_json::json!({
                "headers": headers,
                "query": query,
                "address": self.peer().map(|p| p.ip().to_string()).unwrap_or_default(),
                "time": "",
                "issued": self.issued,
                "url": head.uri.to_string(),
                "xdomain": head.headers.contains_key(http::header::ORIGIN),
                "secure": false,
                "auth": {},
            }),
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("ns", &self.ns())
            .finish()
    }
}

/// Forgets an acknowledgement the server no longer waits for (answered, timed out, dropped).
struct PendingAck {
    socket: Arc<Socket>,
    id: i64,
}

impl Drop for PendingAck {
    fn drop(&mut self) {
        if let Some(acks) = self
            .socket
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            acks.remove(&self.id);
        }
    }
}

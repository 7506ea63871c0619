//! [`Client`]: one connected socket, as its handlers, guards and hooks see it.

use std::any::Any;
use std::fmt;
#[cfg(feature = "jwt")]
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use serde::Serialize;
use serde_json::Value;

use crate::dispatch::Queue;
use crate::engine::{Ser, sio};
use crate::namespace::NsRuntime;
use crate::rails::EventBudget;

/// Rooms whose names start with this are iogate's own (one per client, one per user); clients
/// and handlers cannot join or leave them by name, and a REST API should refuse them too.
pub const RESERVED_PREFIX: char = '$';

/// The event names socket.io keeps for itself (`connect`, `disconnect`, ...): a client that
/// sends one is disconnected, and an emit of one is refused ([`EmitError::Reserved`],
/// [`BroadcastError::Reserved`](crate::BroadcastError::Reserved)), as by socket.io.
pub use crate::engine::sio::packet::RESERVED_EVENTS;

/// The framework's state of a protocol socket (set when the client is admitted).
pub(crate) fn state(socket: &sio::Socket) -> Option<Arc<ClientState>> {
    socket
        .ext
        .get()
        .and_then(|ext| ext.clone().downcast::<ClientState>().ok())
}

/// The room every client joins, so that [`Broadcast::to_client`](crate::Broadcast::to_client)
/// reaches it on any node.
pub(crate) fn client_room(id: &str) -> String {
    format!("{RESERVED_PREFIX}client:{id}")
}

/// The room every client of one user joins, so that
/// [`Broadcast::to_user`](crate::Broadcast::to_user) reaches all of that user's devices.
pub(crate) fn user_room(user: &str) -> String {
    format!("{RESERVED_PREFIX}user:{user}")
}

/// What iogate keeps for each client, beside the protocol's socket.
pub(crate) struct ClientState {
    /// The public id: the client's own `socket.id`, what other clients and the server handle
    /// see; never the session id.
    pub(crate) id: Box<str>,
    /// The authenticated user (`sub`), once a middleware or hook set it.
    user: OnceLock<Box<str>>,
    /// The `auth` payload of the handshake (`io(url, { auth })`).
    auth: Value,
    /// Typed data of this client (`client.data` in socket.io), e.g. verified claims; shared
    /// with the client's next session when its connection state is recovered.
    data: Arc<RwLock<Vec<Box<dyn Any + Send + Sync>>>>,
    /// Events waiting for their turn, so that they run in the order they were sent.
    pub(crate) queue: Queue,
    /// The client's event rate limit.
    pub(crate) budget: EventBudget,
    /// The namespace: its limits and room policies.
    pub(crate) ns: Arc<NsRuntime>,
    /// Whether the client's disconnection was queued: once, whoever sees it first.
    gone: AtomicBool,
    /// Where the client's token expiry is watched, so that it is forgotten when it leaves.
    #[cfg(feature = "jwt")]
    expiry: std::sync::Mutex<Option<crate::expiry::Watch>>,
}

impl ClientState {
    /// A copy of the value of type `T` stored on the client.
    pub(crate) fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.iter().find_map(|v| v.downcast_ref::<T>()).cloned()
    }

    pub(crate) fn new(id: Box<str>, auth: Value, ns: &Arc<NsRuntime>) -> Self {
        Self {
            id,
            user: OnceLock::new(),
            auth,
            data: Arc::default(),
            queue: Queue::paused(),
            budget: EventBudget::new(&ns.rails.limits, &ns.rails.clock),
            ns: ns.clone(),
            gone: AtomicBool::new(false),
            #[cfg(feature = "jwt")]
            expiry: std::sync::Mutex::new(None),
        }
    }

    /// The state of a client whose session `previous` was recovered: the same id, user and
    /// data; the handshake's `auth`, its queue and its budget are new.
    pub(crate) fn recovered(previous: &ClientState, auth: Value, ns: &Arc<NsRuntime>) -> Self {
        let state = Self {
            data: previous.data.clone(),
            ..Self::new(previous.id.clone(), auth, ns)
        };
        if let Some(user) = previous.user() {
            state.bind_user(user);
        }
        state
    }

    /// Stores `value` on the client, in place of any value of its type.
    pub(crate) fn insert<T: Clone + Send + Sync + 'static>(&self, value: T) {
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = data.iter_mut().find(|v| v.is::<T>()) {
            *slot = Box::new(value);
        } else {
            data.push(Box::new(value));
        }
    }

    /// Binds the client to `user`, when it has none yet.
    pub(crate) fn bind_user(&self, user: &str) {
        let _ = self.user.set(user.into());
    }

    /// Notes where the client's token expiry is watched.
    #[cfg(feature = "jwt")]
    pub(crate) fn set_expiry(&self, expiries: Weak<crate::expiry::Expiries>, key: (u64, u64)) {
        *self.expiry.lock().unwrap_or_else(|e| e.into_inner()) = Some((expiries, key));
    }

    /// Forgets whatever is kept for the client beside its socket, once it left.
    pub(crate) fn forget(&self) {
        #[cfg(feature = "jwt")]
        {
            // Taken first: the expiry watch locks its map, then this.
            let watched = self.expiry.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((expiries, key)) = watched {
                crate::expiry::forget(&expiries, key);
            }
        }
    }

    /// The authenticated user, once set.
    pub(crate) fn user(&self) -> Option<&str> {
        self.user.get().map(|u| &**u)
    }

    /// Marks the client gone; true for the first caller only, who queues its disconnection.
    pub(crate) fn mark_gone(&self) -> bool {
        !self.gone.swap(true, Ordering::AcqRel)
    }
}

/// A connected client: the `@ConnectedSocket() client` of NestJS.
///
/// Cheap to clone (two reference counts). Its [`id`](Client::id) is public: the client's own
/// `socket.id`, safe to broadcast, and what
/// [`Broadcast::to_client`](crate::Broadcast::to_client) takes. The protocol's session id,
/// which lets its holder post packets as this client over long-polling, is never exposed.
#[derive(Clone)]
pub struct Client {
    pub(crate) socket: Arc<sio::Socket>,
    pub(crate) state: Arc<ClientState>,
}

impl Client {
    pub(crate) fn new(socket: Arc<sio::Socket>, state: Arc<ClientState>) -> Self {
        Self { socket, state }
    }

    /// Answers the client's acknowledgement request `id` with `data`.
    pub(crate) fn ack(&self, id: i64, data: &dyn erased_serde::Serialize) -> Result<(), EmitError> {
        self.socket.ack(id, data).map_err(EmitError::from)
    }

    /// The client's public id: the same as its own `socket.id`.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The namespace this client is connected to, e.g. `"/events"`.
    pub fn namespace(&self) -> &str {
        self.socket.ns()
    }

    /// The authenticated user (the JWT's `sub`), once set by [`Client::set_user`].
    pub fn user(&self) -> Option<&str> {
        self.state.user.get().map(|u| &**u)
    }

    /// Binds this client to a user: it joins that user's room, so that
    /// [`Broadcast::to_user`](crate::Broadcast::to_user) reaches it. A client is bound once;
    /// binding it to another user fails.
    pub fn set_user(&self, user: impl Into<String>) -> Result<(), RoomError> {
        let user: String = user.into();
        let bound = self.state.user.get_or_init(|| user.as_str().into());
        if **bound != *user {
            return Err(RoomError::UserAlreadySet);
        }
        self.socket.join(&user_room(&user));
        Ok(())
    }

    /// The `auth` payload the client sent with its handshake (`io(url, { auth })`), or
    /// `Value::Null` when it sent none.
    pub fn auth(&self) -> &Value {
        &self.state.auth
    }

    /// The headers of the handshake request.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.socket.head().headers
    }

    /// The server handle of the client's node.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn server(&self) -> &crate::Server {
        self.state.ns.server()
    }

    /// The client's address (socket.io's `handshake.address`): its connection's, or, behind a
    /// proxy of [`Options::trusted_proxies`](crate::Options::trusted_proxies), the one the
    /// proxy forwarded. `None` when the app is not served with the peer's address (see
    /// [`serve`](crate::serve)).
    pub fn address(&self) -> Option<std::net::IpAddr> {
        self.socket.peer().map(|p| p.ip())
    }

    /// The query string of the handshake request, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.socket.head().uri.query()
    }

    /// The transport the client is using now.
    pub fn transport(&self) -> Transport {
        match self.socket.transport() {
            sio::TransportKind::Polling => Transport::Polling,
            sio::TransportKind::Websocket => Transport::Websocket,
        }
    }

    /// Stores a value of type `T` on this client (`client.data` in socket.io), replacing the
    /// previous one of that type.
    pub fn insert<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.state.insert(value);
    }

    /// A copy of the value of type `T` stored on this client.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.state.get()
    }

    /// Joins a room, within the limits (rooms per client, clients per room, name length) and
    /// the namespace's [room policies](crate::Gateway::room_policy). Room names starting with
    /// `$` are reserved for iogate. Joining a room the client is in already does nothing.
    pub fn join(&self, room: impl Into<String>) -> Result<(), RoomError> {
        let room = self.check_room(room.into())?;
        let rooms = self.socket.rooms();
        if rooms.contains(&room) {
            return Ok(());
        }
        let ns = &self.state.ns;
        let limits = &ns.rails.limits;
        let own = rooms
            .iter()
            .filter(|r| !r.starts_with(RESERVED_PREFIX))
            .count();
        if own >= limits.max_rooms_per_client {
            return Err(RoomError::TooManyRooms);
        }
        if !ns.room_policies.iter().all(|allows| allows(self, &room)) {
            return Err(RoomError::NotAllowed);
        }
        if limits.max_clients_per_room != usize::MAX {
            let members = ns.server().local_count(self.namespace(), &room);
            if members >= limits.max_clients_per_room {
                return Err(RoomError::Full);
            }
        }
        self.socket.join(&room);
        Ok(())
    }

    /// Leaves a room.
    pub fn leave(&self, room: impl Into<String>) -> Result<(), RoomError> {
        let room = self.check_room(room.into())?;
        self.socket.leave(&room);
        Ok(())
    }

    fn check_room(&self, room: String) -> Result<String, RoomError> {
        if room.starts_with(RESERVED_PREFIX) {
            Err(RoomError::Reserved)
        } else if room.len() > self.state.ns.rails.limits.max_room_name_len {
            Err(RoomError::NameTooLong)
        } else {
            Ok(room)
        }
    }

    /// The rooms this client is in (iogate's own rooms left out).
    pub fn rooms(&self) -> Vec<String> {
        let mut rooms = self.socket.rooms();
        rooms.retain(|r| !r.starts_with(RESERVED_PREFIX));
        rooms
    }

    /// Emits an event to this client. `data` is one argument; a tuple sends several.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.socket.emit(event, &Ser(data)).map_err(EmitError::from)
    }

    /// Emits an event asking for an acknowledgement (socket.io's `emitWithAck`), and waits up
    /// to `timeout` for it; returns the acknowledgement's first argument.
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: std::time::Duration,
    ) -> Result<Value, AckError> {
        let acked = self
            .socket
            .emit_with_ack(event, &Ser(data), timeout)
            .map_err(|e| AckError::Emit(e.into()))?;
        let answer = acked.await.map_err(|e| match e {
            sio::AckError::Timeout => AckError::Timeout,
            sio::AckError::Closed => AckError::Emit(EmitError::Closed),
            sio::AckError::Emit(e) => AckError::Emit(e.into()),
        })?;
        // The acknowledgement's first argument, `null` when it has none.
        let mut args: Vec<Value> =
            serde_json::from_str(&answer.data).map_err(|e| AckError::Invalid(e.to_string()))?;
        Ok(if args.is_empty() {
            Value::Null
        } else {
            args.swap_remove(0)
        })
    }

    /// Disconnects this client from its namespace (`client.disconnect()`): it sees
    /// `io server disconnect`.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Whether the client is still connected.
    pub fn connected(&self) -> bool {
        self.socket.connected()
    }

    /// Whether this client came back within the recovery window after its connection broke
    /// (socket.io's `socket.recovered`): it has its old id, rooms and data, and the events it
    /// missed were sent to it, in order, before any new one. Always false unless
    /// [`Options::connection_state_recovery`](crate::Options::connection_state_recovery) is on.
    pub fn recovered(&self) -> bool {
        self.socket.recovered()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id())
            .field("namespace", &self.namespace())
            .field("user", &self.user())
            .finish()
    }
}

/// The transport a client is connected over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

/// Why a room operation was refused. Its message is safe to show the client.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RoomError {
    /// The name starts with [`RESERVED_PREFIX`] (`$`), which iogate keeps for its per-client
    /// and per-user rooms.
    #[error("Room names starting with '{RESERVED_PREFIX}' are reserved")]
    Reserved,
    /// [`Client::set_user`] was called for a client already bound to another user.
    #[error("This client is already bound to another user")]
    UserAlreadySet,
    /// The room name is longer than the limit.
    #[error("Room name too long")]
    NameTooLong,
    /// The client is in as many rooms as it may be.
    #[error("Too many rooms")]
    TooManyRooms,
    /// The room holds as many clients as it may.
    #[error("Room is full")]
    Full,
    /// The namespace's room policy does not let this client join this room.
    #[error("Not allowed to join this room")]
    NotAllowed,
}

/// Why an emit did not reach the client.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The client is not connected any more.
    #[error("the client is disconnected")]
    Closed,
    /// The client's outgoing queue is full: it reads more slowly than it is written to.
    #[error("the client's outgoing queue is full")]
    Full,
    /// The data could not be serialised.
    #[error("could not serialise the data: {0}")]
    Serialize(String),
    /// The event's name is one socket.io keeps for itself ([`RESERVED_EVENTS`]), as `connect`
    /// or `disconnect`: the client would take it for the protocol's own. Nothing was sent.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
}

impl From<sio::EmitError> for EmitError {
    fn from(e: sio::EmitError) -> Self {
        match e {
            sio::EmitError::Full => Self::Full,
            sio::EmitError::Closed => Self::Closed,
            sio::EmitError::Serialize(e) => Self::Serialize(e.to_string()),
            sio::EmitError::Reserved(event) => Self::Reserved(event),
        }
    }
}

/// Why [`Client::emit_with_ack`] got no acknowledgement.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The client did not acknowledge in time.
    #[error("the client did not acknowledge in time")]
    Timeout,
    /// The acknowledgement could not be read.
    #[error("unreadable acknowledgement: {0}")]
    Invalid(String),
}

/// Why a client left, with socket.io's names for the reasons (what the client sees too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client closed the connection (`transport close`).
    TransportClose,
    /// The client left the namespace (`client namespace disconnect`).
    ClientNamespaceDisconnect,
    /// The server disconnected the client (`server namespace disconnect`).
    ServerNamespaceDisconnect,
    /// No pong in time (`ping timeout`).
    PingTimeout,
    /// The connection broke (`transport error`).
    TransportError,
    /// The client sent something that could not be parsed (`parse error`).
    ParseError,
    /// The server is shutting down (`server shutting down`).
    ServerShuttingDown,
    /// The server closed the connection (`forced close`): `disconnect(true)`, or no namespace
    /// joined within the connect timeout.
    ForcedClose,
    /// The client was cut off for reading too slowly: its outgoing queue went over
    /// [`Options::max_outgoing_bytes`](crate::Options::max_outgoing_bytes) or
    /// `max_outgoing_packets` (`outgoing queue full`; the client itself sees `transport close`).
    OutgoingFull,
    /// The client was cut off because a write to it did not complete within
    /// [`Options::write_timeout`](crate::Options::write_timeout) (`write timeout`).
    WriteTimeout,
}

impl DisconnectReason {
    /// socket.io's name for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::PingTimeout => "ping timeout",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedClose => "forced close",
            Self::OutgoingFull => "outgoing queue full",
            Self::WriteTimeout => "write timeout",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<sio::DisconnectReason> for DisconnectReason {
    fn from(r: sio::DisconnectReason) -> Self {
        use sio::DisconnectReason as R;
        match r {
            R::TransportClose => Self::TransportClose,
            R::TransportError => Self::TransportError,
            R::PingTimeout => Self::PingTimeout,
            R::ParseError => Self::ParseError,
            R::ForcedClose => Self::ForcedClose,
            R::ServerNamespaceDisconnect => Self::ServerNamespaceDisconnect,
            R::ClientNamespaceDisconnect => Self::ClientNamespaceDisconnect,
            R::ServerShuttingDown => Self::ServerShuttingDown,
            R::OutgoingFull => Self::OutgoingFull,
            R::WriteTimeout => Self::WriteTimeout,
        }
    }
}

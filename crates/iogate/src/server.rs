//! [`Server`]: the cloneable handle to emit to everyone, a room, a user or one client from
//! anywhere: handlers, hooks, REST routes, background tasks (`@WebSocketServer() server`).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;

use crate::client::{ClientState, RESERVED_PREFIX, client_room, user_room};

/// The server handle.
///
/// Cheap to clone: an `Arc` over the protocol server and the registered state, shared so that
/// REST handlers and background tasks reach the same clients as the gateways.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    io: SocketIo,
    state: http::Extensions,
}

impl Server {
    pub(crate) fn new(io: SocketIo, state: http::Extensions) -> Self {
        Self {
            inner: Arc::new(ServerInner { io, state }),
        }
    }

    /// The namespace `path` (`server.of('/events')`).
    pub fn of(&self, path: impl Into<String>) -> Namespace {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Namespace {
            server: self.clone(),
            path,
        }
    }

    /// The state of type `T` registered with [`App::state`](crate::App::state).
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner.state.get::<T>().cloned()
    }

    /// Disconnects every client of every namespace (each sees `server shutting down`) and
    /// waits until they are gone.
    pub async fn close(&self) {
        self.inner.io.close().await;
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

/// One namespace of the server: the starting point of every broadcast.
#[derive(Clone, Debug)]
pub struct Namespace {
    server: Server,
    path: String,
}

impl Namespace {
    /// The namespace's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn select(&self) -> Broadcast {
        Broadcast {
            ns: self.clone(),
            to: Vec::new(),
            except: Vec::new(),
        }
    }

    /// Every client in `room`.
    pub fn to(&self, room: impl Into<String>) -> Broadcast {
        self.select().to(room)
    }

    /// Every client of `user` (all its devices).
    pub fn to_user(&self, user: &str) -> Broadcast {
        self.select().to_user(user)
    }

    /// The client whose public id is `id`.
    pub fn to_client(&self, id: &str) -> Broadcast {
        self.select().to_client(id)
    }

    /// Every client of the namespace but those in `room`.
    pub fn except(&self, room: impl Into<String>) -> Broadcast {
        self.select().except(room)
    }

    /// Emits to every client of the namespace.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), BroadcastError> {
        self.select().emit(event, data).await
    }

    /// How many clients are connected to the namespace.
    pub async fn count(&self) -> Result<usize, BroadcastError> {
        self.select().count().await
    }

    /// The public ids of the clients connected to the namespace.
    pub fn client_ids(&self) -> Vec<String> {
        self.select().client_ids()
    }

    /// The rooms of the namespace that have clients (iogate's own rooms left out).
    pub async fn rooms(&self) -> Result<Vec<String>, BroadcastError> {
        let rooms = self
            .operators()?
            .rooms()
            .await
            .map_err(BroadcastError::adapter)?;
        Ok(rooms
            .into_iter()
            .filter(|r| !r.starts_with(RESERVED_PREFIX))
            .map(|r| r.into_owned())
            .collect())
    }

    fn operators(&self) -> Result<BroadcastOperators, BroadcastError> {
        self.server
            .inner
            .io
            .of(&self.path)
            .ok_or_else(|| BroadcastError::NoNamespace(self.path.clone()))
    }
}

/// A selection of clients of one namespace, and what to do to them.
///
/// `to` calls add up (clients in any of the rooms); `except` calls remove clients. With no
/// `to`, the selection is the whole namespace.
#[derive(Clone, Debug)]
#[must_use = "a selection does nothing until emit, join, leave or disconnect"]
pub struct Broadcast {
    ns: Namespace,
    to: Vec<String>,
    except: Vec<String>,
}

impl Broadcast {
    /// Adds the clients in `room`.
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.to.push(room.into());
        self
    }

    /// Adds every client of `user`.
    pub fn to_user(mut self, user: &str) -> Self {
        self.to.push(user_room(user));
        self
    }

    /// Adds the client whose public id is `id`.
    pub fn to_client(mut self, id: &str) -> Self {
        self.to.push(client_room(id));
        self
    }

    /// Leaves out the clients in `room`.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Leaves out the clients of `user`.
    pub fn except_user(mut self, user: &str) -> Self {
        self.except.push(user_room(user));
        self
    }

    /// Leaves out the client whose public id is `id` (e.g. the sender).
    pub fn except_client(mut self, id: &str) -> Self {
        self.except.push(client_room(id));
        self
    }

    fn operators(self) -> Result<BroadcastOperators, BroadcastError> {
        let mut ops = self.ns.operators()?;
        if !self.to.is_empty() {
            ops = ops.to(self.to);
        }
        if !self.except.is_empty() {
            ops = ops.except(self.except);
        }
        Ok(ops)
    }

    /// Emits `data` as `event` to the selection. `data` is one argument; a tuple sends several.
    ///
    /// The payload is encoded once for all recipients. A recipient whose outgoing queue is full
    /// misses it, and the error says how many did.
    pub async fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        data: &T,
    ) -> Result<(), BroadcastError> {
        let path = self.ns.path.clone();
        match self.operators()?.emit(event, data).await {
            Ok(()) => Ok(()),
            Err(socketioxide::BroadcastError::Socket(errors)) => {
                tracing::warn!(namespace = %path, event, missed = errors.len(), "broadcast not delivered to every client");
                Err(BroadcastError::Undelivered(errors.len()))
            }
            Err(socketioxide::BroadcastError::Serialize(e)) => {
                Err(BroadcastError::Serialize(e.to_string()))
            }
            Err(e) => Err(BroadcastError::adapter(e)),
        }
    }

    /// Makes every client of the selection join `room`.
    pub async fn join(self, room: impl Into<String>) -> Result<(), BroadcastError> {
        let room = room.into();
        self.operators()?
            .join(room)
            .await
            .map_err(BroadcastError::adapter)
    }

    /// Makes every client of the selection leave `room`.
    pub async fn leave(self, room: impl Into<String>) -> Result<(), BroadcastError> {
        let room = room.into();
        self.operators()?
            .leave(room)
            .await
            .map_err(BroadcastError::adapter)
    }

    /// Disconnects every client of the selection; each sees `io server disconnect`.
    pub async fn disconnect(self) -> Result<(), BroadcastError> {
        self.operators()?
            .disconnect()
            .await
            .map_err(BroadcastError::adapter)
    }

    /// How many clients the selection holds.
    pub async fn count(self) -> Result<usize, BroadcastError> {
        Ok(self.operators()?.sockets().len())
    }

    /// The public ids of the clients of the selection.
    pub fn client_ids(self) -> Vec<String> {
        let Ok(ops) = self.operators() else {
            return Vec::new();
        };
        ops.sockets()
            .into_iter()
            .filter_map(|s| s.extensions.get::<Arc<ClientState>>())
            .map(|state| state.id.to_string())
            .collect()
    }
}

/// Why a broadcast or a room operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// No gateway serves that namespace.
    #[error("no gateway serves the namespace {0}")]
    NoNamespace(String),
    /// Some recipients' outgoing queues were full: they did not get the message.
    #[error("{0} client(s) did not get the message: their outgoing queue is full")]
    Undelivered(usize),
    /// The data could not be serialised.
    #[error("could not serialise the data: {0}")]
    Serialize(String),
    /// The adapter (e.g. the cluster's broker) failed.
    #[error("adapter error: {0}")]
    Adapter(String),
}

impl BroadcastError {
    fn adapter(e: impl fmt::Display) -> Self {
        Self::Adapter(e.to_string())
    }
}

//! [`Server`]: the cloneable handle to emit to everyone, a room, a user or one client from
//! anywhere: handlers, hooks, REST routes, background tasks (`@WebSocketServer() server`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use serde::Serialize;

use crate::client::{RESERVED_PREFIX, client_room, user_room};
use crate::engine::{Ser, sio};
use crate::presence::Presence;

/// The server handle.
///
/// Cheap to clone: an `Arc` over the protocol server and the registered state, shared so that
/// REST handlers and background tasks reach the same clients as the gateways.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

struct ServerInner {
    io: sio::Io,
    state: http::Extensions,
    health: Option<Arc<crate::cluster::Health>>,
    /// Presence: who is in which room, on every node.
    presence: crate::presence::Handle,
    /// Set by [`Server::close`]: no new client, no new event.
    closing: AtomicBool,
    /// Woken, while closing, each time a client's queue runs dry.
    settled: Notify,
}

/// What connection state recovery holds now and did so far, on this server
/// ([`Server::recovery`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryCounts {
    /// Sessions kept now, waiting for their client.
    pub sessions: usize,
    /// Sessions kept since the start, one per broken connection.
    pub kept: u64,
    /// Sessions handed back to their client.
    pub recovered: u64,
    /// Sessions let go: past the window or a bound, or unrecoverable when their client came.
    pub expired: u64,
}

impl Server {
    pub(crate) fn new(
        io: sio::Io,
        state: http::Extensions,
        health: Option<Arc<crate::cluster::Health>>,
        presence: crate::presence::Handle,
    ) -> Self {
        Self {
            inner: Arc::new(ServerInner {
                io,
                state,
                health,
                presence,
                closing: AtomicBool::new(false),
                settled: Notify::new(),
            }),
        }
    }

    /// How many clients of this node are in `room` of `ns`.
    pub(crate) fn local_count(&self, ns: &str, room: &str) -> usize {
        let opts = sio::BroadcastOptions {
            rooms: vec![room.to_owned()],
            ..sio::BroadcastOptions::default()
        };
        self.inner.io.of(ns).map_or(0, |ns| ns.count(&opts))
    }

    /// What connection state recovery keeps and did; `None` when it is off.
    pub fn recovery(&self) -> Option<RecoveryCounts> {
        use std::sync::atomic::Ordering::Relaxed;
        let (sessions, stats) = self.inner.io.recovery()?;
        Some(RecoveryCounts {
            sessions,
            kept: stats.kept.load(Relaxed),
            recovered: stats.recovered.load(Relaxed),
            expired: stats.expired.load(Relaxed),
        })
    }

    /// `None` for a single node; for a node of a cluster, whether its broker (Redis) answers
    /// now, i.e. whether broadcasts reach the other nodes.
    pub fn cluster_healthy(&self) -> Option<bool> {
        self.inner.health.as_ref().map(|h| h.is_up())
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

    /// Shuts the gateways down gracefully, in three steps:
    ///
    /// 1. New clients are refused (`connect_error` "Server shutting down") and events that
    ///    arrive from now on are dropped. Every client's queued events are handled: the
    ///    handlers running now finish, and their acknowledgements and emits are delivered.
    /// 2. Every connection is closed. Clients see `transport close` and, as after any lost
    ///    connection, reconnect by themselves (behind a balancer, to another node).
    /// 3. Every client's `handle_disconnect` hooks run, with
    ///    [`DisconnectReason::ServerShuttingDown`](crate::DisconnectReason::ServerShuttingDown).
    /// 4. This node's clients leave every [presence](crate::presence) (in a cluster, at once
    ///    rather than after the heartbeat timeout), and the webhook is given a few seconds to
    ///    post the last transitions.
    ///
    /// Step 1 begins with the call, before the future is polled. The future completes when
    /// all of that is done; a handler that never ends keeps it waiting, so bound it with a
    /// timeout (`tokio::time::timeout`), as the `iogate` server does.
    pub fn close(&self) -> impl Future<Output = ()> + Send + '_ {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.finish_closing()
    }

    async fn finish_closing(&self) {
        let clients: Vec<_> = self
            .inner
            .io
            .namespaces()
            .flat_map(|ns| ns.sockets())
            .filter_map(|socket| {
                let state = crate::client::state(&socket)?;
                Some(crate::Client::new(socket, state))
            })
            .collect();
        tracing::debug!(clients = clients.len(), "closing: handling queued events");
        self.settled(&clients).await;
        // Closing the transports queues every client's disconnection, behind its last event.
        self.inner.io.close().await;
        self.settled(&clients).await;
        self.inner.presence.close().await;
        tracing::debug!("closed");
    }

    /// The protocol server.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn io(&self) -> &sio::Io {
        &self.inner.io
    }

    /// Whether [`close`](Self::close) has begun: new clients are refused and new events
    /// dropped (a readiness probe answers "not ready" from then on).
    pub fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::Relaxed)
    }

    /// Tells a closing server's [`close`](Self::close) that a client's queue ran dry.
    pub(crate) fn queue_settled(&self) {
        if self.is_closing() {
            self.inner.settled.notify_waiters();
        }
    }

    /// Completes once no client of `clients` has work queued or running.
    async fn settled(&self, clients: &[crate::Client]) {
        // A closing server queues no new event, so a client that settled stays settled
        // (but for the disconnection `close` queues itself, before it waits again).
        let mut next = 0;
        loop {
            let woken = self.inner.settled.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            while clients
                .get(next)
                .is_some_and(|c| c.state.queue.is_settled())
            {
                next += 1;
            }
            if next == clients.len() {
                return;
            }
            woken.await;
        }
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

    /// Every client of the namespace, to make them join, leave or disconnect.
    pub fn all(&self) -> Broadcast {
        self.select()
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

    /// The public ids of the clients connected to the namespace on this node.
    pub fn client_ids(&self) -> Vec<String> {
        self.select().client_ids()
    }

    /// Sends `event` with `data` (a tuple is several arguments) to this namespace on every other
    /// node of the cluster (socket.io's `serverSideEmit`); their gateways handle it with
    /// [`Gateway::on_server_event`](crate::Gateway::on_server_event). Not to this node, and to
    /// no one without a cluster. Binary data cannot be sent this way.
    pub async fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), BroadcastError> {
        self.server_side(event, data, None).await.map(drop)
    }

    /// [`server_side_emit`](Self::server_side_emit), then waits up to `timeout` for every other
    /// node's answer (socket.io's `serverSideEmitWithAck`): one per node, in the order they
    /// came. A node that does not answer in time makes it fail, as in socket.io.
    pub async fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        timeout: std::time::Duration,
    ) -> Result<Vec<serde_json::Value>, BroadcastError> {
        self.server_side(event, data, Some(timeout)).await
    }

    async fn server_side<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        ack: Option<std::time::Duration>,
    ) -> Result<Vec<serde_json::Value>, BroadcastError> {
        let sent = self
            .sio()?
            .server_side_emit(event, &Ser(data), ack)
            .map_err(not_sent)?;
        sent.await.map_err(adapter_error)
    }

    /// The clients of this namespace on every node (socket.io's `fetchSockets`): their ids,
    /// rooms, data and handshake.
    pub async fn fetch_clients(&self) -> Result<Vec<ClientInfo>, BroadcastError> {
        let all = self.sio()?.fetch_sockets(&sio::BroadcastOptions::default());
        let sockets = all.await.map_err(adapter_error)?;
        Ok(sockets
            .into_iter()
            .map(|s| ClientInfo {
                rooms: s
                    .rooms
                    .into_iter()
                    .filter(|r| *r != s.id && !r.starts_with(RESERVED_PREFIX))
                    .collect(),
                id: s.id,
                data: s.data,
                handshake: s.handshake,
            })
            .collect())
    }

    /// Who is in `room`, on every node: its users (clients bound with
    /// [`Client::set_user`](crate::Client::set_user)), each with its clients there; see
    /// [`presence`](crate::presence). Joins and leaves made on this node before the call are in
    /// the answer; those of other nodes as soon as their presence task applied them.
    pub async fn presence(&self, room: &str) -> Result<Presence, BroadcastError> {
        self.sio()?;
        self.server.inner.presence.presence(&self.path, room).await
    }

    /// The rooms of the namespace that have clients (iogate's own rooms left out).
    pub async fn rooms(&self) -> Result<Vec<String>, BroadcastError> {
        let all = self.sio()?.all_rooms();
        let mut rooms = all.await.map_err(adapter_error)?;
        rooms.retain(|r| !r.starts_with(RESERVED_PREFIX));
        Ok(rooms)
    }

    fn sio(&self) -> Result<std::sync::Arc<sio::Namespace>, BroadcastError> {
        self.server
            .inner
            .io
            .of(&self.path)
            .ok_or_else(|| BroadcastError::NoNamespace(self.path.clone()))
    }
}

fn adapter_error(e: sio::AdapterError) -> BroadcastError {
    BroadcastError::Adapter(e.to_string())
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

    fn options(&self) -> sio::BroadcastOptions {
        sio::BroadcastOptions {
            rooms: self.to.clone(),
            except: self.except.clone(),
            local: false,
        }
    }

    /// Emits `data` as `event` to the selection. `data` is one argument; a tuple sends several.
    ///
    /// The payload is encoded once for all recipients. A recipient on this node that stopped
    /// reading (its outgoing queue is over its bound) is cut off instead of silently missing it.
    pub async fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        data: &T,
    ) -> Result<(), BroadcastError> {
        let forwarded = self
            .ns
            .sio()?
            .broadcast(&self.options(), event, &Ser(data))
            .map_err(not_sent)?;
        forwarded.await.map_err(adapter_error)
    }

    /// Makes every client of the selection join `room`.
    pub async fn join(self, room: impl Into<String>) -> Result<(), BroadcastError> {
        let done = self.ns.sio()?.add_sockets(&self.options(), &[room.into()]);
        done.await.map_err(adapter_error)
    }

    /// Makes every client of the selection leave `room`.
    pub async fn leave(self, room: impl Into<String>) -> Result<(), BroadcastError> {
        let done = self.ns.sio()?.del_sockets(&self.options(), &[room.into()]);
        done.await.map_err(adapter_error)
    }

    /// Disconnects every client of the selection; each sees `io server disconnect`.
    pub async fn disconnect(self) -> Result<(), BroadcastError> {
        let done = self.ns.sio()?.disconnect_sockets(&self.options(), false);
        done.await.map_err(adapter_error)
    }

    /// Closes the whole connection of every client of the selection (socket.io's
    /// `disconnectSockets(true)`): it leaves every namespace at once.
    pub async fn close(self) -> Result<(), BroadcastError> {
        let done = self.ns.sio()?.disconnect_sockets(&self.options(), true);
        done.await.map_err(adapter_error)
    }

    /// How many clients the selection holds, on every node of a cluster.
    pub async fn count(self) -> Result<usize, BroadcastError> {
        let counted = self.ns.sio()?.count_all(&self.options());
        counted.await.map_err(adapter_error)
    }

    /// The public ids of the clients of the selection connected to this node.
    pub fn client_ids(self) -> Vec<String> {
        match self.ns.sio() {
            Ok(ns) => ns
                .select(&self.options())
                .iter()
                .map(|s| s.id().to_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// A client of any node, as [`Namespace::fetch_clients`] describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClientInfo {
    /// Its public id.
    pub id: String,
    /// The rooms it joined (iogate's own rooms left out).
    pub rooms: Vec<String>,
    /// What its node keeps of it as JSON (its user and verified claims, on iogate's nodes).
    pub data: serde_json::Value,
    /// Its handshake: `{headers, query, address, time, issued, url, auth, secure, xdomain}`.
    pub handshake: serde_json::Value,
}

/// An event another node of the cluster sent to a namespace
/// ([`Gateway::on_server_event`](crate::Gateway::on_server_event)).
#[derive(Clone)]
pub struct ServerEvent {
    pub(crate) name: String,
    pub(crate) args: Vec<serde_json::Value>,
    pub(crate) server: Server,
}

impl ServerEvent {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its arguments.
    pub fn args(&self) -> &[serde_json::Value] {
        &self.args
    }

    /// Its data as `T`, as [`Data`](crate::Data) reads a client's: one argument as itself,
    /// several as an array, none as `null`.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        match self.args.as_slice() {
            [] => T::deserialize(&serde_json::Value::Null),
            [one] => T::deserialize(one),
            several => T::deserialize(&serde_json::Value::Array(several.to_vec())),
        }
    }

    /// The server handle of this node.
    pub fn server(&self) -> &Server {
        &self.server
    }
}

impl fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .finish()
    }
}

/// Why a broadcast or a room operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// No gateway serves that namespace.
    #[error("no gateway serves the namespace {0}")]
    NoNamespace(String),
    /// The data could not be serialised.
    #[error("could not serialise the data: {0}")]
    Serialize(String),
    /// The adapter (e.g. the cluster's broker) failed.
    #[error("adapter error: {0}")]
    Adapter(String),
    /// The event's name is one socket.io keeps for itself
    /// ([`RESERVED_EVENTS`](crate::client::RESERVED_EVENTS)). Nothing was sent.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
}

/// Why the protocol layer did not send an event.
fn not_sent(e: sio::EmitError) -> BroadcastError {
    match e {
        sio::EmitError::Reserved(event) => BroadcastError::Reserved(event),
        e => BroadcastError::Serialize(e.to_string()),
    }
}

//! Presence: who is in a room, as users and their clients, on every node
//! ([`Namespace::presence`](crate::Namespace::presence)), and what changes it: a user comes
//! online in a room (its first client joins) or goes offline (its last client leaves), a room
//! gets its first member or loses its last.
//!
//! ```no_run
//! use iogate::{App, Client, Data, Gateway, Namespace};
//! use iogate::webhook::Webhook;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let chat = Gateway::new("/chat")
//!     // Members of a room get `user_online` / `user_offline` `{room, user}`.
//!     .presence_events()
//!     .subscribe_message("who", async |Data(room): Data<String>, ns: Namespace| {
//!         ns.presence(&room).await.map(|p| serde_json::to_value(p).unwrap_or_default())
//!     });
//! let app = App::new()
//!     .gateway(chat)
//!     .presence_webhook(Webhook::new("http://127.0.0.1:8080/hooks", "a-shared-secret")?)
//!     .build();
//! # Ok(()) }
//! ```
//!
//! ## What counts
//! A client counts once it has a user ([`Client::set_user`](crate::Client::set_user), as the JWT
//! middlewares do): it is then present in each room it is in, whether it joined it itself,
//! was made to join from any node ([`Broadcast::join`](crate::Broadcast::join)) or got it back
//! with its recovered session. iogate's own rooms (`$...`) are not tracked. A user with several
//! clients (tabs, devices), on one node or several, is online in a room once.
//!
//! ## Where it is kept
//! A single node ([`App::build`](crate::App::build)) keeps it in memory. A node of a cluster
//! ([`App::build_redis`](crate::App::build_redis)) keeps it in Redis
//! (`iogate_redis::presence`), where each transition is decided by one script, so exactly one
//! node sees it: that node alone emits the room's event and posts the webhook. A node that
//! dies leaves every presence within the heartbeat timeout (10 s by default): the others reap
//! it. A Redis that restarted empty is filled again by the nodes at their next heartbeat.
//!
//! ## How it is fed, and its bounds
//! The protocol layer tells an observer of every join, leave, connection and disconnection,
//! where it happens; the observer only queues it ([`QUEUE`] entries), and one task per node
//! applies the queue in order, checking each entry against the client as it is then (so a
//! late entry cannot make a gone client present). When the queue is full an entry is dropped
//! with a warning, and the node re-asserts all its memberships at its next heartbeat.
//! Transitions that happen while Redis is unreachable are not reported; the state is
//! re-asserted once Redis answers again.
//!
//! See `docs/presence.md` for the keys, the figures and the webhook's format.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::client::RESERVED_PREFIX;
use crate::engine::sio;
use crate::webhook::{Deliveries, Webhook};
use crate::{BroadcastError, Server};

/// How many joins, leaves and queries may wait for the presence task before new ones are
/// dropped (with a warning, and a re-assertion at the next heartbeat): a burst of reconnections
/// fits; a node whose Redis is slow does not grow without bound.
pub const QUEUE: usize = 16_384;

/// The event the members of a room get when a user comes online in it (gateways with
/// [`Gateway::presence_events`](crate::Gateway::presence_events)).
pub const USER_ONLINE: &str = "user_online";
/// The event the members of a room get when a user goes offline in it.
pub const USER_OFFLINE: &str = "user_offline";

/// Who is in a room, on every node ([`Namespace::presence`](crate::Namespace::presence)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presence {
    /// The room.
    pub room: String,
    /// Its users, sorted.
    pub users: Vec<PresentUser>,
}

/// A user present in a room, and its clients there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresentUser {
    /// The user (the JWT's `sub`).
    pub user: String,
    /// The public ids of its clients in the room, sorted.
    pub clients: Vec<String>,
}

/// One client in one room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Member {
    pub(crate) namespace: String,
    pub(crate) room: String,
    pub(crate) client: String,
    pub(crate) user: String,
}

/// What changed in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    UserOnline,
    UserOffline,
    RoomOccupied,
    RoomVacated,
}

impl Kind {
    /// Its name in webhooks.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::UserOnline => "user_online",
            Kind::UserOffline => "user_offline",
            Kind::RoomOccupied => "room_occupied",
            Kind::RoomVacated => "room_vacated",
        }
    }
}

/// A transition, as the one node that saw it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Transition {
    pub(crate) kind: Kind,
    pub(crate) namespace: String,
    pub(crate) room: String,
    pub(crate) user: Option<String>,
}

/// Why a presence store failed.
pub(crate) type StoreError = String;

/// The users of a room with their clients, sorted.
type Members = Vec<(String, Vec<String>)>;

/// Where presence is kept: [`MemoryStore`] on a single node, Redis in a cluster. Only the
/// node's presence task changes it, one call at a time.
pub(crate) trait Store: Send + Sync + 'static {
    /// Adds this node's `members`; answers the transitions.
    fn add(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>>;
    /// Removes this node's `members` (their `user` unused); answers the transitions.
    fn remove(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>>;
    /// Notes the node alive; false when the store lost it (it must [`reassert`](Self::reassert)).
    fn beat(&self) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Makes `members` this node's memberships, all of them; answers the transitions.
    fn reassert(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>>;
    /// Removes the memberships of the nodes silent too long; answers the transitions.
    fn reap(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>>;
    /// Removes this node's memberships (it is shutting down); answers the transitions.
    fn leave(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>>;
    /// The users in `room` with their clients, on every node.
    fn presence<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<Members, StoreError>>;
    /// How often the node beats.
    fn heartbeat_every(&self) -> Duration;
}

/// The presence of a single node, in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    rooms: std::sync::Mutex<HashMap<(String, String), Room>>,
}

/// One room's members in memory: each client's user, and how many clients each user has.
#[derive(Debug, Default)]
struct Room {
    clients: HashMap<String, String>,
    users: HashMap<String, usize>,
}

impl MemoryStore {
    fn apply(&self, members: Vec<Member>, add: bool) -> Vec<Transition> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for m in members {
            let key = (m.namespace, m.room);
            let t = |kind, key: &(String, String), user: Option<&String>| Transition {
                kind,
                namespace: key.0.clone(),
                room: key.1.clone(),
                user: user.cloned(),
            };
            if add {
                let room = rooms.entry(key.clone()).or_default();
                if room.clients.contains_key(&m.client) {
                    continue;
                }
                if room.clients.is_empty() {
                    out.push(t(Kind::RoomOccupied, &key, None));
                }
                room.clients.insert(m.client, m.user.clone());
                let count = room.users.entry(m.user.clone()).or_default();
                *count += 1;
                if *count == 1 {
                    out.push(t(Kind::UserOnline, &key, Some(&m.user)));
                }
            } else {
                let Some(room) = rooms.get_mut(&key) else {
                    continue;
                };
                let Some(user) = room.clients.remove(&m.client) else {
                    continue;
                };
                let count = room.users.entry(user.clone()).or_default();
                *count = count.saturating_sub(1);
                if *count == 0 {
                    room.users.remove(&user);
                    out.push(t(Kind::UserOffline, &key, Some(&user)));
                }
                if room.clients.is_empty() {
                    rooms.remove(&key);
                    out.push(t(Kind::RoomVacated, &key, None));
                }
            }
        }
        out
    }

    fn all(&self) -> Vec<Member> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .flat_map(|((namespace, room), r)| {
                r.clients.iter().map(|(client, user)| Member {
                    namespace: namespace.clone(),
                    room: room.clone(),
                    client: client.clone(),
                    user: user.clone(),
                })
            })
            .collect()
    }
}

/// A future already done.
fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Store for MemoryStore {
    fn add(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
        ready(Ok(self.apply(members, true)))
    }

    fn remove(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
        ready(Ok(self.apply(members, false)))
    }

    fn beat(&self) -> BoxFuture<'_, Result<bool, StoreError>> {
        ready(Ok(true))
    }

    fn reassert(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
        let wanted: HashSet<&Member> = members.iter().collect();
        let stale: Vec<Member> = self
            .all()
            .into_iter()
            .filter(|m| !wanted.contains(m))
            .collect();
        let mut out = self.apply(stale, false);
        out.extend(self.apply(members, true));
        ready(Ok(out))
    }

    fn reap(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
        ready(Ok(Vec::new()))
    }

    fn leave(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
        let all = self.all();
        ready(Ok(self.apply(all, false)))
    }

    fn presence<'a>(
        &'a self,
        namespace: &'a str,
        room: &'a str,
    ) -> BoxFuture<'a, Result<Members, StoreError>> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(r) = rooms.get(&(namespace.to_owned(), room.to_owned())) {
            for (client, user) in &r.clients {
                users.entry(user.clone()).or_default().push(client.clone());
            }
        }
        let members = users
            .into_iter()
            .map(|(user, mut clients)| {
                clients.sort();
                (user, clients)
            })
            .collect();
        ready(Ok(members))
    }

    fn heartbeat_every(&self) -> Duration {
        Duration::from_secs(5)
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    //! Presence in Redis (`iogate_redis::presence`), as a [`Store`].

    use super::*;
    use iogate_redis::presence::{self as rp, RedisPresence};

    fn to_redis(members: Vec<Member>) -> Vec<rp::Member> {
        members
            .into_iter()
            .map(|m| rp::Member {
                namespace: m.namespace,
                room: m.room,
                client: m.client,
                user: m.user,
            })
            .collect()
    }

    fn from_redis(
        answer: Result<Vec<rp::Transition>, rp::PresenceError>,
    ) -> Result<Vec<Transition>, StoreError> {
        let ts = answer.map_err(|e| e.to_string())?;
        Ok(ts
            .into_iter()
            .map(|t| Transition {
                kind: match t.kind {
                    rp::TransitionKind::UserOnline => Kind::UserOnline,
                    rp::TransitionKind::UserOffline => Kind::UserOffline,
                    rp::TransitionKind::RoomOccupied => Kind::RoomOccupied,
                    rp::TransitionKind::RoomVacated => Kind::RoomVacated,
                },
                namespace: t.namespace,
                room: t.room,
                user: t.user,
            })
            .collect())
    }

    impl<C> Store for RedisPresence<C>
    where
        C: rp::ConnectionLike + Clone + Send + Sync + 'static,
    {
        fn add(&self, members: Vec<Member>) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
            Box::pin(async move { from_redis(RedisPresence::add(self, &to_redis(members)).await) })
        }

        fn remove(
            &self,
            members: Vec<Member>,
        ) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
            Box::pin(
                async move { from_redis(RedisPresence::remove(self, &to_redis(members)).await) },
            )
        }

        fn beat(&self) -> BoxFuture<'_, Result<bool, StoreError>> {
            Box::pin(async move { RedisPresence::beat(self).await.map_err(|e| e.to_string()) })
        }

        fn reassert(
            &self,
            members: Vec<Member>,
        ) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
            Box::pin(
                async move { from_redis(RedisPresence::reassert(self, &to_redis(members)).await) },
            )
        }

        fn reap(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
            Box::pin(async move { from_redis(RedisPresence::reap(self).await) })
        }

        fn leave(&self) -> BoxFuture<'_, Result<Vec<Transition>, StoreError>> {
            Box::pin(async move { from_redis(RedisPresence::leave(self).await) })
        }

        fn presence<'a>(
            &'a self,
            namespace: &'a str,
            room: &'a str,
        ) -> BoxFuture<'a, Result<Members, StoreError>> {
            Box::pin(async move {
                RedisPresence::presence(self, namespace, room)
                    .await
                    .map_err(|e| e.to_string())
            })
        }

        fn heartbeat_every(&self) -> Duration {
            RedisPresence::heartbeat_every(self)
        }
    }
}

/// What the observer queues for the presence task.
enum Op {
    /// A client joined `room`, or (`None`) every room it is in counts now (it connected, or
    /// got its user).
    Add {
        namespace: String,
        client: String,
        room: Option<String>,
    },
    /// A client left `rooms` (all of them, when it disconnected).
    Remove {
        namespace: String,
        client: String,
        rooms: Vec<String>,
    },
    /// Who is in a room: answered after every change queued before it.
    Query {
        namespace: String,
        room: String,
        answer: oneshot::Sender<Result<Members, StoreError>>,
    },
    /// The server is closing: leave the store, then stop.
    Close { done: oneshot::Sender<()> },
}

/// The presence settings of an app.
#[derive(Default)]
pub(crate) struct Settings {
    /// Where transitions are posted, if anywhere.
    pub(crate) webhook: Option<Webhook>,
    /// The heartbeat and the timeout after which a silent node is reaped, in a cluster.
    pub(crate) timing: Option<(Duration, Duration)>,
}

/// The server's side of presence: queues queries and the closing, in order with the changes.
#[derive(Clone)]
pub(crate) struct Handle {
    queue: mpsc::Sender<Op>,
}

impl Handle {
    /// The users of `room` of `namespace` with their clients, on every node.
    pub(crate) async fn presence(
        &self,
        namespace: &str,
        room: &str,
    ) -> Result<Presence, BroadcastError> {
        let closed = || BroadcastError::Adapter("presence is not tracked any more".into());
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Op::Query {
                namespace: namespace.to_owned(),
                room: room.to_owned(),
                answer,
            })
            .await
            .map_err(|_| closed())?;
        let members = answered
            .await
            .map_err(|_| closed())?
            .map_err(BroadcastError::Adapter)?;
        Ok(Presence {
            room: room.to_owned(),
            users: members
                .into_iter()
                .map(|(user, clients)| PresentUser { user, clients })
                .collect(),
        })
    }

    /// Removes this node's clients from every presence (after they all left), and waits for
    /// the transitions' webhooks, up to a few seconds.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Op::Close { done }).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// Tells the presence task what the sockets do. Called where things happen, maybe under the
/// locks a broadcast takes, so it only queues.
pub(crate) struct Observer {
    queue: mpsc::Sender<Op>,
    /// Set when an entry was dropped: the task then re-asserts at its next heartbeat.
    overflowed: Arc<AtomicBool>,
}

/// Whether the client behind `socket` has a user: only those count.
fn has_user(socket: &sio::Socket) -> bool {
    crate::client::state(socket).is_some_and(|s| s.user().is_some())
}

/// What a user's room starts with: joining it binds a client to its user.
static USER_ROOM_PREFIX: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::client::user_room(""));

/// Whether presence is kept for `room`: not for iogate's own rooms.
fn tracked(room: &str) -> bool {
    !room.starts_with(RESERVED_PREFIX)
}

impl Observer {
    fn queue(&self, op: Op) {
        // Closed: the server closed, and this node left every presence already.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(op)
            && !self.overflowed.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                bound = QUEUE,
                "presence queue full: changes dropped; this node re-asserts its presence at its next heartbeat"
            );
        }
    }

    fn add(&self, socket: &sio::Socket, room: Option<&str>) {
        self.queue(Op::Add {
            namespace: socket.ns().to_owned(),
            client: socket.id().to_owned(),
            room: room.map(str::to_owned),
        });
    }
}

impl sio::Observer for Observer {
    fn connected(&self, socket: &Arc<sio::Socket>) {
        if has_user(socket) {
            self.add(socket, None);
        }
    }

    fn disconnected(&self, socket: &sio::Socket, _: sio::DisconnectReason) {
        if has_user(socket) {
            let rooms: Vec<String> = socket.rooms().into_iter().filter(|r| tracked(r)).collect();
            if !rooms.is_empty() {
                self.queue(Op::Remove {
                    namespace: socket.ns().to_owned(),
                    client: socket.id().to_owned(),
                    rooms,
                });
            }
        }
    }

    fn joined(&self, socket: &sio::Socket, room: &str) {
        if room.starts_with(USER_ROOM_PREFIX.as_str()) {
            self.add(socket, None);
        } else if tracked(room) && has_user(socket) {
            self.add(socket, Some(room));
        }
    }

    fn left(&self, socket: &sio::Socket, room: &str) {
        if tracked(room) && has_user(socket) {
            self.queue(Op::Remove {
                namespace: socket.ns().to_owned(),
                client: socket.id().to_owned(),
                rooms: vec![room.to_owned()],
            });
        }
    }
}

/// A new observer and the handle of its task, to [`start`] once the server exists.
pub(crate) fn channel() -> (Arc<Observer>, Handle, Pending) {
    let (queue, ops) = mpsc::channel(QUEUE);
    let overflowed = Arc::new(AtomicBool::new(false));
    let observer = Arc::new(Observer {
        queue: queue.clone(),
        overflowed: overflowed.clone(),
    });
    (observer, Handle { queue }, Pending { ops, overflowed })
}

/// The presence task's end of the queue, until it starts.
pub(crate) struct Pending {
    ops: mpsc::Receiver<Op>,
    overflowed: Arc<AtomicBool>,
}

impl Pending {
    /// Starts the presence task of `server`: it keeps `store` as the sockets say, emits
    /// `user_online` / `user_offline` in the namespaces of `events`, and posts to `webhook`.
    pub(crate) fn start(
        self,
        server: Server,
        store: Arc<dyn Store>,
        events: HashSet<String>,
        webhook: Option<Webhook>,
    ) {
        let task = Task {
            server,
            store,
            events,
            webhook: webhook.map(Webhook::start),
            overflowed: self.overflowed,
            failing: false,
        };
        tokio::spawn(task.run(self.ops));
    }
}

/// The presence task: applies the queue in order, beats, reaps, and tells of transitions.
struct Task {
    server: Server,
    store: Arc<dyn Store>,
    events: HashSet<String>,
    webhook: Option<Deliveries>,
    overflowed: Arc<AtomicBool>,
    /// Whether the store failed last time: logged once per outage; re-asserted after it.
    failing: bool,
}

/// How long a closing node waits for the webhooks of its last transitions.
const WEBHOOK_DRAIN: Duration = Duration::from_secs(3);

impl Task {
    async fn run(mut self, mut ops: mpsc::Receiver<Op>) {
        let mut tick = tokio::time::interval(self.store.heartbeat_every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                op = ops.recv() => match op {
                    Some(Op::Close { done }) => {
                        let left = self.store.leave().await;
                        self.settle("leave", left).await;
                        if let Some(webhook) = &self.webhook {
                            webhook.drain(WEBHOOK_DRAIN).await;
                        }
                        let _ = done.send(());
                        return;
                    }
                    Some(op) => self.apply(op).await,
                    None => return,
                },
                _ = tick.tick() => self.beat().await,
            }
        }
    }

    async fn apply(&mut self, op: Op) {
        match op {
            Op::Add {
                namespace,
                client,
                room,
            } => {
                let members = self.present(&namespace, &client, room);
                if !members.is_empty() {
                    let added = self.store.add(members).await;
                    self.settle("add", added).await;
                }
            }
            Op::Remove {
                namespace,
                client,
                rooms,
            } => {
                // A client still in a room (it came back, recovered) stays there.
                let still = self
                    .server
                    .io()
                    .of(&namespace)
                    .and_then(|ns| ns.socket(&client))
                    .filter(|s| s.connected());
                let members: Vec<Member> = rooms
                    .into_iter()
                    .filter(|room| !still.as_ref().is_some_and(|s| s.in_room(room)))
                    .map(|room| Member {
                        namespace: namespace.clone(),
                        room,
                        client: client.clone(),
                        user: String::new(),
                    })
                    .collect();
                if !members.is_empty() {
                    let removed = self.store.remove(members).await;
                    self.settle("remove", removed).await;
                }
            }
            Op::Query {
                namespace,
                room,
                answer,
            } => {
                // Read beside the queue: a large room does not hold the changes behind it.
                let store = self.store.clone();
                tokio::spawn(async move {
                    let members = store.presence(&namespace, &room).await;
                    let _ = answer.send(members);
                });
            }
            Op::Close { .. } => {}
        }
    }

    /// The memberships of `client` as it is now: in `room`, or in each of its rooms; none when
    /// it is gone or has no user.
    fn present(&self, namespace: &str, client: &str, room: Option<String>) -> Vec<Member> {
        let Some(socket) = self
            .server
            .io()
            .of(namespace)
            .and_then(|ns| ns.socket(client))
        else {
            return Vec::new();
        };
        members_of(&socket, room)
    }

    /// Every membership of this node, as its sockets are now.
    fn all_present(&self) -> Vec<Member> {
        self.server
            .io()
            .namespaces()
            .flat_map(|ns| ns.sockets())
            .flat_map(|socket| members_of(&socket, None))
            .collect()
    }

    async fn beat(&mut self) {
        let listed = match self.store.beat().await {
            Ok(listed) => listed,
            Err(e) => {
                self.failed("heartbeat", &e);
                return;
            }
        };
        let overflowed = self.overflowed.swap(false, Ordering::Relaxed);
        if !listed || overflowed || self.failing {
            tracing::info!(
                lost = !listed,
                overflowed,
                "re-asserting this node's presence"
            );
            let members = self.all_present();
            let reasserted = self.store.reassert(members).await;
            self.settle("re-assert", reasserted).await;
        }
        let reaped = self.store.reap().await;
        self.settle("reap", reaped).await;
    }

    fn failed(&mut self, what: &str, error: &str) {
        if !self.failing {
            tracing::warn!(
                error,
                what,
                "presence store unreachable: presence changes are not reported until it answers"
            );
        }
        self.failing = true;
    }

    /// Tells of the transitions, or notes the failure.
    async fn settle(&mut self, what: &str, outcome: Result<Vec<Transition>, StoreError>) {
        match outcome {
            Ok(transitions) => {
                if self.failing && what == "re-assert" {
                    tracing::info!("presence store reachable again: presence re-asserted");
                    self.failing = false;
                }
                for t in transitions {
                    self.tell(t).await;
                }
            }
            Err(e) => self.failed(what, &e),
        }
    }

    /// Emits a user's transition to the room's members, where the gateway asked for it, and
    /// posts every transition to the webhook.
    async fn tell(&self, t: Transition) {
        let event = match t.kind {
            Kind::UserOnline => Some(USER_ONLINE),
            Kind::UserOffline => Some(USER_OFFLINE),
            Kind::RoomOccupied | Kind::RoomVacated => None,
        };
        if let (Some(event), Some(user)) = (event, &t.user)
            && self.events.contains(&t.namespace)
        {
            let data = serde_json::json!({ "room": t.room, "user": user });
            let sent = self.server.of(&t.namespace).to(&t.room).emit(event, &data);
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, namespace = t.namespace, event, "a presence event was not delivered everywhere");
            }
        }
        if let Some(webhook) = &self.webhook {
            let mut fields = serde_json::Map::new();
            fields.insert("namespace".into(), t.namespace.into());
            fields.insert("room".into(), t.room.into());
            if let Some(user) = t.user {
                fields.insert("user".into(), user.into());
            }
            webhook.post(t.kind.as_str(), fields);
        }
    }
}

/// The memberships of `socket` as it is now: in `room`, or in each of its rooms; none when it
/// is disconnected or has no user.
fn members_of(socket: &sio::Socket, room: Option<String>) -> Vec<Member> {
    if !socket.connected() {
        return Vec::new();
    }
    let Some(user) = crate::client::state(socket).and_then(|s| s.user().map(str::to_owned)) else {
        return Vec::new();
    };
    let rooms = match room {
        Some(room) if socket.in_room(&room) => vec![room],
        Some(_) => Vec::new(),
        None => socket.rooms().into_iter().filter(|r| tracked(r)).collect(),
    };
    rooms
        .into_iter()
        .map(|room| Member {
            namespace: socket.ns().to_owned(),
            room,
            client: socket.id().to_owned(),
            user: user.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(room: &str, client: &str, user: &str) -> Member {
        Member {
            namespace: "/chat".into(),
            room: room.into(),
            client: client.into(),
            user: user.into(),
        }
    }

    fn kinds(ts: &[Transition]) -> Vec<(Kind, Option<&str>)> {
        ts.iter().map(|t| (t.kind, t.user.as_deref())).collect()
    }

    fn run<T>(f: BoxFuture<'_, T>) -> T {
        futures_util::FutureExt::now_or_never(f).expect("the memory store never waits")
    }

    #[test]
    fn a_user_is_online_at_its_first_client_and_offline_after_its_last() {
        let store = MemoryStore::default();
        let first = run(store.add(vec![member("lobby", "c1", "alice")])).unwrap();
        assert_eq!(
            kinds(&first),
            [
                (Kind::RoomOccupied, None),
                (Kind::UserOnline, Some("alice"))
            ]
        );
        // A second tab, and the same client again: nothing changes.
        assert!(
            run(store.add(vec![member("lobby", "c2", "alice")]))
                .unwrap()
                .is_empty()
        );
        assert!(
            run(store.add(vec![member("lobby", "c2", "alice")]))
                .unwrap()
                .is_empty()
        );
        let bob = run(store.add(vec![member("lobby", "c3", "bob")])).unwrap();
        assert_eq!(kinds(&bob), [(Kind::UserOnline, Some("bob"))]);
        assert_eq!(
            run(store.presence("/chat", "lobby")).unwrap(),
            [
                ("alice".into(), vec!["c1".into(), "c2".into()]),
                ("bob".into(), vec!["c3".into()])
            ]
        );
        // Another namespace's room of the same name is another room.
        assert!(run(store.presence("/other", "lobby")).unwrap().is_empty());

        assert!(
            run(store.remove(vec![member("lobby", "c1", "")]))
                .unwrap()
                .is_empty()
        );
        let alice = run(store.remove(vec![member("lobby", "c2", "")])).unwrap();
        assert_eq!(kinds(&alice), [(Kind::UserOffline, Some("alice"))]);
        let last = run(store.remove(vec![member("lobby", "c3", "")])).unwrap();
        assert_eq!(
            kinds(&last),
            [(Kind::UserOffline, Some("bob")), (Kind::RoomVacated, None)]
        );
        assert!(
            run(store.remove(vec![member("lobby", "c3", "")]))
                .unwrap()
                .is_empty()
        );
        assert!(run(store.presence("/chat", "lobby")).unwrap().is_empty());
    }

    #[test]
    fn reasserting_keeps_what_is_still_true_and_reports_the_rest() {
        let store = MemoryStore::default();
        run(store.add(vec![
            member("a", "c1", "alice"),
            member("a", "c2", "bob"),
            member("b", "c1", "alice"),
        ]))
        .unwrap();
        // c2 left without it being heard; c3 joined without it being heard.
        let now = vec![
            member("a", "c1", "alice"),
            member("b", "c1", "alice"),
            member("b", "c3", "carol"),
        ];
        let ts = run(store.reassert(now)).unwrap();
        let mut got: Vec<_> = ts
            .iter()
            .map(|t| (t.room.as_str(), t.kind, t.user.as_deref()))
            .collect();
        got.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(
            got,
            [
                ("a", Kind::UserOffline, Some("bob")),
                ("b", Kind::UserOnline, Some("carol")),
            ]
        );
        let left = run(store.leave()).unwrap();
        assert_eq!(
            left.iter().filter(|t| t.kind == Kind::RoomVacated).count(),
            2
        );
    }
}

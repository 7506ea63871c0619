//! The server side of socket.io's Admin UI (`@socket.io/admin-ui` 0.5), so that its dashboard
//! (hosted at admin.socket.io, or its `ui/dist` served by the app) watches and acts on an
//! iogate server as on a Node one.
//!
//! ```no_run
//! use iogate::App;
//! use iogate::admin::{AdminMode, AdminUi};
//!
//! # fn app() -> Result<App, iogate::admin::AdminUiError> {
//! // The password as a bcrypt hash, as the UI's own server side takes it.
//! let admin = AdminUi::basic_auth("admin", "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS")?
//!     .mode(AdminMode::Production);
//! Ok(App::new().admin_ui(admin))
//! # }
//! ```
//!
//! On the `/admin` namespace it sends what the UI listens for: `config` (the features it may
//! use), `server_stats` every 2 s (clients, long-polling clients, namespaces, and the counts of
//! connections, disconnections, packets and bytes in and out), and in development mode
//! `all_sockets`, `socket_connected`, `socket_updated` (a client upgraded to websocket),
//! `socket_disconnected`, `room_joined`, `room_left`,
//! `event_received` and `event_sent`. Unless read-only, it carries out the UI's `emit`, `join`,
//! `leave` and `_disconnect`, for one socket or a whole room, on every node of a cluster.
//!
//! Production mode (the default here; Node's follows `NODE_ENV`) sends no socket's details or
//! events' contents: only the figures.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::engine::sio;
use crate::{Args, Client, Data, Gateway, Server, WsException};

/// How often `server_stats` goes out (the UI's own server side: 2 s).
const STATS_EVERY: Duration = Duration::from_secs(2);
/// The most UI sessions remembered (each a login that can reconnect without a password).
const MAX_SESSIONS: usize = 1024;
/// The most messages for the UIs waiting to be sent: past it (a flood of events in development
/// mode), new ones are dropped rather than held.
const MAX_WAITING: usize = 4096;

/// Whether the UI is sent every socket and event, or only figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdminMode {
    /// Every socket and room change, and every event's contents (`ALL_EVENTS`).
    Development,
    /// Figures only: counts of clients, connections, packets and bytes.
    #[default]
    Production,
}

/// The settings of the Admin UI's server side.
#[derive(Debug, Clone)]
#[must_use]
pub struct AdminUi {
    /// `(username, bcrypt hash of the password)`; `None` lets anyone in.
    auth: Option<(String, String)>,
    readonly: bool,
    mode: AdminMode,
    server_id: Option<String>,
}

/// Why the Admin UI's settings are refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminUiError {
    /// The password hash is not a bcrypt hash (`$2b$10$...`).
    #[error("the Admin UI's password must be a bcrypt hash ($2b$...), not the password itself")]
    NotBcrypt,
}

impl AdminUi {
    /// The UI's users log in as `username` with the password whose bcrypt hash is
    /// `password_hash` (`npx bcryptjs-cli` or `htpasswd -bnBC 10 "" password` make one).
    pub fn basic_auth(
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Result<Self, AdminUiError> {
        let hash = password_hash.into();
        hash.parse::<bcrypt::HashParts>()
            .map_err(|_| AdminUiError::NotBcrypt)?;
        Ok(Self {
            auth: Some((username.into(), hash)),
            ..Self::without_auth()
        })
    }

    /// Anyone who reaches `/admin` may watch and act on the server: only where the network
    /// itself keeps others out.
    pub fn without_auth() -> Self {
        Self {
            auth: None,
            readonly: false,
            mode: AdminMode::Production,
            server_id: None,
        }
    }

    /// Watch only: the UI may not emit, make sockets join or leave rooms, or disconnect them.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// What the UI is sent (default [`AdminMode::Production`]).
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }

    /// This server's name in the UI (default: the host's name).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// The `/admin` gateway, and the observer that feeds it.
    pub(crate) fn build(self) -> (Gateway, Arc<Observer>) {
        let (outbox, waiting) = mpsc::channel(MAX_WAITING);
        let observer = Arc::new(Observer {
            mode: self.mode,
            outbox,
            connections: AtomicU64::new(0),
            disconnections: AtomicU64::new(0),
        });
        let waiting = Mutex::new(Some(waiting));
        let sessions = Arc::new(Sessions::default());
        let auth = self.auth.map(Arc::new);
        let mut features = Vec::new();
        if !self.readonly {
            features.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        features.push("AGGREGATED_EVENTS");
        if self.mode == AdminMode::Development {
            features.push("ALL_EVENTS");
        }
        let config = json!({ "supportedFeatures": features });
        let mode = self.mode;
        let server_id = self.server_id;
        let watching = observer.clone();
        let mut gateway = Gateway::new(NAMESPACE)
            .middleware(move |client: Client| {
                let (auth, sessions) = (auth.clone(), sessions.clone());
                async move { log_in(&client, auth.as_deref(), &sessions).await }
            })
            .handle_connection(move |client: Client| {
                let config = config.clone();
                async move {
                    if let Some(Session(id)) = client.get::<Session>() {
                        let _ = client.emit("session", &id);
                    }
                    let _ = client.emit("config", &config);
                    if mode == AdminMode::Development {
                        let sockets = all_sockets(client.server()).await;
                        let _ = client.emit("all_sockets", &sockets);
                    }
                }
            })
            .after_init(move |server: Server| {
                if let Some(waiting) = waiting.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    tokio::spawn(send(server.clone(), waiting));
                }
                tokio::spawn(stats(server, watching.clone(), server_id.clone()));
            });
        if !self.readonly {
            let actions = [
                ("emit", Action::Emit),
                ("join", Action::Join),
                ("leave", Action::Leave),
                ("_disconnect", Action::Disconnect),
            ];
            for (event, action) in actions {
                gateway = gateway.subscribe_message(
                    event,
                    move |client: Client, Data(args): Data<Vec<Value>>| async move {
                        act(&client, action, args).await
                    },
                );
            }
        }
        (gateway, observer)
    }
}

/// The Admin UI's namespace.
pub(crate) const NAMESPACE: &str = "/admin";

/// A UI login: the id the UI keeps to reconnect without its password.
#[derive(Clone)]
struct Session(String);

/// The session ids given out, the oldest forgotten past [`MAX_SESSIONS`].
#[derive(Default)]
struct Sessions(Mutex<(HashSet<String>, VecDeque<String>)>);

impl Sessions {
    fn contains(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .contains(id)
    }

    fn add(&self) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        set.insert(id.clone());
        order.push_back(id.clone());
        while order.len() > MAX_SESSIONS {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        id
    }
}

/// Lets a UI in with a session it was given, or with the username and password; a login
/// gets a new session (sent as `session` once connected).
async fn log_in(
    client: &Client,
    auth: Option<&(String, String)>,
    sessions: &Sessions,
) -> Result<(), WsException> {
    let Some((username, hash)) = auth else {
        return Ok(());
    };
    let given = client.auth();
    if given["sessionId"]
        .as_str()
        .is_some_and(|id| sessions.contains(id))
    {
        return Ok(());
    }
    let password = given["password"].as_str().unwrap_or_default().to_owned();
    let hash = hash.clone();
    // bcrypt is slow on purpose: off the runtime's threads.
    let matches = given["username"].as_str() == Some(username.as_str())
        && tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
    if !matches {
        return Err(WsException::new("invalid credentials"));
    }
    client.insert(Session(sessions.add()));
    Ok(())
}

/// What the UI asks of the sockets.
#[derive(Clone, Copy)]
enum Action {
    Emit,
    Join,
    Leave,
    Disconnect,
}

/// Carries out one of the UI's actions. Its arguments: `emit(nsp, filter, event, ...args)`,
/// `join(nsp, room, filter)`, `leave(nsp, room, filter)`, `_disconnect(nsp, close, filter)`;
/// `filter` is a socket id or a room, none for the whole namespace.
async fn act(client: &Client, action: Action, args: Vec<Value>) {
    let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_owned);
    let Some(nsp) = text(0) else { return };
    let ns = client.server().of(nsp.as_str());
    let filter_at = match action {
        Action::Emit => 1,
        _ => 2,
    };
    let select = match text(filter_at) {
        Some(filter) if !filter.is_empty() => ns.to(filter),
        _ => ns.all(),
    };
    let done = match action {
        Action::Emit => {
            let Some(event) = text(2) else { return };
            let rest = args.iter().skip(3).fold(Args::new(), |a, v| a.arg(v));
            select.emit(&event, &rest).await
        }
        Action::Join | Action::Leave => {
            let Some(room) = text(1) else { return };
            if matches!(action, Action::Join) {
                select.join(room).await
            } else {
                select.leave(room).await
            }
        }
        Action::Disconnect => {
            let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            if close {
                select.close().await
            } else {
                select.disconnect().await
            }
        }
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, namespace = nsp, "an Admin UI action failed");
    }
}

/// Feeds the UI what the server's sockets do.
pub(crate) struct Observer {
    mode: AdminMode,
    /// What is to be sent to the UIs, by [`send`]: an observer is called where things happen,
    /// maybe under the locks a broadcast takes, so it only queues.
    outbox: mpsc::Sender<(&'static str, Args)>,
    connections: AtomicU64,
    disconnections: AtomicU64,
}

impl Observer {
    /// Queues `event` with `args` for every UI connected (on every node).
    fn tell(&self, event: &'static str, args: Args) {
        // Full: the UIs miss this one rather than the server holding it.
        let _ = self.outbox.try_send((event, args));
    }

    fn development(&self) -> bool {
        self.mode == AdminMode::Development
    }
}

impl sio::Observer for Observer {
    fn connected(&self, socket: &Arc<sio::Socket>) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        if self.development() {
            self.tell(
                "socket_connected",
                Args::new().arg(serialize(socket)).arg(now()),
            );
        }
    }

    fn disconnected(&self, socket: &sio::Socket, reason: sio::DisconnectReason) {
        self.disconnections.fetch_add(1, Ordering::Relaxed);
        if self.development() {
            let reason = crate::DisconnectReason::from(reason);
            let args = Args::new()
                .arg(socket.ns())
                .arg(socket.id())
                .arg(reason.as_str())
                .arg(now());
            self.tell("socket_disconnected", args);
        }
    }

    fn upgraded(&self, socket: &sio::Socket) {
        if self.development() {
            let update = json!({"id": socket.id(), "nsp": socket.ns(), "transport": "websocket"});
            self.tell("socket_updated", Args::new().arg(update));
        }
    }

    fn joined(&self, socket: &sio::Socket, room: &str) {
        self.room("room_joined", socket, room);
    }

    fn left(&self, socket: &sio::Socket, room: &str) {
        self.room("room_left", socket, room);
    }

    fn wants_events(&self) -> bool {
        self.development()
    }

    fn received(&self, socket: &sio::Socket, args: &str) {
        self.event("event_received", socket, args);
    }

    fn sent(&self, socket: &sio::Socket, args: &str) {
        self.event("event_sent", socket, args);
    }
}

impl Observer {
    /// `room_joined` or `room_left`: `(nsp, room, id, date)`.
    fn room(&self, kind: &'static str, socket: &sio::Socket, room: &str) {
        if self.development() {
            let args = Args::new()
                .arg(socket.ns())
                .arg(room)
                .arg(socket.id())
                .arg(now());
            self.tell(kind, args);
        }
    }

    /// An event of a socket outside `/admin`, for the UI's event log.
    fn event(&self, kind: &'static str, socket: &sio::Socket, args: &str) {
        if socket.ns() == NAMESPACE {
            return;
        }
        let args: Value = serde_json::from_str(args).unwrap_or(Value::Null);
        let all = Args::new()
            .arg(socket.ns())
            .arg(socket.id())
            .arg(args)
            .arg(now());
        self.tell(kind, all);
    }
}

/// Sends what the observer queued to the UIs, until the server is gone.
async fn send(server: Server, mut waiting: mpsc::Receiver<(&'static str, Args)>) {
    let Some(admin) = server.io().of(NAMESPACE) else {
        return;
    };
    let opts = sio::BroadcastOptions::default();
    loop {
        match tokio::time::timeout(STATS_EVERY, waiting.recv()).await {
            Ok(Some((event, args))) => {
                if let Ok(forward) = admin.broadcast(&opts, event, &args) {
                    // Other nodes' UIs too; a failure there is the adapter's to log.
                    let _ = forward.await;
                }
            }
            Ok(None) => return,
            Err(_) if server.is_closing() => return,
            Err(_) => {}
        }
    }
}

/// A socket as the UI shows it.
fn serialize(socket: &sio::Socket) -> Value {
    let info = socket.info();
    let transport = match socket.transport() {
        sio::TransportKind::Polling => "polling",
        sio::TransportKind::Websocket => "websocket",
    };
    json!({
        "id": info.id,
        "clientId": socket.connection_id(),
        "transport": transport,
        "nsp": socket.ns(),
        "data": info.data,
        "handshake": info.handshake,
        "rooms": info.rooms,
    })
}

/// Every socket of every namespace: this node's as they are, the other nodes' as they
/// describe them.
async fn all_sockets(server: &Server) -> Vec<Value> {
    let mut all = Vec::new();
    for ns in server.io().namespaces() {
        let mine: Vec<Arc<sio::Socket>> = ns.sockets();
        let mut seen: HashSet<String> = HashSet::new();
        for socket in &mine {
            seen.insert(socket.id().to_owned());
            all.push(serialize(socket));
        }
        let everyone = ns.fetch_sockets(&sio::BroadcastOptions::default()).await;
        for info in everyone.unwrap_or_default() {
            if seen.contains(&info.id) {
                continue;
            }
            all.push(json!({
                "id": info.id,
                "clientId": info.id,
                "transport": "",
                "nsp": ns.path(),
                "data": info.data,
                "handshake": info.handshake,
                "rooms": info.rooms,
            }));
        }
    }
    all
}

/// Sends `server_stats` every 2 s, until the server closes.
async fn stats(server: Server, observer: Arc<Observer>, server_id: Option<String>) {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "iogate".to_owned());
    let started = tokio::time::Instant::now();
    let mut last = Totals::default();
    let mut tick = tokio::time::interval(STATS_EVERY);
    loop {
        tick.tick().await;
        if server.is_closing() {
            return;
        }
        let engine = server.io().engine();
        let now = Totals {
            opened: engine.sessions_opened(),
            finished: engine.sessions_finished(),
            packets_in: engine.packets_in(),
            packets_out: engine.packets_out(),
            bytes_in: engine.bytes_in(),
            bytes_out: engine.bytes_out(),
            connections: observer.connections.load(Ordering::Relaxed),
            disconnections: observer.disconnections.load(Ordering::Relaxed),
        };
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            * 1000;
        let aggregated: Vec<Value> = [
            ("rawConnection", now.opened - last.opened),
            ("rawDisconnection", now.finished - last.finished),
            ("connection", now.connections - last.connections),
            ("disconnection", now.disconnections - last.disconnections),
            ("packetsIn", now.packets_in - last.packets_in),
            ("packetsOut", now.packets_out - last.packets_out),
            ("bytesIn", now.bytes_in - last.bytes_in),
            ("bytesOut", now.bytes_out - last.bytes_out),
        ]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| json!({"timestamp": second, "type": kind, "count": count}))
        .collect();
        last = now;
        let namespaces: Vec<Value> = server
            .io()
            .namespaces()
            .map(|ns| json!({"name": ns.path(), "socketsCount": ns.count(&Default::default())}))
            .collect();
        let stats = json!({
            "serverId": server_id.clone().unwrap_or_else(|| hostname.clone()),
            "hostname": hostname,
            "pid": std::process::id(),
            "uptime": started.elapsed().as_secs_f64(),
            "clientsCount": engine.session_count(),
            "pollingClientsCount": engine.polling_count(),
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        });
        observer.tell("server_stats", Args::new().arg(stats));
    }
}

/// The engine's and the observer's totals at one tick.
#[derive(Default, Clone, Copy)]
struct Totals {
    opened: u64,
    finished: u64,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    connections: u64,
    disconnections: u64,
}

/// Now, as JavaScript's `new Date().toJSON()` writes it: `2026-12-02T16:40:12.345Z`.
fn now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    sio::msgpack::iso_date(now.as_secs() as i64, now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_javascript_does() {
        // As Node prints `new Date(1796148332077).toJSON()`.
        assert_eq!(
            sio::msgpack::iso_date(1_796_148_332, 77),
            "2026-12-01T18:05:32.077Z"
        );
        assert!(now().ends_with('Z'));
    }

    #[test]
    fn only_a_bcrypt_hash_is_taken() {
        assert!(AdminUi::basic_auth("admin", "secret").is_err());
        let hash = bcrypt::hash("secret", 4).unwrap();
        assert!(AdminUi::basic_auth("admin", hash).is_ok());
    }
}

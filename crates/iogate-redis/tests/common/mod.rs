//! Test helpers: a redis-server of the test's own on a free loopback port, an iogate node with
//! a [`RedisAdapter`] serving `/` over axum, and a raw socket.io websocket client.

#![allow(dead_code)]

mod redis_cluster;
mod redis_server;
#[allow(unused_imports)]
pub use redis_cluster::{NODE_TIMEOUT, RedisCluster};
#[allow(unused_imports)]
pub use redis_server::{RedisServer, free_port};

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iogate_redis::{Health, Redis, RedisAdapter, ShardedAdapter, StreamsAdapter};
use iogate_socketio::{
    Adapter, BoxFuture, BroadcastOptions, Config, ConnectError, DisconnectReason, Event, Io,
    NsHandler, Recovery, Socket, Str,
};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// What the test handler does, on the client's events (each acknowledged when asked):
/// - `join(room)` joins the room, `leave(room)` leaves it;
/// - `broadcast(room, event, arg)` broadcasts `event(arg)` to the room from this node;
/// - `broadcast_bin(room, event)` broadcasts the bytes `[1, 2, 3]` to the room;
/// - `fetch()` answers with the ids of every node's sockets;
/// - `rooms()` answers with this socket's rooms; `all_rooms()` with every node's rooms;
/// - `server_side_emit(event, arg)` sends `event(arg)` to the other nodes' servers and answers
///   with their answers;
/// - `state()` answers with `{recovered, previous}`: whether the socket recovered its session,
///   and the session data it brought from another node (the handler keeps `{"sid": id}`).
///
/// Server-side events from other nodes are kept in `server_events`; `ping` is answered with
/// `{"echo": args}`, anything else not at all.
#[derive(Default)]
pub struct TestHandler {
    pub io: OnceLock<Io>,
    pub server_events: std::sync::Mutex<Vec<Value>>,
}

fn spawn_ack(socket: &Arc<Socket>, id: Option<i64>, answer: BoxFuture<'static, Value>) {
    let socket = socket.clone();
    tokio::spawn(async move {
        let value = answer.await;
        if let Some(id) = id {
            let _ = socket.ack(id, &(value,));
        }
    });
}

impl NsHandler for TestHandler {
    fn connect(
        &self,
        _: Arc<Socket>,
        _: Option<Str>,
    ) -> BoxFuture<'static, Result<(), ConnectError>> {
        Box::pin(async { Ok(()) })
    }

    fn connected(&self, _: Arc<Socket>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn event(&self, socket: &Arc<Socket>, event: Event) {
        let args: Vec<Value> = serde_json::from_str(&event.data).unwrap();
        let ns = self.io.get().unwrap().of(socket.ns()).unwrap();
        let name = args[0].as_str().unwrap_or_default().to_owned();
        let answer: BoxFuture<'static, Value> = match name.as_str() {
            "join" => {
                socket.join(args[1].as_str().unwrap());
                Box::pin(async { json!("ok") })
            }
            "leave" => {
                socket.leave(args[1].as_str().unwrap());
                Box::pin(async { json!("ok") })
            }
            "broadcast" => {
                let opts = rooms(&[args[1].as_str().unwrap()]);
                let event = args[2].as_str().unwrap().to_owned();
                let forwarded = ns.broadcast(&opts, &event, &(args[3].clone(),)).unwrap();
                Box::pin(async move { json!(forwarded.await.is_ok()) })
            }
            "broadcast_bin" => {
                let opts = rooms(&[args[1].as_str().unwrap()]);
                let event = args[2].as_str().unwrap().to_owned();
                let bytes = bytes::Bytes::from_static(&[1, 2, 3]);
                let forwarded = ns.broadcast(&opts, &event, &(bytes,)).unwrap();
                Box::pin(async move { json!(forwarded.await.is_ok()) })
            }
            "fetch" => {
                let all = ns.fetch_sockets(&BroadcastOptions::default());
                Box::pin(async move {
                    match all.await {
                        Ok(sockets) => json!(sockets.iter().map(|s| &s.id).collect::<Vec<_>>()),
                        Err(e) => json!({"error": e.to_string()}),
                    }
                })
            }
            "server_side_emit" => {
                let event = args[1].as_str().unwrap().to_owned();
                let sent =
                    ns.server_side_emit(&event, &(args[2].clone(),), Some(Duration::from_secs(3)));
                Box::pin(async move {
                    match sent.unwrap().await {
                        Ok(answers) => json!(answers),
                        Err(e) => json!({"error": e.to_string()}),
                    }
                })
            }
            "rooms" => {
                let rooms = socket.rooms();
                Box::pin(async move { json!(rooms) })
            }
            "state" => {
                let state = json!({
                    "recovered": socket.recovered(),
                    "previous": socket.previous_data(),
                });
                Box::pin(async move { state })
            }
            "all_rooms" => {
                let all = ns.all_rooms();
                Box::pin(async move {
                    match all.await {
                        Ok(rooms) => json!(rooms),
                        Err(e) => json!({"error": e.to_string()}),
                    }
                })
            }
            _ => return,
        };
        spawn_ack(socket, event.id, answer);
    }

    fn disconnect(&self, _: &Arc<Socket>, _: DisconnectReason) {}

    fn session_data(&self, socket: &Socket) -> Value {
        json!({"sid": socket.id()})
    }

    fn server_event(&self, args: Vec<Value>) -> BoxFuture<'static, Option<Value>> {
        self.server_events
            .lock()
            .unwrap()
            .push(Value::Array(args.clone()));
        let answer = (args.first() == Some(&json!("ping"))).then(|| json!({"echo": args}));
        Box::pin(async move { answer })
    }
}

/// Options selecting `rooms`.
pub fn rooms(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

/// An iogate node: its server, its adapter's health and its address.
pub struct Node {
    pub io: Io,
    pub health: Arc<Health>,
    pub addr: SocketAddr,
    pub handler: Arc<TestHandler>,
}

impl Node {
    /// A node with the pub/sub adapter, without recovery.
    pub async fn start(config: Redis) -> Self {
        let adapter = RedisAdapter::connect(config).await.unwrap();
        Self::serve(Arc::new(adapter.clone()), adapter.health(), None).await
    }

    /// A node with the streams adapter, with connection state recovery when `recovery`.
    pub async fn streams(config: Redis, recovery: Option<Recovery>) -> Self {
        let adapter = StreamsAdapter::connect(config).await.unwrap();
        Self::serve(Arc::new(adapter.clone()), adapter.health(), recovery).await
    }

    /// A node with the sharded adapter, on a Redis Cluster.
    pub async fn sharded(config: Redis) -> Self {
        let adapter = ShardedAdapter::connect(config).await.unwrap();
        Self::serve(Arc::new(adapter.clone()), adapter.health(), None).await
    }

    async fn serve(
        adapter: Arc<dyn Adapter>,
        health: Arc<Health>,
        recovery: Option<Recovery>,
    ) -> Self {
        let handler = Arc::new(TestHandler::default());
        let config = Config {
            recovery,
            ..Config::default()
        };
        let (io, inits) = Io::builder(config)
            .adapter(adapter)
            .ns("/", handler.clone())
            .build();
        let _ = handler.io.set(io.clone());
        for (ns, init) in inits {
            init.await.unwrap_or_else(|e| panic!("init {ns}: {e}"));
        }
        let app = axum::Router::new().route_service("/socket.io/", io.engine().clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            io,
            health,
            addr,
            handler,
        }
    }

    pub fn ns(&self) -> Arc<iogate_socketio::Namespace> {
        self.io.of("/").unwrap()
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A socket.io client over a websocket, in raw frames, connected to `/`.
pub struct Client {
    ws: Ws,
    pub sid: String,
    /// The session's private id, when the server recovers connections.
    pub pid: Option<String>,
    next_ack: i64,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with(addr, json!(null)).await
    }

    /// Connects with `auth` as the CONNECT payload (`{pid, offset}` to recover a session).
    pub async fn connect_with(addr: SocketAddr, auth: Value) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = Self {
            ws,
            sid: String::new(),
            pid: None,
            next_ack: 0,
        };
        let open = client.frame().await;
        assert!(open.starts_with('0'), "{open}");
        if auth.is_null() {
            client.send("40").await;
        } else {
            client.send(&format!("40{auth}")).await;
        }
        let connect = client.frame().await;
        let body: Value = serde_json::from_str(connect.strip_prefix("40").unwrap()).unwrap();
        client.sid = body["sid"].as_str().unwrap().to_owned();
        client.pid = body["pid"].as_str().map(str::to_owned);
        client
    }

    /// Drops the connection without a word, as a network that broke.
    pub fn drop_transport(self) {
        drop(self);
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(WsMessage::text(text)).await.unwrap();
    }

    /// The next text frame that is not a ping (pings are answered).
    async fn frame(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("the connection is open")
                .unwrap();
            if let WsMessage::Text(text) = msg {
                if text.as_str() == "2" {
                    self.send("3").await;
                    continue;
                }
                return text.to_string();
            }
        }
    }

    /// Emits an event (`42[...]`) without acknowledgement.
    pub async fn emit(&mut self, args: Value) {
        self.send(&format!("42{args}")).await;
    }

    /// Emits an event and waits for its acknowledgement's first argument; events met in
    /// between are dropped.
    pub async fn call(&mut self, args: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(&format!("42{id}{args}")).await;
        let prefix = format!("43{id}");
        loop {
            let frame = self.frame().await;
            if let Some(body) = frame.strip_prefix(&prefix) {
                let args: Vec<Value> = serde_json::from_str(body).unwrap();
                return args.into_iter().next().unwrap_or(Value::Null);
            }
        }
    }

    /// The next event's arguments, name first.
    pub async fn event(&mut self) -> Value {
        self.binary_event().await.0
    }

    /// The next event's arguments, name first, and its binary attachments.
    pub async fn binary_event(&mut self) -> (Value, Vec<Vec<u8>>) {
        loop {
            let frame = self.frame().await;
            if let Some(body) = frame.strip_prefix("42") {
                return (serde_json::from_str(body).unwrap(), Vec::new());
            }
            // `45<n>-[...]` then n binary frames.
            if let Some((count, body)) = frame.strip_prefix("45").and_then(|f| f.split_once('-')) {
                let count: usize = count.parse().unwrap();
                let mut attachments = Vec::new();
                while attachments.len() < count {
                    let msg = self.ws.next().await.unwrap().unwrap();
                    if let WsMessage::Binary(b) = msg {
                        attachments.push(b.to_vec());
                    }
                }
                return (serde_json::from_str(body).unwrap(), attachments);
            }
        }
    }

    /// The next event within `wait`, if any.
    pub async fn maybe_event(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.event()).await.ok()
    }
}

/// Polls `check` every `every` until it holds, `times` times at most; then fails with `what`.
pub async fn poll(what: &str, every: Duration, times: u32, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..times {
        if check().await {
            return;
        }
        tokio::time::sleep(every).await;
    }
    panic!("not within {:?}: {what}", every * times);
}

/// Polls `check` every 20 ms for up to 5 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    poll(what, Duration::from_millis(20), 250, async || check()).await;
}

/// Polls `check` every 50 ms for up to 10 s (outages are noticed by a ping every second).
pub async fn eventually_long(what: &str, mut check: impl FnMut() -> bool) {
    poll(what, Duration::from_millis(50), 200, async || check()).await;
}

/// While Redis is away, `node`'s broadcast of `during("x")` to room `r` fails at once, not
/// forwarded (it is delivered on `node` all the same).
pub async fn broadcast_unavailable(node: &Node) {
    let forwarded = node.ns().broadcast(&rooms(&["r"]), "during", &("x",));
    let err = forwarded.unwrap().await.unwrap_err();
    assert!(
        matches!(err, iogate_socketio::AdapterError::Unavailable(_)),
        "{err:?}"
    );
}

/// The ids of the sockets of every node that `node` fetches, sorted.
pub async fn fetched_ids(node: &Node) -> Vec<String> {
    let all = node.ns().fetch_sockets(&BroadcastOptions::default()).await;
    let mut ids: Vec<String> = all.unwrap().into_iter().map(|s| s.id).collect();
    ids.sort();
    ids
}

/// The ids of `clients`, sorted.
pub fn sids(clients: &[&Client]) -> Vec<String> {
    let mut ids: Vec<String> = clients.iter().map(|c| c.sid.clone()).collect();
    ids.sort();
    ids
}

/// Node `from` broadcasts the bytes `[1, 2, 3]` to `room` but `excepted`: `member` gets them
/// as an attachment, `excepted` nothing.
pub async fn binary_broadcast_crosses(
    from: &Node,
    room: &str,
    member: &mut Client,
    excepted: &mut Client,
) {
    let opts = BroadcastOptions {
        rooms: vec![room.to_owned()],
        except: vec![excepted.sid.clone()],
        local: false,
    };
    let bytes = bytes::Bytes::from_static(&[1, 2, 3]);
    from.ns()
        .broadcast(&opts, "bin", &(bytes,))
        .unwrap()
        .await
        .unwrap();
    let (args, attachments) = member.binary_event().await;
    assert_eq!(args, json!(["bin", {"_placeholder": true, "num": 0}]));
    assert_eq!(attachments, vec![vec![1, 2, 3]]);
    assert_eq!(excepted.maybe_event(Duration::from_millis(300)).await, None);
}

/// Three nodes made by `start`: an event one node sends reaches the two others and not itself,
/// their answers come back when asked for, and a node that does not answer is a timeout.
pub async fn server_side_events_cross_nodes<F>(start: impl Fn() -> F)
where
    F: std::future::Future<Output = Node>,
{
    let (a, b, c) = (start().await, start().await, start().await);
    a.ns()
        .server_side_emit("note", &(1, "x"), None)
        .unwrap()
        .await
        .unwrap();
    let note = json!(["note", 1, "x"]);
    eventually("b and c got the note", || {
        [&b, &c]
            .iter()
            .all(|n| n.handler.server_events.lock().unwrap().contains(&note))
    })
    .await;
    assert!(
        a.handler.server_events.lock().unwrap().is_empty(),
        "not to itself"
    );

    let answers = a
        .ns()
        .server_side_emit("ping", &("hi",), Some(Duration::from_secs(2)))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(answers, vec![json!({"echo": ["ping", "hi"]}); 2]);

    let started = std::time::Instant::now();
    let silent = a
        .ns()
        .server_side_emit("silent", &(), Some(Duration::from_millis(300)))
        .unwrap()
        .await;
    assert!(
        matches!(silent, Err(iogate_socketio::AdapterError::Timeout)),
        "{silent:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

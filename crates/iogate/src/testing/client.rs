//! [`TestClient`]: a socket.io client over the websocket transport, with bounded waits.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use super::protocol::{Packet, namespace_prefix, parse_open, parse_packet, percent_encode};
use super::{
    Args, ClientError, ConnectError, DEFAULT_TIMEOUT, Disconnect, Handshake, ServerEvent,
    TestServer,
};

/// A client connection being set up: what [`TestClient::connect`] returns. Set the handshake's
/// `auth`, headers and query, then `.await` it.
#[must_use = "a connection is opened when awaited"]
#[derive(Debug)]
pub struct Connect {
    addr: SocketAddr,
    namespace: String,
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    timeout: Duration,
}

impl Connect {
    /// The handshake's `auth` payload (`io(url, { auth })`), e.g. `json!({"token": token})`.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Adds a header to the handshake request (`extraHeaders`), e.g. `Authorization`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter to the handshake request (`query`).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// How long the client waits for anything, this connection included (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn open(self) -> Result<TestClient, ConnectError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.open_within()).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout(timeout)),
        }
    }

    async fn open_within(self) -> Result<TestClient, ConnectError> {
        let mut url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr);
        for (key, value) in &self.query {
            url.push('&');
            url.push_str(&percent_encode(key));
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        let mut request = url
            .into_client_request()
            .map_err(|e| ConnectError::Transport(e.to_string()))?;
        for (name, value) in &self.headers {
            let name = http::HeaderName::try_from(name.as_str())
                .map_err(|e| ConnectError::Transport(format!("header {name:?}: {e}")))?;
            let value = http::HeaderValue::try_from(value.as_str())
                .map_err(|e| ConnectError::Transport(format!("header {name}: {e}")))?;
            request.headers_mut().append(name, value);
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tungstenite::Error::Http(response) => ConnectError::Transport(format!(
                    "the server answered the upgrade with HTTP {}",
                    response.status()
                )),
                e => ConnectError::Transport(e.to_string()),
            })?;
        let (mut sink, mut stream) = ws.split();

        let open = loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => break text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => {
                    return Err(ConnectError::Protocol(format!(
                        "expected engine.io's open packet, got {other:?}"
                    )));
                }
                Some(Err(e)) => {
                    return Err(ConnectError::Closed(Disconnect::TransportError(
                        e.to_string(),
                    )));
                }
                None => return Err(ConnectError::Closed(Disconnect::TransportClose)),
            }
        };
        let handshake = parse_open(&open).ok_or_else(|| {
            ConnectError::Protocol(format!("expected engine.io's open packet, got {open:?}"))
        })?;

        let mut connect = format!("40{}", namespace_prefix(&self.namespace));
        if let Some(auth) = &self.auth {
            connect.push_str(&auth.to_string());
        }
        sink.send(Message::text(connect))
            .await
            .map_err(|e| ConnectError::Closed(Disconnect::TransportError(e.to_string())))?;

        let shared = Arc::new(Shared {
            answer_pings: AtomicBool::new(true),
            pings: AtomicU64::new(0),
        });
        let (out, out_rx) = mpsc::unbounded_channel();
        let (inbox_tx, mut inbox) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(sink, out_rx));
        let reader = tokio::spawn(
            Reader {
                namespace: self.namespace.clone(),
                heartbeat: handshake.ping_interval + handshake.ping_timeout,
                shared: shared.clone(),
                out: out.clone(),
                inbox: inbox_tx,
                pending: None,
            }
            .run(stream),
        );

        let (id, pid) = match inbox.recv().await {
            Some(Incoming::Connected(id, pid)) => (id, pid),
            Some(Incoming::ConnectError { message, data }) => {
                return Err(ConnectError::Refused { message, data });
            }
            Some(Incoming::Disconnect(reason)) => return Err(ConnectError::Closed(reason)),
            Some(other) => {
                return Err(ConnectError::Protocol(format!(
                    "expected the namespace's answer to CONNECT, got {other:?}"
                )));
            }
            None => return Err(ConnectError::Closed(Disconnect::TransportClose)),
        };
        Ok(TestClient {
            namespace: self.namespace,
            id,
            pid,
            handshake,
            timeout: self.timeout,
            out,
            inbox,
            events: VecDeque::new(),
            acks: HashMap::new(),
            disconnected: None,
            next_ack: 0,
            shared,
            tasks: [reader, writer],
        })
    }
}

impl IntoFuture for Connect {
    type Output = Result<TestClient, ConnectError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.open())
    }
}

/// A socket.io client connected to one namespace, over a websocket of its own.
///
/// It answers the server's pings in the background (see [`answer_pings`](Self::answer_pings)),
/// keeps what the server sends until the test asks for it, and closes its connection when
/// dropped.
#[derive(Debug)]
pub struct TestClient {
    namespace: String,
    id: String,
    pid: Option<String>,
    handshake: Handshake,
    timeout: Duration,
    out: mpsc::UnboundedSender<Vec<Message>>,
    inbox: mpsc::UnboundedReceiver<Incoming>,
    /// Events received while the test waited for something else.
    events: VecDeque<ServerEvent>,
    /// Acknowledgements received while the test waited for something else.
    acks: HashMap<i64, Args>,
    disconnected: Option<Disconnect>,
    next_ack: i64,
    shared: Arc<Shared>,
    tasks: [JoinHandle<()>; 2],
}

impl TestClient {
    /// Starts connecting to `namespace` (`"/"` for the main one) of `server`; set the handshake
    /// with [`Connect`]'s methods, then `.await` it.
    ///
    /// ```
    /// # use iogate::testing::{TestClient, TestServer, ConnectError};
    /// # use iogate::{App, Client, Gateway, WsException};
    /// # use serde_json::json;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let gateway = Gateway::new("/chat").middleware(async |client: Client| match client.auth()["token"].as_str() {
    ///     Some("secret") => Ok(()),
    ///     _ => Err(WsException::new("Authentication error")),
    /// });
    /// let server = TestServer::start(App::new().gateway(gateway)).await;
    ///
    /// let client = TestClient::connect(&server, "/chat").auth(json!({"token": "secret"})).await?;
    /// let refused = TestClient::connect(&server, "/chat").auth(json!({"token": "guess"})).await;
    /// assert!(matches!(refused, Err(ConnectError::Refused { message, .. }) if message == "Authentication error"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(server: &TestServer, namespace: &str) -> Connect {
        Self::connect_to(server.addr, namespace)
    }

    /// Starts connecting to `namespace` of the socket.io server at `addr` (any server, e.g. a
    /// binary started by the test).
    pub fn connect_to(addr: SocketAddr, namespace: &str) -> Connect {
        let mut namespace = namespace.to_owned();
        if !namespace.starts_with('/') {
            namespace.insert(0, '/');
        }
        Connect {
            addr,
            namespace,
            auth: None,
            headers: Vec::new(),
            query: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The id the namespace gave this client in its CONNECT answer: what `socket.io-client`
    /// calls `socket.id`. (On iogate it is not the public id other clients see, which a
    /// handler can return: [`Client::id`](crate::Client::id).)
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The private id of its session, which the server sends when connection state recovery is
    /// on: connect again with `auth` `{"pid": .., "offset": <the last event's last argument>}`
    /// to recover it.
    pub fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }

    /// The namespace this client is connected to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// What the server announced when the connection opened.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// How long the client waits for anything.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes how long the client waits for anything.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the client answers the server's pings (it does unless told otherwise). A client
    /// that stops answering is disconnected by the server after its ping timeout.
    pub fn answer_pings(&self, answer: bool) {
        self.shared.answer_pings.store(answer, Ordering::Relaxed);
    }

    /// How many pings the server has sent this client.
    pub fn pings(&self) -> u64 {
        self.shared.pings.load(Ordering::Relaxed)
    }

    /// Emits `event` with `data` as its one argument (`socket.emit(event, data)`).
    pub async fn emit(&mut self, event: &str, data: impl Serialize) -> Result<(), ClientError> {
        let args = one_arg(data)?;
        self.send_event(event, &args, None)
    }

    /// Emits `event` with any number of arguments and binary attachments.
    pub async fn emit_args(&mut self, event: &str, args: Args) -> Result<(), ClientError> {
        self.send_event(event, &args, None)
    }

    /// Emits `event` with `data` as its one argument and waits for the acknowledgement
    /// (`socket.timeout(t).emitWithAck(event, data)`); returns its first argument, `Null` when
    /// it has none.
    ///
    /// Events that arrive meanwhile are kept for [`next_event`](Self::next_event).
    pub async fn emit_with_ack(
        &mut self,
        event: &str,
        data: impl Serialize,
    ) -> Result<Value, ClientError> {
        let args = one_arg(data)?;
        let mut ack = self.emit_args_with_ack(event, args).await?;
        Ok(if ack.values.is_empty() {
            Value::Null
        } else {
            ack.values.swap_remove(0)
        })
    }

    /// Emits `event` with any number of arguments and binaries, and waits for the
    /// acknowledgement; returns all of its arguments and attachments.
    pub async fn emit_args_with_ack(
        &mut self,
        event: &str,
        args: Args,
    ) -> Result<Args, ClientError> {
        let id = self.emit_args_with_ack_id(event, args).await?;
        let what = format!("acknowledgement of `{event}` (id {id})");
        self.wait(&what, |c| c.acks.remove(&id)).await
    }

    /// Emits `event` asking for an acknowledgement, and returns at once with the request's id
    /// (`socket.emit(event, ...args, callback)`): wait for the acknowledgement later with
    /// [`wait_for_ack`](Self::wait_for_ack), or check that none comes with
    /// [`ack_within`](Self::ack_within).
    ///
    /// For tests that send many events before reading the answers, or that check what the
    /// server sends instead of an acknowledgement (a [`WsResponse`](crate::WsResponse), an
    /// `exception`):
    ///
    /// ```
    /// # use iogate::testing::{Args, TestClient, TestServer};
    /// # use iogate::{App, Data, Gateway, WsResponse};
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let gateway = Gateway::new("/")
    ///     .subscribe_message("echo", async |Data(n): Data<u32>| n)
    ///     .subscribe_message("respond", async |Data(n): Data<u32>| WsResponse::new("response", n));
    /// let server = TestServer::start(App::new().gateway(gateway)).await;
    /// let mut client = TestClient::connect(&server, "/").await?;
    ///
    /// let first = client.emit_args_with_ack_id("echo", Args::new().arg(1)).await?;
    /// let second = client.emit_args_with_ack_id("echo", Args::new().arg(2)).await?;
    /// assert_eq!(client.wait_for_ack(second).await?, Args::new().arg(2));
    /// assert_eq!(client.wait_for_ack(first).await?, Args::new().arg(1));
    ///
    /// // A WsResponse is emitted instead of the acknowledgement.
    /// let id = client.emit_args_with_ack_id("respond", Args::new().arg(3)).await?;
    /// assert_eq!(client.wait_for("response").await?.data(), 3);
    /// assert_eq!(client.ack_within(id, Duration::from_millis(100)).await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn emit_args_with_ack_id(
        &mut self,
        event: &str,
        args: Args,
    ) -> Result<i64, ClientError> {
        let id = self.next_ack;
        self.send_event(event, &args, Some(id))?;
        self.next_ack += 1;
        Ok(id)
    }

    /// Waits for the acknowledgement of the request `id` (from
    /// [`emit_args_with_ack_id`](Self::emit_args_with_ack_id), or a raw frame's) and returns
    /// its arguments and attachments. Events that arrive meanwhile are kept for
    /// [`next_event`](Self::next_event).
    pub async fn wait_for_ack(&mut self, id: i64) -> Result<Args, ClientError> {
        let what = format!("acknowledgement (id {id})");
        self.wait(&what, |c| c.acks.remove(&id)).await
    }

    /// The acknowledgement of the request `id`, or `None` when none arrives within `within`:
    /// to check that the server does not acknowledge
    /// (`assert_eq!(client.ack_within(id, d).await?, None)`). `Duration::ZERO` takes only what
    /// already arrived.
    pub async fn ack_within(
        &mut self,
        id: i64,
        within: Duration,
    ) -> Result<Option<Args>, ClientError> {
        let saved = std::mem::replace(&mut self.timeout, within);
        let result = self.wait_for_ack(id).await;
        self.timeout = saved;
        match result {
            Ok(args) => Ok(Some(args)),
            Err(ClientError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The next event the server emitted, in the order it was sent.
    ///
    /// Fails with [`ClientError::Closed`] once the client is disconnected and every event
    /// received before that was taken.
    pub async fn next_event(&mut self) -> Result<ServerEvent, ClientError> {
        self.wait("event", |c| c.events.pop_front()).await
    }

    /// The next event, or `None` when none arrives within `within`: to check that the server
    /// sent nothing (`assert!(client.next_event_within(d).await?.is_none())`).
    pub async fn next_event_within(
        &mut self,
        within: Duration,
    ) -> Result<Option<ServerEvent>, ClientError> {
        let saved = std::mem::replace(&mut self.timeout, within);
        let result = self.next_event().await;
        self.timeout = saved;
        match result {
            Ok(event) => Ok(Some(event)),
            Err(ClientError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits for the event `event` and returns it; other events received meanwhile are kept,
    /// in order, for [`next_event`](Self::next_event).
    pub async fn wait_for(&mut self, event: &str) -> Result<ServerEvent, ClientError> {
        let what = format!("event `{event}`");
        self.wait(&what, |c| {
            let at = c.events.iter().position(|e| e.event == event)?;
            c.events.remove(at)
        })
        .await
    }

    /// Waits until the client is disconnected and returns why. Events received before are kept.
    pub async fn wait_for_disconnect(&mut self) -> Result<Disconnect, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(reason) = &self.disconnected {
                return Ok(reason.clone());
            }
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(incoming) => self.file(incoming),
                Err(_) => {
                    return Err(ClientError::Timeout {
                        waiting_for: "disconnection".into(),
                        after: self.timeout,
                    });
                }
            }
        }
    }

    /// Why the client is disconnected, or `None` while it is connected, as far as it has seen.
    pub fn disconnected(&mut self) -> Option<&Disconnect> {
        self.drain();
        self.disconnected.as_ref()
    }

    /// Leaves the namespace (`socket.disconnect()`): the gateway sees `client namespace
    /// disconnect`. The connection is closed too.
    pub async fn disconnect(&mut self) {
        self.drain();
        if self.disconnected.is_none() {
            let leave = format!("41{}", namespace_prefix(&self.namespace));
            let _ = self
                .out
                .send(vec![Message::text(leave), Message::Close(None)]);
            self.disconnected = Some(Disconnect::ClientNamespace);
        }
        self.finish().await;
    }

    /// Closes the connection without leaving the namespace first: the gateway sees `transport
    /// close`.
    pub async fn close(&mut self) {
        self.drain();
        if self.disconnected.is_none() {
            let _ = self.out.send(vec![Message::Close(None)]);
            self.disconnected = Some(Disconnect::TransportClose);
        }
        self.finish().await;
    }

    /// Sends one engine.io text frame as is, e.g. `"42[\"event\"]"` or a malformed packet.
    pub async fn send_raw(&mut self, frame: impl Into<String>) -> Result<(), ClientError> {
        self.send(vec![Message::text(frame.into())])
    }

    /// Sends one binary websocket frame as is (an attachment, in engine.io v4).
    pub async fn send_raw_binary(&mut self, frame: impl Into<Bytes>) -> Result<(), ClientError> {
        self.send(vec![Message::binary(frame.into())])
    }

    /// Waits until the writer has sent what was queued and the connection is closed, so that
    /// the server has seen the close when this returns.
    async fn finish(&mut self) {
        if !self.tasks[1].is_finished() {
            let _ = tokio::time::timeout(self.timeout, &mut self.tasks[1]).await;
        }
        self.tasks[0].abort();
    }

    fn send_event(
        &mut self,
        event: &str,
        args: &Args,
        ack: Option<i64>,
    ) -> Result<(), ClientError> {
        let mut packet = Vec::with_capacity(args.values.len() + 1);
        packet.push(Value::from(event));
        packet.extend(args.values.iter().cloned());
        let mut text = if args.binaries.is_empty() {
            "42".to_owned()
        } else {
            format!("45{}-", args.binaries.len())
        };
        text.push_str(&namespace_prefix(&self.namespace));
        if let Some(id) = ack {
            text.push_str(&id.to_string());
        }
        text.push_str(&Value::Array(packet).to_string());
        let mut frames = vec![Message::text(text)];
        frames.extend(args.binaries.iter().cloned().map(Message::Binary));
        self.send(frames)
    }

    fn send(&mut self, frames: Vec<Message>) -> Result<(), ClientError> {
        self.drain();
        if let Some(reason) = &self.disconnected {
            return Err(ClientError::Closed(reason.clone()));
        }
        self.out
            .send(frames)
            .map_err(|_| ClientError::Closed(Disconnect::TransportClose))
    }

    /// Waits until `take` finds what the caller waits for among what arrived.
    async fn wait<T>(
        &mut self,
        what: &str,
        mut take: impl FnMut(&mut Self) -> Option<T>,
    ) -> Result<T, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.drain();
        loop {
            if let Some(found) = take(self) {
                return Ok(found);
            }
            if let Some(reason) = &self.disconnected {
                return Err(ClientError::Closed(reason.clone()));
            }
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(incoming) => self.file(incoming),
                Err(_) => {
                    return Err(ClientError::Timeout {
                        waiting_for: what.to_owned(),
                        after: self.timeout,
                    });
                }
            }
        }
    }

    /// Files whatever already arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(incoming) = self.inbox.try_recv() {
            self.file(Some(incoming));
        }
    }

    fn file(&mut self, incoming: Option<Incoming>) {
        match incoming {
            Some(Incoming::Event(event)) => self.events.push_back(event),
            Some(Incoming::Ack(id, args)) => {
                self.acks.insert(id, args);
            }
            Some(Incoming::Disconnect(reason)) => {
                self.disconnected.get_or_insert(reason);
            }
            // A second CONNECT answer: nothing to do.
            Some(Incoming::Connected(..) | Incoming::ConnectError { .. }) => {}
            None => {
                self.disconnected.get_or_insert(Disconnect::TransportClose);
            }
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        // The writer ends when `out` is dropped, which closes the websocket.
        self.tasks[0].abort();
    }
}

/// What the reader shares with the client.
#[derive(Debug)]
struct Shared {
    answer_pings: AtomicBool,
    pings: AtomicU64,
}

/// What the reader hands the client.
#[derive(Debug)]
enum Incoming {
    Connected(String, Option<String>),
    ConnectError {
        message: String,
        data: Option<Value>,
    },
    Event(ServerEvent),
    Ack(i64, Args),
    Disconnect(Disconnect),
}

/// Reads the server's frames: answers pings, assembles binary packets, and hands the rest to
/// the client.
struct Reader {
    namespace: String,
    /// socket.io-client's heartbeat check: no ping for this long means the server is gone.
    heartbeat: Duration,
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Vec<Message>>,
    inbox: mpsc::UnboundedSender<Incoming>,
    /// A binary packet waiting for its attachments.
    pending: Option<(Packet, Vec<Bytes>)>,
}

type WsStream = futures_util::stream::SplitStream<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
>;
type WsSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

impl Reader {
    async fn run(mut self, mut stream: WsStream) {
        let reason = loop {
            let frame = match tokio::time::timeout(self.heartbeat, stream.next()).await {
                Err(_) => break Disconnect::PingTimeout,
                Ok(None) | Ok(Some(Ok(Message::Close(_)))) => break Disconnect::TransportClose,
                Ok(Some(Err(e))) => break transport_error(e),
                Ok(Some(Ok(frame))) => frame,
            };
            let step = match frame {
                Message::Text(text) => self.on_text(&text),
                Message::Binary(bytes) => self.on_binary(bytes),
                _ => Ok(()),
            };
            match step {
                Ok(()) => {}
                Err(Stop::Done(reason)) => break reason,
                Err(Stop::Parse(what)) => break Disconnect::ParseError(what),
            }
        };
        let _ = self.inbox.send(Incoming::Disconnect(reason));
        let _ = self.out.send(vec![Message::Close(None)]);
    }

    fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        if self.pending.is_some() {
            return Err(Stop::Parse(format!(
                "a text frame where a binary attachment was expected: {text:?}"
            )));
        }
        let Some(kind) = text.chars().next() else {
            return Err(Stop::Parse("an empty frame".into()));
        };
        match kind {
            '2' => {
                self.shared.pings.fetch_add(1, Ordering::Relaxed);
                if self.shared.answer_pings.load(Ordering::Relaxed) {
                    let pong = format!("3{}", &text[1..]);
                    let _ = self.out.send(vec![Message::text(pong)]);
                }
                Ok(())
            }
            // The server closes the session.
            '1' => Err(Stop::Done(Disconnect::TransportClose)),
            // noop, and pongs to pings we never send.
            '3' | '6' => Ok(()),
            '4' => {
                let packet = parse_packet(&text[1..]).map_err(Stop::Parse)?;
                if packet.attachments > 0 {
                    let n = packet.attachments;
                    self.pending = Some((packet, Vec::with_capacity(n)));
                    Ok(())
                } else {
                    self.deliver(packet, Vec::new())
                }
            }
            _ => Err(Stop::Parse(format!(
                "an unknown engine.io packet: {text:?}"
            ))),
        }
    }

    fn on_binary(&mut self, bytes: Bytes) -> Result<(), Stop> {
        let Some((_, attachments)) = &mut self.pending else {
            return Err(Stop::Parse(
                "a binary frame that no packet announced".into(),
            ));
        };
        attachments.push(bytes);
        let complete = self
            .pending
            .as_ref()
            .is_some_and(|(p, a)| a.len() == p.attachments);
        if complete && let Some((packet, attachments)) = self.pending.take() {
            return self.deliver(packet, attachments);
        }
        Ok(())
    }

    fn deliver(&mut self, packet: Packet, binaries: Vec<Bytes>) -> Result<(), Stop> {
        if packet.namespace != self.namespace {
            return Ok(());
        }
        let json = |payload: &str| {
            serde_json::from_str::<Value>(payload)
                .map_err(|e| Stop::Parse(format!("bad JSON in {payload:?}: {e}")))
        };
        let incoming = match packet.kind {
            0 => {
                let body = json(&packet.payload)?;
                let field = |name| body.get(name).and_then(Value::as_str).map(str::to_owned);
                Incoming::Connected(field("sid").unwrap_or_default(), field("pid"))
            }
            // As socket.io-client's manager, close the connection once its only socket left.
            1 => return Err(Stop::Done(Disconnect::ServerNamespace)),
            2 | 5 => {
                let mut items = match json(&packet.payload)? {
                    Value::Array(items) if items.first().is_some_and(Value::is_string) => items,
                    _ => return Err(Stop::Parse(format!("an event without a name: {packet:?}"))),
                };
                let event = match items.remove(0) {
                    Value::String(name) => name,
                    _ => unreachable!("checked above"),
                };
                Incoming::Event(ServerEvent {
                    event,
                    args: items,
                    binaries,
                })
            }
            3 | 6 => {
                let Some(id) = packet.ack_id else {
                    return Err(Stop::Parse(format!(
                        "an acknowledgement without id: {packet:?}"
                    )));
                };
                let Value::Array(values) = json(&packet.payload)? else {
                    return Err(Stop::Parse(format!(
                        "an acknowledgement that is not a list: {packet:?}"
                    )));
                };
                Incoming::Ack(id, Args { values, binaries })
            }
            4 => match json(&packet.payload)? {
                Value::Object(mut fields) => Incoming::ConnectError {
                    message: match fields.remove("message") {
                        Some(Value::String(m)) => m,
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                    data: fields.remove("data"),
                },
                // socket.io v4's servers sent the message alone.
                Value::String(message) => Incoming::ConnectError {
                    message,
                    data: None,
                },
                other => Incoming::ConnectError {
                    message: other.to_string(),
                    data: None,
                },
            },
            kind => {
                return Err(Stop::Parse(format!(
                    "an unknown socket.io packet type {kind}"
                )));
            }
        };
        let refused = matches!(incoming, Incoming::ConnectError { .. });
        let _ = self.inbox.send(incoming);
        if refused {
            return Err(Stop::Done(Disconnect::TransportClose));
        }
        Ok(())
    }
}

/// Why the reader stops.
enum Stop {
    Done(Disconnect),
    Parse(String),
}

fn transport_error(e: tungstenite::Error) -> Disconnect {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Disconnect::TransportClose
        }
        e => Disconnect::TransportError(e.to_string()),
    }
}

async fn write_loop(mut sink: WsSink, mut frames: mpsc::UnboundedReceiver<Vec<Message>>) {
    while let Some(batch) = frames.recv().await {
        let mut closing = false;
        for frame in batch {
            closing |= frame.is_close();
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() || closing {
            break;
        }
    }
    let _ = sink.close().await;
}

fn one_arg(data: impl Serialize) -> Result<Args, ClientError> {
    let value = serde_json::to_value(data).map_err(|e| ClientError::Serialize(e.to_string()))?;
    Ok(Args {
        values: vec![value],
        binaries: Vec::new(),
    })
}

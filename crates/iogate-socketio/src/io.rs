//! [`Io`]: the Socket.IO server over the Engine.IO layer. It reads each connection's packets,
//! admits clients to namespaces, reassembles binary packets, and times out connections that
//! join no namespace.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use iogate_engineio::{CloseReason, Engine, Frame, Message, Session, Str};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::DisconnectReason;
use crate::adapter::{Adapter, AdapterFuture, Local, Single};
use crate::msgpack;
use crate::ns::{Event, Namespace, NsHandler};
use crate::observe::Observer;
use crate::packet::{self, Packet, PacketType};
use crate::parser::Parser;
use crate::recovery::{self, Recovery, RecoveryStats, Store};
use crate::socket::{AckData, Sid, Socket};

/// The settings of the Socket.IO layer, with the Engine.IO layer's beneath.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Engine.IO settings (heartbeat, sizes, transports, outgoing bounds).
    pub engine: iogate_engineio::Config,
    /// How long a connection may stay without joining a namespace (socket.io's
    /// `connectTimeout`, 45 s).
    pub connect_timeout: Duration,
    /// The most binary attachments one packet may announce (16): each is a message of up to
    /// `max_payload` bytes that the server holds until the packet is complete.
    pub max_attachments: usize,
    /// Connection state recovery, when on (off by default, as in socket.io).
    pub recovery: Option<Recovery>,
    /// How packets are written: socket.io's default parser, or `socket.io-msgpack-parser`.
    pub parser: Parser,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            engine: iogate_engineio::Config::default(),
            connect_timeout: Duration::from_secs(45),
            max_attachments: 16,
            recovery: None,
            parser: Parser::Json,
        }
    }
}

/// The start of a namespace's adapter: its path, and the future that subscribes it.
pub type AdapterInit = (String, AdapterFuture);

/// Builds an [`Io`]: its namespaces and adapter.
#[must_use]
pub struct Builder {
    config: Config,
    adapter: Arc<dyn Adapter>,
    observer: Option<Arc<dyn Observer>>,
    namespaces: Vec<(String, Arc<dyn NsHandler>)>,
}

impl Builder {
    /// Forwards operations to other nodes through `adapter` (default: none).
    pub fn adapter(mut self, adapter: Arc<dyn Adapter>) -> Self {
        self.adapter = adapter;
        self
    }

    /// Tells `observer` what the sockets do (default: no one).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Serves namespace `path` with `handler`.
    pub fn ns(mut self, path: impl Into<String>, handler: Arc<dyn NsHandler>) -> Self {
        self.namespaces.push((path.into(), handler));
        self
    }

    /// The server, and one future per namespace that starts its adapter (subscribes).
    pub fn build(self) -> (Io, Vec<AdapterInit>) {
        let engine = &self.config.engine;
        let store = self.config.recovery.clone().map(|recovery| {
            // A replay goes into the client's outgoing queue: one that would not fit it is
            // not attempted.
            Arc::new(Store::new(
                recovery,
                engine.max_outgoing_bytes,
                engine.max_outgoing_packets,
                self.adapter.shared_sessions(),
            ))
        });
        let namespaces = self
            .namespaces
            .into_iter()
            .map(|(path, handler)| {
                let ns = Namespace::new(
                    &path,
                    handler,
                    self.adapter.clone(),
                    store.clone(),
                    self.config.parser,
                    self.observer.clone(),
                );
                (path, Arc::new(ns))
            })
            .collect();
        let inner = Arc::new(IoInner {
            config: self.config.clone(),
            namespaces,
            adapter: self.adapter.clone(),
            deadlines: Arc::new(Deadlines {
                store: store.clone(),
                ..Deadlines::default()
            }),
            store,
        });
        let inits = inner
            .namespaces
            .keys()
            .map(|path| {
                let local = Local {
                    io: Arc::downgrade(&inner),
                };
                (path.clone(), self.adapter.init(path, local))
            })
            .collect();
        let engine = Engine::new(self.config.engine, Handler { io: inner.clone() });
        (Io { inner, engine }, inits)
    }
}

/// The Socket.IO server: cheap to clone, shared by the HTTP service and the layers above.
#[derive(Clone)]
pub struct Io {
    inner: Arc<IoInner>,
    engine: Engine<Handler>,
}

impl Io {
    /// A builder with these settings.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            adapter: Arc::new(Single),
            observer: None,
            namespaces: Vec::new(),
        }
    }

    /// The namespace `path`, if served.
    pub fn of(&self, path: &str) -> Option<Arc<Namespace>> {
        self.inner.namespace(path)
    }

    /// Every namespace.
    pub fn namespaces(&self) -> impl Iterator<Item = &Arc<Namespace>> {
        self.inner.namespaces.values()
    }

    /// The Engine.IO endpoint to mount (a `tower::Service`).
    pub fn engine(&self) -> &Engine<Handler> {
        &self.engine
    }

    /// How many sessions connection state recovery keeps now, and its counts so far; `None`
    /// when recovery is off.
    pub fn recovery(&self) -> Option<(usize, &RecoveryStats)> {
        let store = self.inner.store.as_ref()?;
        Some((store.sessions(), &store.stats))
    }

    /// Closes every connection (`server shutting down`) and stops the adapter; completes once
    /// every socket's disconnection was handled.
    pub async fn close(&self) {
        self.engine.close().await;
        self.inner.adapter.close().await;
    }
}

pub(crate) struct IoInner {
    config: Config,
    namespaces: HashMap<String, Arc<Namespace>>,
    adapter: Arc<dyn Adapter>,
    deadlines: Arc<Deadlines>,
    store: Option<Arc<Store>>,
}

impl IoInner {
    pub(crate) fn namespace(&self, path: &str) -> Option<Arc<Namespace>> {
        self.namespaces.get(path).cloned()
    }

    pub(crate) fn store(&self) -> Option<Arc<Store>> {
        self.store.clone()
    }
}

/// What the Socket.IO layer keeps for one Engine.IO connection.
#[derive(Default)]
pub struct Conn {
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    /// The connection's sockets, one per namespace joined: few, so a list.
    sockets: Vec<Arc<Socket>>,
    /// Namespaces whose CONNECT is being decided.
    connecting: Vec<Str>,
    /// A binary packet waiting for its attachments.
    partial: Option<(Packet, Vec<Bytes>, usize)>,
    /// The connect-timeout entry, until a namespace is joined.
    deadline: Option<DeadlineKey>,
    closed: bool,
}

impl Conn {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remove(&self, ns: &str) {
        self.lock().sockets.retain(|s| s.ns() != ns);
    }

    fn socket(&self, ns: &str) -> Option<Arc<Socket>> {
        self.lock().sockets.iter().find(|s| s.ns() == ns).cloned()
    }
}

/// The Engine.IO handler of the Socket.IO layer.
pub struct Handler {
    io: Arc<IoInner>,
}

impl iogate_engineio::Handler for Handler {
    type Data = Conn;

    fn on_open(&self, session: &Arc<Session<Conn>>) {
        let key = self
            .io
            .deadlines
            .add(Instant::now() + self.io.config.connect_timeout, session);
        session.data.lock().deadline = Some(key);
    }

    fn on_message(&self, session: &Arc<Session<Conn>>, msg: Message) {
        let max_attachments = self.io.config.max_attachments;
        match (self.io.config.parser, msg) {
            (Parser::Json, Message::Text(text)) => {
                if session.data.lock().partial.is_some() {
                    // Text while attachments are awaited: not the protocol.
                    return session.close(CloseReason::ParseError);
                }
                match packet::parse(&text, max_attachments) {
                    Ok(p) if p.attachments > 0 => {
                        session.data.lock().partial = Some((p, Vec::new(), text.len()));
                    }
                    Ok(p) => self.packet(session, p, Vec::new(), text.len()),
                    Err(e) => unparseable(session, &e),
                }
            }
            (Parser::Json, Message::Binary(bin)) => {
                let complete = {
                    let mut st = session.data.lock();
                    let Some((p, bins, size)) = st.partial.as_mut() else {
                        drop(st);
                        return match msgpack::connect_ns(&bin) {
                            Some(ns) => wrong_parser(session, Parser::Msgpack, &ns),
                            None => session.close(CloseReason::ParseError),
                        };
                    };
                    *size += bin.len();
                    bins.push(bin);
                    if bins.len() == p.attachments {
                        st.partial.take()
                    } else {
                        None
                    }
                };
                if let Some((p, bins, size)) = complete {
                    self.packet(session, p, bins, size);
                }
            }
            (Parser::Msgpack, Message::Binary(bin)) => {
                match msgpack::parse(&bin, max_attachments) {
                    Ok((p, bins)) => self.packet(session, p, bins, bin.len()),
                    Err(e) => unparseable(session, &e),
                }
            }
            (Parser::Msgpack, Message::Text(text)) => match packet::parse(&text, 0) {
                Ok(p) if p.kind == PacketType::Connect => {
                    wrong_parser(session, Parser::Json, &p.ns);
                }
                _ => session.close(CloseReason::ParseError),
            },
        }
    }

    fn on_close(&self, session: &Arc<Session<Conn>>, reason: CloseReason) {
        let (sockets, deadline) = {
            let mut st = session.data.lock();
            st.closed = true;
            st.partial = None;
            (std::mem::take(&mut st.sockets), st.deadline.take())
        };
        if let Some(key) = deadline {
            self.io.deadlines.remove(key);
        }
        let reason = DisconnectReason::from(reason);
        for socket in sockets {
            socket.gone(reason);
        }
    }

    fn on_upgrade(&self, session: &Arc<Session<Conn>>) {
        let sockets = session.data.lock().sockets.clone();
        for socket in sockets {
            if let Some(observer) = socket.ns.observer() {
                observer.upgraded(&socket);
            }
        }
    }
}

impl Handler {
    /// A whole packet of `size` bytes (text and attachments) from the client.
    fn packet(
        &self,
        session: &Arc<Session<Conn>>,
        p: Packet,
        attachments: Vec<Bytes>,
        size: usize,
    ) {
        if p.kind == PacketType::Connect {
            return self.connect(session, p, size);
        }
        let Some(socket) = session.data.socket(&p.ns) else {
            return;
        };
        socket.ns.handler().received(1, size);
        match p.kind {
            PacketType::Connect => {}
            PacketType::Disconnect => {
                socket.gone(DisconnectReason::ClientNamespaceDisconnect);
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if let Some(data) = p.data {
                    if let Some(observer) = socket.ns.observer().filter(|o| o.wants_events()) {
                        observer.received(&socket, &data);
                    }
                    socket.ns.handler().event(
                        &socket,
                        Event {
                            data,
                            id: p.id,
                            attachments,
                        },
                    );
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if let (Some(id), Some(data)) = (p.id, p.data) {
                    socket.acked(id, AckData { data, attachments });
                }
            }
            // `parse` refuses it from a client.
            PacketType::ConnectError => {}
        }
    }

    /// A client asks to join a namespace: the layer above decides, then CONNECT or
    /// CONNECT_ERROR goes out. With recovery on, a client that names a kept session and the
    /// last offset it read gets that session back, and what it missed.
    fn connect(&self, session: &Arc<Session<Conn>>, p: Packet, size: usize) {
        let Some(ns) = self.io.namespace(&p.ns) else {
            let frame = self
                .io
                .config
                .parser
                .connect_error(&p.ns, "Invalid namespace", None);
            let _ = session.send(frame);
            return;
        };
        ns.handler().received(1, size);
        {
            let mut st = session.data.lock();
            if st.closed
                || st.connecting.iter().any(|n| **n == *p.ns)
                || st.sockets.iter().any(|s| s.ns() == &*p.ns)
            {
                return;
            }
            st.connecting.push(p.ns.clone());
        }
        let lookup = self.io.store.as_ref().and_then(|store| {
            let (pid, offset) = recovery::credentials(p.data.as_deref()?)?;
            let taken = store.take(&p.ns, &pid, &offset);
            Some(async move { Some((Sid::from(pid), taken.await?)) })
        });
        let io = self.io.clone();
        let session = session.clone();
        run_here(async move {
            let restored = match lookup {
                Some(lookup) => lookup.await,
                None => None,
            };
            admit(io, session, ns, p.data, restored).await;
        });
    }
}

/// Decides a CONNECT: the socket, restored or new, goes to the layer above, then CONNECT (and
/// what a restored session missed) or CONNECT_ERROR goes out.
async fn admit(
    io: Arc<IoInner>,
    session: Arc<Session<Conn>>,
    ns: Arc<Namespace>,
    auth: Option<Str>,
    restored: Option<(Sid, recovery::Restored)>,
) {
    let socket = match &restored {
        Some((pid, restored)) => {
            let kept = &restored.kept;
            let ext = kept.ext.clone().unwrap_or_else(|| Arc::new(()));
            let socket = Socket::new(
                kept.sid.clone(),
                Some(pid.clone()),
                Some((ext, kept.data.clone())),
                ns.clone(),
                session.clone(),
            );
            let socket = Arc::new(socket);
            for room in &kept.rooms {
                socket.join(room);
            }
            socket
        }
        None => {
            let pid = io.store.is_some().then(new_id);
            Arc::new(Socket::new(
                new_id(),
                pid,
                None,
                ns.clone(),
                session.clone(),
            ))
        }
    };
    let decided = ns.handler().connect(socket.clone(), auth);
    {
        {
            let verdict = decided.await;
            let (deadline, connect) = {
                let mut st = session.data.lock();
                st.connecting.retain(|n| **n != *ns.path());
                if st.closed {
                    drop(st);
                    if verdict.is_ok() {
                        // Admitted, but gone before it could connect: the layer above counted
                        // it in, and is told it left.
                        ns.handler()
                            .disconnect(&socket, DisconnectReason::TransportClose);
                    }
                    return;
                }
                if let Err(e) = verdict {
                    drop(st);
                    send_counted(
                        &session,
                        &ns,
                        ns.parser()
                            .connect_error(ns.path(), &e.message, e.data.as_ref()),
                    );
                    return;
                }
                let connect = ns
                    .parser()
                    .connect(ns.path(), socket.id(), socket.pid.as_deref());
                // Connected under the connection's lock: a close from now on sees the socket.
                // A recovered socket gets CONNECT and what it missed under the log's lock; a new
                // one gets CONNECT once the connection's lock is let go.
                let connect = match (&restored, &io.store) {
                    (Some((_, restored)), Some(store)) => {
                        store.replay(
                            restored,
                            || {
                                socket.connect();
                                send_counted(&session, &ns, connect);
                            },
                            |missed| {
                                let frames =
                                    socket.frames(false, None, &missed.data, &missed.attachments);
                                let _ = socket.send(&frames);
                            },
                        );
                        None
                    }
                    _ => {
                        socket.connect();
                        Some(connect)
                    }
                };
                st.sockets.push(socket.clone());
                (st.deadline.take(), connect)
            };
            if let Some(key) = deadline {
                io.deadlines.remove(key);
            }
            if let Some(connect) = connect {
                send_counted(&session, &ns, connect);
            }
            if let Some(observer) = ns.observer() {
                observer.connected(&socket);
            }
            // The connection hooks start a moment after CONNECT is written, so that what they
            // emit reaches the client in a read of its own (see `HOOKS_AFTER_CONNECT`); events
            // the client sends meanwhile wait for the hooks in the layer above.
            tokio::spawn(async move {
                tokio::time::sleep(HOOKS_AFTER_CONNECT).await;
                socket.start_hooks().await;
            });
        }
    }
}

/// Closes the connection of a client that does not speak the protocol (`parse error`).
fn unparseable(session: &Session<Conn>, e: &packet::ParseError) {
    tracing::debug!(error = %e, "unparseable packet: closing the connection");
    session.close(CloseReason::ParseError);
}

/// A client whose CONNECT came in `theirs`, which is not the server's parser: it is told so, in
/// its own parser, with `connect_error`, and its connection closed; it would read nothing else.
fn wrong_parser(session: &Session<Conn>, theirs: Parser, ns: &str) {
    let message = match theirs {
        Parser::Json => "This server uses the msgpack parser (socket.io-msgpack-parser)",
        Parser::Msgpack => {
            "This server uses socket.io's default parser, not socket.io-msgpack-parser"
        }
    };
    tracing::debug!(message, "a client with the other parser: refusing it");
    let _ = session.send(theirs.connect_error(ns, message, None));
    session.close(CloseReason::ParseError);
}

/// Sends a namespace's packet outside any socket (CONNECT, CONNECT_ERROR), and counts it.
fn send_counted(session: &Session<Conn>, ns: &Namespace, frame: Frame) {
    let len = packet::frames_len(std::slice::from_ref(&frame));
    if session.send(frame).is_ok() {
        ns.handler().sent(1, len);
    }
}

/// How long after CONNECT a socket's connection hooks start.
///
/// Node's server writes the packets a `connection` handler emits only once CONNECT's write has
/// completed, a turn of its event loop later (about 0.3 ms on a 2-core machine), so a client
/// usually reads CONNECT alone. Clients that take one message per listener and register the
/// next listener only after that read (the official protocol test suite, with `ws` 8, which
/// hands every message of one TCP read over at once) lose the second message when both arrive
/// in one read. A millisecond keeps them apart even when the client is slow to read; it delays
/// only what the hooks do, not CONNECT.
const HOOKS_AFTER_CONNECT: std::time::Duration = std::time::Duration::from_millis(1);

/// Runs `future` in the calling task as far as it goes without waiting, and spawns the rest:
/// most connection middlewares decide without waiting, and a task per handshake is then
/// saved. A future that is pending registered the waker of its last poll, which becomes the
/// spawned task's own at its first poll there.
fn run_here(future: impl Future<Output = ()> + Send + 'static) {
    let mut future = Box::pin(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if future.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(future);
    }
}

/// A new socket id: 120 random bits, base64url (20 characters, as socket.io's).
fn new_id() -> Arc<str> {
    use base64::Engine as _;
    let bytes: [u8; 15] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .into()
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::TransportError => Self::TransportError,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ServerClose => Self::ForcedClose,
            CloseReason::OutgoingFull => Self::OutgoingFull,
            CloseReason::WriteTimeout => Self::WriteTimeout,
            CloseReason::ServerShutdown => Self::ServerShuttingDown,
        }
    }
}

type DeadlineKey = (Instant, u64);

/// The connect timeouts of every connection, watched by one task: a connection that joins
/// no namespace in time is closed. An entry lives from the handshake until the first
/// namespace is joined or the connection closes, whichever comes first.
#[derive(Default)]
struct Deadlines {
    entries: Mutex<BTreeMap<DeadlineKey, Weak<Session<Conn>>>>,
    seq: AtomicU64,
    /// Wakes the watcher when an entry earlier than all others is added.
    wake: Notify,
    started: std::sync::OnceLock<()>,
    /// The recovery store, swept on the same beat.
    store: Option<Arc<Store>>,
}

impl Deadlines {
    fn add(self: &Arc<Self>, at: Instant, session: &Arc<Session<Conn>>) -> DeadlineKey {
        let key = (at, self.seq.fetch_add(1, Ordering::Relaxed));
        let first = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.insert(key, Arc::downgrade(session));
            entries.first_key_value().map(|(k, _)| *k) == Some(key)
        };
        self.started.get_or_init(|| {
            tokio::spawn(watch(self.clone()));
        });
        if first {
            self.wake.notify_one();
        }
        key
    }

    fn remove(&self, key: DeadlineKey) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// Closes the connections past their deadline; returns the next deadline.
    fn expire(&self, now: Instant) -> Option<Instant> {
        if let Some(store) = &self.store {
            store.sweep();
        }
        let mut expired = Vec::new();
        let next = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            while let Some(entry) = entries.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                expired.push(entry.remove());
            }
            entries.first_key_value().map(|(k, _)| k.0)
        };
        for session in expired.iter().filter_map(Weak::upgrade) {
            tracing::debug!("no namespace joined in time: closing the connection");
            session.close(CloseReason::ServerClose);
        }
        next
    }
}

/// Closes connections past their connect timeout, until the server is gone (the watcher
/// holds the last reference to the deadlines; it looks at least once a second).
async fn watch(deadlines: Arc<Deadlines>) {
    while Arc::strong_count(&deadlines) > 1 {
        let woken = deadlines.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let at = deadlines.expire(now).map_or(later, |next| next.min(later));
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            () = woken => {}
        }
    }
}

//! A session: its outgoing queue, its heartbeat, and the one task that drives it.
//!
//! Who drives a session (exactly one at a time, so `on_close` runs exactly once):
//! - a polling session: one task, [`drive_polling`], which runs the heartbeat
//!   and finishes the session; the HTTP requests themselves run in hyper's
//!   connection tasks and only touch the shared state;
//! - a websocket session: one task, [`drive_websocket`], which reads, writes
//!   and runs the heartbeat in one `select!`;
//! - during an upgrade the new websocket's task waits for `2probe`/`5`; on `5`
//!   it switches the transport under the lock, the polling task sees it and
//!   exits, and the websocket task carries on as [`drive_websocket`].
//!
//! The outgoing queue (owned here) is a `VecDeque` behind a mutex plus a
//! [`Notify`]: nothing is allocated for an idle session, and the queue's
//! buffer is given back (`VecDeque::new()`) every time it is drained.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout};

use crate::engine::Shared;
use crate::packet::{self, Frame, Message, Packet};
use crate::websocket::{WsConn, WsError, WsIn};
use crate::{CloseReason, Config, Handler, SendError, TransportKind};

/// Byte and packet counters, per session and per engine.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    /// Sessions opened and finished (engine totals only).
    pub(crate) opened: AtomicU64,
    pub(crate) finished: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    /// [`Session::close`] was called: frames already queued are still
    /// delivered, then CLOSE, within `write_timeout`.
    Closing(CloseReason),
    /// Nothing more is delivered; the driver finishes the session.
    Closed(CloseReason),
}

/// Progress of an upgrade from polling to websocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upgrade {
    Idle,
    /// A websocket with this sid is open and waiting for `2probe`/`5`.
    Connected,
    /// `3probe` was sent: a waiting GET is answered with NOOP so the client
    /// can finish the upgrade.
    Probed,
}

/// The mutable part of a session, behind one mutex held only for short,
/// non-blocking sections (never across an `.await` or a handler call).
#[derive(Debug)]
pub(crate) struct Inner {
    /// Frames accepted by `send` and not yet taken by a writer. Bounded by
    /// `max_outgoing_bytes`/`max_outgoing_packets` (except PING and CLOSE,
    /// one small frame each) because a client that does not read must not
    /// make the server buffer without limit.
    pub(crate) queue: VecDeque<Frame>,
    pub(crate) queued_bytes: usize,
    pub(crate) state: State,
    pub(crate) transport: TransportKind,
    pub(crate) upgrade: Upgrade,
    /// A GET poll is waiting (a second one is a protocol error).
    pub(crate) poll_active: bool,
    /// A POST is being read (a second one is a protocol error).
    pub(crate) post_active: bool,
    /// When the next PING is due (when no PONG is awaited).
    next_ping: Instant,
    /// When the awaited PONG is late.
    pong_deadline: Option<Instant>,
}

impl Inner {
    /// Whether the awaited PONG is late, even if the driver has not run yet.
    pub(crate) fn pong_overdue(&self, now: Instant) -> bool {
        self.pong_deadline.is_some_and(|d| now >= d)
    }

    /// Takes every queued frame, giving the queue's buffer back.
    pub(crate) fn take_queue(&mut self) -> VecDeque<Frame> {
        self.queued_bytes = 0;
        std::mem::take(&mut self.queue)
    }

    /// Ends the session without delivering anything more.
    pub(crate) fn set_closed(&mut self, reason: CloseReason) {
        self.state = match self.state {
            // A session already closing keeps the reason it was closed for.
            State::Closing(r) | State::Closed(r) => State::Closed(r),
            State::Open => State::Closed(reason),
        };
        self.take_queue();
    }

    /// Runs the heartbeat clock: queues a PING when due, reports a late PONG.
    /// Returns when to look again and whether a PING was queued.
    fn heartbeat(&mut self, now: Instant, config: &Config) -> Result<(Instant, bool), ()> {
        if let Some(deadline) = self.pong_deadline {
            return if now >= deadline {
                Err(())
            } else {
                Ok((deadline, false))
            };
        }
        if now >= self.next_ping {
            self.queue.push_back(Frame::ping());
            self.queued_bytes += 1;
            // Timed from when the PING was due, not from when this task got
            // to run, so a late wake-up does not lengthen the timeout (Node's
            // timers drift the same way only once); but a PING sent very late
            // still leaves the client half the timeout to answer.
            let deadline =
                (self.next_ping + config.ping_timeout).max(now + config.ping_timeout / 2);
            self.pong_deadline = Some(deadline);
            Ok((deadline, true))
        } else {
            Ok((self.next_ping, false))
        }
    }
}

/// One Engine.IO session (one client), shared between the engine, its driver
/// task and the layer above.
pub struct Session<D> {
    /// The layer above's per-session state.
    pub data: D,
    sid: Box<str>,
    head: http::request::Parts,
    peer: Option<SocketAddr>,
    pub(crate) inner: Mutex<Inner>,
    /// Wakes whoever writes the queue: the waiting GET poll, or the websocket driver.
    pub(crate) writer: Notify,
    /// Wakes the driver task: close requested, heartbeat moved, upgrade done.
    pub(crate) control: Notify,
    max_outgoing_bytes: usize,
    max_outgoing_packets: usize,
    counters: Counters,
    totals: Arc<Counters>,
}

impl<D> std::fmt::Debug for Session<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sid is a credential: keep it out of Debug output.
        f.debug_struct("Session")
            .field("transport", &self.transport())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<D> Session<D> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        data: D,
        sid: Box<str>,
        head: http::request::Parts,
        peer: Option<SocketAddr>,
        transport: TransportKind,
        config: &Config,
        totals: Arc<Counters>,
        open: Frame,
    ) -> Session<D> {
        let mut queue = VecDeque::new();
        let queued_bytes = open.len();
        queue.push_back(open);
        Session {
            data,
            sid,
            head,
            peer,
            inner: Mutex::new(Inner {
                queue,
                queued_bytes,
                state: State::Open,
                transport,
                upgrade: Upgrade::Idle,
                poll_active: false,
                post_active: false,
                // Node sends the first PING one interval after the handshake.
                next_ping: Instant::now() + config.ping_interval,
                pong_deadline: None,
            }),
            writer: Notify::new(),
            control: Notify::new(),
            max_outgoing_bytes: config.max_outgoing_bytes,
            max_outgoing_packets: config.max_outgoing_packets,
            counters: Counters::default(),
            totals,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves consistent data (every
        // section is a few field updates), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one frame for the client.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        self.send_all(std::slice::from_ref(&frame))
    }

    /// Queues several frames, all or none (a binary Socket.IO packet is a text
    /// frame followed by its attachments, which must not be split).
    ///
    /// [`SendError::Full`] means the frames would take the session over
    /// `max_outgoing_bytes`/`max_outgoing_packets`; the session is then closed
    /// with [`CloseReason::OutgoingFull`] and its queue dropped.
    pub fn send_all(&self, frames: &[Frame]) -> Result<(), SendError> {
        let bytes: usize = frames.iter().map(Frame::len).sum();
        {
            let mut inner = self.lock();
            if inner.state != State::Open {
                return Err(SendError::Closed);
            }
            if inner.queued_bytes + bytes > self.max_outgoing_bytes
                || inner.queue.len() + frames.len() > self.max_outgoing_packets
            {
                tracing::warn!(
                    queued_bytes = inner.queued_bytes,
                    queued_packets = inner.queue.len(),
                    reason = CloseReason::OutgoingFull.as_str(),
                    "closing an engine.io session that does not read fast enough"
                );
                inner.set_closed(CloseReason::OutgoingFull);
                drop(inner);
                self.wake_all();
                return Err(SendError::Full);
            }
            inner.queue.extend(frames.iter().cloned());
            inner.queued_bytes += bytes;
        }
        self.writer.notify_one();
        Ok(())
    }

    /// Closes the session: frames already accepted are still written (best
    /// effort, within `write_timeout`), then CLOSE. Idempotent; `on_close`
    /// runs once the frames are out.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut inner = self.lock();
            if inner.state != State::Open {
                return;
            }
            inner.state = State::Closing(reason);
        }
        self.wake_all();
    }

    /// Ends the session at once, dropping whatever is queued.
    pub(crate) fn fail(&self, reason: CloseReason) {
        self.lock().set_closed(reason);
        self.wake_all();
    }

    pub(crate) fn wake_all(&self) {
        self.writer.notify_one();
        self.control.notify_one();
    }

    /// Whether the session is closing or closed: nothing more can be sent.
    pub fn is_closed(&self) -> bool {
        self.lock().state != State::Open
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        self.lock().transport
    }

    /// The handshake request's method, URI, version and headers, copied into
    /// memory of their own (extensions are not kept).
    pub fn head(&self) -> &http::request::Parts {
        &self.head
    }

    /// The client's address, when the server was built with
    /// `axum::extract::ConnectInfo<SocketAddr>`: the TCP peer's, or, behind a proxy of
    /// [`Config::trusted_proxies`](crate::Config::trusted_proxies), the client's that the proxy
    /// forwarded.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The session id. It authorizes this session's polling requests and
    /// nothing else: never send it to other clients, never log it above debug.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Bytes queued and not yet taken by a writer.
    pub fn outgoing_bytes(&self) -> usize {
        self.lock().queued_bytes
    }

    /// Bytes received from this client (POST bodies and websocket messages).
    pub fn bytes_in(&self) -> u64 {
        self.counters.bytes_in.load(Ordering::Relaxed)
    }

    /// Bytes written to this client (encoded packets).
    pub fn bytes_out(&self) -> u64 {
        self.counters.bytes_out.load(Ordering::Relaxed)
    }

    /// Packets received from this client.
    pub fn packets_in(&self) -> u64 {
        self.counters.packets_in.load(Ordering::Relaxed)
    }

    /// Packets written to this client.
    pub fn packets_out(&self) -> u64 {
        self.counters.packets_out.load(Ordering::Relaxed)
    }

    pub(crate) fn count_in(&self, bytes: usize, packets: usize) {
        for c in [&self.counters, &*self.totals] {
            Counters::add(&c.bytes_in, bytes);
            Counters::add(&c.packets_in, packets);
        }
    }

    pub(crate) fn count_out(&self, bytes: usize, packets: usize) {
        for c in [&self.counters, &*self.totals] {
            Counters::add(&c.bytes_out, bytes);
            Counters::add(&c.packets_out, packets);
        }
    }

    fn on_pong(&self, config: &Config) {
        {
            let mut inner = self.lock();
            inner.pong_deadline = None;
            // As Node: the next PING is one interval after the PONG.
            inner.next_ping = Instant::now() + config.ping_interval;
        }
        self.control.notify_one();
    }
}

/// The input a task handles before it lets other tasks run: the writers of the clients it
/// delivers to among them. A burst read at once (a client's many messages in one read, a
/// long-polling POST of up to `max_payload`) is handled a slice at a time, so that what it
/// sends to other clients is written as it goes rather than all queued first: a room's
/// readers are not cut off for a burst bigger than `max_outgoing_bytes`.
const INPUT_TURN: usize = 16 * 1024;

/// Counts input handled since the task last let others run.
#[derive(Default)]
pub(crate) struct InputTurn(usize);

impl InputTurn {
    /// Counts `len` bytes handled; past [`INPUT_TURN`], lets other tasks run first.
    pub(crate) async fn spend(&mut self, len: usize) {
        self.0 += len;
        if self.0 >= INPUT_TURN {
            self.0 = 0;
            tokio::task::yield_now().await;
        }
    }
}

/// Handles one packet from the client; `Err` closes the session.
pub(crate) fn receive<H: Handler>(
    shared: &Shared<H>,
    session: &Arc<Session<H::Data>>,
    packet: Packet,
) -> Result<(), CloseReason> {
    match packet {
        Packet::Message(msg) => {
            // As Node: packets arriving while the session closes are dropped.
            if session.lock().state == State::Open {
                shared.handler.on_message(session, msg);
            }
        }
        // In v4 only the PONG proves liveness (Node's socket.ts).
        Packet::Pong(_) => session.on_pong(&shared.config),
        // v4 heartbeats go server to client; a client PING is a protocol error.
        Packet::Ping(_) => return Err(CloseReason::TransportError),
        Packet::Close => return Err(CloseReason::TransportClose),
        Packet::Open | Packet::Upgrade | Packet::Noop => {}
    }
    Ok(())
}

/// The task of a polling session: the heartbeat, and finishing the session.
pub(crate) async fn drive_polling<H: Handler>(
    shared: Arc<Shared<H>>,
    session: Arc<Session<H::Data>>,
) {
    let config = &shared.config;
    let mut closing_deadline = None;
    let reason = loop {
        let now = Instant::now();
        let (wake_at, pinged) = {
            let mut inner = session.lock();
            if inner.transport == TransportKind::Websocket {
                // Upgraded: the websocket task drives the session now.
                return;
            }
            match inner.state {
                State::Closed(reason) => break reason,
                State::Closing(reason) => {
                    // Wait for a GET to take the last frames and CLOSE, but
                    // not longer than a websocket write may take.
                    let deadline = *closing_deadline.get_or_insert(now + config.write_timeout);
                    if now >= deadline {
                        inner.set_closed(reason);
                        break reason;
                    }
                    (deadline, false)
                }
                State::Open => match inner.heartbeat(now, config) {
                    Ok(next) => next,
                    Err(()) => {
                        inner.set_closed(CloseReason::PingTimeout);
                        break CloseReason::PingTimeout;
                    }
                },
            }
        };
        if pinged {
            session.writer.notify_one();
        }
        tokio::select! {
            _ = sleep_until(wake_at) => {}
            _ = session.control.notified() => {}
        }
    };
    // A GET still waiting answers with CLOSE now.
    session.writer.notify_one();
    shared.finish(&session, reason);
}

/// How a websocket driver loop ended.
enum End {
    /// Deliver these last frames, then close.
    Graceful(CloseReason, VecDeque<Frame>),
    /// Close without delivering anything more.
    Hard(CloseReason),
}

/// Up to this many queued frames are written one write each; more go out as one batch.
///
/// A client reading a few frames that arrived in one TCP segment handles them all in one go,
/// before code that awaits them one by one has registered its next listener (the official
/// protocol suite does this, after CONNECT and the event its server emits on connection).
/// Separate writes keep a connection's first packets apart, as Node's separate `send`s do;
/// past a few frames (a flood, a slow reader catching up) one write per batch is what keeps
/// the server's cost per frame down.
const SEPARATE_WRITES: usize = 4;

/// Writes queued frames: each with its own write when there are few, else every frame fed,
/// then one flush.
async fn write_batch<D>(
    ws: &mut WsConn,
    session: &Session<D>,
    frames: &VecDeque<Frame>,
) -> Result<(), WsError> {
    let separate = frames.len() <= SEPARATE_WRITES;
    for frame in frames {
        ws.feed(frame).await?;
        if separate {
            ws.flush().await?;
        }
    }
    if !separate {
        ws.flush().await?;
    }
    session.count_out(frames.iter().map(Frame::len).sum(), frames.len());
    Ok(())
}

/// The task of a websocket session: reads, writes and the heartbeat in one loop.
pub(crate) async fn drive_websocket<H: Handler>(
    shared: Arc<Shared<H>>,
    session: Arc<Session<H::Data>>,
    mut ws: WsConn,
) {
    let config = &shared.config;
    // Whether a close frame may still be sent (not after a write was cut short).
    let mut polite = true;
    let mut input = InputTurn::default();
    let end = loop {
        let now = Instant::now();
        let (frames, wake_at) = {
            let mut inner = session.lock();
            match inner.state {
                State::Closed(reason) => break End::Hard(reason),
                State::Closing(reason) => break End::Graceful(reason, inner.take_queue()),
                State::Open => {}
            }
            match inner.heartbeat(now, config) {
                Ok((wake_at, _)) => (inner.take_queue(), wake_at),
                Err(()) => {
                    inner.set_closed(CloseReason::PingTimeout);
                    break End::Hard(CloseReason::PingTimeout);
                }
            }
        };
        if !frames.is_empty() {
            let write = timeout(
                config.write_timeout,
                write_batch(&mut ws, &session, &frames),
            );
            tokio::pin!(write);
            let written = loop {
                tokio::select! {
                    written = &mut write => break Some(written),
                    // A hard close (e.g. the queue overflowing because this
                    // very write is stuck) must not wait for the write.
                    _ = session.control.notified() => {
                        if matches!(session.lock().state, State::Closed(_)) {
                            break None;
                        }
                    }
                }
            };
            match written {
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(_))) => session.fail(CloseReason::TransportError),
                Some(Err(_)) => session.fail(CloseReason::WriteTimeout),
                // The connection is mid-frame: no polite close is possible.
                None => polite = false,
            }
            // Look at the queue again before sleeping: more may have come.
            continue;
        }
        tokio::select! {
            read = ws.recv() => match read {
                Ok(read) => {
                    let (result, len) = match read {
                        WsIn::Text(text) => {
                            let len = text.len();
                            (packet::decode_text(text).map_err(|_| CloseReason::ParseError), len)
                        }
                        // v4: a binary frame is a binary message, no type byte.
                        WsIn::Binary(bytes) => {
                            let len = bytes.len();
                            (Ok(Packet::Message(Message::Binary(bytes))), len)
                        }
                    };
                    session.count_in(len, 1);
                    if let Err(reason) = result.and_then(|p| receive(&shared, &session, p)) {
                        session.fail(reason);
                    }
                    input.spend(len).await;
                }
                Err(WsError::Closed) => session.fail(CloseReason::TransportClose),
                Err(WsError::TooLarge | WsError::Other) => session.fail(CloseReason::TransportError),
            },
            _ = session.writer.notified() => {}
            _ = session.control.notified() => {}
            _ = sleep_until(wake_at) => {}
        }
    };
    match end {
        End::Graceful(reason, frames) => {
            let _ = timeout(config.write_timeout, async {
                if write_batch(&mut ws, &session, &frames).await.is_ok() {
                    ws.close().await;
                }
            })
            .await;
            session.lock().set_closed(reason);
            shared.finish(&session, reason);
        }
        End::Hard(reason) => {
            // Tell the layer above first: a polite close frame to a client
            // that does not read must not delay it.
            shared.finish(&session, reason);
            // A client that does not read would make the close frame wait
            // for write_timeout too: just drop the connection.
            let stuck = matches!(
                reason,
                CloseReason::WriteTimeout | CloseReason::OutgoingFull
            );
            if polite && !stuck {
                let _ = timeout(config.write_timeout, ws.close()).await;
            }
        }
    }
    // Dropping `ws` drops the TCP connection.
}

/// The task of a websocket opened with the sid of a polling session: waits for
/// `2probe` (answers `3probe`) and `5`, then drives the session on the websocket.
pub(crate) async fn upgrade<H: Handler>(
    shared: Arc<Shared<H>>,
    session: Arc<Session<H::Data>>,
    mut ws: WsConn,
) {
    let config = &shared.config;
    let refused = {
        let mut inner = session.lock();
        let refused = inner.state != State::Open
            || inner.transport != TransportKind::Polling
            || inner.upgrade != Upgrade::Idle;
        if !refused {
            inner.upgrade = Upgrade::Connected;
        }
        refused
    };
    if refused {
        // Closed, already upgraded, or another upgrade under way: as Node,
        // accept the websocket and close it.
        let _ = timeout(config.write_timeout, ws.close()).await;
        return;
    }
    let deadline = Instant::now() + config.upgrade_timeout;
    let upgraded = loop {
        tokio::select! {
            read = ws.recv() => {
                let packet = match read {
                    Ok(WsIn::Text(text)) => {
                        session.count_in(text.len(), 1);
                        packet::decode_text(text)
                    }
                    _ => break false,
                };
                match packet {
                    Ok(Packet::Ping(data)) if &*data == "probe" => {
                        let probe = std::iter::once(Frame::pong_probe()).collect();
                        match timeout(config.write_timeout, write_batch(&mut ws, &session, &probe)).await {
                            Ok(Ok(())) => {}
                            _ => break false,
                        }
                        session.lock().upgrade = Upgrade::Probed;
                        // A waiting GET answers NOOP so the client can send `5`.
                        session.writer.notify_one();
                    }
                    Ok(Packet::Upgrade) => break true,
                    // Anything else aborts the upgrade, as Node.
                    _ => break false,
                }
            }
            _ = sleep_until(deadline) => break false,
        }
    };
    let switched = {
        let mut inner = session.lock();
        let switch = upgraded && inner.state == State::Open && inner.upgrade != Upgrade::Idle;
        if switch {
            inner.transport = TransportKind::Websocket;
        }
        inner.upgrade = Upgrade::Idle;
        switch
    };
    if switched {
        // The waiting GET (if any) answers NOOP; the polling task exits.
        session.wake_all();
        shared.handler.on_upgrade(&session);
        drive_websocket(shared, session, ws).await;
    } else {
        let _ = timeout(config.write_timeout, ws.close()).await;
    }
}

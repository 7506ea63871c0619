//! A session: its state, its outgoing queue and its counters. The tasks that drive sessions
//! are `driver`'s.
//!
//! The outgoing queue (owned here) is a `VecDeque` behind a mutex plus a
//! [`Notify`]: nothing is allocated for an idle session, and the queue's
//! buffer is given back (`VecDeque::new()`) every time it is drained.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::packet::Frame;
use crate::{CloseReason, Config, SendError, TransportKind};

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
    pub(crate) fn heartbeat(
        &mut self,
        now: Instant,
        config: &Config,
    ) -> Result<(Instant, bool), ()> {
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

    pub(crate) fn on_pong(&self, config: &Config) {
        {
            let mut inner = self.lock();
            inner.pong_deadline = None;
            // As Node: the next PING is one interval after the PONG.
            inner.next_ping = Instant::now() + config.ping_interval;
        }
        self.control.notify_one();
    }
}

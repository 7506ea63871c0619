//! The one task that drives a session.
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

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::time::{Instant, sleep_until, timeout};

use crate::packet::{self, Frame, Message, Packet};
use crate::session::{Session, State, Upgrade};
use crate::shared::Shared;
use crate::websocket::{WsConn, WsError, WsIn};
use crate::{CloseReason, Handler, TransportKind};

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

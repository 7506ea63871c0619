//! The way in: each client's events, queued and handled one after the other.
//!
//! The protocol layer hands over a client's events synchronously, in the order they arrive,
//! in the task that read them. [`event`] splits the packet, finds the route and queues the
//! event on the client's [`Queue`]; one task at a time drains that queue, so a client's events
//! never overtake each other. A client with nothing queued has no task at all.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use crate::client::ClientState;
use crate::context::{Body, Context, split_packet};
use crate::engine::sio;
use crate::exception::{Exception, Refusal, WsException};
use crate::filter::{BaseExceptionFilter, ExceptionFilter};
use crate::handler::{Reply, ReplyKind};
use crate::limits::Limits;
use crate::metrics::Outcome;
use crate::namespace::{NsRuntime, RouteEntry};
use crate::rails::Verdict;
use crate::{Client, DisconnectReason};

/// A client's pending work, in arrival order.
pub(crate) struct Queue {
    inner: Mutex<QueueInner>,
}

#[derive(Default)]
struct QueueInner {
    jobs: VecDeque<Job>,
    /// The size of the queued events' packets.
    bytes: usize,
    /// Whether a task is draining the queue now.
    running: bool,
    /// Whether the client's connection hooks were queued (see [`Queue::start`]).
    started: bool,
}

enum Job {
    Connected,
    Event {
        route: Arc<RouteEntry>,
        packet: sio::Str,
        binaries: Vec<Bytes>,
        ack_id: Option<i64>,
        start: usize,
        end: usize,
        args: usize,
    },
    /// The client left.
    Disconnected(DisconnectReason),
}

impl Job {
    /// What an event weighs against the pending-bytes limit; hooks weigh nothing and are never
    /// refused.
    fn size(&self) -> usize {
        match self {
            Job::Event {
                packet, binaries, ..
            } => packet.len() + binaries.iter().map(Bytes::len).sum::<usize>(),
            _ => 0,
        }
    }
}

/// Why an event was not queued.
enum Refused {
    Full,
}

impl Queue {
    /// Queues `job`; returns whether the caller must start a task to drain the queue.
    fn push(&self, job: Job, limits: &Limits) -> Result<bool, Refused> {
        let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let size = job.size();
        if size > 0
            && (q.jobs.len() >= limits.max_pending_events
                || q.bytes + size > limits.max_pending_bytes)
        {
            return Err(Refused::Full);
        }
        q.bytes += size;
        q.jobs.push_back(job);
        Ok(!std::mem::replace(&mut q.running, true))
    }

    /// A queue whose jobs wait until [`start`](Self::start): no task drains it before.
    pub(crate) fn paused() -> Self {
        Self {
            inner: Mutex::new(QueueInner {
                running: true,
                ..QueueInner::default()
            }),
        }
    }

    /// Puts `first` before everything queued so far; the caller then drains the queue.
    fn start(&self, first: Job) {
        let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        q.jobs.push_front(first);
        q.running = true;
        q.started = true;
    }

    /// Whether [`start`](Self::start) was called: the client's connection hooks were queued.
    fn was_started(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).started
    }

    /// Whether nothing is queued or running (a paused queue is not settled: its client's
    /// connection hooks are about to run).
    pub(crate) fn is_settled(&self) -> bool {
        let q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        !q.running && q.jobs.is_empty()
    }

    /// The next job, or `None` (and the queue marked idle) when there is none.
    fn pop(&self) -> Option<Job> {
        let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let job = q.jobs.pop_front();
        match &job {
            Some(j) => q.bytes -= j.size(),
            None => {
                q.running = false;
                // An idle client holds no queue: most clients are idle most of the time.
                q.jobs = VecDeque::new();
            }
        }
        job
    }
}

/// Queues `job` for `client`, starting the client's task if it has none.
fn enqueue(ns: &Arc<NsRuntime>, client: Client, job: Job) -> Result<(), Refused> {
    let event = matches!(job, Job::Event { .. });
    if client.state.queue.push(job, &ns.rails.limits)? {
        if event {
            drain_here(ns.clone(), client);
        } else {
            drain(ns.clone(), client);
        }
    }
    Ok(())
}

/// Starts the client's task: [`work`] in a task of its own.
fn drain(ns: Arc<NsRuntime>, client: Client) {
    tokio::spawn(async move { work(&ns, &client).await });
}

/// Runs the client's queue right here, in the task that read the event, as far as it goes
/// without waiting; only what has to wait gets a task of its own.
///
/// Most handlers (an acknowledgement, a local broadcast, a join) finish without waiting, so
/// this saves a task per event. Polling once with a waker that does nothing is sound because
/// a future that is not ready is polled again, with the task's own waker, as soon as it is
/// spawned: a pending future registers the waker of its latest poll.
fn drain_here(ns: Arc<NsRuntime>, client: Client) {
    let mut running = Box::pin(async move { work(&ns, &client).await });
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if running.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(running);
    }
}

/// Runs the client's jobs one after the other until its queue is empty.
async fn work(ns: &Arc<NsRuntime>, client: &Client) {
    while let Some(job) = client.state.queue.pop() {
        run(ns, client, job).await;
    }
    ns.server().queue_settled();
}

/// Starts a connected client's life: its connection hooks run first, before any event.
///
/// The client's queue was made paused when it was admitted, before CONNECT went out; events
/// that arrived since wait in it. The hooks are put first now, so a departure reported after
/// this call runs after them; the returned future drains the queue in the task the protocol
/// layer runs the hooks in, rather than in a task of its own.
pub(crate) fn connected(
    ns: Arc<NsRuntime>,
    socket: Arc<sio::Socket>,
    state: Arc<ClientState>,
) -> impl Future<Output = ()> + Send + 'static {
    state.queue.start(Job::Connected);
    async move { work(&ns, &Client::new(socket, state)).await }
}

/// The client left: its disconnection is queued behind its last event, so its hooks run after
/// every event it sent. A client that left before its connection hooks could start (its
/// connection closed while it was being admitted) is only counted out.
pub(crate) fn disconnected(
    ns: &Arc<NsRuntime>,
    socket: &Arc<sio::Socket>,
    state: Arc<ClientState>,
    reason: DisconnectReason,
) {
    if !state.mark_gone() {
        return;
    }
    state.forget();
    if !state.queue.was_started() {
        ns.rails.disconnected(state.user());
        return;
    }
    let client = Client::new(socket.clone(), state);
    // Disconnections are never refused.
    let _ = enqueue(ns, client, Job::Disconnected(reason));
}

/// One event of a client, in the order sent, in the task that read it: checked against the
/// limits, split, routed and queued.
pub(crate) fn event(
    ns: &Arc<NsRuntime>,
    socket: &Arc<sio::Socket>,
    state: Arc<ClientState>,
    event: sio::Event,
) {
    let client = Client::new(socket.clone(), state);
    if ns.server().is_closing() {
        tracing::debug!(client = client.id(), "server closing: event dropped");
        return;
    }
    let limits = &ns.rails.limits;
    let ack_id = event.id;
    match client.state.budget.check(limits) {
        Verdict::Allowed => {}
        Verdict::Refused => return refuse(ns, client, None, ack_id, Refusal::TooManyRequests),
        Verdict::Abusive => {
            tracing::warn!(
                client = client.id(),
                "too many refused events: disconnecting the client"
            );
            ns.metrics.abusive.increment(1);
            return client.disconnect();
        }
    }
    let p = match split_packet(&event.data) {
        Some(p) if p.depth > limits.max_json_depth => {
            return refuse(ns, client, None, ack_id, Refusal::TooDeep);
        }
        Some(p) => p,
        None => return refuse(ns, client, None, ack_id, Refusal::Malformed),
    };
    if p.event.len() > limits.max_event_name_len {
        return refuse(ns, client, None, ack_id, Refusal::NameTooLong);
    }
    let Some(route) = ns.routes.get(&*p.event) else {
        // As NestJS: an event without a handler is ignored.
        tracing::debug!(client = client.id(), event = &*p.event, "no handler");
        return;
    };
    let (start, end, args) = (p.start, p.end, p.args);
    let job = Job::Event {
        route: route.clone(),
        packet: event.data,
        binaries: event.attachments,
        ack_id,
        start,
        end,
        args,
    };
    if let Err(Refused::Full) = enqueue(ns, client.clone(), job) {
        tracing::debug!(
            client = client.id(),
            event = &*route.event,
            "too many pending events"
        );
        route.metrics.outcome(Outcome::RateLimited);
        refuse(ns, client, Some(route), ack_id, Refusal::TooManyRequests);
    }
}

/// Tells the client its event was refused before reaching any handler: through the exception
/// filter of the event's route, or of its gateway, as a handler's error would be.
fn refuse(
    ns: &NsRuntime,
    client: Client,
    route: Option<&RouteEntry>,
    ack_id: Option<i64>,
    refusal: Refusal,
) {
    ns.metrics.exceptions.increment(1);
    let cx = Context {
        server: ns.server().clone(),
        event: route.map_or_else(|| Arc::from(""), |r| r.event.clone()),
        client,
        body: Body::None,
        ack_id,
        binaries: Vec::new(),
    };
    let filter = route
        .and_then(|r| r.route.filter.as_ref())
        .or(ns.filter.as_ref());
    let exception = Exception::from(refusal);
    match filter {
        Some(filter) => filter.catch(&exception, &cx),
        None => BaseExceptionFilter.catch(&exception, &cx),
    }
}

async fn run(ns: &Arc<NsRuntime>, client: &Client, job: Job) {
    match job {
        Job::Connected => {
            ns.metrics.connects.increment(1);
            ns.metrics.connected.increment(1);
            tracing::info!(
                client = client.id(),
                namespace = client.namespace(),
                user = client.user(),
                "connected"
            );
            for hook in &ns.on_connection {
                let refused = match guarded(hook(client.clone())).await {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(panic) => panic.into(),
                };
                tracing::info!(client = client.id(), error = %refused, "refused by handle_connection");
                client.disconnect();
                return;
            }
        }
        Job::Event {
            route,
            packet,
            binaries,
            ack_id,
            start,
            end,
            args,
        } => {
            let body = match args {
                0 => Body::None,
                n => Body::Raw {
                    packet,
                    start,
                    end,
                    list: n > 1,
                },
            };
            let mut cx = Context {
                client: client.clone(),
                server: ns.server().clone(),
                event: route.event.clone(),
                body,
                ack_id,
                binaries,
            };
            handle(ns, &route, &mut cx).await;
        }
        Job::Disconnected(reason) => {
            ns.metrics.disconnected(reason);
            ns.rails.disconnected(client.user());
            tracing::info!(client = client.id(), namespace = client.namespace(), user = client.user(), %reason, "disconnected");
            for hook in &ns.on_disconnect {
                if let Err(panic) = guarded(hook(client.clone(), reason)).await {
                    tracing::error!(client = client.id(), error = %panic, "handle_disconnect failed");
                }
            }
        }
    }
}

/// Guards, pipes, handler, reply: one event, start to end.
async fn handle(ns: &NsRuntime, route: &RouteEntry, cx: &mut Context) {
    let started = std::time::Instant::now();
    let (reply, failed_at) = match guarded(prepare(route, cx)).await {
        Ok(Ok(fut)) => match guarded(fut).await {
            Ok(reply) => (reply, Outcome::Error),
            Err(panic) => (Reply::error(panic), Outcome::Error),
        },
        Ok(Err((e, stage))) => (Reply::error(e), stage),
        Err(panic) => (Reply::error(panic), Outcome::Error),
    };
    let outcome = match reply.0 {
        ReplyKind::Nothing => Outcome::Ok,
        ReplyKind::Ack(data) => {
            if let Some(id) = cx.ack_id {
                ns.metrics.acks.increment(1);
                sent(&cx.client, cx.client.ack(id, &*data));
            }
            Outcome::Ok
        }
        ReplyKind::Emit(event, data) => {
            ns.metrics.emits.increment(1);
            sent(&cx.client, cx.client.emit(&event, &*data));
            Outcome::Ok
        }
        ReplyKind::Error(e) => {
            if e.is_client_error() {
                tracing::debug!(client = cx.client.id(), event = cx.event(), error = %e, "refused");
            } else {
                tracing::error!(client = cx.client.id(), event = cx.event(), error = %e, "handler failed");
            }
            ns.metrics.exceptions.increment(1);
            match &route.route.filter {
                Some(filter) => filter.catch(&e, cx),
                None => BaseExceptionFilter.catch(&e, cx),
            }
            failed_at
        }
    };
    route.metrics.outcome(outcome);
    route.metrics.duration.record(started.elapsed());
}

/// A handler, guard, pipe or hook that panicked. The client is told `Internal server error`
/// (as for any error not meant for it); the log gets the panic's message. The client's queue
/// goes on: its next event is handled as usual.
#[derive(Debug, thiserror::Error)]
#[error("panicked: {0}")]
struct Panicked(String);

impl From<Box<dyn std::any::Any + Send>> for Panicked {
    fn from(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Self(message)
    }
}

/// `future`, with a panic inside it caught: user code runs in the task that read the client's
/// events, which a panic must not end.
async fn guarded<T>(future: impl std::future::Future<Output = T>) -> Result<T, Panicked> {
    use futures_util::FutureExt as _;
    std::panic::AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(Panicked::from)
}

/// Checks that a reply went out. A client whose outgoing queue is full has stopped reading:
/// the protocol layer cuts it off rather than let it miss replies silently.
fn sent(client: &Client, result: Result<(), crate::EmitError>) {
    match result {
        // The protocol layer cut the client off already; its disconnection is counted there.
        Err(crate::EmitError::Full) => {
            tracing::debug!(client = client.id(), "reply dropped: outgoing queue full");
        }
        Err(crate::EmitError::Serialize(e)) => {
            tracing::error!(client = client.id(), error = %e, "reply could not be serialised");
        }
        Err(e @ crate::EmitError::Reserved(_)) => {
            tracing::error!(client = client.id(), error = %e, "reply not sent");
        }
        Err(crate::EmitError::Closed) | Ok(()) => {}
    }
}

/// Runs the guards and pipes, extracts the arguments and starts the handler; a failure says at
/// which stage it happened.
///
/// Guards and pipes may await (a permission lookup): the client's queue waits with them, so its
/// next event starts only once this one is handled.
async fn prepare(
    route: &RouteEntry,
    cx: &mut Context,
) -> Result<crate::handler::BoxFuture<Reply>, (crate::Exception, Outcome)> {
    for guard in &route.route.guards {
        match guard.can_activate_boxed(cx).await {
            Ok(true) => {}
            Ok(false) => return Err((WsException::forbidden().into(), Outcome::Forbidden)),
            Err(e) => return Err((e, Outcome::Forbidden)),
        }
    }
    if !route.route.pipes.is_empty() {
        let mut body: Option<Value> = cx.body();
        for pipe in &route.route.pipes {
            body = pipe
                .transform_boxed(body, cx)
                .await
                .map_err(|e| (e, Outcome::Invalid))?;
        }
        cx.set_body(body);
    }
    route
        .route
        .handler
        .call(cx)
        .map_err(|e| (e, Outcome::Invalid))
}

//! [`StreamsAdapter`]: the [`Adapter`] of iogate-socketio over one Redis stream, in the protocol
//! of `@socket.io/redis-streams-adapter` 0.3, so that a client whose connection broke on one
//! node is recovered on any other, iogate's or Node's.
//!
//! - **Ordered by the stream.** Every broadcast, join, leave and disconnect is an entry of the
//!   stream (`XADD ... MAXLEN ~ <len> *`). Broadcasts are delivered by every node, this one
//!   included, as it reads them (`XREAD`), with the entry id as their recovery offset: every
//!   node delivers and logs them in the same order, so that a client's offset means the same
//!   on all of them. This node's joins, leaves and disconnects were done when they were made;
//!   the other nodes do them as they read them.
//! - **One writer.** Entries go to Redis from one task, in the order the operations were
//!   made, several in one round trip.
//! - **Sessions** of connection state recovery are `sio:session:<pid>`, with the recovery
//!   window as their TTL, taken back with `GETDEL` (see
//!   [`SharedSessions`](iogate_socketio::SharedSessions)). A node replays what a client missed
//!   from its own log of the stream; one started after the client's offset reads what it lacks
//!   back with `XRANGE`.
//! - **What is not kept** (fetching sockets, broadcasts with acknowledgements, server-side
//!   events) goes over pub/sub: `<prefix>#<nsp>#` to every node, `<prefix>#<nsp>#<uid>#` to
//!   one; the nodes are counted with `PUBSUB NUMSUB` of the first.
//! - **When Redis goes away**, a broadcast is delivered on its own node at once, without an
//!   offset; operations for the other nodes are lost, as with the pub/sub adapter. The reader
//!   resumes from the last entry it read, so entries written meanwhile by nodes that could
//!   still reach Redis are delivered late rather than lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use iogate_socketio::{
    Adapter, AdapterError, AdapterFuture, BoxFuture, BroadcastOptions, EventData, Local,
    MissedEvent, SessionRecord, SharedSessions, SocketInfo, done,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::driver::{ClusterError, Driver, Message, QUEUE, Redis, Served, redacted, serve};
use crate::peers::Peers;
use crate::streams_wire::{self as sw, Entry, Op};

/// How long one `XREAD` waits for entries: also how long a closed adapter's reader may live on.
const BLOCK: Duration = Duration::from_secs(2);
/// The most entries one `XREAD` returns (the Node adapter's `readCount`).
const READ_COUNT: usize = 100;
/// The most entries the writer sends in one round trip.
const WRITE_BATCH: usize = 256;

/// The Redis streams adapter of one node. Cheap to clone; clones are the same node.
#[derive(Clone)]
pub struct StreamsAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StreamsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsAdapter")
            .field("uid", &self.inner.peers.uid)
            .field("stream", &self.inner.config.stream_name)
            .finish_non_exhaustive()
    }
}

struct Inner {
    driver: Driver,
    config: Redis,
    /// This node, once a namespace is served.
    local: Arc<OnceLock<Local>>,
    /// The entries waiting for the writer.
    queue: mpsc::Sender<Job>,
    /// The reading side: the reader task, once started.
    reader: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    /// The namespaces served, with the task handling their pub/sub messages.
    namespaces: Mutex<HashMap<String, Served>>,
    /// This node's id, and its requests to the other nodes.
    peers: Arc<Peers>,
    sessions: Arc<Sessions>,
}

/// An entry for the writer, and the broadcast to deliver here if it cannot be written.
struct Job {
    fields: Vec<(&'static str, String)>,
    fallback: Option<(String, EventData, BroadcastOptions)>,
}

/// Delivers `job`'s broadcast on this node only, without an offset.
fn fall_back(local: &OnceLock<Local>, job: Job) {
    if let (Some(local), Some((ns, event, opts))) = (local.get(), job.fallback) {
        local.deliver(&ns, &event, &opts, None);
    }
}

impl StreamsAdapter {
    /// Connects to Redis, retrying for `config`'s startup timeout.
    pub async fn connect(config: Redis) -> Result<Self, ClusterError> {
        let driver = Driver::connect(&config).await?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let local: Arc<OnceLock<Local>> = Arc::default();
        tokio::spawn(write(
            driver.clone(),
            config.stream_name.clone(),
            config.stream_max_len,
            local.clone(),
            rx,
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                sessions: Arc::new(Sessions {
                    driver: driver.clone(),
                    stream: config.stream_name.clone(),
                    max_len: config.stream_max_len,
                }),
                peers: Arc::new(Peers::new(
                    driver.clone(),
                    &config.prefix,
                    config.request_timeout,
                )),
                driver,
                config,
                local,
                queue,
                reader: Mutex::default(),
                closed: AtomicBool::new(false),
                namespaces: Mutex::default(),
            }),
        })
    }

    /// Whether Redis answers now; shared, so it can be kept and read later.
    pub fn health(&self) -> Arc<crate::Health> {
        self.inner.driver.health().clone()
    }

    /// This node's uid in the cluster's entries and messages.
    pub fn uid(&self) -> &str {
        &self.inner.peers.uid
    }

    /// Queues `entry` for the writer. While Redis is down, or the writer cannot keep up, the
    /// broadcast is delivered here only, and the other nodes miss it.
    fn append(
        &self,
        entry: Entry,
        fallback: Option<(String, EventData, BroadcastOptions)>,
    ) -> AdapterFuture {
        let job = Job {
            fields: entry.fields(),
            fallback,
        };
        if !self.inner.driver.health().is_up() {
            fall_back(&self.inner.local, job);
            return done(Err(AdapterError::Unavailable(
                "Redis is unreachable".into(),
            )));
        }
        match self.inner.queue.try_send(job) {
            Ok(()) => done(Ok(())),
            Err(e) => {
                tracing::warn!("cluster entry not written: the writer to Redis cannot keep up");
                fall_back(&self.inner.local, e.into_inner());
                done(Err(AdapterError::Unavailable(
                    "the writer to Redis cannot keep up".into(),
                )))
            }
        }
    }

    /// Starts reading the stream, from its current end, once.
    async fn start_reader(&self) -> Result<(), ClusterError> {
        if self.lock_reader().is_some() {
            return Ok(());
        }
        let config = &self.inner.config;
        let failed = |e: redis::RedisError| ClusterError::Unreachable {
            url: redacted(&config.url),
            seconds: 0,
            reason: e.to_string(),
        };
        let client = redis::Client::open(config.resp3_url()).map_err(failed)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.command_timeout))
            .set_response_timeout(Some(BLOCK + config.command_timeout))
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(1);
        let mut conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(failed)?;
        // From the id of the last entry, not `$`: what this node writes from now on must come
        // back to it even if its first `XREAD` starts after.
        let last: Value = redis::cmd("XREVRANGE")
            .arg(&config.stream_name)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        let from = entries(last)
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
        if let Some(local) = self.inner.local.get() {
            local.read_to(&from);
        }
        let mut reader = self.lock_reader();
        if reader.is_none() {
            *reader = Some(tokio::spawn(read(
                Arc::downgrade(&self.inner),
                conn,
                config.stream_name.clone(),
                from,
            )));
        }
        Ok(())
    }

    fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.inner.reader.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn lock_namespaces(&self) -> std::sync::MutexGuard<'_, HashMap<String, Served>> {
        self.namespaces.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out one entry of the stream.
    fn on_entry(&self, id: &str, fields: &[(String, String)]) {
        let Some(entry) = Entry::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        else {
            return;
        };
        let (Some(local), true) = (self.local.get(), self.serves(&entry.nsp)) else {
            return;
        };
        let mine = entry.uid == self.peers.uid;
        match sw::read_op(&entry) {
            Ok(Op::Broadcast { event, opts }) if !opts.local => {
                local.deliver(&entry.nsp, &event, &opts, Some(id));
            }
            Ok(Op::Rooms { join, opts, rooms }) if !mine => {
                if join {
                    local.add_sockets(&entry.nsp, &opts, &rooms);
                } else {
                    local.del_sockets(&entry.nsp, &opts, &rooms);
                }
            }
            Ok(Op::Disconnect { opts, close }) if !mine => {
                local.disconnect(&entry.nsp, &opts, close);
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, id, "ignoring a stream entry"),
        }
    }

    fn serves(&self, ns: &str) -> bool {
        self.lock_namespaces().contains_key(ns)
    }

    /// Handles one pub/sub message of namespace `ns`: only requests and answers go there.
    fn on_message(&self, ns: &str, local: &Local, payload: &[u8]) {
        if let Some(msg) = self.peers.on_payload(ns, local, payload) {
            tracing::debug!(kind = msg.kind, "ignoring a cluster message");
        }
    }
}

/// Writes the queued entries, in order, several per round trip; a batch that cannot be written
/// is delivered here only. Ends with the adapter.
async fn write(
    driver: Driver,
    stream: String,
    max_len: usize,
    local: Arc<OnceLock<Local>>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let fields: Vec<_> = batch
            .iter_mut()
            .map(|j| std::mem::take(&mut j.fields))
            .collect();
        if let Err(e) = driver.xadd_all(&stream, max_len, &fields).await {
            tracing::debug!(error = %e, entries = batch.len(), "cluster entries not written");
            for job in batch.drain(..) {
                fall_back(&local, job);
            }
        }
        batch.clear();
    }
}

/// Reads the stream from entry `from` on, and carries out each entry, until the adapter is
/// closed or gone. After an outage it goes on from the last entry it read.
async fn read(inner: Weak<Inner>, mut conn: ConnectionManager, stream: String, mut from: String) {
    loop {
        let reply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&stream)
            .arg(&from)
            .query_async::<Value>(&mut conn)
            .await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.closed.load(Ordering::Relaxed) {
            return;
        }
        match reply {
            Ok(reply) => {
                let read = entries(reply);
                for (id, fields) in &read {
                    inner.on_entry(id, fields);
                }
                if let Some((last, _)) = read.into_iter().next_back() {
                    if let Some(local) = inner.local.get() {
                        local.read_to(&last);
                    }
                    from = last;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "reading the cluster's stream failed; retrying");
                drop(inner);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The entries of an `XREAD` (one stream) or `XRANGE`/`XREVRANGE` reply: ids and fields.
fn entries(reply: Value) -> Vec<(String, Vec<(String, String)>)> {
    fn entry(v: Value) -> Option<(String, Vec<(String, String)>)> {
        let Value::Array(mut parts) = v else {
            return None;
        };
        if parts.len() != 2 {
            return None;
        }
        let fields = parts.pop()?;
        let id = String::from_redis_value(parts.pop()?).ok()?;
        let fields = match fields {
            Value::Array(items) => items,
            Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => return None,
        };
        let mut items = fields.into_iter();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            out.push((
                String::from_redis_value(k).ok()?,
                String::from_redis_value(v).ok()?,
            ));
        }
        Some((id, out))
    }
    let list = match reply {
        // XREAD, RESP3: {stream: [entries]}.
        Value::Map(mut streams) if !streams.is_empty() => streams.swap_remove(0).1,
        // XREAD, RESP2: [[stream, [entries]]]; XRANGE: [entries].
        Value::Array(items) => match items.first() {
            Some(Value::Array(first))
                if first.len() == 2
                    && matches!(first[1], Value::Array(ref e) if e.first().is_some_and(|x| matches!(x, Value::Array(_)))) =>
            {
                let Some(Value::Array(mut pair)) = items.into_iter().next() else {
                    return Vec::new();
                };
                pair.pop().unwrap_or(Value::Nil)
            }
            _ => Value::Array(items),
        },
        _ => return Vec::new(),
    };
    match list {
        Value::Array(items) => items.into_iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

/// Recovery's sessions in Redis, as the Node adapter keeps them, and the stream they replay.
struct Sessions {
    driver: Driver,
    stream: String,
    /// The most entries read back for one client (about what the stream keeps).
    max_len: usize,
}

impl SharedSessions for Sessions {
    fn missed(&self, offset: &str) -> BoxFuture<'static, Option<Vec<MissedEvent>>> {
        let (driver, stream, offset) =
            (self.driver.clone(), self.stream.clone(), offset.to_owned());
        // `MAXLEN ~` keeps a little more than asked: room for that, and for the offset itself.
        let count = self.max_len + self.max_len / 10 + 1;
        Box::pin(async move {
            if !sw::is_offset(&offset) {
                return None;
            }
            let reply = driver.xrange(&stream, &offset, count).await.ok()?;
            let mut read = entries(reply).into_iter();
            // The offset must still be there: else what came right after it is gone too.
            read.next().filter(|(id, _)| *id == offset)?;
            let missed = read
                .filter_map(|(id, fields)| {
                    let entry =
                        Entry::from_fields(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
                    match sw::read_op(&entry) {
                        Ok(Op::Broadcast { event, opts }) if !opts.local => Some(MissedEvent {
                            offset: id,
                            ns: entry.nsp,
                            event,
                            opts,
                        }),
                        _ => None,
                    }
                })
                .collect();
            Some(missed)
        })
    }

    fn forget(&self, pid: &str) {
        let driver = self.driver.clone();
        let key = sw::session_key(pid);
        tokio::spawn(async move {
            if let Err(e) = driver.del(key).await {
                tracing::debug!(error = %e, "a session over the bound not forgotten: it expires");
            }
        });
    }

    fn persist(&self, session: SessionRecord, ttl: Duration) {
        let driver = self.driver.clone();
        let value = match sw::write_session(&session) {
            Ok(value) => value,
            Err(e) => {
                tracing::debug!(error = %e, "a session that cannot be kept");
                return;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = driver
                .set_px(sw::session_key(&session.pid), value, ttl)
                .await
            {
                tracing::debug!(error = %e, "a session not kept: it cannot be recovered");
            }
        });
    }

    fn take(&self, pid: &str) -> BoxFuture<'static, Option<SessionRecord>> {
        let driver = self.driver.clone();
        let key = sw::session_key(pid);
        Box::pin(async move {
            let text = driver.getdel(key).await.ok()??;
            sw::read_session(&text)
                .inspect_err(|e| tracing::debug!(error = %e, "a session that cannot be read"))
                .ok()
        })
    }
}

impl Adapter for StreamsAdapter {
    fn init(&self, ns: &str, local: Local) -> AdapterFuture {
        let _ = self.inner.local.set(local.clone());
        let channels = self.inner.peers.own_channels(ns);
        let (tx, rx) = mpsc::channel::<Message>(QUEUE);
        let name = ns.to_owned();
        let task = tokio::spawn(serve(Arc::downgrade(&self.inner), rx, move |inner, msg| {
            inner.on_message(&name, &local, &msg.payload);
        }));
        let served = Served {
            channels: channels.clone(),
            patterns: Vec::new(),
            tasks: vec![task],
        };
        if let Some(previous) = self.inner.lock_namespaces().insert(ns.to_owned(), served) {
            previous.stop();
        }
        let (this, subscribing) = (
            self.clone(),
            self.inner.driver.subscribing(channels, vec![], tx),
        );
        Box::pin(async move {
            this.start_reader()
                .await
                .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
            subscribing.await
        })
    }

    fn broadcast(&self, ns: &str, event: &EventData, opts: &BroadcastOptions) -> AdapterFuture {
        match sw::broadcast(self.uid(), ns, event, opts) {
            Ok(entry) => self.append(entry, Some((ns.to_owned(), event.clone(), opts.clone()))),
            Err(e) => done(Err(e.into())),
        }
    }

    fn add_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.append(sw::rooms(self.uid(), ns, true, opts, rooms), None)
    }

    fn del_sockets(&self, ns: &str, opts: &BroadcastOptions, rooms: &[String]) -> AdapterFuture {
        self.append(sw::rooms(self.uid(), ns, false, opts, rooms), None)
    }

    fn disconnect_sockets(&self, ns: &str, opts: &BroadcastOptions, close: bool) -> AdapterFuture {
        self.append(sw::disconnect(self.uid(), ns, opts, close), None)
    }

    fn fetch_sockets(&self, ns: &str, opts: &BroadcastOptions) -> AdapterFuture<Vec<SocketInfo>> {
        self.inner.peers.fetch_sockets(ns, opts)
    }

    fn all_rooms(&self, ns: &str) -> AdapterFuture<Vec<String>> {
        self.inner.peers.all_rooms(ns)
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        self.inner.closed.store(true, Ordering::Relaxed);
        if let Some(reader) = self.lock_reader().take() {
            reader.abort();
        }
        let inner = &self.inner;
        inner
            .driver
            .closing(inner.lock_namespaces().drain().map(|(_, s)| s))
    }

    fn server_side_emit(
        &self,
        ns: &str,
        args: &[serde_json::Value],
        ack: Option<Duration>,
    ) -> AdapterFuture<Vec<serde_json::Value>> {
        self.inner.peers.server_side_emit(ns, args, ack)
    }

    fn shared_sessions(&self) -> Option<Arc<dyn SharedSessions>> {
        Some(self.inner.sessions.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn entry(id: &str) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(vec![bulk("uid"), bulk("u"), bulk("nsp"), bulk("/")]),
        ])
    }

    #[test]
    fn entries_are_read_from_every_reply_shape() {
        let want = vec![
            (
                "1-0".to_owned(),
                vec![("uid".into(), "u".into()), ("nsp".into(), "/".into())],
            ),
            (
                "1-1".to_owned(),
                vec![("uid".into(), "u".into()), ("nsp".into(), "/".into())],
            ),
        ];
        let list = || Value::Array(vec![entry("1-0"), entry("1-1")]);
        let resp3 = Value::Map(vec![(bulk("socket.io"), list())]);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("socket.io"), list()])]);
        assert_eq!(entries(resp3), want);
        assert_eq!(entries(resp2), want);
        assert_eq!(entries(list()), want, "XRANGE");
        assert!(entries(Value::Nil).is_empty(), "XREAD timed out");
        assert!(entries(Value::Array(Vec::new())).is_empty(), "empty stream");
    }
}

//! The connection to Redis, made to survive outages: one reconnecting connection (RESP3, so that
//! it both publishes and receives pushes) that subscribes again by itself, operations that fail
//! fast while Redis is down, and a health flag fed by a ping every second.
//!
//! With [`Protocol::Sharded`] the connection is to a Redis Cluster (its seed nodes in the URL,
//! comma-separated): channels are sharded (`SSUBSCRIBE`, `SPUBLISH`, `PUBSUB SHARDNUMSUB`), each
//! on the node that owns its slot, and the client follows slot moves and failovers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use iogate_socketio::{AdapterError, AdapterFuture, BoxFuture};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, PushInfo, PushKind, RedisFuture, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Which of socket.io's Redis adapters the nodes speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// `@socket.io/redis-adapter` 8.x: pub/sub, no recovery across nodes
    /// ([`RedisAdapter`](crate::RedisAdapter)).
    #[default]
    PubSub,
    /// `@socket.io/redis-streams-adapter` 0.3: one stream, and connection state recovery on
    /// any node ([`StreamsAdapter`](crate::StreamsAdapter)).
    Streams,
    /// `@socket.io/redis-adapter` 8.x's `createShardedAdapter`, over a Redis Cluster's sharded
    /// pub/sub ([`ShardedAdapter`](crate::ShardedAdapter)).
    Sharded,
}

/// How to reach Redis, and how hard to try.
#[derive(Debug, Clone)]
#[must_use]
pub struct Redis {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) startup_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) stream_name: String,
    pub(crate) stream_max_len: usize,
    pub(crate) protocol: Protocol,
}

impl Redis {
    /// Redis at `url` (`redis://[:password@]host:port/db`; RESP3 is required and added when
    /// missing). For a Redis Cluster ([`Protocol::Sharded`]), `url` may name several seed
    /// nodes, comma-separated: `redis://10.0.0.1:7000,redis://10.0.0.2:7000`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "socket.io".into(),
            startup_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(2),
            stream_name: "socket.io".into(),
            stream_max_len: 10_000,
            protocol: Protocol::PubSub,
        }
    }

    /// Which adapter's protocol to speak (default [`Protocol::PubSub`]); see [`connect`](crate::connect).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The protocol chosen.
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// The stream of the streams adapter (default `socket.io`, the Node adapter's
    /// `streamName`): nodes of one cluster share it.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// About how many entries the streams adapter's stream keeps (`XADD ... MAXLEN ~`; default
    /// 10,000, the Node adapter's `maxLen`): a client can be recovered on another node only
    /// while what it missed is still in it.
    pub fn stream_max_len(mut self, len: usize) -> Self {
        self.stream_max_len = len;
        self
    }

    /// The prefix of the pub/sub channels (default `socket.io`, the Node adapter's `key`):
    /// nodes of one cluster share it, clusters sharing one Redis need different ones.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to keep trying to reach Redis at start before giving up (default 30 s).
    pub fn startup_timeout(mut self, d: Duration) -> Self {
        self.startup_timeout = d;
        self
    }

    /// How long to wait for the other nodes' answers to a request (`fetch_sockets`,
    /// `all_rooms`; default 5 s, the Node adapter's `requestsTimeout`).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// How long one Redis command may take before Redis is taken for down (default 2 s).
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = d;
        self
    }

    /// The channel prefix.
    pub fn get_prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL with RESP3 asked for (pub/sub messages arrive as RESP3 pushes).
    pub(crate) fn resp3_url(&self) -> String {
        resp3(&self.url)
    }

    /// The seed nodes of a Redis Cluster: each URL of the comma-separated list, with RESP3.
    pub(crate) fn seeds(&self) -> Vec<String> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(resp3)
            .collect()
    }
}

fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// Why the cluster could not be joined at start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The URL is not a Redis URL (its password, if any, is masked).
    #[error("invalid Redis URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis did not answer within the startup timeout (the URL's password is masked).
    #[error("cannot reach Redis at {url} after {seconds} s: {reason}")]
    Unreachable {
        /// The URL given.
        url: String,
        /// How long it was tried.
        seconds: u64,
        /// The last error.
        reason: String,
    },
    /// Subscribing a namespace's channels failed.
    #[error("cannot subscribe the namespace {namespace}: {reason}")]
    Subscribe {
        /// The namespace.
        namespace: String,
        /// The error.
        reason: String,
    },
}

/// Whether Redis answers now; shared by the driver, its monitor and whoever asks.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    /// Whether Redis answered the last command or ping.
    pub fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// Records the state; logs only when it changes, so an outage is logged once. True when
    /// this call ended an outage.
    fn set(&self, up: bool, reason: &dyn std::fmt::Display) -> bool {
        let was_down = self.down.swap(!up, Ordering::Relaxed);
        match (was_down, up) {
            (false, false) => {
                tracing::warn!(
                    error = %reason,
                    "Redis unreachable: each node now serves only its own clients; cross-node delivery is suspended"
                );
                false
            }
            (true, true) => {
                tracing::info!("Redis reachable again: cross-node delivery resumed");
                true
            }
            _ => false,
        }
    }
}

/// How many received messages of one namespace may wait to be handled before new ones are
/// dropped (with a warning): enough for bursts, bounded so a stuck node does not grow forever.
pub(crate) const QUEUE: usize = 4096;

/// A failed Redis operation.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum DriverError {
    #[error("Redis is unreachable")]
    Down,
    #[error("Redis did not answer in time")]
    Timeout,
    #[error("{0}")]
    Redis(String),
}

/// A pub/sub message: the channel it was published on, and its payload.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

/// Hands the messages of `rx` in order to `handle`, with what `owner` points to, until that is
/// gone: the task of one namespace of an adapter.
pub(crate) async fn serve<T>(
    owner: Weak<T>,
    mut rx: mpsc::Receiver<Message>,
    mut handle: impl FnMut(&T, Message),
) {
    while let Some(msg) = rx.recv().await {
        let Some(owner) = owner.upgrade() else {
            return;
        };
        handle(&owner, msg);
    }
}

/// A namespace an adapter serves: what it subscribed to, and the tasks handling its messages.
pub(crate) struct Served {
    pub(crate) channels: Vec<String>,
    pub(crate) patterns: Vec<String>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

impl Served {
    /// Stops the tasks handling its messages.
    pub(crate) fn stop(&self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }

    /// Stops its tasks and unsubscribes what it subscribed to; a failure is only logged.
    pub(crate) async fn close(self, driver: &Driver) {
        self.stop();
        if let Err(e) = driver.unsubscribe(&self.channels, &self.patterns).await {
            tracing::debug!(error = %e, "unsubscribing at close failed");
        }
    }
}

/// Where messages go: by channel for SUBSCRIBE, by pattern for PSUBSCRIBE.
type Routes = Arc<RwLock<HashMap<String, mpsc::Sender<Message>>>>;

/// What this node subscribed to, to subscribe again after an outage.
#[derive(Debug, Default)]
struct Subscriptions {
    channels: Vec<String>,
    patterns: Vec<String>,
}

/// The connection: to one Redis, or to a Redis Cluster (sharded pub/sub).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

struct Inner {
    conn: Connection,
    /// In a Redis Cluster, which master serves which slots, as last seen.
    masters: Mutex<Option<String>>,
    routes: Routes,
    subscriptions: Mutex<Subscriptions>,
    health: Arc<Health>,
    timeout: Duration,
}

/// The Redis connection of one node; clones share it.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

/// A connection to Redis, or to a Redis Cluster with [`Protocol::Sharded`], as [`connection`]
/// makes it for a part of a node other than its adapter (presence): it reconnects by itself,
/// and, in a cluster, follows slot moves and failovers.
#[derive(Clone)]
pub struct Connection(Conn);

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A connection to the Redis (or Redis Cluster) of `config`, without pub/sub, retrying until
/// its startup timeout; each command bounded by its command timeout.
pub async fn connection(config: &Redis) -> Result<Connection, ClusterError> {
    open(
        config,
        None::<fn(PushInfo) -> Result<(), std::convert::Infallible>>,
    )
    .await
}

/// Opens the connection of `config`, with `push` receiving its pub/sub messages, retrying
/// until its startup timeout.
async fn open<P>(config: &Redis, push: Option<P>) -> Result<Connection, ClusterError>
where
    P: Fn(PushInfo) -> Result<(), std::convert::Infallible> + Clone + Send + Sync + 'static,
{
    let invalid = |e: redis::RedisError| ClusterError::InvalidUrl {
        url: redacted(&config.url),
        reason: e.to_string(),
    };
    let subscribing = push.is_some();
    let sharded = config.protocol == Protocol::Sharded;
    let single = if sharded {
        None
    } else {
        let client = redis::Client::open(config.resp3_url()).map_err(invalid)?;
        let mut manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.command_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_max_delay(Duration::from_secs(2))
            // Few quick retries per attempt: the startup loop below and the monitor retry on.
            .set_number_of_retries(1);
        if let Some(push) = push.clone() {
            // Subscriptions confirmed before a reconnection come back with it; those attempted
            // while Redis was down are made again by the monitor (see `resubscribe`).
            manager = manager.set_push_sender(push).set_automatic_resubscription();
        }
        Some((client, manager))
    };
    let cluster = if sharded {
        // The client tracks its subscriptions and makes them again on the node that owns each
        // channel's slot after a reconnection, a slot move or a failover.
        let mut builder = ClusterClient::builder(config.seeds())
            .use_protocol(redis::ProtocolVersion::RESP3)
            .connection_timeout(config.command_timeout)
            .response_timeout(config.command_timeout)
            .retries(2);
        if let Some(push) = push {
            builder = builder.push_sender(push);
        }
        Some(builder.build().map_err(invalid)?)
    } else {
        None
    };
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let attempt = async {
            let mut conn = Connection(match (&single, &cluster) {
                (Some((client, manager)), _) => Conn::Single(
                    ConnectionManager::new_with_config(client.clone(), manager.clone()).await?,
                ),
                (None, Some(client)) => Conn::Cluster(client.get_async_connection().await?),
                (None, None) => unreachable!("one of the two is made above"),
            });
            // The manager may connect lazily: a PING proves Redis is there.
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match attempt.await {
            Ok(conn) => return Ok(conn),
            Err(e) if started.elapsed() + delay < config.startup_timeout => {
                if subscribing {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Redis not reachable yet");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                return Err(ClusterError::Unreachable {
                    url: redacted(&config.url),
                    seconds: started.elapsed().as_secs(),
                    reason: e.to_string(),
                });
            }
        }
    }
}

impl Driver {
    /// Connects, retrying until `config.startup_timeout`; then pings every second.
    pub(crate) async fn connect(config: &Redis) -> Result<Self, ClusterError> {
        let routes: Routes = Arc::default();
        let push = {
            let routes = routes.clone();
            move |msg: PushInfo| {
                route(&routes, msg);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let conn = open(config, Some(push)).await?;
        let inner = Arc::new(Inner {
            conn,
            masters: Mutex::default(),
            routes,
            subscriptions: Mutex::default(),
            health: Arc::default(),
            timeout: config.command_timeout,
        });
        tokio::spawn(monitor(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// The health flag.
    pub(crate) fn health(&self) -> &Arc<Health> {
        &self.inner.health
    }

    async fn timed<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, DriverError> {
        self.inner.timed(op).await
    }

    /// Fails at once while Redis is known to be down: callers must not wait for it.
    fn ensure_up(&self) -> Result<(), DriverError> {
        if self.inner.health.is_up() {
            Ok(())
        } else {
            Err(DriverError::Down)
        }
    }

    /// Publishes `payload` on `channel`.
    pub(crate) async fn publish(
        &self,
        channel: String,
        payload: impl Into<Vec<u8>>,
    ) -> Result<(), DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let command = match conn.0 {
            Conn::Single(_) => "PUBLISH",
            Conn::Cluster(_) => "SPUBLISH",
        };
        let cmd = redis::cmd(command)
            .arg(channel)
            .arg(payload.into())
            .to_owned();
        self.timed(cmd.query_async::<Value>(&mut conn))
            .await
            .map(drop)
    }

    /// [`publish`](Self::publish) as an adapter's operation.
    pub(crate) fn publishing(&self, channel: String, payload: impl Into<Vec<u8>>) -> AdapterFuture {
        let (driver, payload) = (self.clone(), payload.into());
        Box::pin(async move { driver.publish(channel, payload).await.map_err(unavailable) })
    }

    /// [`subscribe`](Self::subscribe) as an adapter's operation. On failure the namespace
    /// stays registered: it is subscribed when Redis is back.
    pub(crate) fn subscribing(
        &self,
        channels: Vec<String>,
        patterns: Vec<String>,
        tx: mpsc::Sender<Message>,
    ) -> AdapterFuture {
        let driver = self.clone();
        Box::pin(async move {
            driver
                .subscribe(&channels, &patterns, tx)
                .await
                .map_err(unavailable)
        })
    }

    /// [`Served::close`] of each namespace of `served` (taken now), as an adapter's closing.
    pub(crate) fn closing(
        &self,
        served: impl IntoIterator<Item = Served>,
    ) -> BoxFuture<'static, ()> {
        let (driver, served): (_, Vec<Served>) = (self.clone(), served.into_iter().collect());
        Box::pin(async move {
            for served in served {
                served.close(&driver).await;
            }
        })
    }

    /// Routes the messages of `channels` and `patterns` to `tx`, and subscribes to them. The
    /// routes and subscriptions stay even when subscribing fails now: the monitor subscribes
    /// again when Redis is back.
    pub(crate) async fn subscribe(
        &self,
        channels: &[String],
        patterns: &[String],
        tx: mpsc::Sender<Message>,
    ) -> Result<(), DriverError> {
        {
            let mut routes = self.inner.routes.write().unwrap_or_else(|e| e.into_inner());
            for key in channels.iter().chain(patterns) {
                routes.insert(key.clone(), tx.clone());
            }
            let mut subs = self.inner.lock_subscriptions();
            subs.channels.extend(channels.iter().cloned());
            subs.patterns.extend(patterns.iter().cloned());
        }
        self.ensure_up()?;
        self.inner.subscribe(channels, patterns).await
    }

    /// Stops routing and subscribing `channels` and `patterns`.
    pub(crate) async fn unsubscribe(
        &self,
        channels: &[String],
        patterns: &[String],
    ) -> Result<(), DriverError> {
        {
            let mut routes = self.inner.routes.write().unwrap_or_else(|e| e.into_inner());
            for key in channels.iter().chain(patterns) {
                routes.remove(key);
            }
            let mut subs = self.inner.lock_subscriptions();
            subs.channels.retain(|c| !channels.contains(c));
            subs.patterns.retain(|p| !patterns.contains(p));
        }
        self.ensure_up()?;
        match self.inner.conn.0.clone() {
            Conn::Single(mut conn) => {
                if !channels.is_empty() {
                    self.timed(conn.unsubscribe(channels)).await?;
                }
                if !patterns.is_empty() {
                    self.timed(conn.punsubscribe(patterns)).await?;
                }
            }
            // One channel per command: a command's channels must share a slot.
            Conn::Cluster(mut conn) => {
                for channel in channels {
                    self.timed(conn.sunsubscribe(channel)).await?;
                }
            }
        }
        Ok(())
    }

    /// Appends `entries` (their fields) to `stream`, trimmed to about `max_len`, in one round
    /// trip and in order.
    pub(crate) async fn xadd_all(
        &self,
        stream: &str,
        max_len: usize,
        entries: &[Vec<(&'static str, String)>],
    ) -> Result<(), DriverError> {
        self.ensure_up()?;
        let mut pipe = redis::pipe();
        for fields in entries {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(max_len)
                .arg("*")
                .arg(fields)
                .ignore();
        }
        let mut conn = self.inner.conn.clone();
        self.timed(pipe.query_async::<()>(&mut conn)).await
    }

    /// Sets `key` to `value` for `ttl`.
    pub(crate) async fn set_px(
        &self,
        key: String,
        value: String,
        ttl: Duration,
    ) -> Result<(), DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let ms = ttl.as_millis().max(1) as u64;
        let cmd = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ms)
            .to_owned();
        self.timed(cmd.query_async::<()>(&mut conn)).await
    }

    /// The entries of `stream` from `from` on (`XRANGE`), `count` at the most.
    pub(crate) async fn xrange(
        &self,
        stream: &str,
        from: &str,
        count: usize,
    ) -> Result<redis::Value, DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let cmd = redis::cmd("XRANGE")
            .arg(stream)
            .arg(from)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .to_owned();
        self.timed(cmd.query_async(&mut conn)).await
    }

    /// Deletes `key`.
    pub(crate) async fn del(&self, key: String) -> Result<(), DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let cmd = redis::cmd("DEL").arg(key).to_owned();
        self.timed(cmd.query_async::<()>(&mut conn)).await
    }

    /// Takes `key` (`GETDEL`): its value, and it is gone.
    pub(crate) async fn getdel(&self, key: String) -> Result<Option<String>, DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let cmd = redis::cmd("GETDEL").arg(key).to_owned();
        self.timed(cmd.query_async(&mut conn)).await
    }

    /// How many connections subscribe `channel` (one per node: `PUBSUB NUMSUB`, or
    /// `PUBSUB SHARDNUMSUB` in a Redis Cluster, summed over its nodes).
    pub(crate) async fn numsub(&self, channel: &str) -> Result<usize, DriverError> {
        self.ensure_up()?;
        let mut conn = self.inner.conn.clone();
        let which = match conn.0 {
            Conn::Single(_) => "NUMSUB",
            Conn::Cluster(_) => "SHARDNUMSUB",
        };
        let cmd = redis::cmd("PUBSUB").arg(which).arg(channel).to_owned();
        let reply: Value = self.timed(cmd.query_async(&mut conn)).await?;
        Ok(subscriber_count(reply))
    }
}

impl Inner {
    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn timed<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, DriverError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                // An error of the command itself (a wrong argument) says nothing of Redis.
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                {
                    self.health.set(false, &e);
                }
                Err(DriverError::Redis(e.to_string()))
            }
            Err(_) => {
                self.health.set(false, &DriverError::Timeout);
                Err(DriverError::Timeout)
            }
        }
    }

    async fn subscribe(&self, channels: &[String], patterns: &[String]) -> Result<(), DriverError> {
        match self.conn.0.clone() {
            Conn::Single(mut conn) => {
                if !channels.is_empty() {
                    self.timed(conn.subscribe(channels)).await?;
                }
                if !patterns.is_empty() {
                    self.timed(conn.psubscribe(patterns)).await?;
                }
            }
            // One channel per command: a command's channels must share a slot.
            Conn::Cluster(mut conn) => {
                for channel in channels {
                    self.timed(conn.ssubscribe(channel)).await?;
                }
            }
        }
        Ok(())
    }

    /// Subscribes to everything recorded: after an outage, the subscriptions attempted during
    /// it were never made, and a reconnection the manager did not notice may have lost others.
    /// Subscribing twice is harmless in Redis.
    async fn resubscribe(&self) -> bool {
        let (channels, patterns) = {
            let subs = self.lock_subscriptions();
            (subs.channels.clone(), subs.patterns.clone())
        };
        match self.subscribe(&channels, &patterns).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "subscribing again after a Redis outage failed");
                false
            }
        }
    }

    fn lock_masters(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.masters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Pings Redis every second to notice outages and recoveries even when idle; subscribes again
/// at each recovery. In a Redis Cluster, looks at the masters four times a second, and
/// subscribes again when they change: the node misses a room's broadcasts from a failover until
/// it does. Ends with the driver.
async fn monitor(inner: Weak<Inner>) {
    let every = match inner.upgrade().map(|i| i.conn.0.clone()) {
        Some(Conn::Cluster(_)) => Duration::from_millis(250),
        _ => Duration::from_secs(1),
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let answer = tokio::time::timeout(inner.timeout, ping(inner.conn.clone()));
        let (recovered, masters) = match answer.await {
            Ok(Ok(masters)) => (inner.health.set(true, &""), masters),
            Ok(Err(e)) => (inner.health.set(false, &e), None),
            Err(_) => (inner.health.set(false, &DriverError::Timeout), None),
        };
        // A new master (a failover, a slot moved): the subscriptions of the old one are gone
        // with it. Subscribing again sends each channel's subscription by its slot, which
        // makes the client read the slots anew and reach the new master.
        let moved = masters.filter(|now| {
            let mut last = inner.lock_masters();
            let first = last.is_none();
            if first {
                *last = Some(now.clone());
            }
            !first && last.as_ref() != Some(now)
        });
        if !recovered && moved.is_none() {
            continue;
        }
        // After a move the first subscriptions may still go to the old master, and fail while
        // the client reads the slots anew: they are retried at once, for a second, so the
        // node does not miss more than that. The new masters are recorded once subscribed;
        // what still fails is made again at the next tick.
        let tries = if moved.is_some() { 10 } else { 1 };
        for _ in 0..tries {
            if inner.resubscribe().await {
                if let Some(now) = moved {
                    *inner.lock_masters() = Some(now);
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Pings Redis; in a Redis Cluster, reads which master serves which slots instead
/// (`CLUSTER SLOTS`, from any node), as a text that changes when the masters do.
async fn ping(conn: Connection) -> redis::RedisResult<Option<String>> {
    match conn.0 {
        Conn::Single(mut conn) => {
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok(None)
        }
        Conn::Cluster(mut conn) => {
            let slots: Value = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut conn)
                .await?;
            Ok(Some(masters(&slots)))
        }
    }
}

/// The slot ranges of a `CLUSTER SLOTS` answer with their master's address, one per line, in
/// slot order.
fn masters(slots: &Value) -> String {
    let Value::Array(ranges) = slots else {
        return String::new();
    };
    let mut lines: Vec<(i64, String)> = ranges
        .iter()
        .filter_map(|range| {
            let Value::Array(fields) = range else {
                return None;
            };
            let number = |i: usize| {
                fields
                    .get(i)
                    .and_then(|v| i64::from_redis_value_ref(v).ok())
            };
            let Some(Value::Array(master)) = fields.get(2) else {
                return None;
            };
            let host = master
                .first()
                .and_then(|v| String::from_redis_value_ref(v).ok())?;
            let port = master
                .get(1)
                .and_then(|v| i64::from_redis_value_ref(v).ok())?;
            let (start, end) = (number(0)?, number(1)?);
            Some((start, format!("{start}-{end} {host}:{port}")))
        })
        .collect();
    lines.sort();
    lines
        .into_iter()
        .map(|(_, line)| line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a failed operation means to the layer above: the other nodes cannot be reached now.
pub(crate) fn unavailable(e: DriverError) -> AdapterError {
    AdapterError::Unavailable(e.to_string())
}

/// `url` with its password replaced by `********`, for errors and logs.
pub(crate) fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://********@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The count of `PUBSUB NUMSUB`/`SHARDNUMSUB`'s `[channel, count]` answer, or of the map a
/// Redis Cluster's answers are merged into.
fn subscriber_count(reply: Value) -> usize {
    let count = |v: &Value| usize::from_redis_value_ref(v).unwrap_or(0);
    match reply {
        Value::Array(items) => items.get(1).map_or(0, count),
        Value::Map(pairs) => pairs.iter().map(|(_, v)| count(v)).sum(),
        _ => 0,
    }
}

/// Hands a pub/sub message to the queue of its channel, or of its pattern.
fn route(routes: &Routes, msg: PushInfo) {
    let mut data = msg.data.into_iter();
    let (key, channel, payload) = match msg.kind {
        PushKind::Message | PushKind::SMessage => {
            let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
                return;
            };
            let Ok(chan) = String::from_redis_value(chan) else {
                return;
            };
            (chan.clone(), chan, payload)
        }
        PushKind::PMessage => {
            let (Some(pattern), Some(chan), Some(payload)) =
                (data.next(), data.next(), data.next())
            else {
                return;
            };
            let (Ok(pattern), Ok(chan)) = (
                String::from_redis_value(pattern),
                String::from_redis_value(chan),
            ) else {
                return;
            };
            (pattern, chan, payload)
        }
        _ => return,
    };
    let Ok(payload) = Vec::<u8>::from_redis_value(payload) else {
        return;
    };
    let routes = routes.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = routes.get(&key)
        && tx.try_send(Message { channel, payload }).is_err()
    {
        // The push sender must not block the connection's reader: drop and say so.
        tracing::warn!("cluster message dropped: this node reads its Redis messages too slowly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_masked() {
        assert_eq!(
            redacted("redis://:s3cret@host:6379/0"),
            "redis://********@host:6379/0"
        );
        assert_eq!(redacted("redis://user:p@ss@host"), "redis://********@host");
        assert_eq!(redacted("redis://host:6379"), "redis://host:6379");
    }

    #[test]
    fn resp3_is_asked() {
        assert_eq!(
            Redis::new("redis://h").resp3_url(),
            "redis://h?protocol=resp3"
        );
        assert_eq!(
            Redis::new("redis://h/?x=1").resp3_url(),
            "redis://h/?x=1&protocol=resp3"
        );
        assert_eq!(
            Redis::new("redis://h?protocol=resp3").resp3_url(),
            "redis://h?protocol=resp3"
        );
    }
}

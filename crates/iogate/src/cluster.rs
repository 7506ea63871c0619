//! Clustering over Redis (feature `redis`): several iogate processes behave as one server.
//!
//! Every operation of the [`Server`](crate::Server) handle (emit to a namespace, a room, a
//! user or a client, `except`, join/leave, disconnect, count) reaches the clients of every node,
//! through Redis pub/sub (socketioxide's Redis adapter, with a driver of iogate's own).
//!
//! ## When Redis goes away
//! - Every node keeps serving its own clients: broadcasts still reach the clients of the node
//!   that sent them. What is lost is the copy for the other nodes: a broadcast, join, leave or
//!   disconnect made while Redis is down does not reach the clients of other nodes, and is not
//!   replayed later.
//! - Operations that need answers from other nodes (`count`, `rooms`) fail at once with an
//!   adapter error instead of waiting.
//! - The outage is logged once, when it starts, and once when it ends;
//!   [`Server::cluster_healthy`](crate::Server::cluster_healthy) says which it is now.
//! - The node reconnects by itself and subscribes again: cross-node delivery resumes without
//!   a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// How to reach Redis, and how hard to try at start.
#[derive(Debug, Clone)]
#[must_use]
pub struct Redis {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) startup_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Redis {
    /// Redis at `url` (`redis://host:port/db`; RESP3 is required and added when missing).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "iogate".into(),
            startup_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(2),
        }
    }

    /// The prefix of the pub/sub channels (default `iogate`): clusters sharing one Redis need
    /// different prefixes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long to keep trying to reach Redis at start before giving up (default 30 s).
    pub fn startup_timeout(mut self, d: Duration) -> Self {
        self.startup_timeout = d;
        self
    }

    /// How long a Redis command or a request to the other nodes may take (default 2 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// The URL with RESP3 asked for (pub/sub messages arrive as RESP3 pushes).
    fn resp3_url(&self) -> String {
        if self.url.contains("protocol=") {
            self.url.clone()
        } else if self.url.contains('?') {
            format!("{}&protocol=resp3", self.url)
        } else {
            format!("{}?protocol=resp3", self.url)
        }
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

/// Whether Redis answers now; shared by the driver, its monitor and the server handle.
#[derive(Debug, Default)]
pub(crate) struct Health {
    down: AtomicBool,
}

impl Health {
    pub(crate) fn is_up(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// Records the state; logs only when it changes, so an outage is logged once.
    fn set(&self, up: bool, reason: &dyn std::fmt::Display) {
        let was_down = self.down.swap(!up, Ordering::Relaxed);
        match (was_down, up) {
            (false, false) => tracing::warn!(
                error = %reason,
                "Redis unreachable: each node now serves only its own clients; cross-node delivery is suspended"
            ),
            (true, true) => tracing::info!("Redis reachable again: cross-node delivery resumed"),
            _ => {}
        }
    }
}

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// socketioxide's Redis driver, made to survive outages: a reconnecting connection that
/// subscribes again by itself, publishes that never block local delivery, and a health flag.
#[derive(Clone)]
pub(crate) struct Resilient {
    conn: ConnectionManager,
    handlers: Handlers,
    health: Arc<Health>,
    timeout: Duration,
}

/// A failed Redis operation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DriverError {
    #[error("Redis is unreachable")]
    Down,
    #[error("Redis did not answer in time")]
    Timeout,
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

impl Resilient {
    /// Connects, retrying until `config.startup_timeout`.
    pub(crate) async fn connect(config: &Redis) -> Result<(Self, Arc<Health>), ClusterError> {
        let url = config.resp3_url();
        let client = redis::Client::open(url.as_str()).map_err(|e| ClusterError::InvalidUrl {
            url: redacted(&config.url),
            reason: e.to_string(),
        })?;
        let handlers: Handlers = Arc::default();
        let push = {
            let handlers = handlers.clone();
            move |msg: PushInfo| {
                deliver(&handlers, msg);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let manager = ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(config.request_timeout))
            .set_response_timeout(Some(config.request_timeout))
            .set_max_delay(Duration::from_secs(2))
            // Few quick retries per attempt: the startup loop below and the monitor retry on.
            .set_number_of_retries(1);
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        let conn = loop {
            match ConnectionManager::new_with_config(client.clone(), manager.clone()).await {
                Ok(conn) => break conn,
                Err(e) if started.elapsed() + delay < config.startup_timeout => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Redis not reachable yet");
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
        };
        let health = Arc::new(Health::default());
        let driver = Self {
            conn,
            handlers,
            health: health.clone(),
            timeout: config.request_timeout,
        };
        tokio::spawn(driver.clone().monitor());
        Ok((driver, health))
    }

    /// Pings Redis every second to notice outages and recoveries even when idle.
    async fn monitor(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let mut conn = self.conn.clone();
            let cmd = redis::cmd("PING");
            let ping = tokio::time::timeout(self.timeout, cmd.query_async::<()>(&mut conn));
            match ping.await {
                Ok(Ok(())) => self.health.set(true, &""),
                Ok(Err(e)) => self.health.set(false, &e),
                Err(_) => self.health.set(false, &DriverError::Timeout),
            }
        }
    }

    async fn timed<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, DriverError> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.health.set(false, &e);
                Err(e.into())
            }
            Err(_) => {
                self.health.set(false, &DriverError::Timeout);
                Err(DriverError::Timeout)
            }
        }
    }
}

/// `url` with its password replaced by `********`, for errors and logs.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) => format!("{scheme}://********@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Hands a pub/sub message to the stream of its channel.
fn deliver(handlers: &Handlers, msg: PushInfo) {
    if !matches!(msg.kind, PushKind::Message | PushKind::SMessage) || msg.data.len() < 2 {
        return;
    }
    let mut data = msg.data.into_iter();
    let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(chan), Ok(payload)) = (
        String::from_redis_value(chan),
        Vec::<u8>::from_redis_value(payload),
    ) else {
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&chan)
        && tx.try_send((chan, payload)).is_err()
    {
        tracing::warn!("cluster message dropped: this node reads its Redis messages too slowly");
    }
}

impl Driver for Resilient {
    type Error = DriverError;

    /// While Redis is down, publishing is skipped (and reported as done), so that the local
    /// half of a broadcast still goes out: socketioxide's adapter publishes first and delivers
    /// locally only when the publish succeeded.
    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), DriverError> {
        if !self.health.is_up() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let _ = self
            .timed(conn.publish::<_, _, redis::Value>(chan, val))
            .await;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, DriverError> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        let mut conn = self.conn.clone();
        self.timed(conn.subscribe(chan.as_str())).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), DriverError> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        let mut conn = self.conn.clone();
        self.timed(conn.unsubscribe(chan)).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, DriverError> {
        if !self.health.is_up() {
            return Err(DriverError::Down);
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PUBSUB").arg("NUMSUB").arg(chan).to_owned();
        let (_, count): (String, u16) = self.timed(cmd.query_async(&mut conn)).await?;
        Ok(count)
    }
}

//! Presence in Redis: who is in which room, as users and their clients, across every node,
//! with the transitions (a user's first client in a room, its last one gone, a room's first
//! and last member) decided atomically, so that exactly one node sees each.
//!
//! Every key shares one hash tag (`{socket.io:presence}` by default), so that the scripts
//! touch one slot and stay legal in Redis Cluster. With `P` the prefix, `S` a room's suffix
//! `<length of the namespace>:<namespace>:<room>` (the length keeps `/a` + `b:c` apart from
//! `/a:b` + `c`) and `N` a node's id:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:clients:S` | hash | client id → `N\0user`: the room's members, and which node has each |
//! | `P:users:S` | hash | user → how many of its clients are in the room |
//! | `P:node:N` | hash | `namespace\0client\0room` → user: node `N`'s memberships |
//! | `P:rooms:N` | hash | `S` → how many of node `N`'s clients are in that room |
//! | `P:nodes` | sorted set | node id, scored by its last heartbeat (Unix ms) |
//! | `P:reaping` | set | nodes found silent, whose memberships are being removed |
//!
//! Each key expires after the TTL unless a heartbeat refreshes it: a node refreshes its own
//! keys and those of the rooms it has members in, so that nothing outlives the cluster.
//!
//! A node [`beat`](RedisPresence::beat)s every few seconds; any node
//! [`reap`](RedisPresence::reap)s the nodes silent for longer than the timeout, removing their
//! memberships (and reporting the transitions) in bounded steps. A node whose own entry is gone
//! (Redis restarted, or the node was silent and reaped) takes a new id and
//! [`reassert`](RedisPresence::reassert)s its memberships under it; what is left under the old
//! id is reaped, and only where it still names the old id, so nothing the node re-asserted is
//! removed.
//!
//! The store is generic over the connection; [`connection`](crate::connection) makes one for
//! the Redis or the Redis Cluster a node's config names.

use std::sync::Mutex;
use std::time::Duration;

use redis::{FromRedisValue, Script, ScriptInvocation, Value};

/// What the store needs of its connection (redis-rs's), so that callers can name it.
pub use redis::aio::ConnectionLike;

/// The default prefix, hash tag included.
pub const DEFAULT_PREFIX: &str = "{socket.io:presence}";

/// At most this many memberships are removed by one reaping script, so that reaping a node
/// with many clients never holds Redis for long; the rest follows in the next calls.
pub const REAP_BUDGET: usize = 1000;

/// At most this many memberships go in one script call when re-asserting a node's memberships.
pub const REASSERT_CHUNK: usize = 500;

/// One client in one room: what a node asserts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The namespace, e.g. `/chat`.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The client's public id.
    pub client: String,
    /// The client's user (the JWT's `sub`).
    pub user: String,
}

/// What changed, as the one node that saw it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    /// A user's first client joined the room.
    UserOnline,
    /// A user's last client left the room.
    UserOffline,
    /// The room got its first member.
    RoomOccupied,
    /// The room lost its last member.
    RoomVacated,
}

/// One transition of a room's presence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    /// What happened.
    pub kind: TransitionKind,
    /// The namespace.
    pub namespace: String,
    /// The room.
    pub room: String,
    /// The user, for [`TransitionKind::UserOnline`] and [`TransitionKind::UserOffline`].
    pub user: Option<String>,
}

/// A failed presence operation.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// Redis failed or did not answer.
    #[error("presence store: {0}")]
    Redis(#[from] redis::RedisError),
    /// A script answered something it never answers.
    #[error("presence store: unexpected answer {0}")]
    Unexpected(String),
}

/// The Lua shared by the scripts: key names and the removal of one membership.
const COMMON: &str = r#"
local P = ARGV[1]
local SEP = '\0'
local function suffix(ns, room) return #ns .. ':' .. ns .. ':' .. room end
local function push(out, kind, ns, room, user)
  out[#out + 1] = kind; out[#out + 1] = ns; out[#out + 1] = room; out[#out + 1] = user
end
-- Removes `client` from the room when `node` has it there; reports what that changed.
local function drop(out, node, ns, room, client)
  local s = suffix(ns, room)
  local ck, uk = P .. ':clients:' .. s, P .. ':users:' .. s
  local was = redis.call('HGET', ck, client)
  if not was or string.sub(was, 1, #node + 1) ~= node .. SEP then return end
  local user = string.sub(was, #node + 2)
  redis.call('HDEL', ck, client)
  if redis.call('HINCRBY', uk, user, -1) <= 0 then
    redis.call('HDEL', uk, user)
    push(out, 'offline', ns, room, user)
  end
  if redis.call('HLEN', ck) == 0 then
    redis.call('DEL', ck, uk)
    push(out, 'vacated', ns, room, '')
  end
end
-- Splits a node's field `ns\0client\0room`.
local function split(field)
  local a = string.find(field, SEP, 1, true)
  local b = string.find(field, SEP, a + 1, true)
  return string.sub(field, 1, a - 1), string.sub(field, a + 1, b - 1), string.sub(field, b + 1)
end
"#;

/// ARGV: prefix, node, ttl (ms), then (namespace, room, client, user) per membership.
const ADD: &str = r#"
local node, ttl = ARGV[2], tonumber(ARGV[3])
local nk, rk = P .. ':node:' .. node, P .. ':rooms:' .. node
local out = {}
for i = 4, #ARGV, 4 do
  local ns, room, client, user = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local s = suffix(ns, room)
  local ck, uk = P .. ':clients:' .. s, P .. ':users:' .. s
  local entry = node .. SEP .. user
  local was = redis.call('HGET', ck, client)
  if was ~= entry then
    if was then
      -- Held by an earlier id of a node: taken over; counted again only for another user.
      local before = string.sub(was, string.find(was, SEP, 1, true) + 1)
      redis.call('HSET', ck, client, entry)
      if before ~= user then
        if redis.call('HINCRBY', uk, before, -1) <= 0 then
          redis.call('HDEL', uk, before)
          push(out, 'offline', ns, room, before)
        end
        if redis.call('HINCRBY', uk, user, 1) == 1 then push(out, 'online', ns, room, user) end
      end
    else
      if redis.call('EXISTS', ck) == 0 then push(out, 'occupied', ns, room, '') end
      redis.call('HSET', ck, client, entry)
      if redis.call('HINCRBY', uk, user, 1) == 1 then push(out, 'online', ns, room, user) end
    end
  end
  redis.call('PEXPIRE', ck, ttl)
  redis.call('PEXPIRE', uk, ttl)
  if redis.call('HSET', nk, ns .. SEP .. client .. SEP .. room, user) == 1 then
    redis.call('HINCRBY', rk, s, 1)
  end
end
redis.call('PEXPIRE', nk, ttl)
redis.call('PEXPIRE', rk, ttl)
return out
"#;

/// ARGV: prefix, node, then (namespace, room, client) per membership.
const REMOVE: &str = r#"
local node = ARGV[2]
local nk, rk = P .. ':node:' .. node, P .. ':rooms:' .. node
local out = {}
for i = 3, #ARGV, 3 do
  local ns, room, client = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  drop(out, node, ns, room, client)
  if redis.call('HDEL', nk, ns .. SEP .. client .. SEP .. room) == 1 then
    local s = suffix(ns, room)
    if redis.call('HINCRBY', rk, s, -1) <= 0 then redis.call('HDEL', rk, s) end
  end
end
return out
"#;

/// KEYS: the nodes' set. ARGV: prefix, node, now (ms), ttl (ms). 1 when the node is listed
/// (and its keys refreshed), 0 when it is not.
const BEAT: &str = r#"
local node, now, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
if not redis.call('ZSCORE', KEYS[1], node) then return 0 end
redis.call('ZADD', KEYS[1], now, node)
redis.call('PEXPIRE', KEYS[1], ttl)
local rk = P .. ':rooms:' .. node
redis.call('PEXPIRE', P .. ':node:' .. node, ttl)
redis.call('PEXPIRE', rk, ttl)
for _, s in ipairs(redis.call('HKEYS', rk)) do
  redis.call('PEXPIRE', P .. ':clients:' .. s, ttl)
  redis.call('PEXPIRE', P .. ':users:' .. s, ttl)
end
return 1
"#;

/// KEYS: the nodes' set. ARGV: prefix, node, now (ms), ttl (ms), the node's previous id or ''.
/// Lists the node; its previous id, if still listed, is marked for reaping.
const REGISTER: &str = r#"
local node, now, ttl, previous = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
redis.call('ZADD', KEYS[1], now, node)
redis.call('PEXPIRE', KEYS[1], ttl)
if previous ~= '' then redis.call('ZADD', KEYS[1], 'XX', 0, previous) end
return 1
"#;

/// KEYS: the nodes' set. ARGV: prefix, node. Marks the node for reaping now.
const LEAVE: &str = r#"
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('SADD', P .. ':reaping', ARGV[2])
return 1
"#;

/// KEYS: the nodes' set. ARGV: prefix, now (ms), timeout (ms), budget, ttl (ms). Answers
/// `{more, kind, ns, room, user, ...}`: whether memberships are left to reap, then the
/// transitions.
const REAP: &str = r#"
local now, timeout, budget, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local reaping = P .. ':reaping'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - timeout)) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('SADD', reaping, id)
end
local out = {0}
for _, id in ipairs(redis.call('SMEMBERS', reaping)) do
  if budget <= 0 then out[1] = 1; break end
  local nk = P .. ':node:' .. id
  local scan = redis.call('HSCAN', nk, '0', 'COUNT', budget)
  local fields = scan[2]
  for i = 1, #fields, 2 do
    local ns, client, room = split(fields[i])
    drop(out, id, ns, room, client)
    redis.call('HDEL', nk, fields[i])
    budget = budget - 1
  end
  if redis.call('HLEN', nk) == 0 then
    redis.call('DEL', nk, P .. ':rooms:' .. id)
    redis.call('SREM', reaping, id)
  else
    out[1] = 1
  end
end
redis.call('PEXPIRE', reaping, ttl)
return out
"#;

/// The scripts, each with [`COMMON`] first.
struct Scripts {
    add: Script,
    remove: Script,
    beat: Script,
    register: Script,
    leave: Script,
    reap: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_common = |body: &str| Script::new(&format!("{COMMON}{body}"));
        Self {
            add: with_common(ADD),
            remove: with_common(REMOVE),
            beat: with_common(BEAT),
            register: with_common(REGISTER),
            leave: with_common(LEAVE),
            reap: with_common(REAP),
        }
    }
}

/// Presence kept in Redis, for one node.
///
/// Shared by the node's presence task (which alone changes it) and whoever reads a room's
/// presence; the connection is cloned per call, as redis-rs's multiplexed connections are
/// meant to be.
pub struct RedisPresence<C> {
    conn: C,
    prefix: String,
    /// This node's id now: a new one after the node found itself gone from Redis.
    node: Mutex<String>,
    heartbeat: Duration,
    timeout: Duration,
    scripts: Scripts,
}

impl<C> std::fmt::Debug for RedisPresence<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence")
            .field("prefix", &self.prefix)
            .field("node", &self.node.lock().map(|n| n.clone()).ok())
            .field("heartbeat", &self.heartbeat)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A random node id: 16 hex digits.
fn new_node_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<C> RedisPresence<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Presence over `conn`, with a new node id, the default prefix, a heartbeat every 5 s and
    /// silent nodes reaped after 10 s (Node's cluster adapter's figures).
    pub fn new(conn: C) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
            node: Mutex::new(new_node_id()),
            heartbeat: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            scripts: Scripts::new(),
        }
    }

    /// The keys' prefix (default [`DEFAULT_PREFIX`]). Keep a hash tag in it (`{...}`) for
    /// Redis Cluster: every key must be in one slot.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often the node beats (default 5 s), and how long a node may stay silent before it
    /// is reaped (default 10 s).
    #[must_use]
    pub fn timing(mut self, heartbeat: Duration, timeout: Duration) -> Self {
        self.heartbeat = heartbeat;
        self.timeout = timeout.max(heartbeat);
        self
    }

    /// How often the node should [`beat`](Self::beat).
    pub fn heartbeat_every(&self) -> Duration {
        self.heartbeat
    }

    /// How long a silent node stays listed before it is reaped.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How long keys live without a heartbeat: three timeouts.
    fn ttl_ms(&self) -> u64 {
        (self.timeout * 3).as_millis() as u64
    }

    /// This node's id now.
    pub fn node(&self) -> String {
        self.node.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// An invocation of `script` with what every script of presence takes first: the key of
    /// the nodes (which names the slot in a cluster) and the prefix.
    fn script<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut invocation = script.key(format!("{}:nodes", self.prefix));
        invocation.arg(&self.prefix);
        invocation
    }

    /// Runs `invocation` on a clone of the connection.
    async fn run<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, PresenceError> {
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Lists this node (at start).
    pub async fn register(&self) -> Result<(), PresenceError> {
        self.register_as(&self.node(), "").await
    }

    async fn register_as(&self, node: &str, previous: &str) -> Result<(), PresenceError> {
        let mut register = self.script(&self.scripts.register);
        register
            .arg(node)
            .arg(now_ms())
            .arg(self.ttl_ms())
            .arg(previous);
        let _: i64 = self.run(&register).await?;
        Ok(())
    }

    /// Adds memberships of this node; answers what they changed.
    pub async fn add(&self, members: &[Member]) -> Result<Vec<Transition>, PresenceError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut add = self.script(&self.scripts.add);
        add.arg(self.node()).arg(self.ttl_ms());
        for m in members {
            add.arg(&m.namespace)
                .arg(&m.room)
                .arg(&m.client)
                .arg(&m.user);
        }
        transitions(&self.run::<Vec<String>>(&add).await?)
    }

    /// Removes memberships of this node (`user` is not needed and ignored); answers what they
    /// changed.
    pub async fn remove(&self, members: &[Member]) -> Result<Vec<Transition>, PresenceError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut remove = self.script(&self.scripts.remove);
        remove.arg(self.node());
        for m in members {
            remove.arg(&m.namespace).arg(&m.room).arg(&m.client);
        }
        transitions(&self.run::<Vec<String>>(&remove).await?)
    }

    /// Beats: notes this node alive and refreshes its keys' TTLs. False when the node is not
    /// listed any more (Redis restarted, or the node was silent and reaped): it must then
    /// [`reassert`](Self::reassert) its memberships.
    pub async fn beat(&self) -> Result<bool, PresenceError> {
        let mut beat = self.script(&self.scripts.beat);
        beat.arg(self.node()).arg(now_ms()).arg(self.ttl_ms());
        let listed: i64 = self.run(&beat).await?;
        Ok(listed == 1)
    }

    /// Takes a new node id and asserts `members` (every membership this node has) under it,
    /// in chunks; what is left under the previous id is reaped (by the next [`reap`](Self::reap)
    /// of any node), but for the memberships asserted again here. Answers the transitions.
    pub async fn reassert(&self, members: &[Member]) -> Result<Vec<Transition>, PresenceError> {
        let previous = self.node();
        let node = new_node_id();
        self.register_as(&node, &previous).await?;
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = node;
        let mut all = Vec::new();
        for chunk in members.chunks(REASSERT_CHUNK) {
            all.extend(self.add(chunk).await?);
        }
        Ok(all)
    }

    /// Reaps the nodes silent for longer than the timeout, at most [`REAP_BUDGET`] memberships
    /// per script, until none is left; answers the transitions, each seen by this node only.
    pub async fn reap(&self) -> Result<Vec<Transition>, PresenceError> {
        let mut all = Vec::new();
        loop {
            let mut reap = self.script(&self.scripts.reap);
            reap.arg(now_ms())
                .arg(self.timeout.as_millis() as u64)
                .arg(REAP_BUDGET)
                .arg(self.ttl_ms());
            let answer: Vec<Value> = self.run(&reap).await?;
            let Some((more, rest)) = answer.split_first() else {
                return Err(PresenceError::Unexpected("an empty reap answer".into()));
            };
            let rest: Vec<String> = rest
                .iter()
                .map(redis::from_redis_value_ref)
                .collect::<Result<_, _>>()
                .map_err(|e| PresenceError::Unexpected(e.to_string()))?;
            all.extend(transitions(&rest)?);
            if *more != Value::Int(1) {
                return Ok(all);
            }
        }
    }

    /// Leaves the cluster (a graceful shutdown): this node's memberships are removed now rather
    /// than after the timeout. Answers the transitions.
    pub async fn leave(&self) -> Result<Vec<Transition>, PresenceError> {
        let mut leave = self.script(&self.scripts.leave);
        leave.arg(self.node());
        let _: i64 = self.run(&leave).await?;
        self.reap().await
    }

    /// The members of `room` of `namespace` on every node: `(user, clients)`, users sorted,
    /// each one's clients sorted.
    pub async fn presence(
        &self,
        namespace: &str,
        room: &str,
    ) -> Result<Vec<(String, Vec<String>)>, PresenceError> {
        let key = format!(
            "{}:clients:{}:{namespace}:{room}",
            self.prefix,
            namespace.len()
        );
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut conn)
            .await?;
        let mut users: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (client, entry) in entries {
            let user = match entry.iter().position(|b| *b == 0) {
                Some(i) => String::from_utf8_lossy(&entry[i + 1..]).into_owned(),
                None => continue,
            };
            users.entry(user).or_default().push(client);
        }
        Ok(users
            .into_iter()
            .map(|(user, mut clients)| {
                clients.sort();
                (user, clients)
            })
            .collect())
    }
}

/// Reads a script's flat `[kind, namespace, room, user, ...]` answer.
fn transitions(flat: &[String]) -> Result<Vec<Transition>, PresenceError> {
    flat.chunks(4)
        .map(|t| {
            let [kind, namespace, room, user] = t else {
                return Err(PresenceError::Unexpected(format!("{t:?}")));
            };
            let kind = match kind.as_str() {
                "online" => TransitionKind::UserOnline,
                "offline" => TransitionKind::UserOffline,
                "occupied" => TransitionKind::RoomOccupied,
                "vacated" => TransitionKind::RoomVacated,
                other => return Err(PresenceError::Unexpected(other.to_owned())),
            };
            Ok(Transition {
                kind,
                namespace: namespace.clone(),
                room: room.clone(),
                user: (!user.is_empty()).then(|| user.clone()),
            })
        })
        .collect()
}

//! Connection state recovery: the sessions of clients whose connection broke, and the events
//! they may have missed, so that a client back within the window keeps its id, its rooms and
//! its data, and gets what it missed, in order (socket.io's `connectionStateRecovery`).
//!
//! Every event sent without an acknowledgement, to a room, a namespace or one client, gets an
//! offset as its last argument (`["news", {...}, "1764680000000-42"]`) and is kept in one log
//! for the whole server. A client that reconnects sends its session's `pid` and the last offset
//! it read; the store hands back the session and replays, under the same lock that orders
//! every recorded event, what came after that offset for the session's rooms.
//!
//! Everything kept is bounded: the log by packets, bytes and age; the sessions by count (the
//! oldest goes first) and age; and a session is recoverable only if what it missed fits its
//! client's outgoing queue.
//!
//! In a cluster whose adapter orders the broadcasts (the Redis streams adapter, see
//! [`Adapter::shared_sessions`](crate::Adapter::shared_sessions)), the offsets are the adapter's
//! (the stream's entry ids), every node logs every event in the same order, and the sessions
//! are kept by the adapter as [`SessionRecord`]s, so that a client can come back on any node.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use iogate_engineio::Str;
use tokio::time::Instant;

use crate::BoxFuture;
use crate::adapter::{
    BroadcastOptions, EventData, MissedEvent, SessionRecord, SharedSessions, done,
};

/// A socket's id or a session's pid (what `socket::Sid` is).
type Sid = Arc<str>;

/// An offset, `<a>-<b>` on the wire: this server's start and a counter, or a stream entry id.
/// Offsets of one log grow in the order its events were sent.
type Offset = (u64, u64);

/// The offset written `<a>-<b>`.
fn parse_offset(text: &str) -> Option<Offset> {
    let (a, b) = text.split_once('-')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    (digits(a) && digits(b)).then_some((a.parse().ok()?, b.parse().ok()?))
}

/// The settings of connection state recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// How long a session and the events it may miss are kept after its connection broke
    /// (socket.io's `maxDisconnectionDuration`, 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether the connection middlewares are skipped for a recovered client (socket.io's
    /// `skipMiddlewares`, true). The layer above decides what that means for its own checks.
    pub skip_middlewares: bool,
    /// The most sessions kept at once (10,000): past it, the oldest is forgotten.
    pub max_sessions: usize,
    /// The most events kept in the log (10,000, as the Redis streams adapter's `maxLen`).
    pub max_packets: usize,
    /// The most bytes of events kept in the log (16 MiB).
    pub max_bytes: usize,
}

impl Recovery {
    /// The defaults, socket.io's where it has them.
    pub const DEFAULT: Self = Self {
        max_disconnection_duration: Duration::from_secs(120),
        skip_middlewares: true,
        max_sessions: 10_000,
        max_packets: 10_000,
        max_bytes: 16 << 20,
    };
}

impl Default for Recovery {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A session kept for a client whose connection broke.
pub(crate) struct Kept {
    /// The socket's id, given back to the client.
    pub(crate) sid: Sid,
    /// Its namespace.
    pub(crate) ns: Str,
    /// The rooms it had joined by name.
    pub(crate) rooms: Vec<Arc<str>>,
    /// The layer above's state for the socket, when it broke on this node.
    pub(crate) ext: Option<Arc<dyn Any + Send + Sync>>,
    /// The layer above's state as JSON, when the session came from the cluster's store.
    pub(crate) data: Option<serde_json::Value>,
    /// When its connection broke.
    at: Instant,
}

impl Kept {
    pub(crate) fn new(
        sid: Sid,
        ns: Str,
        rooms: Vec<Arc<str>>,
        ext: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Self {
        Self {
            sid,
            ns,
            rooms,
            ext,
            data: None,
            at: Instant::now(),
        }
    }

    /// The session as the cluster's store keeps it.
    fn record(&self, pid: &str, data: serde_json::Value) -> SessionRecord {
        SessionRecord {
            sid: self.sid.to_string(),
            pid: pid.to_owned(),
            rooms: std::iter::once(self.sid.to_string())
                .chain(self.rooms.iter().map(|r| r.to_string()))
                .collect(),
            data,
            nsp: Some(self.ns.to_string()),
        }
    }

    /// Whether an event sent with `opts` in its namespace was for this session.
    fn wants(&self, opts: &Targets) -> bool {
        let ids = || std::iter::once(&*self.sid).chain(self.rooms.iter().map(|r| &**r));
        let included = opts.rooms.is_empty() || ids().any(|r| opts.rooms.iter().any(|o| o == r));
        included && !ids().any(|r| opts.except.iter().any(|o| o == r))
    }
}

/// A session handed back to its client: where to replay from.
pub(crate) struct Restored {
    pub(crate) kept: Kept,
    /// What it missed before this node's log begins, read back from the cluster's store.
    earlier: Vec<Logged>,
    /// Where this node's log takes over: the client's offset, or the last of `earlier`.
    after: Offset,
}

/// Whom a recorded event was for.
struct Targets {
    rooms: Vec<String>,
    except: Vec<String>,
}

/// An event in the log.
struct Logged {
    offset: Offset,
    at: Instant,
    ns: Str,
    targets: Targets,
    /// The arguments with the offset appended.
    event: EventData,
    /// Its bytes, text and attachments.
    size: usize,
}

/// How many sessions were kept, recovered, and let go, since the server started.
#[derive(Debug, Default)]
pub struct RecoveryStats {
    /// Sessions kept when a connection broke.
    pub kept: AtomicU64,
    /// Sessions handed back to their client.
    pub recovered: AtomicU64,
    /// Sessions forgotten: past the window, past the session bound, or whose events left the
    /// log before their client came back.
    pub expired: AtomicU64,
}

/// The log and the sessions of one server.
pub(crate) struct Store {
    config: Recovery,
    /// The largest replay one client can take (its outgoing queue's bounds).
    max_replay: (usize, usize),
    /// Offsets are `<epoch>-<seq>`: the epoch (the store's start, in ms) tells this server's
    /// offsets from another's or an earlier run's.
    epoch: u64,
    /// The cluster's sessions, when the adapter keeps them (and gives the offsets).
    shared: Option<Arc<dyn SharedSessions>>,
    inner: Mutex<Inner>,
    pub(crate) stats: RecoveryStats,
}

#[derive(Default)]
struct Inner {
    next: u64,
    log: VecDeque<Logged>,
    /// The offset of the latest event that left the log: a client that read it missed nothing
    /// that left.
    last_trimmed: Option<Offset>,
    /// How far the cluster's stream was read: what comes after reaches clients as it is read.
    read_to: Option<Offset>,
    bytes: usize,
    sessions: HashMap<Sid, Kept>,
    /// The kept sessions' pids in the order their connections broke (an entry whose session
    /// was taken back is skipped when it comes up).
    order: VecDeque<(Instant, Sid)>,
}

impl Store {
    pub(crate) fn new(
        config: Recovery,
        max_replay_bytes: usize,
        max_replay_packets: usize,
        shared: Option<Arc<dyn SharedSessions>>,
    ) -> Self {
        let epoch = crate::unix_millis();
        Self {
            config,
            max_replay: (max_replay_bytes, max_replay_packets),
            epoch,
            shared,
            inner: Mutex::default(),
            stats: RecoveryStats::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the cluster's adapter gives the offsets and keeps the sessions.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Records an event sent to `opts` in namespace `ns` and gives it its offset; `deliver`
    /// then sends it under the log's lock, so that every client reads recorded events in the
    /// order of their offsets, and a client being restored sees each one exactly once.
    pub(crate) fn record<R>(
        &self,
        ns: &Str,
        event: &EventData,
        opts: &BroadcastOptions,
        deliver: impl FnOnce(&EventData) -> R,
    ) -> R {
        let mut inner = self.lock();
        let offset = (self.epoch, inner.next);
        inner.next += 1;
        self.log(&mut inner, offset, ns, event, opts, deliver)
    }

    /// Records, as [`record`](Self::record) does, an event whose offset the cluster's adapter
    /// gave (`<ms>-<seq>`, a stream entry id); one with no such offset is only delivered.
    pub(crate) fn record_at<R>(
        &self,
        ns: &Str,
        event: &EventData,
        opts: &BroadcastOptions,
        offset: &str,
        deliver: impl FnOnce(&EventData) -> R,
    ) -> R {
        let mut inner = self.lock();
        match parse_offset(offset) {
            Some(at) => {
                inner.read_to = inner.read_to.max(Some(at));
                self.log(&mut inner, at, ns, event, opts, deliver)
            }
            None => deliver(event),
        }
    }

    /// The cluster's stream was read up to `offset` (see [`Local::read_to`](crate::Local::read_to)).
    pub(crate) fn read_to(&self, offset: &str) {
        if let Some(at) = parse_offset(offset) {
            let mut inner = self.lock();
            inner.read_to = inner.read_to.max(Some(at));
        }
    }

    fn log<R>(
        &self,
        inner: &mut Inner,
        offset: Offset,
        ns: &Str,
        event: &EventData,
        opts: &BroadcastOptions,
        deliver: impl FnOnce(&EventData) -> R,
    ) -> R {
        let logged = logged(offset, ns, event, opts);
        let result = deliver(&logged.event);
        let size = logged.size;
        inner.log.push_back(logged);
        inner.bytes += size;
        self.trim(inner, Instant::now());
        result
    }

    /// Keeps the session `pid` of a client whose connection broke; with a shared store, there
    /// too, with `data` (the layer above's state as JSON), so that another node can restore it.
    pub(crate) fn persist(&self, pid: Sid, kept: Kept, data: impl FnOnce() -> serde_json::Value) {
        if let Some(shared) = &self.shared {
            shared.persist(
                kept.record(&pid, data()),
                self.config.max_disconnection_duration,
            );
        }
        let mut inner = self.lock();
        let now = kept.at;
        inner.order.push_back((now, pid.clone()));
        if inner.sessions.insert(pid, kept).is_none() {
            self.stats.kept.fetch_add(1, Ordering::Relaxed);
        }
        while inner.sessions.len() > self.config.max_sessions {
            let Some((_, oldest)) = inner.order.pop_front() else {
                break;
            };
            if inner.sessions.remove(&oldest).is_some() {
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                if let Some(shared) = &self.shared {
                    shared.forget(&oldest);
                }
            }
        }
        self.trim(&mut inner, now);
    }

    /// Takes back session `pid` of namespace `ns` for a client that read up to `offset`, if it
    /// is still kept and everything it missed is still in the log and fits its queue. A session
    /// taken is gone, recovered or not. With a shared store, the session is taken from there,
    /// and this node's own copy only adds what cannot travel (the layer above's state).
    pub(crate) fn take(
        self: &Arc<Self>,
        ns: &str,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'static, Option<Restored>> {
        let Some(shared) = &self.shared else {
            return done(self.take_kept(ns, pid, offset, None, |kept| kept));
        };
        let taken = shared.take(pid);
        let shared = shared.clone();
        let (store, ns, pid, offset) = (
            self.clone(),
            ns.to_owned(),
            pid.to_owned(),
            offset.to_owned(),
        );
        Box::pin(async move {
            let record = taken.await;
            // A client whose offset this node never read (it started later) gets what it
            // missed before this node's log from the cluster's store.
            let earlier = match &record {
                Some(_) if !store.knows(&offset) => shared.missed(&offset).await,
                _ => None,
            };
            store.take_kept(&ns, &pid, &offset, earlier, |mine| {
                let record = record?;
                let ns = Str::from(record.nsp.clone().unwrap_or_else(|| ns.clone()));
                let mut kept = Kept::new(
                    record.sid.as_str().into(),
                    ns,
                    record
                        .rooms
                        .iter()
                        .filter(|r| **r != record.sid)
                        .map(|r| Arc::from(r.as_str()))
                        .collect(),
                    None,
                );
                match mine {
                    Some(mine) if mine.sid == kept.sid => kept.ext = mine.ext,
                    _ => kept.data = Some(record.data),
                }
                Some(kept)
            })
        })
    }

    /// Whether this node's log knows `offset`: still holds it, or it was the last to leave.
    fn knows(&self, offset: &str) -> bool {
        parse_offset(offset).is_some_and(|after| known(&self.lock(), after))
    }

    /// Takes session `pid` out of this node's sessions and lets `found` decide what to restore;
    /// `earlier` is what the cluster's store holds after `offset`, when this log lacks it.
    fn take_kept(
        &self,
        ns: &str,
        pid: &str,
        offset: &str,
        earlier: Option<Vec<MissedEvent>>,
        found: impl FnOnce(Option<Kept>) -> Option<Kept>,
    ) -> Option<Restored> {
        let mut inner = self.lock();
        self.trim(&mut inner, Instant::now());
        let mine = inner.sessions.remove(pid);
        let had = mine.is_some();
        let Some(kept) = found(mine) else {
            if had {
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        };
        let replay = self.replayable(&inner, &kept, offset, earlier);
        if replay.is_none() || *kept.ns != *ns {
            // A wrong namespace is a forged pid: the session is forgotten all the same.
            self.stats.expired.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let (earlier, after) = replay?;
        Some(Restored {
            kept,
            earlier,
            after,
        })
    }

    /// What to replay for `kept`, which read up to `offset`: the events read back from the
    /// cluster's store (`earlier`, when this log does not know `offset`) and where this log
    /// takes over; `None` when events it missed are gone, or do not fit its client's queue.
    fn replayable(
        &self,
        inner: &Inner,
        kept: &Kept,
        offset: &str,
        earlier: Option<Vec<MissedEvent>>,
    ) -> Option<(Vec<Logged>, Offset)> {
        let after = parse_offset(offset)?;
        let (earlier, after) = if known(inner, after) {
            (Vec::new(), after)
        } else {
            let earlier: Vec<Logged> = earlier?
                .into_iter()
                .filter_map(|m| {
                    let at = parse_offset(&m.offset).filter(|at| *at > after)?;
                    Some(logged(at, &Str::from(m.ns), &m.event, &m.opts))
                })
                .collect();
            let read = earlier.last().map_or(after, |l| l.offset);
            // This log must hold everything after what was read back.
            if inner.last_trimmed.is_some_and(|t| t > read) {
                return None;
            }
            (earlier, read)
        };
        let restored = Restored {
            kept: Kept::new(kept.sid.clone(), kept.ns.clone(), kept.rooms.clone(), None),
            earlier,
            after,
        };
        let (mut bytes, mut packets) = (0, 0);
        for logged in missed(inner, &restored) {
            bytes += logged.size;
            packets += 1 + logged.event.attachments.len();
        }
        let fits = bytes <= self.max_replay.0 && packets <= self.max_replay.1;
        fits.then_some((restored.earlier, restored.after))
    }

    /// Replays to a restored session, under the log's lock: `connect` puts the socket back in
    /// its rooms and sends CONNECT; `send` then gets each missed event, in order. An event
    /// recorded after this call reaches the socket through its rooms.
    pub(crate) fn replay(
        &self,
        restored: &Restored,
        connect: impl FnOnce(),
        mut send: impl FnMut(&EventData),
    ) {
        let inner = self.lock();
        connect();
        for logged in missed(&inner, restored) {
            send(&logged.event);
        }
        self.stats.recovered.fetch_add(1, Ordering::Relaxed);
    }

    /// How many sessions are kept now.
    pub(crate) fn sessions(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Forgets what is past the window or over the log's bounds.
    pub(crate) fn sweep(&self) {
        self.trim(&mut self.lock(), Instant::now());
    }

    fn trim(&self, inner: &mut Inner, now: Instant) {
        let window = self.config.max_disconnection_duration;
        let too_old = |at: Instant| now.saturating_duration_since(at) > window;
        while let Some(front) = inner.log.front() {
            if inner.log.len() > self.config.max_packets
                || inner.bytes > self.config.max_bytes
                || too_old(front.at)
            {
                inner.bytes -= front.size;
                inner.last_trimmed = Some(front.offset);
                inner.log.pop_front();
            } else {
                break;
            }
        }
        while let Some(&(at, _)) = inner.order.front() {
            if !too_old(at) {
                break;
            }
            let Some((_, pid)) = inner.order.pop_front() else {
                break;
            };
            // The entry may be of a session taken back, or kept again since.
            if inner.sessions.get(&pid).is_some_and(|k| k.at == at) {
                inner.sessions.remove(&pid);
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
            }
        }
        if inner.log.capacity() > 64 && inner.log.len() < inner.log.capacity() / 4 {
            inner.log.shrink_to_fit();
        }
        if inner.order.capacity() > 64 && inner.order.len() < inner.order.capacity() / 4 {
            inner.order.shrink_to_fit();
            inner.sessions.shrink_to_fit();
        }
    }
}

/// Whether `inner`'s log knows `after`: still holds it, or it was the latest to leave.
fn known(inner: &Inner, after: Offset) -> bool {
    let start = inner.log.partition_point(|l| l.offset <= after);
    let held = start
        .checked_sub(1)
        .and_then(|i| inner.log.get(i))
        .is_some_and(|l| l.offset == after);
    held || (start == 0 && inner.last_trimmed == Some(after))
}

/// An event as the log keeps it: with `offset` appended to its arguments.
fn logged(offset: Offset, ns: &Str, event: &EventData, opts: &BroadcastOptions) -> Logged {
    let event = with_offset(event, &format!("{}-{}", offset.0, offset.1));
    let size = event.data.len() + event.attachments.iter().map(Bytes::len).sum::<usize>();
    Logged {
        offset,
        at: Instant::now(),
        ns: ns.clone(),
        targets: Targets {
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
        },
        event,
        size,
    }
}

/// What `restored` missed, in order: the events read back from the cluster's store that this
/// node has read past too (the others reach the client as they are read), then this log's
/// after `restored.after`; only those for its namespace and rooms.
fn missed<'a>(inner: &'a Inner, restored: &'a Restored) -> impl Iterator<Item = &'a Logged> {
    let kept = &restored.kept;
    let cut = inner
        .read_to
        .max(inner.log.back().map(|l| l.offset))
        .max(inner.last_trimmed);
    let start = inner.log.partition_point(|l| l.offset <= restored.after);
    restored
        .earlier
        .iter()
        .filter(move |l| cut.is_some_and(|cut| l.offset <= cut))
        .chain(inner.log.range(start..))
        .filter(move |l| *l.ns == *kept.ns && kept.wants(&l.targets))
}

/// The event with `offset` appended to its arguments: `["e",1]` → `["e",1,"<offset>"]`.
fn with_offset(event: &EventData, offset: &str) -> EventData {
    let text = event.data.trim_end();
    let body = text.strip_suffix(']').unwrap_or(text);
    let mut out = String::with_capacity(body.len() + offset.len() + 4);
    out.push_str(body);
    if !body.trim_end().ends_with('[') {
        out.push(',');
    }
    out.push('"');
    out.push_str(offset);
    out.push_str("\"]");
    EventData {
        data: Str::from(out),
        attachments: event.attachments.clone(),
    }
}

/// Where the recovery fields of a CONNECT payload are: `{"pid": "...", "offset": "..."}`.
pub(crate) fn credentials(auth: &str) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Fields {
        pid: Option<String>,
        offset: Option<String>,
    }
    let fields: Fields = serde_json::from_str(auth).ok()?;
    Some((fields.pid?, fields.offset?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> EventData {
        EventData {
            data: Str::from(text.to_owned()),
            attachments: Vec::new(),
        }
    }

    fn store(config: Recovery) -> Store {
        Store::new(config, 1 << 20, 4096, None)
    }

    fn to(rooms: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            ..BroadcastOptions::default()
        }
    }

    /// Records `text` for `opts` in `/` and returns its offset.
    fn send(store: &Store, text: &str, opts: &BroadcastOptions) -> String {
        let ns = Str::from("/");
        store.record(&ns, &event(text), opts, |e| {
            let args: Vec<serde_json::Value> = serde_json::from_str(&e.data).unwrap();
            args.last().unwrap().as_str().unwrap().to_owned()
        })
    }

    fn kept(sid: &str, rooms: &[&str]) -> Kept {
        Kept::new(
            sid.into(),
            Str::from("/"),
            rooms.iter().map(|r| Arc::from(*r)).collect(),
            None,
        )
    }

    impl Store {
        fn take_now(&self, ns: &str, pid: &str, offset: &str) -> Option<Restored> {
            self.take_kept(ns, pid, offset, None, |kept| kept)
        }
    }

    fn replayed(store: &Store, restored: &Restored) -> Vec<String> {
        let mut out = Vec::new();
        store.replay(restored, || {}, |e| out.push(e.data.to_string()));
        out
    }

    #[test]
    fn the_offset_is_the_last_argument() {
        let e = with_offset(&event("[\"news\",{\"a\":[1]}]"), "7-3");
        assert_eq!(&*e.data, "[\"news\",{\"a\":[1]},\"7-3\"]");
        assert_eq!(&*with_offset(&event("[]"), "7-3").data, "[\"7-3\"]");
    }

    #[test]
    fn a_session_gets_what_its_rooms_missed_in_order() {
        let store = store(Recovery::default());
        let read = send(&store, "[\"a\"]", &to(&[]));
        store.persist(
            "p1".into(),
            kept("s1", &["room"]),
            serde_json::Value::default,
        );
        send(&store, "[\"b\"]", &to(&["room"]));
        send(&store, "[\"c\"]", &to(&["other"]));
        send(&store, "[\"d\"]", &to(&["s1"]));
        send(
            &store,
            "[\"e\"]",
            &BroadcastOptions {
                except: vec!["room".into()],
                ..BroadcastOptions::default()
            },
        );
        send(&store, "[\"f\"]", &to(&[]));
        let restored = store.take_now("/", "p1", &read).expect("recoverable");
        assert_eq!(&*restored.kept.sid, "s1");
        let names: Vec<String> = replayed(&store, &restored)
            .iter()
            .map(|t| serde_json::from_str::<Vec<String>>(t).unwrap()[0].clone())
            .collect();
        assert_eq!(names, ["b", "d", "f"]);
        assert!(store.take_now("/", "p1", &read).is_none(), "taken once");
        assert_eq!(store.stats.recovered.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn no_session_for_unknown_pids_offsets_or_namespaces() {
        let store = store(Recovery::default());
        let read = send(&store, "[\"a\"]", &to(&[]));
        assert!(store.take_now("/", "nobody", &read).is_none());
        for bad in ["", "x", "1-1", "0-0-0", &format!("{}-99", store.epoch)] {
            store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
            assert!(store.take_now("/", "p", bad).is_none(), "{bad:?}");
        }
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        assert!(store.take_now("/chat", "p", &read).is_none());
        assert!(
            store.take_now("/", "p", &read).is_none(),
            "a wrong guess costs it"
        );
    }

    #[test]
    fn events_that_left_the_log_make_a_session_unrecoverable() {
        let store = store(Recovery {
            max_packets: 3,
            ..Recovery::default()
        });
        let read = send(&store, "[\"a\"]", &to(&[]));
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        for _ in 0..3 {
            send(&store, "[\"b\"]", &to(&[]));
        }
        assert!(
            store.take_now("/", "p", &read).is_some(),
            "3 missed, 3 kept"
        );
        let read = send(&store, "[\"a\"]", &to(&[]));
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        for _ in 0..4 {
            send(&store, "[\"b\"]", &to(&[]));
        }
        assert!(
            store.take_now("/", "p", &read).is_none(),
            "the first missed is gone"
        );
    }

    #[test]
    fn a_session_that_missed_more_than_its_queue_holds_is_not_recoverable() {
        let store = Store::new(Recovery::default(), 1 << 20, 5, None);
        let read = send(&store, "[\"a\"]", &to(&[]));
        store.persist("p".into(), kept("s", &["r"]), serde_json::Value::default);
        for _ in 0..5 {
            send(&store, "[\"b\"]", &to(&["r"]));
        }
        // Not for it: does not count.
        send(&store, "[\"c\"]", &to(&["elsewhere"]));
        assert!(store.take_now("/", "p", &read).is_some());
        store.persist("p".into(), kept("s", &["r"]), serde_json::Value::default);
        for _ in 0..6 {
            send(&store, "[\"b\"]", &to(&["r"]));
        }
        assert!(store.take_now("/", "p", &read).is_none());
    }

    #[test]
    fn sessions_are_bounded_oldest_first() {
        let store = store(Recovery {
            max_sessions: 2,
            ..Recovery::default()
        });
        let read = send(&store, "[\"a\"]", &to(&[]));
        for pid in ["p1", "p2", "p3"] {
            store.persist(pid.into(), kept("s", &[]), serde_json::Value::default);
        }
        assert_eq!(store.sessions(), 2);
        assert!(store.take_now("/", "p1", &read).is_none());
        assert!(store.take_now("/", "p3", &read).is_some());
        assert_eq!(store.stats.expired.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_log_is_bounded_in_bytes() {
        let store = store(Recovery {
            max_bytes: 100,
            ..Recovery::default()
        });
        for _ in 0..50 {
            send(&store, "[\"0123456789\"]", &to(&[]));
        }
        let inner = store.lock();
        assert!(
            inner.bytes <= 100 && inner.log.len() == 3,
            "{}",
            inner.bytes
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_and_events_expire_with_the_window() {
        let store = store(Recovery {
            max_disconnection_duration: Duration::from_secs(10),
            ..Recovery::default()
        });
        let read = send(&store, "[\"a\"]", &to(&[]));
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        send(&store, "[\"b\"]", &to(&[]));
        tokio::time::advance(Duration::from_secs(11)).await;
        store.sweep();
        assert_eq!(store.sessions(), 0);
        assert!(store.lock().log.is_empty());
        assert!(store.take_now("/", "p", &read).is_none());
        assert_eq!(store.stats.expired.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn offsets_an_adapter_gives_are_kept_and_checked() {
        let store = store(Recovery {
            max_packets: 3,
            ..Recovery::default()
        });
        let ns = Str::from("/");
        let at = |offset: &str, text: &str| {
            store.record_at(&ns, &event(text), &to(&[]), offset, |e| e.data.to_string())
        };
        assert_eq!(at("5-0", "[\"a\"]"), "[\"a\",\"5-0\"]");
        assert_eq!(
            at("not-an-offset", "[\"z\"]"),
            "[\"z\"]",
            "delivered, not logged"
        );
        at("5-1", "[\"b\"]");
        at("7-0", "[\"c\"]");
        at("9-0", "[\"d\"]");
        // "5-0" left the log last: a client that read it missed nothing that left.
        for (offset, missed) in [("5-0", 3), ("5-1", 2), ("9-0", 0)] {
            store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
            let restored = store.take_now("/", "p", offset).expect(offset);
            assert_eq!(replayed(&store, &restored).len(), missed, "{offset}");
        }
        // Offsets this log never gave, or gave but no longer holds.
        at("9-1", "[\"e\"]");
        for offset in ["6-0", "9-2", "5-0", "x-1", "9"] {
            store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
            assert!(store.take_now("/", "p", offset).is_none(), "{offset}");
        }
    }

    fn missed_event(offset: &str, text: &str) -> MissedEvent {
        MissedEvent {
            offset: offset.into(),
            ns: "/".into(),
            event: event(text),
            opts: to(&[]),
        }
    }

    #[test]
    fn what_this_log_lacks_comes_from_the_cluster_up_to_where_it_was_read() {
        let store = store(Recovery::default());
        let ns = Str::from("/");
        // This node started reading the stream at 5-0; a client read 3-0 elsewhere.
        store.read_to("5-0");
        store.record_at(&ns, &event("[\"b\"]"), &to(&[]), "6-0", |_| ());
        let earlier = || {
            Some(vec![
                missed_event("4-0", "[\"a\"]"),
                missed_event("6-0", "[\"b\"]"),
                // Not read here yet: it reaches the client when it is.
                missed_event("7-0", "[\"c\"]"),
            ])
        };
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        let restored = store
            .take_kept("/", "p", "3-0", earlier(), |k| k)
            .expect("recoverable");
        assert_eq!(
            replayed(&store, &restored),
            ["[\"a\",\"4-0\"]", "[\"b\",\"6-0\"]"]
        );
        // Once read here, it is replayed from the log (after what came back).
        store.record_at(&ns, &event("[\"c\"]"), &to(&[]), "7-0", |_| ());
        store.record_at(&ns, &event("[\"d\"]"), &to(&[]), "8-0", |_| ());
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        let restored = store.take_kept("/", "p", "3-0", earlier(), |k| k).unwrap();
        assert_eq!(replayed(&store, &restored).len(), 4);
        // Nothing read back (the offset is gone from the cluster too): not recoverable.
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        assert!(store.take_kept("/", "p", "3-0", None, |k| k).is_none());
    }

    #[test]
    fn a_gap_between_what_came_back_and_this_log_is_not_recoverable() {
        let store = store(Recovery {
            max_packets: 1,
            ..Recovery::default()
        });
        let ns = Str::from("/");
        store.record_at(&ns, &event("[\"b\"]"), &to(&[]), "6-0", |_| ());
        store.record_at(&ns, &event("[\"c\"]"), &to(&[]), "7-0", |_| ());
        // 6-0 left this log; the cluster gave back only up to 4-0.
        store.persist("p".into(), kept("s", &[]), serde_json::Value::default);
        let earlier = Some(vec![missed_event("4-0", "[\"a\"]")]);
        assert!(store.take_kept("/", "p", "3-0", earlier, |k| k).is_none());
    }

    #[test]
    fn credentials_are_read_from_the_connect_payload() {
        assert_eq!(
            credentials("{\"token\":\"t\",\"pid\":\"p\",\"offset\":\"1-2\"}"),
            Some(("p".into(), "1-2".into()))
        );
        assert_eq!(credentials("{\"pid\":\"p\"}"), None);
        assert_eq!(credentials("{\"pid\":1,\"offset\":\"x\"}"), None);
    }
}

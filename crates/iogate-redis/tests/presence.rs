//! Presence in a redis-server of the test's own, with two store instances as two nodes:
//! transitions reported once across the nodes, tabs counted once, a silent node reaped within
//! the bound, a restarted Redis healed by re-asserting, and the figures of a 10,000-member room.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{RedisCluster, RedisServer};
use iogate_redis::presence::{Member, PresenceError, RedisPresence, Transition, TransitionKind};
use iogate_redis::{Connection, Protocol, Redis};
use redis::aio::ConnectionManager;

async fn node(redis: &RedisServer) -> RedisPresence<Connection> {
    node_of(Redis::new(redis.url())).await
}

/// A node's presence over the connection iogate makes for `config`.
async fn node_of(config: Redis) -> RedisPresence<Connection> {
    let conn = iogate_redis::connection(&config).await.unwrap();
    let store = RedisPresence::new(conn).timing(Duration::from_millis(200), Duration::from_secs(1));
    store.register().await.unwrap();
    store
}

fn member(room: &str, client: &str, user: &str) -> Member {
    Member {
        namespace: "/chat".into(),
        room: room.into(),
        client: client.into(),
        user: user.into(),
    }
}

/// An answer without transitions.
fn quiet(answer: Result<Vec<Transition>, PresenceError>) {
    let transitions = answer.unwrap();
    assert!(transitions.is_empty(), "{transitions:?}");
}

fn kinds(ts: &[Transition]) -> Vec<(TransitionKind, Option<&str>)> {
    ts.iter().map(|t| (t.kind, t.user.as_deref())).collect()
}

use TransitionKind::{RoomOccupied, RoomVacated, UserOffline, UserOnline};

#[tokio::test]
async fn a_user_with_tabs_on_two_nodes_is_online_once_and_offline_once() {
    let redis = RedisServer::start().await;
    tabs_on_two_nodes(node(&redis).await, node(&redis).await).await;
}

/// The same on a Redis Cluster (the sharded adapter's): every key shares one hash tag, so each
/// script runs on the shard that owns it.
#[tokio::test]
async fn on_a_redis_cluster_too() {
    let cluster = RedisCluster::start(3, 0).await;
    let config = || Redis::new(cluster.url()).protocol(Protocol::Sharded);
    tabs_on_two_nodes(node_of(config()).await, node_of(config()).await).await;
}

async fn tabs_on_two_nodes(a: RedisPresence<Connection>, b: RedisPresence<Connection>) {
    let first = a.add(&[member("lobby", "a1", "alice")]).await.unwrap();
    assert_eq!(
        kinds(&first),
        [(RoomOccupied, None), (UserOnline, Some("alice"))]
    );
    // A second tab on the same node, then one on the other node: no transition.
    quiet(a.add(&[member("lobby", "a2", "alice")]).await);
    quiet(b.add(&[member("lobby", "b1", "alice")]).await);
    // Adding again what is there changes nothing.
    quiet(b.add(&[member("lobby", "b1", "alice")]).await);
    let bob = b.add(&[member("lobby", "b2", "bob")]).await.unwrap();
    assert_eq!(kinds(&bob), [(UserOnline, Some("bob"))]);

    let presence = a.presence("/chat", "lobby").await.unwrap();
    assert_eq!(
        presence,
        [
            ("alice".into(), vec!["a1".into(), "a2".into(), "b1".into()]),
            ("bob".into(), vec!["b2".into()])
        ]
    );

    // A node cannot remove another node's client.
    quiet(a.remove(&[member("lobby", "b1", "")]).await);
    quiet(a.remove(&[member("lobby", "a1", "")]).await);
    quiet(a.remove(&[member("lobby", "a2", "")]).await);
    let last = b.remove(&[member("lobby", "b1", "")]).await.unwrap();
    assert_eq!(kinds(&last), [(UserOffline, Some("alice"))]);
    let gone = b.remove(&[member("lobby", "b2", "")]).await.unwrap();
    assert_eq!(
        kinds(&gone),
        [(UserOffline, Some("bob")), (RoomVacated, None)]
    );
    assert!(a.presence("/chat", "lobby").await.unwrap().is_empty());
    // Removing again reports nothing.
    quiet(b.remove(&[member("lobby", "b2", "")]).await);
}

#[tokio::test]
async fn transitions_of_simultaneous_joins_are_reported_by_one_node_only() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut online = Vec::new();
    for round in 0..20 {
        let room = format!("race-{round}");
        let (on_a, on_b) = ([member(&room, "a", "carol")], [member(&room, "b", "carol")]);
        let (ra, rb) = tokio::join!(a.add(&on_a), b.add(&on_b));
        online.extend(ra.unwrap().into_iter().chain(rb.unwrap()));
    }
    let users = online.iter().filter(|t| t.kind == UserOnline).count();
    let rooms = online.iter().filter(|t| t.kind == RoomOccupied).count();
    assert_eq!((users, rooms), (20, 20), "{online:?}");
}

#[tokio::test]
async fn a_silent_node_is_reaped_within_the_bound_by_one_other_node() {
    let redis = RedisServer::start().await;
    let (a, b, c) = (node(&redis).await, node(&redis).await, node(&redis).await);
    a.add(&[member("r1", "a1", "dave"), member("r2", "a2", "dave")])
        .await
        .unwrap();
    b.add(&[member("r1", "b1", "erin")]).await.unwrap();

    // `a` stops beating; `b` and `c` beat and reap every 200 ms.
    let silent = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        assert!(
            silent.elapsed() < Duration::from_millis(2500),
            "not reaped in time: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        for n in [&b, &c] {
            assert!(n.beat().await.unwrap());
            seen.extend(n.reap().await.unwrap());
        }
    }
    let reaped_after = silent.elapsed();
    assert!(reaped_after >= Duration::from_secs(1), "{reaped_after:?}");
    let set: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        set.len(),
        seen.len(),
        "a transition reported twice: {seen:?}"
    );
    let mut got: Vec<_> = seen
        .iter()
        .map(|t| (t.room.as_str(), t.kind, t.user.as_deref()))
        .collect();
    got.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(
        got,
        [
            ("r1", UserOffline, Some("dave")),
            ("r2", RoomVacated, None),
            ("r2", UserOffline, Some("dave")),
        ]
    );
    assert_eq!(
        b.presence("/chat", "r1").await.unwrap(),
        [("erin".into(), vec!["b1".into()])]
    );
    // The reaped node finds itself gone, and re-asserts: its user is back, once.
    assert!(!a.beat().await.unwrap());
    let back = a.reassert(&[member("r1", "a1", "dave")]).await.unwrap();
    assert_eq!(kinds(&back), [(UserOnline, Some("dave"))]);
    assert!(a.beat().await.unwrap());
}

#[tokio::test]
async fn a_restarted_redis_is_healed_by_the_nodes_reasserting() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (node(&redis).await, node(&redis).await);
    let on_a = [member("hall", "a1", "frank"), member("hall", "a2", "grace")];
    let on_b = [member("hall", "b1", "frank")];
    a.add(&on_a).await.unwrap();
    b.add(&on_b).await.unwrap();

    redis.stop().await;
    assert!(a.beat().await.is_err());
    redis.restart().await;
    // The connections come back by themselves; the nodes find themselves gone.
    assert!(!beat_once_answered(&a).await);
    let healed_a = a.reassert(&on_a).await.unwrap();
    assert!(!beat_once_answered(&b).await);
    let healed_b = b.reassert(&on_b).await.unwrap();
    // Each user back once, whichever node re-asserted first.
    let online: Vec<_> = healed_a
        .iter()
        .chain(&healed_b)
        .filter(|t| t.kind == UserOnline)
        .filter_map(|t| t.user.clone())
        .collect();
    assert_eq!(online.len(), 2, "{online:?}");
    assert_eq!(
        a.presence("/chat", "hall").await.unwrap(),
        [
            ("frank".into(), vec!["a1".into(), "b1".into()]),
            ("grace".into(), vec!["a2".into()])
        ]
    );
    assert!(a.beat().await.unwrap() && b.beat().await.unwrap());
}

/// Beats until Redis answers (a connection's first command after an outage fails, and it
/// reconnects).
async fn beat_once_answered(store: &RedisPresence<Connection>) -> bool {
    for _ in 0..50 {
        if let Ok(listed) = store.beat().await {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Redis did not answer again");
}

#[tokio::test]
async fn keys_expire_when_no_node_beats() {
    let redis = RedisServer::start().await;
    let a = node(&redis).await;
    a.add(&[member("ttl", "a1", "heidi")]).await.unwrap();
    assert!(!a.presence("/chat", "ttl").await.unwrap().is_empty());
    // Three timeouts (3 s here) without a beat: everything is gone.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = ConnectionManager::new(client).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("{socket.io:presence}*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// The figures of docs/presence.md: `cargo test -p iogate-redis --release --test presence --
/// --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement: run it on purpose"]
async fn figures_of_a_ten_thousand_member_room() {
    let redis = RedisServer::start().await;
    let a = node(&redis).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = ConnectionManager::new(client).await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .unwrap();

    let joins = 10_000;
    let started = Instant::now();
    for i in 0..joins {
        a.add(&[member("big", &format!("c{i}"), &format!("u{}", i / 2))])
            .await
            .unwrap();
    }
    let join_each = started.elapsed() / joins;
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let calls = |name: &str| {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .and_then(|l| l.split("calls=").nth(1))
            .and_then(|l| l.split(',').next())
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let scripts = calls("evalsha") + calls("eval");
    let inside: u64 = ["hget", "exists", "hset", "hincrby", "pexpire"]
        .iter()
        .map(|c| calls(c))
        .sum();

    let mut reads = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let presence = a.presence("/chat", "big").await.unwrap();
        reads.push(t.elapsed());
        assert_eq!(presence.len(), 5_000);
    }
    reads.sort();
    let memory: String = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("{socket.io:presence}:clients:5:/chat:big")
        .query_async::<Option<i64>>(&mut conn)
        .await
        .unwrap()
        .map_or_else(String::new, |b| b.to_string());

    let started = Instant::now();
    for i in 0..joins {
        a.remove(&[member("big", &format!("c{i}"), "")])
            .await
            .unwrap();
    }
    let leave_each = started.elapsed() / joins;

    // A node with 10,000 memberships reaped (the same script as for a dead node).
    let members: Vec<Member> = (0..joins)
        .map(|i| member(&format!("r{}", i % 100), &format!("c{i}"), &format!("u{i}")))
        .collect();
    for chunk in members.chunks(500) {
        a.add(chunk).await.unwrap();
    }
    let started = Instant::now();
    let reaped = a.leave().await.unwrap();
    let reap_all = started.elapsed();
    assert_eq!(reaped.len(), joins as usize + 100);
    println!("reaping a node of 10,000 memberships in 100 rooms: {reap_all:?}");
    println!(
        "joins: {join_each:?} each, {:.2} round trips and {:.1} commands inside the script per join; \
         presence of 10,000 clients / 5,000 users: median {:?}, max {:?}; room hash {memory} bytes; \
         leaves: {leave_each:?} each",
        scripts as f64 / joins as f64,
        inside as f64 / joins as f64,
        reads[reads.len() / 2],
        reads[reads.len() - 1],
    );
}

//! Two iogate nodes with the streams adapter on a redis-server of the test's own: broadcasts in
//! one order everywhere, rooms shared, and a client whose connection broke on one node
//! recovered on the other.

mod common;

use std::time::Duration;

use common::{Client, Node, RedisServer, eventually, eventually_long, poll, rooms};
use iogate_redis::Redis;
use iogate_socketio::{BroadcastOptions, Recovery};
use serde_json::{Value, json};

fn config(redis: &RedisServer) -> Redis {
    Redis::new(redis.url()).request_timeout(Duration::from_secs(2))
}

/// How often Redis and the clients are asked again.
const POLL: Duration = Duration::from_millis(50);

/// Two nodes on `redis` that recover connections.
async fn two_recovering(redis: &RedisServer) -> (Node, Node) {
    (
        recovering(config(redis)).await,
        recovering(config(redis)).await,
    )
}

/// A node of `config` that recovers connections.
async fn recovering(config: Redis) -> Node {
    Node::streams(config, Some(Recovery::default())).await
}

/// The offset an event carries as its last argument, and the event without it.
fn split_offset(mut args: Value) -> (Value, String) {
    let offset = args.as_array_mut().unwrap().pop().unwrap();
    let offset = offset.as_str().expect("an offset").to_owned();
    assert!(iogate_redis::streams_wire::is_offset(&offset), "{offset}");
    (args, offset)
}

/// Whether Redis holds session `pid` now.
async fn session_kept(redis: &RedisServer, pid: &str) -> bool {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("EXISTS")
        .arg(format!("sio:session:{pid}"))
        .query_async::<bool>(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_node_delivers_the_broadcasts_in_one_order() {
    let redis = RedisServer::start().await;
    let (a, b) = two_recovering(&redis).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    on_a.call(json!(["join", "r"])).await;
    on_b.call(json!(["join", "r"])).await;

    // Both nodes broadcast at once: each client sees all 40, in the same order, with the same
    // offsets, and each node's own in the order it sent them.
    for i in 0..20 {
        drop(a.ns().broadcast(&rooms(&["r"]), "e", &(format!("a{i}"),)));
        drop(b.ns().broadcast(&rooms(&["r"]), "e", &(format!("b{i}"),)));
    }
    let mut seen = Vec::new();
    for client in [&mut on_a, &mut on_b] {
        let mut got = Vec::new();
        for _ in 0..40 {
            got.push(split_offset(client.event().await));
        }
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    for node in ["a", "b"] {
        let own: Vec<String> = seen[0]
            .iter()
            .map(|(args, _)| args[1].as_str().unwrap().to_owned())
            .filter(|s| s.starts_with(node))
            .collect();
        let sent: Vec<String> = (0..20).map(|i| format!("{node}{i}")).collect();
        assert_eq!(own, sent);
    }
}

#[tokio::test]
async fn rooms_broadcasts_and_fetches_cross_nodes_without_recovery() {
    let redis = RedisServer::start().await;
    let a = Node::streams(config(&redis), None).await;
    let b = Node::streams(config(&redis), None).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;

    // A join made on A reaches B's socket.
    a.ns()
        .add_sockets(&rooms(&[&on_b.sid]), &["made-on-a".to_owned()])
        .await
        .unwrap();
    eventually_rooms(&mut on_b, "made-on-a").await;

    // Without recovery, no offset; binary crosses; except holds.
    common::binary_broadcast_crosses(&a, "made-on-a", &mut on_b, &mut on_a).await;

    // Fetching sockets and rooms asks the other node.
    assert_eq!(common::fetched_ids(&a).await, common::sids(&[&on_a, &on_b]));
    let all = a.ns().all_rooms().await.unwrap();
    assert_eq!(all, ["made-on-a"]);
    let theirs = a.ns().fetch_sockets(&rooms(&[&on_b.sid])).await.unwrap();
    assert_eq!(theirs[0].data, json!({"sid": on_b.sid}));

    // A disconnect made on B reaches A's socket.
    b.ns()
        .disconnect_sockets(&rooms(&[&on_a.sid]), false)
        .await
        .unwrap();
    eventually("A's socket is gone", || a.ns().sockets().is_empty()).await;
}

async fn eventually_rooms(client: &mut Client, room: &str) {
    poll(&format!("joined {room}"), POLL, 100, async || {
        let rooms = client.call(json!(["rooms"])).await;
        rooms.as_array().unwrap().iter().any(|r| r == room)
    })
    .await;
}

#[tokio::test]
async fn a_client_dropped_on_one_node_is_recovered_on_the_other() {
    let redis = RedisServer::start().await;
    let (a, b) = two_recovering(&redis).await;
    let mut client = Client::connect(a.addr).await;
    let pid = client.pid.clone().expect("a pid");
    client.call(json!(["join", "room1"])).await;
    // A client that stays, to compare with.
    let mut witness = Client::connect(a.addr).await;
    witness.call(json!(["join", "room1"])).await;
    b.ns()
        .broadcast(&rooms(&["room1"]), "read", &(0,))
        .unwrap()
        .await
        .unwrap();
    let (_, offset) = split_offset(client.event().await);
    witness.event().await;
    let sid = client.sid.clone();
    client.drop_transport();
    eventually_kept(&redis, &pid).await;

    // Missed while away, from both nodes, to its room and to it alone.
    for (node, text) in [(&b, "missed-1"), (&a, "missed-2"), (&b, "missed-3")] {
        drop(node.ns().broadcast(&rooms(&["room1"]), "news", &(text,)));
    }
    drop(a.ns().broadcast(&rooms(&[&sid]), "direct", &("to-you",)));
    // Not for it.
    drop(
        b.ns()
            .broadcast(&rooms(&["other"]), "news", &("not-yours",)),
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(witness.event().await);
    }

    let mut back = Client::connect_with(b.addr, json!({"pid": pid, "offset": offset})).await;
    assert_eq!(back.sid, sid, "the same id");
    assert_eq!(back.pid.as_deref(), Some(pid.as_str()));
    let mut missed = Vec::new();
    for _ in 0..4 {
        missed.push(back.event().await);
    }
    // What the nodes sent at once arrives in the stream's order: the order the client that
    // stayed saw, offsets included.
    let direct = missed
        .iter()
        .position(|e| e[0] == "direct")
        .expect("the direct event");
    assert_eq!(
        split_offset(missed.remove(direct)).0,
        json!(["direct", "to-you"])
    );
    assert_eq!(missed, seen);
    let mut texts: Vec<Value> = seen.into_iter().map(|e| split_offset(e).0).collect();
    texts.sort_by_key(|v| v.to_string());
    assert_eq!(
        texts,
        [
            json!(["news", "missed-1"]),
            json!(["news", "missed-2"]),
            json!(["news", "missed-3"]),
        ]
    );
    let state = back.call(json!(["state"])).await;
    assert_eq!(state, json!({"recovered": true, "previous": {"sid": sid}}));
    assert_eq!(back.call(json!(["rooms"])).await, json!(["room1"]));
    // New events reach it once, from either node.
    drop(a.ns().broadcast(&rooms(&["room1"]), "news", &("after",)));
    assert_eq!(split_offset(back.event().await).0, json!(["news", "after"]));
    assert_eq!(back.maybe_event(Duration::from_millis(300)).await, None);
    assert!(!session_kept(&redis, &pid).await, "a session is taken once");
}

async fn eventually_kept(redis: &RedisServer, pid: &str) {
    let what = format!("session {pid} kept");
    poll(&what, POLL, 100, async || session_kept(redis, pid).await).await;
}

#[tokio::test]
async fn no_recovery_for_a_used_or_unknown_session_or_an_unknown_offset() {
    let redis = RedisServer::start().await;
    let (a, b) = two_recovering(&redis).await;
    let mut client = Client::connect(a.addr).await;
    let pid = client.pid.clone().unwrap();
    drop(
        a.ns()
            .broadcast(&BroadcastOptions::default(), "read", &(0,)),
    );
    let (_, offset) = split_offset(client.event().await);
    let sid = client.sid.clone();
    client.drop_transport();
    eventually_kept(&redis, &pid).await;

    // An offset no node gave: a new session, and the kept one is used up.
    let fresh = Client::connect_with(b.addr, json!({"pid": pid, "offset": "1-0"})).await;
    assert_ne!(fresh.sid, sid);
    let again = Client::connect_with(a.addr, json!({"pid": pid, "offset": offset})).await;
    assert_ne!(again.sid, sid, "the session was used up");
    let forged = Client::connect_with(b.addr, json!({"pid": "forged", "offset": offset})).await;
    assert_ne!(forged.sid, sid);
    assert_eq!(
        forged
            .pid
            .as_deref()
            .map(|p| p != "forged" && p != pid.as_str()),
        Some(true)
    );
}

#[tokio::test]
async fn an_outage_keeps_local_delivery_and_the_cluster_heals() {
    let mut redis = RedisServer::start().await;
    let short = |r: &RedisServer| config(r).command_timeout(Duration::from_millis(500));
    let a = recovering(short(&redis)).await;
    let b = recovering(short(&redis)).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    on_a.call(json!(["join", "r"])).await;
    on_b.call(json!(["join", "r"])).await;

    redis.stop().await;
    let (health_a, health_b) = (a.health.clone(), b.health.clone());
    eventually_long("A notices the outage", || !health_a.is_up()).await;

    // A's own clients still get A's broadcasts, at once and without an offset.
    common::broadcast_unavailable(&a).await;
    assert_eq!(on_a.event().await, json!(["during", "x"]));
    on_a.emit(json!(["broadcast", "r", "via-handler", 1])).await;
    assert_eq!(on_a.event().await, json!(["via-handler", 1]));
    assert_eq!(on_b.maybe_event(Duration::from_millis(300)).await, None);

    redis.restart().await;
    eventually_long("both see Redis again", || {
        health_a.is_up() && health_b.is_up()
    })
    .await;
    // The new Redis has an empty stream: both nodes read it from the start, and each
    // node's broadcasts reach the other's clients again.
    for _ in 0..2 {
        drop(a.ns().broadcast(&rooms(&["r"]), "after", &("a",)));
        drop(b.ns().broadcast(&rooms(&["r"]), "after", &("b",)));
        let mut got = Vec::new();
        for client in [&mut on_a, &mut on_b] {
            let mut mine = vec![
                split_offset(client.event().await).0,
                split_offset(client.event().await).0,
            ];
            mine.sort_by_key(|v| v.to_string());
            got.push(mine);
        }
        assert_eq!(got[0], [json!(["after", "a"]), json!(["after", "b"])]);
        assert_eq!(got[0], got[1]);
    }
}

#[tokio::test]
async fn redis_holds_no_more_sessions_of_a_node_than_its_bound() {
    let redis = RedisServer::start().await;
    let bounded = Recovery {
        max_sessions: 2,
        ..Recovery::default()
    };
    let a = Node::streams(config(&redis), Some(bounded)).await;
    let mut pids = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(a.addr).await;
        pids.push(client.pid.clone().unwrap());
        drop(a.ns().broadcast(&rooms(&[&client.sid]), "read", &(0,)));
        client.event().await;
        client.drop_transport();
        // One at a time, so that the first is the oldest.
        eventually_kept(&redis, pids.last().unwrap()).await;
    }
    poll("the oldest is forgotten", POLL, 100, async || {
        !session_kept(&redis, &pids[0]).await
    })
    .await;
    assert!(session_kept(&redis, &pids[1]).await);
    assert!(session_kept(&redis, &pids[2]).await);
}

#[tokio::test]
async fn a_node_started_after_the_client_left_recovers_it_from_the_stream() {
    let redis = RedisServer::start().await;
    let a = recovering(config(&redis)).await;
    let mut client = Client::connect(a.addr).await;
    let pid = client.pid.clone().unwrap();
    client.call(json!(["join", "r"])).await;
    drop(a.ns().broadcast(&rooms(&["r"]), "read", &(0,)));
    let (_, offset) = split_offset(client.event().await);
    let sid = client.sid.clone();
    client.drop_transport();
    eventually_kept(&redis, &pid).await;
    // A client that stays, to know when A delivered each event.
    let mut witness = Client::connect(a.addr).await;
    witness.call(json!(["join", "r"])).await;
    drop(a.ns().broadcast(&rooms(&["r"]), "news", &("before-c",)));
    assert_eq!(
        split_offset(witness.event().await).0,
        json!(["news", "before-c"])
    );

    // Node C starts now: it never read the client's offset nor the first event it missed.
    let c = recovering(config(&redis)).await;
    drop(a.ns().broadcast(&rooms(&["r"]), "news", &("after-c",)));
    assert_eq!(
        split_offset(witness.event().await).0,
        json!(["news", "after-c"])
    );

    let mut back = Client::connect_with(c.addr, json!({"pid": pid, "offset": offset})).await;
    assert_eq!(back.sid, sid);
    assert_eq!(
        split_offset(back.event().await).0,
        json!(["news", "before-c"])
    );
    assert_eq!(
        split_offset(back.event().await).0,
        json!(["news", "after-c"])
    );
    drop(a.ns().broadcast(&rooms(&["r"]), "news", &("later",)));
    assert_eq!(split_offset(back.event().await).0, json!(["news", "later"]));
    assert_eq!(back.maybe_event(Duration::from_millis(300)).await, None);
}

#[tokio::test]
async fn server_side_events_reach_every_other_node_and_bring_their_answers() {
    let redis = RedisServer::start().await;
    common::server_side_events_cross_nodes(|| Node::streams(config(&redis), None)).await;
}

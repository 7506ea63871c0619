//! Two iogate nodes sharing a redis-server of the test's own.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Node, RedisServer, eventually, eventually_long, rooms};
use iogate_redis::Redis;
use iogate_socketio::{AdapterError, BroadcastOptions};
use serde_json::json;

fn config(redis: &RedisServer) -> Redis {
    Redis::new(redis.url()).request_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn a_broadcast_to_a_room_reaches_the_other_node() {
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis)).await;
    let b = Node::start(config(&redis)).await;
    let mut on_b = Client::connect(b.addr).await;
    let mut elsewhere = Client::connect(b.addr).await;
    assert_eq!(on_b.call(json!(["join", "room1"])).await, json!("ok"));

    let forwarded = a
        .ns()
        .broadcast(&rooms(&["room1"]), "hello", &("world", 1))
        .unwrap();
    forwarded.await.unwrap();
    assert_eq!(on_b.event().await, json!(["hello", "world", 1]));
    // Not in the room: nothing.
    assert_eq!(
        elsewhere.maybe_event(Duration::from_millis(300)).await,
        None
    );

    // Binary attachments cross too, and except is honoured.
    elsewhere.call(json!(["join", "room2"])).await;
    on_b.call(json!(["join", "room2"])).await;
    common::binary_broadcast_crosses(&a, "room2", &mut on_b, &mut elsewhere).await;
}

#[tokio::test]
async fn add_sockets_on_one_node_makes_the_others_join() {
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis)).await;
    let b = Node::start(config(&redis)).await;
    let on_b = Client::connect(b.addr).await;

    a.ns()
        .add_sockets(&rooms(&[&on_b.sid]), &["vip".into()])
        .await
        .unwrap();
    let b_ns = b.ns();
    eventually("B's socket joins vip", || {
        b_ns.socket(&on_b.sid).is_some_and(|s| s.in_room("vip"))
    })
    .await;

    a.ns()
        .del_sockets(&BroadcastOptions::default(), &["vip".into()])
        .await
        .unwrap();
    eventually("B's socket leaves vip", || {
        b_ns.socket(&on_b.sid).is_some_and(|s| !s.in_room("vip"))
    })
    .await;

    a.ns()
        .disconnect_sockets(&rooms(&[&on_b.sid]), false)
        .await
        .unwrap();
    eventually("B's socket is disconnected", || {
        b_ns.socket(&on_b.sid).is_none()
    })
    .await;
}

#[tokio::test]
async fn fetch_sockets_and_all_rooms_include_every_node() {
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis)).await;
    let b = Node::start(config(&redis)).await;
    let c = Node::start(config(&redis)).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    let on_c = Client::connect(c.addr).await;
    on_a.call(json!(["join", "ra"])).await;
    on_b.call(json!(["join", "rb"])).await;

    let all = a
        .ns()
        .fetch_sockets(&BroadcastOptions::default())
        .await
        .unwrap();
    let mut ids: Vec<_> = all.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, common::sids(&[&on_a, &on_b, &on_c]));
    let theirs = all.iter().find(|s| s.id == on_b.sid).unwrap();
    assert!(theirs.rooms.contains(&"rb".to_owned()), "{theirs:?}");

    // Selected by room, across nodes.
    let in_rb = a.ns().fetch_sockets(&rooms(&["rb"])).await.unwrap();
    assert_eq!(in_rb.len(), 1);
    assert_eq!(in_rb[0].id, on_b.sid);
    assert_eq!(
        a.ns()
            .count_all(&BroadcastOptions::default())
            .await
            .unwrap(),
        3
    );

    let rooms = b.ns().all_rooms().await.unwrap();
    assert!(
        rooms.contains(&"ra".to_owned()) && rooms.contains(&"rb".to_owned()),
        "{rooms:?}"
    );
}

#[tokio::test]
async fn a_node_that_does_not_answer_is_a_timeout() {
    let redis = RedisServer::start().await;
    let a = Node::start(config(&redis).request_timeout(Duration::from_millis(500))).await;
    // A bare subscriber of the request channel counts as a node but never answers.
    let client = redis::Client::open(format!("{}?protocol=resp3", redis.url())).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
    let mut mute = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap();
    mute.subscribe("socket.io-request#/#").await.unwrap();

    let started = Instant::now();
    let err = a
        .ns()
        .fetch_sockets(&BroadcastOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_outage_keeps_local_delivery_and_heals_by_itself() {
    let mut redis = RedisServer::start().await;
    let a = Node::start(config(&redis).command_timeout(Duration::from_millis(500))).await;
    let b = Node::start(config(&redis).command_timeout(Duration::from_millis(500))).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;
    on_a.call(json!(["join", "r"])).await;
    on_b.call(json!(["join", "r"])).await;

    redis.stop().await;
    let health = a.health.clone();
    eventually_long("A notices the outage", || !health.is_up()).await;

    // Local delivery goes on; the forwarding fails at once.
    let started = Instant::now();
    common::broadcast_unavailable(&a).await;
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(on_a.event().await, json!(["during", "x"]));
    let err = a.ns().all_rooms().await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable(_)), "{err:?}");

    redis.restart().await;
    let health_b = b.health.clone();
    eventually_long("both see Redis again", || {
        health.is_up() && health_b.is_up()
    })
    .await;
    // Subscriptions came back by themselves: cross-node delivery resumes.
    a.ns()
        .broadcast(&rooms(&["r"]), "after", &("y",))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(on_b.event().await, json!(["after", "y"]));
    assert_eq!(on_a.event().await, json!(["after", "y"]));
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error_without_the_password() {
    let port = common::free_port();
    let started = Instant::now();
    let err = iogate_redis::RedisAdapter::connect(
        Redis::new(format!("redis://:s3cret@127.0.0.1:{port}"))
            .startup_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = err.to_string();
    assert!(
        matches!(err, iogate_redis::ClusterError::Unreachable { .. }),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && text.contains("********"),
        "{text}"
    );
}

#[tokio::test]
async fn server_side_events_reach_every_other_node_and_bring_their_answers() {
    let redis = RedisServer::start().await;
    common::server_side_events_cross_nodes(|| Node::start(config(&redis))).await;
}

//! iogate nodes with the sharded adapter on a Redis Cluster of the test's own (three masters,
//! each with a replica): rooms, broadcasts, requests and server-side events cross the nodes;
//! a room's channel is subscribed only where the room has members; a master killed and failed
//! over costs only the messages sent while its shard had no master.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Client, NODE_TIMEOUT, Node, RedisCluster, eventually, poll, rooms};
use iogate_redis::{Protocol, Redis};
use iogate_socketio::BroadcastOptions;
use serde_json::json;

fn config(cluster: &RedisCluster) -> Redis {
    Redis::new(cluster.url())
        .protocol(Protocol::Sharded)
        .request_timeout(Duration::from_secs(2))
}

/// How many connections subscribe the sharded channel `channel`, over the whole cluster.
async fn subscribers(cluster: &RedisCluster, channel: &str) -> usize {
    let master = cluster.master_of(channel).await;
    let out = cluster
        .cli(master, &["pubsub", "shardnumsub", channel])
        .await;
    out.lines()
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits up to 2.5 s for `channel` to have `count` subscribers; fails with `what` otherwise.
async fn subscribed(cluster: &RedisCluster, channel: &str, count: usize, what: &str) {
    poll(what, Duration::from_millis(50), 50, async || {
        subscribers(cluster, channel).await == count
    })
    .await;
}

#[tokio::test]
async fn rooms_broadcasts_and_requests_cross_the_shards() {
    let cluster = RedisCluster::start(3, 0).await;
    let a = Node::sharded(config(&cluster)).await;
    let b = Node::sharded(config(&cluster)).await;
    let mut on_a = Client::connect(a.addr).await;
    let mut on_b = Client::connect(b.addr).await;

    // A room's channel is subscribed by the nodes with members in it, and only while they have.
    let channel = "socket.io#/#news#";
    assert_eq!(subscribers(&cluster, channel).await, 0);
    on_b.call(json!(["join", "news"])).await;
    subscribed(&cluster, channel, 1, "B subscribed the room's channel").await;

    // A one-room broadcast from A goes on the room's channel and reaches B's member.
    let sent = on_a
        .call(json!(["broadcast", "news", "headline", "h1"]))
        .await;
    assert_eq!(sent, json!(true));
    assert_eq!(on_b.event().await, json!(["headline", "h1"]));

    // Binary crosses (msgpack on the wire), and `except` holds.
    on_a.call(json!(["join", "news"])).await;
    common::binary_broadcast_crosses(&a, "news", &mut on_b, &mut on_a).await;

    // A broadcast to everyone goes on the namespace's channel.
    a.ns()
        .broadcast(&BroadcastOptions::default(), "all", &("x",))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(on_a.event().await, json!(["all", "x"]));
    assert_eq!(on_b.event().await, json!(["all", "x"]));

    // Joins and disconnects made on A reach B's socket; requests gather both nodes.
    a.ns()
        .add_sockets(&rooms(&[&on_b.sid]), &["made-on-a".to_owned()])
        .await
        .unwrap();
    let b_rooms = || {
        let ns = b.ns();
        ns.sockets().first().map(|s| s.rooms()).unwrap_or_default()
    };
    eventually("B's socket joined made-on-a", || {
        b_rooms().contains(&"made-on-a".to_owned())
    })
    .await;
    assert_eq!(common::fetched_ids(&a).await, common::sids(&[&on_a, &on_b]));
    let all = a.ns().all_rooms().await.unwrap();
    assert!(all.contains(&"made-on-a".to_owned()), "{all:?}");

    // The last member leaving unsubscribes the room's channel on its node.
    on_b.call(json!(["leave", "news"])).await;
    // A's member is still in: A's subscription stays.
    subscribed(&cluster, channel, 1, "A still has a member").await;
    on_a.call(json!(["leave", "news"])).await;
    let none = "no node has members: no subscription left";
    subscribed(&cluster, channel, 0, none).await;

    a.ns()
        .disconnect_sockets(&rooms(&[&on_b.sid]), false)
        .await
        .unwrap();
    eventually("B's socket disconnected", || b.ns().sockets().is_empty()).await;
}

#[tokio::test]
async fn server_side_events_cross_the_shards() {
    let cluster = RedisCluster::start(3, 0).await;
    common::server_side_events_cross_nodes(|| Node::sharded(config(&cluster))).await;
}

/// A room's broadcasts flow on while the master of its channel's shard is killed: the replica
/// takes over, the client re-subscribes there, and what is lost is what was sent in between.
#[tokio::test]
async fn a_master_killed_and_failed_over_costs_only_the_messages_in_flight() {
    let mut cluster = RedisCluster::start(3, 1).await;
    let a = Node::sharded(config(&cluster)).await;
    let b = Node::sharded(config(&cluster)).await;
    let mut on_b = Client::connect(b.addr).await;
    on_b.call(json!(["join", "live"])).await;
    let channel = "socket.io#/#live#";
    subscribed(&cluster, channel, 1, "B subscribed the room's channel").await;

    // One message every 10 ms from A, through the kill, until 3 s after the cluster is ok.
    let stop = Arc::new(AtomicBool::new(false));
    let sent_so_far = Arc::new(AtomicU32::new(0));
    let sender = tokio::spawn({
        let (ns, stop, sent_so_far) = (a.ns(), stop.clone(), sent_so_far.clone());
        async move {
            let (mut sent, mut published) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let forwarded = ns.broadcast(&rooms(&["live"]), "tick", &(sent,)).unwrap();
                if forwarded.await.is_ok() {
                    published += 1;
                }
                sent += 1;
                sent_so_far.store(sent, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (sent, published)
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let master = cluster.master_of(channel).await;
    let before_kill = sent_so_far.load(Ordering::Relaxed);
    let killed = Instant::now();
    cluster.kill(master).await;
    cluster.wait_for_new_master(channel, master).await;
    let failed_over = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, published) = sender.await.unwrap();

    let mut got = Vec::new();
    while let Some(event) = on_b.maybe_event(Duration::from_millis(500)).await {
        got.push(event[1].as_u64().unwrap() as u32);
    }
    let lost = sent as usize - got.len();
    println!(
        "failover after {} ms (cluster-node-timeout {} ms): {sent} sent, {published} published, \
         {} received, {lost} lost",
        failed_over.as_millis(),
        NODE_TIMEOUT.as_millis(),
        got.len()
    );
    // In order, without repeats.
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    // Nothing lost before the kill nor after the failover: the last second's messages arrived.
    let tail: Vec<u32> = (sent.saturating_sub(50)..sent).collect();
    assert!(
        got.ends_with(&tail),
        "the messages after the failover arrive"
    );
    // The last two published before the kill may still sit in the dead master's output buffer.
    let before: Vec<u32> = (0..before_kill.saturating_sub(2)).collect();
    assert!(
        before.len() >= 10,
        "only {before_kill} sent before the kill"
    );
    assert!(got.starts_with(&before), "{got:?}");
    // What is lost is what was in flight, and what came while the receiving node followed the
    // new master (it looks four times a second): well under a second's worth (100 messages).
    assert!(lost <= 60, "{lost} lost");
}

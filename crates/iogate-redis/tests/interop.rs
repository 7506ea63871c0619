//! Interoperability with Node, on a redis-server of the test's own: a socket.io 4.8 node with
//! `@socket.io/redis-adapter` 8 and a `@socket.io/redis-emitter` 5 beside an iogate node with the
//! pub/sub adapter; and a socket.io 4.8 node with `@socket.io/redis-streams-adapter` 0.3 beside
//! an iogate node with the streams adapter, both recovering connections; and a socket.io 4.8
//! node with `@socket.io/redis-adapter`'s sharded adapter beside an iogate node with the
//! sharded adapter, on a Redis Cluster of the test's own.
//!
//! Needs Node.js and the packages of `tests/interop/package.json`, so it is ignored by default:
//!
//! ```sh
//! (cd crates/iogate-redis/tests/interop && npm ci)
//! cargo test -p iogate-redis --test interop -- --ignored
//! ```

mod common;

use common::{Node, RedisCluster, RedisServer};
use iogate_redis::{Protocol, Redis};
use iogate_socketio::Recovery;

/// Runs `script` of `tests/interop` with `args`, printing what it said; fails when it does.
async fn run_node(script: &str, args: &[String]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules").exists(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let out = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .output()
        .await
        .expect("node is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "[{script} {}]\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "interop checks failed ({script} {}):\n{stdout}",
        args.join(" ")
    );
}

#[tokio::test]
#[ignore = "needs node and `npm ci` in tests/interop (scripts/test runs it)"]
async fn node_socket_io_and_the_emitter_share_rooms_with_iogate() {
    // Node answering on the shared response channel (its default), then on ours.
    for mode in ["shared", "specific"] {
        let redis = RedisServer::start().await;
        let node = Node::start(Redis::new(redis.url())).await;
        let iogate = format!("http://{}", node.addr);
        run_node("interop.js", &[redis.url(), iogate, mode.to_owned()]).await;
    }
}

#[tokio::test]
#[ignore = "needs node and `npm ci` in tests/interop (scripts/test runs it)"]
async fn node_and_iogate_with_the_streams_adapter_recover_each_others_clients() {
    let redis = RedisServer::start().await;
    let node = Node::streams(Redis::new(redis.url()), Some(Recovery::default())).await;
    run_node(
        "streams.js",
        &[redis.url(), format!("http://{}", node.addr)],
    )
    .await;
}

#[tokio::test]
#[ignore = "needs node and `npm ci` in tests/interop (scripts/test runs it)"]
async fn node_and_iogate_with_the_sharded_adapter_share_rooms_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3, 0).await;
    let config = Redis::new(cluster.url()).protocol(Protocol::Sharded);
    let node = Node::sharded(config).await;
    run_node(
        "sharded.js",
        &[cluster.url(), format!("http://{}", node.addr)],
    )
    .await;
}

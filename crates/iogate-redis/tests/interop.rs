//! Interoperability with Node: a socket.io 4.8 node with `@socket.io/redis-adapter` 8 and a
//! `@socket.io/redis-emitter` 5, beside an iogate node, on a redis-server of the test's own.
//!
//! Needs Node.js and the packages of `tests/interop/package.json`, so it is ignored by default:
//!
//! ```sh
//! (cd crates/iogate-redis/tests/interop && npm ci)
//! cargo test -p iogate-redis --test interop -- --ignored
//! ```

mod common;

use common::{Node, RedisServer};
use iogate_redis::Redis;

#[tokio::test]
#[ignore = "needs node and `npm ci` in tests/interop (scripts/test runs it)"]
async fn node_socket_io_and_the_emitter_share_rooms_with_iogate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules").exists(),
        "run `npm ci` in {} first",
        dir.display()
    );
    // Node answering on the shared response channel (its default), then on ours.
    for mode in ["shared", "specific"] {
        let redis = RedisServer::start().await;
        let node = Node::start(Redis::new(redis.url())).await;
        let out = tokio::process::Command::new("node")
            .arg("interop.js")
            .arg(redis.url())
            .arg(format!("http://{}", node.addr))
            .arg(mode)
            .current_dir(&dir)
            .output()
            .await
            .expect("node is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("[{mode}]\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "interop checks failed ({mode}):\n{stdout}"
        );
    }
}

#[tokio::test]
#[ignore = "needs node and `npm ci` in tests/interop (scripts/test runs it)"]
async fn node_and_iogate_with_the_streams_adapter_recover_each_others_clients() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules").exists(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let redis = RedisServer::start().await;
    let node = Node::streams(
        Redis::new(redis.url()),
        Some(iogate_socketio::Recovery::default()),
    )
    .await;
    let out = tokio::process::Command::new("node")
        .arg("streams.js")
        .arg(redis.url())
        .arg(format!("http://{}", node.addr))
        .current_dir(&dir)
        .output()
        .await
        .expect("node is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "interop checks failed:\n{stdout}");
}

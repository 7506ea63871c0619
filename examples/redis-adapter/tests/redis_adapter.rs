//! Two nodes over one Redis, through `iogate::testing`. Needs `redis-server` on the PATH
//! (Debian's `redis-server` package); without it the tests say so and pass.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use iogate::testing::{TestClient, TestServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A throwaway redis-server on a free loopback port, killed when dropped.
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("redis-server is not installed: skipping the cluster test");
            return None;
        };
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if ping(port).await {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {port}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = [0u8; 5];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut answer).await.is_ok()
        && &answer == b"+PONG"
}

async fn node(redis: &RedisServer, prefix: &str) -> anyhow::Result<TestServer> {
    let (server, router) = example_redis_adapter::node(&redis.url, prefix).await?;
    Ok(TestServer::start_router(server, router).await)
}

#[tokio::test]
async fn clients_of_two_nodes_reach_each_other() -> anyhow::Result<()> {
    let Some(redis) = RedisServer::start().await else {
        return Ok(());
    };
    let a = node(&redis, "two-nodes").await?;
    let b = node(&redis, "two-nodes").await?;
    assert_eq!(a.server.cluster_healthy(), Some(true));

    let mut alice = TestClient::connect(&a, "/").await?;
    let mut bob = TestClient::connect(&b, "/").await?;
    assert_eq!(alice.emit_with_ack("joinRoom", "lobby").await?, "lobby");
    assert_eq!(bob.emit_with_ack("joinRoom", "lobby").await?, "lobby");
    // The count asks every node.
    assert_eq!(alice.emit_with_ack("count", ()).await?, 2);

    bob.emit(
        "messageToRoom",
        json!({"room": "lobby", "message": "from node b"}),
    )
    .await?;
    assert_eq!(
        alice.wait_for("message").await?.data()["message"],
        "from node b"
    );
    assert_eq!(
        bob.wait_for("message").await?.data()["message"],
        "from node b"
    );

    // A REST route of one node reaches the clients of both.
    let request = http::Request::post("/broadcast")
        .header("content-type", "application/json")
        .body(json!({"event": "news", "data": "hi"}).to_string())?;
    assert_eq!(a.request(request).await?.status, http::StatusCode::CREATED);
    assert_eq!(alice.wait_for("news").await?.data(), "hi");
    assert_eq!(bob.wait_for("news").await?.data(), "hi");
    Ok(())
}

#[tokio::test]
async fn clusters_with_other_prefixes_do_not_hear_each_other() -> anyhow::Result<()> {
    let Some(redis) = RedisServer::start().await else {
        return Ok(());
    };
    let blue = node(&redis, "blue").await?;
    let green = node(&redis, "green").await?;
    let mut on_blue = TestClient::connect(&blue, "/").await?;
    let mut on_green = TestClient::connect(&green, "/").await?;
    green.server.of("/").emit("news", "green only").await?;
    assert_eq!(on_green.wait_for("news").await?.data(), "green only");
    assert!(
        on_blue
            .next_event_within(Duration::from_millis(300))
            .await?
            .is_none()
    );
    Ok(())
}

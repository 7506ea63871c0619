//! Two apps clustered over a redis-server of the test's own: server-side events between their
//! gateways, and every node's clients fetched from one.

#[path = "../../iogate-redis/tests/common/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use iogate::cluster::{Protocol, Redis};
use iogate::testing::{Args, TestClient, TestServer};
use iogate::{App, Data, Gateway, ServerEvent, gateway, on_server_event};
use redis_server::RedisServer;
use serde_json::{Value, json};

/// A gateway written with `#[gateway]`: on `/where`, answers the server event `where` with its
/// node's name.
struct Where {
    node: &'static str,
}

#[gateway(namespace = "/where")]
impl Where {
    #[on_server_event("where")]
    async fn answer(&self) -> &'static str {
        self.node
    }
}

/// An app whose `/` gateway answers the server event `ping` with `{"pong": data, "node": node}`,
/// and lets clients join rooms (`join`); and [`Where`].
async fn node(redis: &RedisServer, protocol: Protocol, name: &'static str) -> TestServer {
    let gateway = Gateway::new("/")
        .on_server_event("ping", move |event: ServerEvent| async move {
            json!({"pong": event.data::<Value>().unwrap_or_default(), "node": name})
        })
        .subscribe_message(
            "join",
            async |client: iogate::Client, Data(room): Data<String>| client.join(room).is_ok(),
        );
    let gateways = App::new()
        .gateway(gateway)
        .gateway(Where { node: name })
        .build_redis(Redis::new(redis.url()).protocol(protocol))
        .await
        .expect("joins the cluster");
    let server = gateways.server();
    TestServer::start_router(server, gateways.into_router(axum::Router::new())).await
}

#[tokio::test]
async fn gateways_answer_server_events_and_clients_are_fetched_from_every_node()
-> anyhow::Result<()> {
    for protocol in [Protocol::PubSub, Protocol::Streams] {
        let redis = RedisServer::start().await;
        let a = node(&redis, protocol, "a").await;
        let b = node(&redis, protocol, "b").await;
        let c = node(&redis, protocol, "c").await;

        let root = a.server.of("/");
        let mut answers = root
            .server_side_emit_with_ack("ping", &("hi",), Duration::from_secs(2))
            .await?;
        answers.sort_by_key(|v| v["node"].to_string());
        assert_eq!(
            answers,
            [
                json!({"pong": "hi", "node": "b"}),
                json!({"pong": "hi", "node": "c"})
            ],
            "{protocol:?}"
        );
        let mut nodes = a
            .server
            .of("/where")
            .server_side_emit_with_ack("where", &(), Duration::from_secs(2))
            .await?;
        nodes.sort_by_key(Value::to_string);
        assert_eq!(nodes, [json!("b"), json!("c")], "{protocol:?}");
        // No handler for it on the others: no answer in time is an error.
        let silent = root
            .server_side_emit_with_ack("nobody", &(), Duration::from_millis(300))
            .await;
        assert!(silent.is_err(), "{protocol:?}");

        let mut on_b = TestClient::connect(&b, "/").await?;
        assert_eq!(
            on_b.emit_args_with_ack("join", Args::new().arg("room-1"))
                .await?,
            Args::new().arg(true)
        );
        let clients = root.fetch_clients().await?;
        let theirs = clients
            .iter()
            .find(|c| c.id == on_b.id())
            .expect("b's client, fetched from a");
        assert_eq!(theirs.rooms, ["room-1"], "{protocol:?}");
        assert_eq!(theirs.handshake["address"], "127.0.0.1");
        drop(c);
    }
    Ok(())
}

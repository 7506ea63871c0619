//! The gateway's hooks and handlers, through `iogate::testing`.

use std::time::Duration;

use iogate::testing::{TestClient, TestServer};
use serde_json::json;

#[tokio::test]
async fn a_client_is_welcomed_and_its_messages_acknowledged() -> anyhow::Result<()> {
    let server = TestServer::start(example_gateway::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    // handleConnection greets the client with its public id.
    let welcome = client.wait_for("welcome").await?;
    assert!(
        welcome.data()["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    assert_eq!(
        client.emit_with_ack("message", "hi").await?,
        "Message received"
    );
    assert_eq!(
        client.emit_with_ack("events", json!({"a": 1})).await?,
        json!({"a": 1})
    );
    assert_eq!(client.emit_with_ack("identity", 42).await?, 42);
    Ok(())
}

#[tokio::test]
async fn a_ws_response_is_emitted_and_a_bad_body_is_an_exception() -> anyhow::Result<()> {
    let server = TestServer::start(example_gateway::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;
    client.wait_for("welcome").await?;

    client.emit("echo", json!([1, 2])).await?;
    assert_eq!(client.wait_for("events").await?.data(), &json!([1, 2]));

    client.emit("identity", "forty-two").await?;
    let exception = client.wait_for("exception").await?;
    assert_eq!(
        exception.data()["message"],
        "Invalid message body: invalid type: string \"forty-two\", expected i64"
    );
    Ok(())
}

#[tokio::test]
async fn a_client_that_leaves_is_gone_from_the_namespace() -> anyhow::Result<()> {
    let server = TestServer::start(example_gateway::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;
    let events = server.server.of("/");
    assert_eq!(events.count().await?, 1);
    client.disconnect().await;
    // handleDisconnect runs, then the client is removed.
    for _ in 0..50 {
        if events.count().await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the client is still counted");
}

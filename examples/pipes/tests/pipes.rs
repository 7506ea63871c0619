//! Pipes and typed bodies, through `iogate::testing`.

use iogate::testing::{TestClient, TestServer};
use serde_json::json;

async fn exception_message(client: &mut TestClient) -> anyhow::Result<String> {
    let exception = client.wait_for("exception").await?;
    Ok(exception.data()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn the_validation_pipe_lets_objects_through_and_refuses_the_rest() -> anyhow::Result<()> {
    let server = TestServer::start(example_pipes::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    assert_eq!(
        client
            .emit_with_ack("createMessage", json!({"text": "hi"}))
            .await?,
        json!({"id": 1, "text": "hi"})
    );
    client.emit("createMessage", "").await?;
    assert_eq!(
        exception_message(&mut client).await?,
        "Validation failed: No data provided"
    );
    client.emit("createMessage", "hi").await?;
    assert_eq!(
        exception_message(&mut client).await?,
        "Validation failed: Data must be an object"
    );
    // The refused messages took no id.
    assert_eq!(
        client
            .emit_with_ack("createMessage", json!({"n": 2}))
            .await?["id"],
        2
    );
    Ok(())
}

#[tokio::test]
async fn a_transforming_pipe_and_a_typed_body() -> anyhow::Result<()> {
    let server = TestServer::start(example_pipes::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    assert_eq!(client.emit_with_ack("double", "21").await?, 42);
    assert_eq!(client.emit_with_ack("double", 4).await?, 8);
    client.emit("double", "twenty").await?;
    assert_eq!(
        exception_message(&mut client).await?,
        "Validation failed (numeric string is expected)"
    );

    assert_eq!(
        client
            .emit_with_ack("rename", json!({"from": "a", "to": "b"}))
            .await?,
        "a → b"
    );
    client.emit("rename", json!({"from": "a"})).await?;
    assert_eq!(
        exception_message(&mut client).await?,
        "Invalid message body: missing field `to`"
    );
    client
        .emit("rename", json!({"from": "a", "to": "b", "by": "c"}))
        .await?;
    assert!(
        exception_message(&mut client)
            .await?
            .starts_with("Invalid message body: unknown field `by`")
    );
    Ok(())
}

//! The guide's test of `EventsGateway`, with `iogate::testing` in place of
//! `Test.createTestingModule` and `socket.io-client`.

use example_testing::{Messages, app};
use iogate::testing::{TestClient, TestServer};
use serde_json::json;

/// `beforeEach`: the app with a provider the test keeps, listening, and a connected client.
async fn setup() -> anyhow::Result<(TestServer, TestClient, Messages)> {
    let messages = Messages::default();
    let server = TestServer::start(app(messages.clone())).await;
    let client = TestClient::connect(&server, "/").await?;
    Ok((server, client, messages))
}

/// `afterEach`.
async fn teardown(server: TestServer, mut client: TestClient) {
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn should_handle_message() -> anyhow::Result<()> {
    let (server, mut client, messages) = setup().await?;

    let response = client.emit_with_ack("message", "test message").await?;
    assert_eq!(response, "Message received");
    assert_eq!(messages.all(), ["test message"]);

    teardown(server, client).await;
    Ok(())
}

#[tokio::test]
async fn should_echo_events() -> anyhow::Result<()> {
    let (server, mut client, _) = setup().await?;

    let data = json!({"id": 1, "text": "hello"});
    assert_eq!(client.emit_with_ack("events", &data).await?, data);

    teardown(server, client).await;
    Ok(())
}

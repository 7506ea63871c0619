//! REST routes reaching socket clients, through `iogate::testing`.

use std::time::Duration;

use iogate::testing::{TestClient, TestServer};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(200);

async fn start() -> TestServer {
    let (server, router) = example_rest_broadcast::app();
    TestServer::start_router(server, router).await
}

async fn user(server: &TestServer, id: &str) -> anyhow::Result<TestClient> {
    Ok(TestClient::connect(server, "/events")
        .auth(json!({"userId": id}))
        .await?)
}

async fn post(server: &TestServer, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(body.to_string())?;
    let response = server.request(request).await?;
    let json = response
        .json()
        .unwrap_or(Value::String(response.body.clone()));
    Ok((response.status.as_u16(), json))
}

#[tokio::test]
async fn a_notification_reaches_every_device_of_its_user_only() -> anyhow::Result<()> {
    let server = start().await;
    let mut phone = user(&server, "alice").await?;
    let mut laptop = user(&server, "alice").await?;
    let mut bob = user(&server, "bob").await?;

    let answer = post(
        &server,
        "/notifications/send",
        json!({"userId": "alice", "message": {"text": "hi"}}),
    )
    .await?;
    assert_eq!(answer, (201, json!({"success": true})));
    assert_eq!(
        phone.wait_for("notification").await?.data(),
        &json!({"text": "hi"})
    );
    assert_eq!(
        laptop.wait_for("notification").await?.data(),
        &json!({"text": "hi"})
    );
    assert!(bob.next_event_within(QUIET).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn room_and_broadcast_routes_reach_their_clients() -> anyhow::Result<()> {
    let server = start().await;
    let mut alice = user(&server, "alice").await?;
    let mut bob = user(&server, "bob").await?;
    assert_eq!(alice.emit_with_ack("joinRoom", "ops").await?, "ops");

    let answer = post(
        &server,
        "/notifications/room",
        json!({"room": "ops", "event": "alert", "data": 1}),
    )
    .await?;
    assert_eq!(answer.0, 201);
    assert_eq!(alice.wait_for("alert").await?.data(), &json!(1));
    assert!(bob.next_event_within(QUIET).await?.is_none());

    post(
        &server,
        "/notifications/broadcast",
        json!({"event": "news", "data": "all"}),
    )
    .await?;
    assert_eq!(alice.wait_for("news").await?.data(), "all");
    assert_eq!(bob.wait_for("news").await?.data(), "all");
    Ok(())
}

#[tokio::test]
async fn bad_requests_and_anonymous_clients_are_refused() -> anyhow::Result<()> {
    let server = start().await;
    let (status, _) = post(
        &server,
        "/notifications/send",
        json!({"message": "no user"}),
    )
    .await?;
    assert_eq!(status, 422);
    let anonymous = TestClient::connect(&server, "/events").await;
    assert!(matches!(
        anonymous,
        Err(iogate::testing::ConnectError::Refused { message, .. }) if message == "auth.userId is required"
    ));
    Ok(())
}

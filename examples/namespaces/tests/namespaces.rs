//! Namespaces kept apart, through `iogate::testing`.

use std::time::Duration;

use iogate::testing::{ConnectError, TestClient, TestServer};

const QUIET: Duration = Duration::from_millis(200);

#[tokio::test]
async fn each_namespace_has_its_own_handlers() -> anyhow::Result<()> {
    let server = TestServer::start(example_namespaces::app()).await;
    let mut chat = TestClient::connect(&server, "/").await?;
    let mut notifications = TestClient::connect(&server, "/notifications").await?;

    assert_eq!(notifications.emit_with_ack("ping", ()).await?, "pong");
    assert_eq!(
        chat.emit_with_ack("message", "hi").await?,
        "Message received"
    );
    // No `ping` handler on `/`: ignored, no acknowledgement.
    chat.set_timeout(QUIET);
    assert!(chat.emit_with_ack("ping", ()).await.is_err());
    // Two gateways serve `/notifications`.
    assert_eq!(notifications.emit_with_ack("count", ()).await?, 1);

    assert!(matches!(
        TestClient::connect(&server, "/admin").await,
        Err(ConnectError::Refused { message, .. }) if message == "Invalid namespace"
    ));
    Ok(())
}

#[tokio::test]
async fn a_namespace_broadcast_stays_in_its_namespace() -> anyhow::Result<()> {
    let server = TestServer::start(example_namespaces::app()).await;
    let mut chat = TestClient::connect(&server, "/").await?;
    let mut a = TestClient::connect(&server, "/notifications").await?;
    let mut b = TestClient::connect(&server, "/notifications").await?;

    a.emit("announce", "maintenance at noon").await?;
    assert_eq!(
        a.wait_for("announcement").await?.data(),
        "maintenance at noon"
    );
    assert_eq!(
        b.wait_for("announcement").await?.data(),
        "maintenance at noon"
    );
    assert!(chat.next_event_within(QUIET).await?.is_none());

    // The server handle reaches one namespace the same way.
    server
        .server
        .of("/")
        .emit("announcement", "chat only")
        .await?;
    assert_eq!(chat.wait_for("announcement").await?.data(), "chat only");
    assert!(a.next_event_within(QUIET).await?.is_none());
    Ok(())
}

//! The options as a client sees them, through `iogate::testing`.

use std::time::Duration;

use iogate::testing::{TestClient, TestServer};

#[tokio::test]
async fn websocket_clients_get_the_tuned_heartbeat_and_limit() -> anyhow::Result<()> {
    let server = TestServer::start(example_performance::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;
    let handshake = client.handshake();
    assert_eq!(handshake.ping_interval, Duration::from_secs(10));
    assert_eq!(handshake.ping_timeout, Duration::from_secs(5));
    assert_eq!(handshake.max_payload, 1_000_000);
    assert!(handshake.upgrades.is_empty());
    assert_eq!(client.emit_with_ack("events", "fast").await?, "fast");
    Ok(())
}

#[tokio::test]
async fn long_polling_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start(example_performance::app()).await;
    let request = http::Request::get("/socket.io/?EIO=4&transport=polling").body(String::new())?;
    assert_eq!(
        server.request(request).await?.status,
        http::StatusCode::BAD_REQUEST
    );
    Ok(())
}

//! The adapter's options as a client sees them, through `iogate::testing`.

use std::time::Duration;

use example_custom_adapter::{app, origins_from_env};
use iogate::testing::{TestClient, TestResponse, TestServer};

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

async fn handshake_from(server: &TestServer, origin: &str) -> anyhow::Result<TestResponse> {
    let request = http::Request::get(HANDSHAKE)
        .header("origin", origin)
        .body(String::new())?;
    Ok(server.request(request).await?)
}

fn header<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_heartbeat_is_the_adapters() -> anyhow::Result<()> {
    let server = TestServer::start(app(&[])).await;
    let mut client = TestClient::connect(&server, "/").await?;
    assert_eq!(client.handshake().ping_interval, Duration::from_secs(25));
    assert_eq!(client.handshake().ping_timeout, Duration::from_secs(60));
    assert_eq!(client.emit_with_ack("events", 1).await?, 1);
    Ok(())
}

#[tokio::test]
async fn listed_origins_get_cors_with_credentials_and_others_none() -> anyhow::Result<()> {
    let origins = origins_from_env(Some("https://app.example.com, https://admin.example.com"));
    let server = TestServer::start(app(&origins)).await;

    let allowed = handshake_from(&server, "https://admin.example.com").await?;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://admin.example.com")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        Some("true")
    );

    let other = handshake_from(&server, "https://evil.example.com").await?;
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    Ok(())
}

#[tokio::test]
async fn without_a_list_any_origin_is_allowed() -> anyhow::Result<()> {
    let server = TestServer::start(app(&origins_from_env(None))).await;
    let response = handshake_from(&server, "https://anywhere.example").await?;
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&response, "access-control-allow-credentials"), None);
    Ok(())
}

//! The connection middleware, through `iogate::testing`.

use iogate::testing::{ConnectError, TestClient, TestServer};
use serde_json::json;

const SECRET: &[u8] = b"a test secret, long enough for HS256";

fn token(secret: &[u8], sub: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": sub}),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn clients_without_a_valid_token_are_refused() -> anyhow::Result<()> {
    let server = TestServer::start(example_middleware::app(SECRET)).await;
    for auth in [
        json!({}),
        json!({"token": "garbage"}),
        json!({"token": token(b"other", "eve")}),
    ] {
        match TestClient::connect(&server, "/chat").auth(auth).await {
            Err(ConnectError::Refused { message, .. }) => {
                assert_eq!(message, "Authentication error")
            }
            other => panic!("expected connect_error, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn handlers_see_what_the_middleware_verified() -> anyhow::Result<()> {
    let server = TestServer::start(example_middleware::app(SECRET)).await;
    let mut alice = TestClient::connect(&server, "/chat")
        .auth(json!({"token": token(SECRET, "alice")}))
        .await?;
    alice.emit("joinRoom", "lobby").await?;
    assert_eq!(alice.wait_for("joinedRoom").await?.data(), "lobby");
    alice
        .emit("messageToRoom", json!({"room": "lobby", "message": "hi"}))
        .await?;
    let message = alice.wait_for("message").await?;
    assert_eq!(message.data()["user"], "alice");
    assert_eq!(message.data()["message"], "hi");
    Ok(())
}

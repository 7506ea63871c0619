//! Handshake authentication and the guarded handler, through `iogate::testing`.

use example_authentication::{app, token};
use iogate::testing::{ConnectError, TestClient, TestServer};
use serde_json::json;

const SECRET: &[u8] = b"a test secret, long enough for HS256";

fn refusal(result: Result<TestClient, ConnectError>) -> String {
    match result {
        Err(ConnectError::Refused { message, .. }) => message,
        other => panic!("expected connect_error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_events_namespace_refuses_clients_without_a_valid_token() -> anyhow::Result<()> {
    let server = TestServer::start(app(SECRET)).await;
    let connect = || TestClient::connect(&server, "/events");

    assert_eq!(refusal(connect().await), "Unauthorized: no token provided");
    let forged = token(b"another secret", "mallory", 60);
    assert_eq!(
        refusal(connect().auth(json!({"token": forged})).await),
        "Unauthorized: invalid token"
    );
    let expired = token(SECRET, "alice", -60);
    assert_eq!(
        refusal(connect().auth(json!({"token": expired})).await),
        "Unauthorized: token expired"
    );

    let mut alice = connect()
        .auth(json!({"token": token(SECRET, "alice", 60)}))
        .await?;
    assert_eq!(alice.emit_with_ack("whoami", ()).await?["user"], "alice");
    // The header works as well as the auth payload.
    let mut bob = connect()
        .header(
            "Authorization",
            format!("Bearer {}", token(SECRET, "bob", 60)),
        )
        .await?;
    assert_eq!(bob.emit_with_ack("whoami", ()).await?["user"], "bob");
    Ok(())
}

#[tokio::test]
async fn the_guard_lets_only_authenticated_clients_through() -> anyhow::Result<()> {
    let server = TestServer::start(app(SECRET)).await;

    let mut anonymous = TestClient::connect(&server, "/").await?;
    assert_eq!(
        anonymous.emit_with_ack("message", "hi").await?,
        "Message received"
    );
    anonymous.emit("privateMessage", "secret").await?;
    let refused = anonymous.wait_for("exception").await?;
    assert_eq!(
        refused.data(),
        &json!({"status": "error", "message": "Forbidden resource",
                "cause": {"pattern": "privateMessage", "data": "secret"}})
    );

    let mut alice = TestClient::connect(&server, "/")
        .auth(json!({"token": token(SECRET, "alice", 60)}))
        .await?;
    let reply = alice.emit_with_ack("privateMessage", "secret").await?;
    assert_eq!(reply["data"], "secret");
    assert_eq!(reply["user"]["sub"], "alice");
    assert_eq!(reply["user"]["email"], "alice@example.com");
    Ok(())
}

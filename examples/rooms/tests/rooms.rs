//! Joining, leaving and messaging rooms, through `iogate::testing`.

use std::time::Duration;

use iogate::testing::{TestClient, TestServer};
use serde_json::json;

const QUIET: Duration = Duration::from_millis(200);

#[tokio::test]
async fn messages_reach_the_clients_in_the_room_only() -> anyhow::Result<()> {
    let server = TestServer::start(example_rooms::app()).await;
    let mut alice = TestClient::connect(&server, "/").await?;
    let mut bob = TestClient::connect(&server, "/").await?;
    let mut carol = TestClient::connect(&server, "/").await?;
    let alice_id = alice.emit_with_ack("whoami", ()).await?;
    let bob_id = bob.emit_with_ack("whoami", ()).await?;

    alice.emit("joinRoom", "lobby").await?;
    assert_eq!(alice.wait_for("joinedRoom").await?.data(), "lobby");
    assert_eq!(
        alice.wait_for("userJoined").await?.data(),
        &json!({"userId": alice_id, "room": "lobby"})
    );
    bob.emit("joinRoom", "lobby").await?;
    assert_eq!(
        alice.wait_for("userJoined").await?.data(),
        &json!({"userId": bob_id, "room": "lobby"})
    );

    // Carol is not in the room: she can send to it, and hears nothing from it.
    carol
        .emit("messageToRoom", json!({"room": "lobby", "message": "hi"}))
        .await?;
    let expected = json!({"userId": carol.emit_with_ack("whoami", ()).await?, "message": "hi"});
    assert_eq!(alice.wait_for("message").await?.data(), &expected);
    assert_eq!(bob.wait_for("message").await?.data(), &expected);
    assert!(carol.next_event_within(QUIET).await?.is_none());

    alice.emit("leaveRoom", "lobby").await?;
    assert_eq!(
        bob.wait_for("userLeft").await?.data(),
        &json!({"userId": alice_id, "room": "lobby"})
    );
    bob.emit(
        "messageToRoom",
        json!({"room": "lobby", "message": "still here?"}),
    )
    .await?;
    assert_eq!(
        bob.wait_for("message").await?.data()["message"],
        "still here?"
    );
    assert!(alice.next_event_within(QUIET).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn iogates_own_rooms_cannot_be_joined() -> anyhow::Result<()> {
    let server = TestServer::start(example_rooms::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;
    client.emit("joinRoom", "$user:alice").await?;
    assert_eq!(
        client.wait_for("exception").await?.data()["message"],
        "Room names starting with '$' are reserved"
    );
    Ok(())
}

//! The guide's Rooms section: clients join and leave rooms, and messages go to everyone in a
//! room.
//!
//! | event | what happens |
//! |---|---|
//! | `joinRoom(room)` | `joinedRoom(room)` to the client, `userJoined {userId, room}` to the room |
//! | `leaveRoom(room)` | `userLeft {userId, room}` to those still in the room |
//! | `messageToRoom {room, message}` | `message {userId, message}` to the room |
//! | `whoami` | acknowledged with the client's public id (the `userId` others see) |

use iogate::{App, Client, Data, Exception, Gateway, Namespace};
use serde::Deserialize;
use serde_json::{Value, json};

/// The guide's `ChatGateway`, rooms part.
pub fn chat_gateway() -> Gateway {
    Gateway::new("/")
        .subscribe_message("joinRoom", join_room)
        .subscribe_message("leaveRoom", leave_room)
        .subscribe_message("messageToRoom", message_to_room)
        .subscribe_message("whoami", async |client: Client| client.id().to_owned())
}

/// The app: this one gateway.
pub fn app() -> App {
    App::new().gateway(chat_gateway())
}

async fn join_room(
    Data(room): Data<String>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    client.join(&room)?;
    client.emit("joinedRoom", &room)?;
    // The room includes the client that joined, as `this.server.to(room)` does in the guide.
    ns.to(&room)
        .emit(
            "userJoined",
            &json!({ "userId": client.id(), "room": room }),
        )
        .await?;
    Ok(())
}

async fn leave_room(
    Data(room): Data<String>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    client.leave(&room)?;
    ns.to(&room)
        .emit("userLeft", &json!({ "userId": client.id(), "room": room }))
        .await?;
    Ok(())
}

/// The body of `messageToRoom`.
#[derive(Debug, Deserialize)]
pub struct RoomMessage {
    /// The room to send to.
    pub room: String,
    /// The message.
    pub message: Value,
}

/// Sends `message {userId, message}` to everyone in the room; the sender need not be in it.
pub async fn message_to_room(
    Data(m): Data<RoomMessage>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    ns.to(m.room)
        .emit(
            "message",
            &json!({ "userId": client.id(), "message": m.message }),
        )
        .await?;
    Ok(())
}

//! The guide's Middleware section: connection middleware on the `/chat` namespace
//! (`server.use(...)` in `afterInit`).
//!
//! Middleware runs during the handshake, before the client is connected, in the order added.
//! The first one here refuses clients without a valid token, which see `connect_error` with
//! the message `Authentication error`, and keeps the verified claims on the client for the
//! handlers; the second logs each attempt. Handlers then read the claims.

use example_rooms::RoomMessage;
use iogate::auth::{Claims, JwtAuth};
use iogate::{App, Client, Data, Exception, Gateway, Namespace, WsException};
use serde_json::json;

/// The app: tokens are HS256, signed with `secret`.
pub fn app(secret: &[u8]) -> App {
    App::new().gateway(chat_gateway(JwtAuth::hs256(secret)))
}

/// The guide's `ChatNamespaceGateway`.
pub fn chat_gateway(jwt: JwtAuth) -> Gateway {
    Gateway::new("/chat")
        .middleware(move |client: Client| {
            let jwt = jwt.clone();
            async move {
                let token = client.auth()["token"].as_str().unwrap_or_default();
                let claims = jwt
                    .verify(token)
                    .map_err(|_| WsException::new("Authentication error"))?;
                client.insert(claims);
                Ok::<_, WsException>(())
            }
        })
        .middleware(async |client: Client| {
            tracing::info!(client = client.id(), "attempting to connect");
            Ok::<_, WsException>(())
        })
        .subscribe_message(
            "joinRoom",
            async |Data(room): Data<String>, client: Client| {
                client.join(&room)?;
                client.emit("joinedRoom", &room)?;
                Ok::<_, Exception>(())
            },
        )
        .subscribe_message("messageToRoom", message_to_room)
}

/// Sends `message {userId, user, message}` to the room; `user` is the token's `sub`, which
/// the middleware verified. The body is the Rooms example's [`RoomMessage`].
async fn message_to_room(
    Data(m): Data<RoomMessage>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    let user = client.get::<Claims>().and_then(|c| c.sub());
    let message = json!({ "userId": client.id(), "user": user, "message": m.message });
    ns.to(m.room).emit("message", &message).await?;
    Ok(())
}

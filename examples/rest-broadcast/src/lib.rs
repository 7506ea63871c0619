//! The guide's "broadcast from REST" section: HTTP routes, served next to the gateways, that
//! emit to one user, to a room, or to everyone, through the cloneable [`Server`] handle (what
//! the guide's `NotificationsService` does with the injected gateway).
//!
//! | route (`POST`, JSON body) | emits on `/events` |
//! |---|---|
//! | `/notifications/send {userId, message}` | `notification(message)` to every client of that user |
//! | `/notifications/room {room, event, data}` | `event(data)` to the clients in the room |
//! | `/notifications/broadcast {event, data}` | `event(data)` to every client |
//!
//! Each answers `201 {"success": true}`. Clients say who they are with `auth.userId`, for the
//! sake of the example; a real app takes the user from a verified token (see the
//! `authentication` example).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use iogate::{App, Client, Data, Exception, Gateway, Server, WsException};
use serde::Deserialize;
use serde_json::{Value, json};

/// The namespace the routes emit to.
pub const NAMESPACE: &str = "/events";

/// The app: the gateway and the routes, sharing one server handle.
pub fn app() -> (Server, Router) {
    let gateways = App::new().gateway(events_gateway()).build();
    let server = gateways.server();
    let routes = Router::new()
        .route("/notifications/send", post(send_notification))
        .route("/notifications/room", post(send_to_room))
        .route("/notifications/broadcast", post(broadcast))
        .with_state(server.clone());
    (server, gateways.into_router(routes))
}

/// `/events`: each client is bound to the user named in its handshake, and may join rooms.
pub fn events_gateway() -> Gateway {
    Gateway::new(NAMESPACE)
        .middleware(async |client: Client| {
            let user = client.auth()["userId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if user.is_empty() {
                return Err(Exception::from(WsException::new("auth.userId is required")));
            }
            client.set_user(user).map_err(Exception::from)
        })
        .subscribe_message(
            "joinRoom",
            async |Data(room): Data<String>, client: Client| {
                client.join(&room)?;
                Ok::<_, Exception>(room)
            },
        )
}

/// The body of `/notifications/send`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendNotification {
    user_id: String,
    #[serde(default)]
    message: Value,
}

/// The body of `/notifications/room`.
#[derive(Debug, Deserialize)]
pub struct SendToRoom {
    room: String,
    event: String,
    #[serde(default)]
    data: Value,
}

/// The body of `/notifications/broadcast`.
#[derive(Debug, Deserialize)]
pub struct Broadcast {
    event: String,
    #[serde(default)]
    data: Value,
}

type Answer = Result<(StatusCode, Json<Value>), (StatusCode, String)>;

fn answer(sent: Result<(), iogate::BroadcastError>) -> Answer {
    match sent {
        Ok(()) => Ok((StatusCode::CREATED, Json(json!({ "success": true })))),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

async fn send_notification(
    State(server): State<Server>,
    Json(body): Json<SendNotification>,
) -> Answer {
    let sent = server
        .of(NAMESPACE)
        .to_user(&body.user_id)
        .emit("notification", &body.message)
        .await;
    answer(sent)
}

async fn send_to_room(State(server): State<Server>, Json(body): Json<SendToRoom>) -> Answer {
    answer(
        server
            .of(NAMESPACE)
            .to(body.room)
            .emit(&body.event, &body.data)
            .await,
    )
}

async fn broadcast(State(server): State<Server>, Json(body): Json<Broadcast>) -> Answer {
    answer(server.of(NAMESPACE).emit(&body.event, &body.data).await)
}

//! The gateways of the NestJS WebSockets guide's app, on the wire as the reference app,
//! written as the guide writes them: one type per gateway, its handlers as methods.
//!
//! A graceful shutdown waits for their running handlers and runs their disconnect hooks:
//! [`Server::close`](iogate::Server::close) does that for every gateway.

use std::sync::atomic::{AtomicU64, Ordering};

use iogate::auth::{Claims, JwtAuth};
use iogate::{
    Ack, Client, Context, Data, Exception, ExceptionFilter, Extension, Namespace, WsError,
    WsException, gateway, middleware, subscribe_message, use_filters, use_guards, use_pipes,
};
use iogate::{Gateway, IntoGateway};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ts_rs::TS;

/// `/`: public; `message`, `events` and the rooms of the guide.
pub struct RootGateway;

#[gateway(namespace = "/")]
impl RootGateway {
    #[subscribe_message("message")]
    async fn message(&self, Data(data): Data<Value>) -> &'static str {
        received(&data)
    }

    #[subscribe_message("events")]
    async fn events(&self, Data(data): Data<Value>) -> Value {
        data
    }

    #[subscribe_message("joinRoom")]
    async fn join_room(
        &self,
        Data(room): Data<String>,
        client: Client,
        ns: Namespace,
    ) -> Result<(), Exception> {
        client.join(&room)?;
        client.emit("joinedRoom", &room)?;
        Presence::tell(&ns, &client, room, "userJoined").await
    }

    #[subscribe_message("leaveRoom")]
    async fn leave_room(
        &self,
        Data(room): Data<String>,
        client: Client,
        ns: Namespace,
    ) -> Result<(), Exception> {
        client.leave(&room)?;
        Presence::tell(&ns, &client, room, "userLeft").await
    }

    #[subscribe_message("messageToRoom")]
    async fn message_to_room(
        &self,
        Data(m): Data<RoomMessage>,
        client: Client,
        ns: Namespace,
    ) -> Result<(), Exception> {
        let msg = Said {
            user_id: client.id().to_owned(),
            message: m.message,
        };
        ns.to(m.room).emit("message", &msg).await?;
        Ok(())
    }
}

/// `/events`: JWT on connection; every client joins its user's room.
pub struct EventsGateway {
    jwt: JwtAuth,
    /// The id of the last `createMessage`.
    ids: AtomicU64,
}

impl EventsGateway {
    /// The gateway, verifying tokens with `jwt`.
    pub fn new(jwt: &JwtAuth) -> Self {
        Self {
            jwt: jwt.clone(),
            ids: AtomicU64::new(0),
        }
    }
}

#[gateway(namespace = "/events")]
impl EventsGateway {
    /// Refuses clients without a valid token (`Unauthorized: ...`).
    #[middleware]
    async fn authenticate(&self, client: Client) -> Result<(), WsException> {
        self.jwt.admit(&client).map(drop)
    }

    async fn handle_connection(&self, client: Client) {
        tracing::debug!(client = client.id(), user = client.user(), "authenticated");
    }

    #[subscribe_message("message")]
    async fn message(&self, Data(data): Data<Value>) -> &'static str {
        received(&data)
    }

    #[subscribe_message("events")]
    async fn events(&self, Data(data): Data<Value>) -> Value {
        data
    }

    #[subscribe_message("privateMessage")]
    #[use_guards(self.jwt.guard())]
    async fn private_message(
        &self,
        Extension(user): Extension<Claims>,
        Data(data): Data<Value>,
    ) -> Ack<Value> {
        Ack(json!({ "user": user, "data": data }))
    }

    /// A fresh token keeps the client connected past its token's expiry.
    #[subscribe_message("refreshToken")]
    async fn refresh_token(
        &self,
        client: Client,
        Data(body): Data<Value>,
    ) -> Result<Ack<Value>, WsException> {
        self.jwt.refresh(&client, &body)
    }

    #[subscribe_message("createMessage")]
    #[use_pipes(validate_message)]
    #[use_filters(error_event)]
    async fn create_message(&self, Data(data): Data<Value>) -> Ack<Value> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        Ack(create_message(id, data))
    }
}

/// `/chat`: the guide's connection middleware refuses clients without a valid token.
pub struct ChatGateway {
    jwt: JwtAuth,
}

impl ChatGateway {
    /// The gateway, verifying tokens with `jwt`.
    pub fn new(jwt: &JwtAuth) -> Self {
        Self { jwt: jwt.clone() }
    }
}

#[gateway(namespace = "/chat")]
impl ChatGateway {
    /// The guide's middleware: `auth.token` only, and one message for every refusal.
    #[middleware]
    async fn authenticate(&self, client: Client) -> Result<(), WsException> {
        let refused = || WsException::new("Authentication error");
        let token = client.auth().get("token").and_then(Value::as_str);
        let claims = self
            .jwt
            .verify(token.unwrap_or(""))
            .map_err(|_| refused())?;
        if let Some(sub) = claims.sub() {
            client.set_user(sub).map_err(|_| refused())?;
        }
        client.insert(claims);
        self.jwt.watch_expiry(&client);
        Ok(())
    }

    #[subscribe_message("joinRoom")]
    async fn join_room(&self, Data(room): Data<String>, client: Client) -> Result<(), Exception> {
        client.join(&room)?;
        client.emit("joinedRoom", &room)?;
        Ok(())
    }

    #[subscribe_message("messageToRoom")]
    async fn message_to_room(
        &self,
        Data(m): Data<RoomMessage>,
        client: Client,
        ns: Namespace,
    ) -> Result<(), Exception> {
        let user = client.get::<Claims>().and_then(|c| c.sub());
        let msg = SaidBy {
            user_id: client.id().to_owned(),
            user,
            message: m.message,
        };
        ns.to(m.room).emit("message", &msg).await?;
        Ok(())
    }
}

/// `/notifications`: a namespace of its own.
pub struct NotificationsGateway;

#[gateway(namespace = "/notifications")]
impl NotificationsGateway {
    #[subscribe_message("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

/// The acknowledgement of `message`.
fn received(data: &Value) -> &'static str {
    tracing::trace!(%data, "message");
    "Message received"
}

/// The body of `messageToRoom`.
#[derive(Deserialize, JsonSchema, TS)]
pub struct RoomMessage {
    room: String,
    message: Value,
}

/// `userJoined` and `userLeft`: which client, which room.
#[derive(Serialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    user_id: String,
    room: String,
}

impl Presence {
    /// Emits `event` (`userJoined`, `userLeft`) to those in `room`: `client` joined or left it.
    async fn tell(
        ns: &Namespace,
        client: &Client,
        room: String,
        event: &str,
    ) -> Result<(), Exception> {
        let presence = Self {
            user_id: client.id().to_owned(),
            room: room.clone(),
        };
        ns.to(room).emit(event, &presence).await?;
        Ok(())
    }
}

/// `user_online` and `user_offline` on `/events` and `/chat`: which user (its token's `sub`)
/// came online in the room (its first client joined) or went offline (its last one left).
#[derive(Serialize, JsonSchema, TS)]
pub struct PresenceChange {
    room: String,
    user: String,
}

/// `message` on `/`: which client said what to the room.
#[derive(Serialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct Said {
    user_id: String,
    message: Value,
}

/// `message` on `/chat`: which client, as which user (its token's `sub`), said what.
#[derive(Serialize, JsonSchema, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaidBy {
    user_id: String,
    user: Option<String>,
    message: Value,
}

/// The app's gateways, each with the events its clients send and receive declared, for the
/// TypeScript types and the AsyncAPI document (`iogate codegen`, `/asyncapi.json`).
///
/// `/events` and `/chat`, whose clients have users (their tokens' `sub`), tell a room's members
/// when a user comes online in it and goes offline.
pub fn all(jwt: &JwtAuth) -> [Gateway; 4] {
    // Every namespace: what a refused event or connection hook sends.
    let common = |g: Gateway| g.emits::<Value>("exception");
    let presence = |g: Gateway| {
        g.presence_events()
            .emits::<PresenceChange>(iogate::presence::USER_ONLINE)
            .emits::<PresenceChange>(iogate::presence::USER_OFFLINE)
    };
    let rooms = |g: Gateway| {
        g.accepts::<String>("joinRoom")
            .accepts::<RoomMessage>("messageToRoom")
            .emits::<String>("joinedRoom")
    };
    let echo = |g: Gateway| {
        g.accepts_with_ack::<Value, String>("message")
            .accepts_with_ack::<Value, Value>("events")
    };
    [
        common(echo(rooms(RootGateway.into_gateway())))
            .accepts::<String>("leaveRoom")
            .emits::<Presence>("userJoined")
            .emits::<Presence>("userLeft")
            .emits::<Said>("message"),
        presence(common(echo(EventsGateway::new(jwt).into_gateway())))
            .accepts_with_ack::<Value, Value>("privateMessage")
            .accepts_with_ack::<Value, Value>("refreshToken")
            .accepts_with_ack::<Value, Value>("createMessage")
            .emits::<Value>("notification")
            .emits::<Value>(iogate::auth::TOKEN_EXPIRED_EVENT),
        presence(common(rooms(ChatGateway::new(jwt).into_gateway()))).emits::<SaidBy>("message"),
        common(NotificationsGateway.into_gateway()).accepts_with_ack::<(), String>("ping"),
    ]
}

/// `{ id, ...data }`, as the guide's `createMessage` spreads the body.
fn create_message(id: u64, data: Value) -> Value {
    let mut message = Map::new();
    message.insert("id".into(), id.into());
    match data {
        Value::Object(fields) => message.extend(fields),
        Value::Array(items) => {
            message.extend(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v)),
            );
        }
        _ => {}
    }
    Value::Object(message)
}

/// The guide's `WsValidationPipe`: a body is required, and it must be an object.
fn validate_message(body: Option<Value>) -> Result<Option<Value>, WsException> {
    let falsy = match &body {
        None | Some(Value::Null) | Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    };
    if falsy {
        return Err(WsException::new("Validation failed: No data provided"));
    }
    if !matches!(body, Some(Value::Object(_) | Value::Array(_))) {
        return Err(WsException::new(
            "Validation failed: Data must be an object",
        ));
    }
    Ok(body)
}

/// The guide's `WebSocketExceptionFilter`: emits `error` with `{ id, rid, ...details }`.
fn error_event(exception: &Exception, cx: &Context) {
    let mut payload = Map::new();
    payload.insert("id".into(), cx.client().id().into());
    if let Some(rid) = cx.body().as_ref().and_then(|b| b.get("rid")) {
        payload.insert("rid".into(), rid.clone());
    }
    match exception.to_client().error() {
        WsError::Object(Value::Object(details)) => payload.extend(details.clone()),
        WsError::Object(other) => {
            payload.insert("message".into(), other.clone());
        }
        WsError::Message(m) => {
            payload.insert("message".into(), m.as_ref().into());
        }
    }
    let _ = cx.client().emit("error", &Value::Object(payload));
}

/// Keeps `error_event` a filter by type, so a mistake in its signature fails here.
const _: fn() = || {
    fn is_filter(_: impl ExceptionFilter) {}
    is_filter(error_event);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validation_pipe_refuses_as_the_guide_does() {
        let msg = |b: Option<Value>| validate_message(b).unwrap_err().to_string();
        assert_eq!(msg(None), "Validation failed: No data provided");
        assert_eq!(msg(Some(json!(0))), "Validation failed: No data provided");
        assert_eq!(msg(Some(json!(""))), "Validation failed: No data provided");
        assert_eq!(
            msg(Some(json!("hi"))),
            "Validation failed: Data must be an object"
        );
        assert!(validate_message(Some(json!({"text": "hi"}))).is_ok());
    }

    #[test]
    fn create_message_spreads_the_body_after_the_id() {
        assert_eq!(
            create_message(3, json!({"text": "hi"})),
            json!({"id": 3, "text": "hi"})
        );
    }
}

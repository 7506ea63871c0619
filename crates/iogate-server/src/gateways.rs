//! The gateways of the NestJS WebSockets guide's app, on the wire as the reference app.
//!
//! Each handler is wrapped in [`Running::track`] so that a graceful shutdown can wait for the
//! handlers that are running (see [`shutdown`](crate::shutdown)).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use iogate::auth::{Claims, JwtAuth};
use iogate::{
    Ack, Client, Context, Data, Exception, ExceptionFilter, Extension, Gateway, HandlerExt,
    Namespace, WsError, WsException,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::shutdown::Running;

/// `/`: public; `message`, `events` and the rooms of the guide.
pub fn chat(running: &Running) -> Gateway {
    Gateway::new("/")
        .subscribe_message("message", running.track(message))
        .subscribe_message("events", running.track(echo))
        .subscribe_message("joinRoom", running.track(join_room))
        .subscribe_message("leaveRoom", running.track(leave_room))
        .subscribe_message("messageToRoom", running.track(message_to_room))
}

/// `/events`: JWT on connection; every client joins its user's room.
pub fn events(jwt: &JwtAuth, running: &Running) -> Gateway {
    let ids = Arc::new(AtomicU64::new(0));
    Gateway::new("/events")
        .middleware(jwt.middleware())
        .handle_connection(async |client: Client| {
            tracing::debug!(client = client.id(), user = client.user(), "authenticated");
        })
        .subscribe_message("message", running.track(message))
        .subscribe_message("events", running.track(echo))
        .subscribe_message(
            "privateMessage",
            running.track(private_message).guard(jwt.guard()),
        )
        .subscribe_message(iogate::auth::REFRESH_EVENT, jwt.refresh_handler())
        .subscribe_message(
            "createMessage",
            running
                .track(move |Data(data): Data<Value>| {
                    let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
                    async move { Ack(create_message(id, data)) }
                })
                .pipe(validate_message)
                .filter(error_event),
        )
}

/// `/chat`: the guide's connection middleware refuses clients without a valid token.
pub fn chat_namespace(jwt: &JwtAuth, running: &Running) -> Gateway {
    let jwt = jwt.clone();
    Gateway::new("/chat")
        .middleware(move |client: Client| {
            let jwt = jwt.clone();
            async move {
                let token = client
                    .auth()
                    .get("token")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let claims = jwt
                    .verify(token)
                    .map_err(|_| WsException::new("Authentication error"))?;
                if let Some(sub) = claims.sub() {
                    client
                        .set_user(sub)
                        .map_err(|_| WsException::new("Authentication error"))?;
                }
                client.insert(claims);
                jwt.watch_expiry(&client);
                Ok::<_, WsException>(())
            }
        })
        .subscribe_message(
            "joinRoom",
            running.track(async |Data(room): Data<String>, client: Client| {
                client.join(&room)?;
                client.emit("joinedRoom", &room)?;
                Ok::<_, Exception>(())
            }),
        )
        .subscribe_message(
            "messageToRoom",
            running.track(
                async |Data(m): Data<RoomMessage>, client: Client, ns: Namespace| {
                    let user = client.get::<Claims>().and_then(|c| c.sub());
                    let msg = json!({ "userId": client.id(), "user": user, "message": m.message });
                    ns.to(m.room).emit("message", &msg).await
                },
            ),
        )
}

/// `/notifications`: a namespace of its own.
pub fn notifications(running: &Running) -> Gateway {
    Gateway::new("/notifications").subscribe_message("ping", running.track(async || "pong"))
}

async fn message(Data(data): Data<Value>) -> &'static str {
    tracing::trace!(%data, "message");
    "Message received"
}

async fn echo(Data(data): Data<Value>) -> Value {
    data
}

async fn join_room(
    Data(room): Data<String>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    client.join(&room)?;
    client.emit("joinedRoom", &room)?;
    let joined = json!({ "userId": client.id(), "room": room });
    ns.to(room).emit("userJoined", &joined).await?;
    Ok(())
}

async fn leave_room(
    Data(room): Data<String>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    client.leave(&room)?;
    let left = json!({ "userId": client.id(), "room": room });
    ns.to(room).emit("userLeft", &left).await?;
    Ok(())
}

/// The body of `messageToRoom`.
#[derive(Deserialize)]
pub struct RoomMessage {
    room: String,
    message: Value,
}

async fn message_to_room(
    Data(m): Data<RoomMessage>,
    client: Client,
    ns: Namespace,
) -> Result<(), Exception> {
    let msg = json!({ "userId": client.id(), "message": m.message });
    ns.to(m.room).emit("message", &msg).await?;
    Ok(())
}

async fn private_message(
    Extension(user): Extension<Claims>,
    Data(data): Data<Value>,
) -> Ack<Value> {
    Ack(json!({ "user": user, "data": data }))
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

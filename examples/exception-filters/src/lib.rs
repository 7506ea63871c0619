//! The guide's Exception filters section: how a failed handler reaches the client.
//!
//! - By default (NestJS's `BaseWsExceptionFilter`), the client gets the event `exception`:
//!   `{"status":"error","message":..,"cause":{"pattern":<event>,"data":<body>}}` for a
//!   [`WsException`] with a message, the object itself for [`WsException::object`], and
//!   `"Internal server error"` for any other error (whose detail only goes to the log).
//! - A filter of one's own replaces that, for one handler (`@UseFilters` on a method) or for a
//!   whole gateway (`@UseFilters` on the class): here, the guide's `WebSocketExceptionFilter`,
//!   which emits `error` with `{id, rid, ...details}`.

use iogate::{
    App, BaseExceptionFilter, Context, Data, Exception, Gateway, HandlerExt, WsError, WsException,
};
use serde_json::{Map, Value, json};

/// `/`: handlers that fail in each way, and one with its own filter.
pub fn events_gateway() -> Gateway {
    Gateway::new("/")
        .subscribe_message(
            "fail",
            async |Data(_): Data<Value>| -> Result<(), WsException> {
                Err(WsException::new("Something went wrong"))
            },
        )
        .subscribe_message("object", async || -> Result<(), WsException> {
            Err(WsException::object(
                json!({ "code": "E_QUOTA", "message": "Quota exceeded" }),
            ))
        })
        .subscribe_message("internal", async || -> Result<(), Exception> {
            Err(std::io::Error::other("the database is down").into())
        })
        .subscribe_message(
            "createMessage",
            (async |Data(data): Data<Value>| -> Result<Value, WsException> {
                if data.get("text").is_none() {
                    return Err(WsException::new("text is required"));
                }
                Ok(data)
            })
            .filter(web_socket_exception_filter),
        )
}

/// `/strict`: the same filter for every handler of the gateway.
pub fn strict_gateway() -> Gateway {
    Gateway::new("/strict")
        .filter(web_socket_exception_filter)
        .subscribe_message("fail", async || -> Result<(), WsException> {
            Err(WsException::object(json!({ "code": 42 })))
        })
        .subscribe_message(
            "logged",
            async |Data(_): Data<Value>| -> Result<(), WsException> {
                Err(WsException::new("logged, then reported"))
            },
        )
        .subscribe_message(
            "base",
            (async || -> Result<(), WsException> { Err(WsException::new("as NestJS sends it")) })
                .filter(logging_filter),
        )
}

/// The app: both gateways.
pub fn app() -> App {
    App::new()
        .gateway(events_gateway())
        .gateway(strict_gateway())
}

/// The guide's `WebSocketExceptionFilter`: emits `error` with the client's id, the body's `rid`
/// (a request id the client chose, to match errors to requests) and the error's details.
pub fn web_socket_exception_filter(exception: &Exception, cx: &Context) {
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
        WsError::Message(message) => {
            payload.insert("message".into(), message.as_ref().into());
        }
    }
    let _ = cx.client().emit("error", &Value::Object(payload));
}

/// A filter that logs, then delegates to the default one (a NestJS filter calling
/// `super.catch`).
pub fn logging_filter(exception: &Exception, cx: &Context) {
    tracing::warn!(client = cx.client().id(), event = cx.event(), error = %exception, "handler failed");
    iogate::ExceptionFilter::catch(&BaseExceptionFilter, exception, cx);
}

//! The guide's Pipes section: transform or validate a body before its handler.
//!
//! - `createMessage` runs the guide's `WsValidationPipe` ([`validate_message`]): a body is
//!   required and must be an object; the handler then acknowledges `{id, ...body}`.
//! - `double` runs a transforming pipe ([`parse_int`], NestJS's `ParseIntPipe`): `"21"` reaches
//!   the handler as `21`.
//! - `rename` needs no pipe: a typed body ([`Rename`]) is validated by serde, and a body that
//!   does not fit reaches the client as `exception` `Invalid message body: ...`.
//!
//! A pipe's refusal goes through the handler's exception filter: by default, the `exception`
//! event with the pipe's message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use iogate::{Ack, App, Data, Gateway, HandlerExt, WsException};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `/`: one handler per kind of pipe.
pub fn events_gateway() -> Gateway {
    let ids = Arc::new(AtomicU64::new(0));
    Gateway::new("/")
        .subscribe_message(
            "createMessage",
            (move |Data(data): Data<Map<String, Value>>| {
                let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
                async move {
                    let mut message = Map::from_iter([("id".to_owned(), id.into())]);
                    message.extend(data);
                    Ack(message)
                }
            })
            .pipe(validate_message),
        )
        .subscribe_message("double", (async |Data(n): Data<i64>| n * 2).pipe(parse_int))
        .subscribe_message("rename", async |Data(r): Data<Rename>| {
            format!("{} → {}", r.from, r.to)
        })
}

/// The app: this one gateway.
pub fn app() -> App {
    App::new().gateway(events_gateway())
}

/// The guide's `WsValidationPipe`: a falsy body is refused, and so is one that is not an
/// object.
pub fn validate_message(body: Option<Value>) -> Result<Option<Value>, WsException> {
    let falsy = match &body {
        None | Some(Value::Null | Value::Bool(false)) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    };
    if falsy {
        return Err(WsException::new("Validation failed: No data provided"));
    }
    if !matches!(body, Some(Value::Object(_))) {
        return Err(WsException::new(
            "Validation failed: Data must be an object",
        ));
    }
    Ok(body)
}

/// NestJS's `ParseIntPipe`: a string of digits (or a number) becomes an integer.
pub fn parse_int(body: Option<Value>) -> Result<Option<Value>, WsException> {
    let parsed = match &body {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed
        .map(|n| Some(Value::from(n)))
        .ok_or_else(|| WsException::new("Validation failed (numeric string is expected)"))
}

/// The body of `rename`, checked by serde: both fields are required, no other is allowed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The current name.
    pub from: String,
    /// The new name.
    pub to: String,
}

//! Errors that reach clients: [`WsException`], and [`Exception`], what a handler may fail with.
//!
//! The contract, as NestJS's `BaseWsExceptionFilter` writes it on the wire:
//!
//! | the handler fails with | the client gets the event `exception` with |
//! |---|---|
//! | `WsException::new("msg")` | `{"status":"error","message":"msg","cause":{"pattern":<event>,"data":<body>}}` |
//! | `WsException::object(json!({..}))` | that object, as is |
//! | a guard's refusal | message `"Forbidden resource"` |
//! | a body that does not fit the handler's type ([`Rejection::InvalidBody`](crate::Rejection::InvalidBody)) | message `"Invalid message body: <serde's reason>"` |
//! | a missing [`Extension<T>`](crate::Extension) ([`Rejection::MissingExtension`](crate::Rejection::MissingExtension)) | message `"Forbidden resource"` |
//! | any other error | message `"Internal server error"`; the detail goes to the log only |
//!
//! A gateway or a handler can replace this with its own [`ExceptionFilter`](crate::ExceptionFilter).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde_json::Value;

/// An error meant for the client, like NestJS's `WsException`.
///
/// Its payload is either a message (sent inside the standard `exception` envelope) or an
/// object (sent as is).
#[derive(Debug, Clone, PartialEq)]
pub struct WsException {
    error: WsError,
}

/// What a [`WsException`] carries: `getError()` in NestJS.
#[derive(Debug, Clone, PartialEq)]
pub enum WsError {
    /// A message, sent as `{"status":"error","message":..,"cause":..}`.
    Message(Cow<'static, str>),
    /// An object, sent to the client as it is.
    Object(Value),
}

impl WsException {
    /// An exception whose client-facing message is `message`.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            error: WsError::Message(message.into()),
        }
    }

    /// An exception whose payload is sent to the client as is.
    pub fn object(value: Value) -> Self {
        Self {
            error: WsError::Object(value),
        }
    }

    /// The refusal of a guard: `"Forbidden resource"`, as NestJS.
    pub fn forbidden() -> Self {
        Self::new(FORBIDDEN)
    }

    /// What the client is sent.
    pub fn error(&self) -> &WsError {
        &self.error
    }
}

/// The message of a guard's refusal.
pub(crate) const FORBIDDEN: &str = "Forbidden resource";
/// The message sent for every error that is not meant for the client.
pub const INTERNAL_ERROR: &str = "Internal server error";

impl fmt::Display for WsException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            WsError::Message(m) => f.write_str(m),
            WsError::Object(v) => write!(f, "{v}"),
        }
    }
}

impl StdError for WsException {}

/// Why an event was refused before any handler ran: a limit of [`Limits`](crate::Limits)
/// or a packet that is not an event.
///
/// It reaches the client through the exception filters as handlers' errors do (the route's
/// filter when the event has a route, else the gateway's, else
/// [`BaseExceptionFilter`](crate::BaseExceptionFilter)), with its `Display` text as the
/// message; a filter can tell it apart with [`Exception::downcast_ref`].
/// [`Context::event`](crate::Context::event) is the event's name when it was read and is the
/// name of a route, else empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Over the client's event rate or its pending events (`events_per_second`,
    /// `max_pending_events`, `max_pending_bytes`).
    #[error("Too many requests")]
    TooManyRequests,
    /// JSON nested deeper than `max_json_depth`.
    #[error("Message nested too deeply")]
    TooDeep,
    /// Not `[name, ...arguments]` with a string name.
    #[error("Malformed event: expected [name, ...arguments]")]
    Malformed,
    /// An event name longer than `max_event_name_len`.
    #[error("Event name too long")]
    NameTooLong,
}

/// Whatever a handler, guard, pipe or connection hook failed with.
///
/// Any `std::error::Error` converts into it with `?`, so a handler can return
/// `Result<T, Exception>` and mix its own errors with [`WsException`]s. A [`WsException`] reaches
/// the client as written; anything else reaches the client as `"Internal server error"`, and
/// the log gets the detail. Like `anyhow::Error`, it does not implement `std::error::Error`
/// itself, so that the blanket conversion can exist.
pub struct Exception {
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Exception {
    /// The [`WsException`] inside, when the error is one: what the client is meant to see.
    pub fn as_ws(&self) -> Option<&WsException> {
        self.inner.downcast_ref()
    }

    /// The error inside, when it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref()
    }

    /// What the client is sent: the [`WsException`] inside, or the generic internal error for
    /// errors that are not meant for clients.
    pub fn to_client(&self) -> WsException {
        if let Some(ws) = self.as_ws() {
            return ws.clone();
        }
        if let Some(room) = self.downcast_ref::<crate::RoomError>() {
            return WsException::new(room.to_string());
        }
        if let Some(refusal) = self.downcast_ref::<Refusal>() {
            return WsException::new(refusal.to_string());
        }
        if let Some(rejection) = self.rejection() {
            return rejection.to_client();
        }
        WsException::new(INTERNAL_ERROR)
    }

    /// The [`Rejection`](crate::Rejection) inside, when an extractor refused the event: what a
    /// filter matches on to answer a bad body its own way.
    ///
    /// ```
    /// use iogate::{BaseExceptionFilter, Context, Exception, Rejection};
    /// use serde_json::json;
    ///
    /// /// Sends `badRequest` with serde's reason for bodies that do not fit, and the default
    /// /// `exception` for the rest.
    /// fn payload(e: &Exception, cx: &Context) -> (&'static str, serde_json::Value) {
    ///     match e.rejection() {
    ///         Some(Rejection::InvalidBody { reason }) => ("badRequest", json!({ "reason": reason })),
    ///         _ => ("exception", BaseExceptionFilter::payload(e, cx)),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = Context::builder().event("double").body(json!("x")).build().await;
    /// let refused = cx.extract::<iogate::Data<i64>>().unwrap_err();
    /// assert_eq!(
    ///     payload(&refused, &cx),
    ///     ("badRequest", json!({ "reason": "invalid type: string \"x\", expected i64" }))
    /// );
    /// # }
    /// ```
    pub fn rejection(&self) -> Option<&crate::Rejection> {
        self.downcast_ref()
    }

    /// What a client refused at the handshake gets as `connect_error`: the message of a
    /// [`WsException::new`]; for a [`WsException::object`], the object's `message` (or the
    /// object's JSON text when it has none) and the whole object as `err.data`, as a socket.io
    /// middleware's `next(err)` with `err.data` sends it.
    pub(crate) fn to_connect_error(&self) -> iogate_socketio::ConnectError {
        match self.to_client().error {
            WsError::Message(m) => iogate_socketio::ConnectError::new(m),
            WsError::Object(v) => iogate_socketio::ConnectError {
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| v.to_string(), str::to_owned),
                data: Some(v),
            },
        }
    }

    /// Whether the client may see the detail of this error (a [`WsException`] or an iogate
    /// error about the client's own request).
    pub fn is_client_error(&self) -> bool {
        self.as_ws().is_some()
            || self.downcast_ref::<crate::RoomError>().is_some()
            || self.downcast_ref::<Refusal>().is_some()
            || self
                .rejection()
                .is_some_and(crate::Rejection::is_client_error)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Exception {
    fn from(error: E) -> Self {
        Self {
            inner: Box::new(error),
        }
    }
}

impl fmt::Debug for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut source = self.inner.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_exceptions_keep_their_message_and_others_become_internal() {
        let e: Exception = WsException::new("nope").into();
        assert_eq!(e.to_client(), WsException::new("nope"));
        let e: Exception = std::io::Error::other("disk on fire").into();
        assert_eq!(e.to_client(), WsException::new(INTERNAL_ERROR));
        assert!(!e.is_client_error());
        assert_eq!(e.to_string(), "disk on fire");
    }
}

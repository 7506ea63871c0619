//! Pipes transform or validate a message body before its handler (NestJS's `PipeTransform`).

use serde_json::Value;

use crate::Context;
use crate::exception::Exception;

/// Transforms or validates the body; an error (usually a [`WsException`](crate::WsException))
/// goes to the exception filter and the handler is not called.
///
/// The body is `None` when the client sent no argument. Any
/// `Fn(Option<Value>) -> Result<Option<Value>, WsException>` is a pipe.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pipe",
    label = "not a pipe",
    note = "a pipe (NestJS's `PipeTransform`) is a `fn(Option<Value>) -> Result<Option<Value>, E>` \
            or a closure of that signature, where `E: Into<Exception>` (e.g. `WsException`), \
            or a type implementing `iogate::Pipe`, whose `transform` also sees the `&Context`"
)]
pub trait Pipe: Send + Sync + 'static {
    /// The body the handler will see.
    fn transform(&self, body: Option<Value>, cx: &Context) -> Result<Option<Value>, Exception>;
}

impl<F, E> Pipe for F
where
    F: Fn(Option<Value>) -> Result<Option<Value>, E> + Send + Sync + 'static,
    E: Into<Exception>,
{
    fn transform(&self, body: Option<Value>, _cx: &Context) -> Result<Option<Value>, Exception> {
        self(body).map_err(Into::into)
    }
}

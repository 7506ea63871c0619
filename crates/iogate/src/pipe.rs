//! Pipes transform or validate a message body before its handler (NestJS's `PipeTransform`).
//!
//! A pipe is one of:
//!
//! | written as | for |
//! |---|---|
//! | `fn(Option<Value>) -> Result<Option<Value>, E>`, or a closure of that signature | a check or a change that needs no waiting |
//! | [`from_fn`]`(\|body: Option<Value>\| async move { .. })` | one that awaits (a database check) |
//! | a type implementing [`Pipe`], with `async fn transform` | one that also sees the [`Context`] |
//!
//! Pipes run after the guards, in the order they were added, each on what the previous one
//! returned. Like guards, they may await without letting a client's events overtake each
//! other.
//!
//! A pipe is tested without a server:
//!
//! ```
//! use iogate::{Context, Pipe, WsException};
//! use serde_json::{Value, json};
//!
//! /// NestJS's `ParseIntPipe`.
//! fn parse_int(body: Option<Value>) -> Result<Option<Value>, WsException> {
//!     match body {
//!         Some(Value::String(s)) => s.parse::<i64>().map(|n| Some(n.into()))
//!             .map_err(|_| WsException::new("Validation failed (numeric string is expected)")),
//!         body => Ok(body),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let cx = Context::builder().event("double").build().await;
//! assert_eq!(parse_int.transform(Some(json!("21")), &cx).await.unwrap(), Some(json!(21)));
//! let refused = parse_int.transform(Some(json!("x")), &cx).await.unwrap_err();
//! assert_eq!(refused.to_client(), WsException::new("Validation failed (numeric string is expected)"));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::Context;
use crate::exception::Exception;

/// Transforms or validates the body; an error (usually a [`WsException`](crate::WsException))
/// goes to the exception filter and the handler is not called.
///
/// The body is `None` when the client sent no argument. Any
/// `Fn(Option<Value>) -> Result<Option<Value>, E>` is a pipe, where `E: Into<Exception>`;
/// [`from_fn`] makes one of an async closure. A type implements it with an `async fn`:
///
/// ```
/// use iogate::{Context, Exception, Pipe, WsException};
/// use serde_json::{Value, json};
///
/// /// Stamps the body with its sender.
/// struct Stamp;
///
/// impl Pipe for Stamp {
///     async fn transform(&self, body: Option<Value>, cx: &Context) -> Result<Option<Value>, Exception> {
///         let Some(user) = cx.client().user() else {
///             return Err(WsException::new("Sign in first").into());
///         };
///         Ok(Some(json!({ "from": user, "body": body })))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cx = Context::builder().user("alice").build().await;
/// let stamped = Stamp.transform(Some(json!("hi")), &cx).await.unwrap();
/// assert_eq!(stamped, Some(json!({ "from": "alice", "body": "hi" })));
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pipe",
    label = "not a pipe",
    note = "a pipe (NestJS's `PipeTransform`) is a `fn(Option<Value>) -> Result<Option<Value>, E>` \
            or a closure of that signature, where `E: Into<Exception>` (e.g. `WsException`), \
            `iogate::pipe::from_fn(|body| async move {{ .. }})` for a pipe that awaits, \
            or a type implementing `iogate::Pipe`, whose `async fn transform` also sees the `&Context`"
)]
pub trait Pipe: Send + Sync + 'static {
    /// The body the handler will see.
    fn transform(
        &self,
        body: Option<Value>,
        cx: &Context,
    ) -> impl Future<Output = Result<Option<Value>, Exception>> + Send;
}

impl<F, E> Pipe for F
where
    F: Fn(Option<Value>) -> Result<Option<Value>, E> + Send + Sync + 'static,
    E: Into<Exception>,
{
    fn transform(
        &self,
        body: Option<Value>,
        _cx: &Context,
    ) -> impl Future<Output = Result<Option<Value>, Exception>> + Send {
        std::future::ready(self(body).map_err(Into::into))
    }
}

/// A pipe that awaits: `f` gets the body and returns a future of the new body or an error.
///
/// ```
/// use iogate::{Context, Pipe, WsException, pipe};
/// use serde_json::{Value, json};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let known_room = pipe::from_fn(|body: Option<Value>| async move {
///     // A real pipe would ask a database whether the room exists.
///     tokio::task::yield_now().await;
///     match body {
///         Some(Value::String(room)) if room.starts_with("room-") => Ok(Some(room.into())),
///         _ => Err(WsException::new("No such room")),
///     }
/// });
/// let cx = Context::builder().build().await;
/// assert_eq!(known_room.transform(Some(json!("room-1")), &cx).await.unwrap(), Some(json!("room-1")));
/// assert!(known_room.transform(Some(json!("lobby")), &cx).await.is_err());
/// # }
/// ```
pub fn from_fn<F, Fut, E>(f: F) -> FromFn<F>
where
    F: Fn(Option<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Value>, E>> + Send + 'static,
    E: Into<Exception>,
{
    FromFn(f)
}

/// The pipe [`from_fn`] makes.
#[derive(Debug, Clone, Copy)]
pub struct FromFn<F>(F);

// Not suggested when a type is not a guard or pipe: the note names `from_fn` already.
#[diagnostic::do_not_recommend]
impl<F, Fut, E> Pipe for FromFn<F>
where
    F: Fn(Option<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Value>, E>> + Send + 'static,
    E: Into<Exception>,
{
    fn transform(
        &self,
        body: Option<Value>,
        _cx: &Context,
    ) -> impl Future<Output = Result<Option<Value>, Exception>> + Send {
        let transformed = (self.0)(body);
        async move { transformed.await.map_err(Into::into) }
    }
}

/// A pipe as routes keep it, its future boxed so that pipes of any type sit in one list.
pub(crate) trait DynPipe: Send + Sync + 'static {
    fn transform_boxed<'a>(
        &'a self,
        body: Option<Value>,
        cx: &'a Context,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Value>, Exception>> + Send + 'a>>;
}

impl<P: Pipe> DynPipe for P {
    fn transform_boxed<'a>(
        &'a self,
        body: Option<Value>,
        cx: &'a Context,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Value>, Exception>> + Send + 'a>> {
        Box::pin(Pipe::transform(self, body, cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WsException;
    use serde_json::json;

    fn trim(body: Option<Value>) -> Result<Option<Value>, WsException> {
        match body {
            Some(Value::String(s)) if s.trim().is_empty() => Err(WsException::new("Empty")),
            Some(Value::String(s)) => Ok(Some(s.trim().into())),
            body => Ok(body),
        }
    }

    #[tokio::test]
    async fn a_fn_pipe_transforms_or_refuses_the_body() {
        let cx = Context::builder().build().await;
        assert_eq!(
            trim.transform(Some(json!("  hi ")), &cx).await.unwrap(),
            Some(json!("hi"))
        );
        assert_eq!(trim.transform(None, &cx).await.unwrap(), None);
        let refused = trim.transform(Some(json!("  ")), &cx).await.unwrap_err();
        assert_eq!(refused.to_client(), WsException::new("Empty"));
    }

    #[tokio::test]
    async fn an_async_pipe_awaits_then_transforms_or_refuses() {
        let double = from_fn(|body: Option<Value>| async move {
            tokio::task::yield_now().await;
            match body.as_ref().and_then(Value::as_i64) {
                Some(n) => Ok(Some(json!(n * 2))),
                None => Err(WsException::new("Not a number")),
            }
        });
        let erased: &dyn DynPipe = &double;
        let cx = Context::builder().build().await;
        let doubled = erased.transform_boxed(Some(json!(21)), &cx).await.unwrap();
        assert_eq!(doubled, Some(json!(42)));
        let refused = erased
            .transform_boxed(Some(json!("x")), &cx)
            .await
            .unwrap_err();
        assert_eq!(refused.to_client(), WsException::new("Not a number"));
    }
}

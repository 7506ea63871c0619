//! How a handler is called, and how its return value becomes an acknowledgement or an emit.
//!
//! A handler is an async function whose arguments are [extractors](crate::extract) and whose
//! return value implements [`IntoReply`]. As in NestJS:
//!
//! | the handler returns | the client gets |
//! |---|---|
//! | a value (`String`, `&str`, numbers, `bool`, `Value`, `Vec<T>`, [`Ack<T>`]) | it as the acknowledgement, when it asked for one |
//! | [`Args`], or [`Ack(args)`](Ack) | an acknowledgement with several arguments and binary attachments ([`args`](crate::args)) |
//! | [`WsResponse { event, data }`](WsResponse) | `data` emitted as `event`, and no acknowledgement; several arguments when `data` is [`Args`] |
//! | `()`, `None` or `Value::Null` | nothing |
//! | `Err(e)` | what the exception filter sends for `e` |
//!
//! A value is one argument; a tuple, or [`Args`], is several. Bytes (`bytes::Bytes`, or the
//! attachments of [`Args`]) are sent as binary attachments.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::exception::Exception;
use crate::extract::FromContext;
use crate::filter::ExceptionFilter;
use crate::guard::{DynGuard, Guard};
use crate::pipe::{DynPipe, Pipe};
use crate::{Args, Context};

/// A boxed, `Send` future: what [`Handler::call`] and [`Middleware::call`](crate::Middleware::call)
/// return, for those who implement these traits by hand.
///
/// ```
/// use iogate::{BoxFuture, Client, Exception, Middleware};
///
/// struct AllowAll;
///
/// impl Middleware for AllowAll {
///     fn call(&self, _client: Client) -> BoxFuture<Result<(), Exception>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A value on its way to the client, serialised straight into the packet.
pub(crate) type Payload = Box<dyn erased_serde::Serialize + Send + Sync>;

/// What a handler's return value asks iogate to do.
pub struct Reply(pub(crate) ReplyKind);

pub(crate) enum ReplyKind {
    Nothing,
    Ack(Payload),
    Emit(Cow<'static, str>, Payload),
    Error(Exception),
}

impl Reply {
    /// Send nothing.
    pub fn nothing() -> Self {
        Self(ReplyKind::Nothing)
    }

    /// Acknowledge with `data`, when the client asked for an acknowledgement.
    pub fn ack<T: Serialize + Send + Sync + 'static>(data: T) -> Self {
        Self(ReplyKind::Ack(Box::new(data)))
    }

    /// Emit `data` as `event` to the client.
    pub fn emit<T: Serialize + Send + Sync + 'static>(
        event: impl Into<Cow<'static, str>>,
        data: T,
    ) -> Self {
        Self(ReplyKind::Emit(event.into(), Box::new(data)))
    }

    /// Hand `error` to the exception filter.
    pub fn error(error: impl Into<Exception>) -> Self {
        Self(ReplyKind::Error(error.into()))
    }
}

/// Turns a handler's return value into a [`Reply`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's return value",
    note = "return a value to acknowledge with (String, &'static str, numbers, bool, serde_json::Value, Vec<T>, Args), \
            `Ack(x)` for any other Serialize type, `WsResponse {{ event, data }}` to emit, `()` or `Option` for nothing, \
            or a `Result` of these"
)]
pub trait IntoReply {
    /// The reply.
    fn into_reply(self) -> Reply;
}

/// Acknowledge with any `Serialize` value (axum's `Json` for acknowledgements): one argument,
/// or several for a tuple or [`Args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack<T>(pub T);

/// Emit `data` as `event` to the client that sent the message, instead of acknowledging
/// (NestJS's `WsResponse`). `data` is one argument, or several for a tuple or [`Args`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsResponse<T> {
    /// The event to emit.
    pub event: Cow<'static, str>,
    /// Its payload.
    pub data: T,
}

impl<T> WsResponse<T> {
    /// A response emitting `data` as `event`.
    pub fn new(event: impl Into<Cow<'static, str>>, data: T) -> Self {
        Self {
            event: event.into(),
            data,
        }
    }
}

impl IntoReply for Reply {
    fn into_reply(self) -> Reply {
        self
    }
}

impl IntoReply for () {
    fn into_reply(self) -> Reply {
        Reply::nothing()
    }
}

impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> Reply {
        self.map_or_else(Reply::nothing, IntoReply::into_reply)
    }
}

impl<T: IntoReply, E: Into<Exception>> IntoReply for Result<T, E> {
    fn into_reply(self) -> Reply {
        match self {
            Ok(v) => v.into_reply(),
            Err(e) => Reply::error(e),
        }
    }
}

impl<T: Serialize + Send + Sync + 'static> IntoReply for Ack<T> {
    fn into_reply(self) -> Reply {
        Reply::ack(self.0)
    }
}

impl<T: Serialize + Send + Sync + 'static> IntoReply for WsResponse<T> {
    fn into_reply(self) -> Reply {
        Reply::emit(self.event, self.data)
    }
}

/// The acknowledgement's arguments, as many as there are (none for an empty `Args`), with
/// their binary attachments.
impl IntoReply for Args {
    fn into_reply(self) -> Reply {
        Reply::ack(self)
    }
}

impl<T: Serialize + Send + Sync + 'static> IntoReply for Vec<T> {
    fn into_reply(self) -> Reply {
        Reply::ack(self)
    }
}

macro_rules! ack_values {
    ($($t:ty),*) => {$(
        impl IntoReply for $t {
            fn into_reply(self) -> Reply {
                Reply::ack(self)
            }
        }
    )*};
}
/// `null` sends nothing, as NestJS drops `null` and `undefined` results; wrap it in [`Ack`] to
/// acknowledge with `null`.
impl IntoReply for Value {
    fn into_reply(self) -> Reply {
        if self.is_null() {
            Reply::nothing()
        } else {
            Reply::ack(self)
        }
    }
}

ack_values!(
    String,
    &'static str,
    Cow<'static, str>,
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    usize,
    isize
);

/// An async function that handles one event.
///
/// Implemented for async functions and closures of up to eight arguments, each an
/// [extractor](FromContext), returning a value that implements [`IntoReply`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an iogate handler",
    label = "not a handler",
    note = "a handler is an async fn (or a closure returning a future) that is Clone + Send + Sync + 'static, \
            whose arguments are extractors (see `iogate::extract`: Data<T>, Args, Client, ...) \
            and whose return value implements IntoReply"
)]
pub trait Handler<T>: Clone + Send + Sync + 'static {
    /// Extracts the arguments from `cx` and starts the handler.
    fn call(&self, cx: &Context) -> Result<BoxFuture<Reply>, Exception>;
}

macro_rules! impl_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, $($ty,)*> Handler<($($ty,)*)> for F
        where
            F: Fn($($ty,)*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            $($ty: FromContext + Send + 'static,)*
        {
            fn call(&self, cx: &Context) -> Result<BoxFuture<Reply>, Exception> {
                $(let $ty = $ty::from_context(cx)?;)*
                let fut = (self)($($ty,)*);
                Ok(Box::pin(async move { fut.await.into_reply() }))
            }
        }
    };
}
impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// A handler with its type erased, as routes keep it.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    fn call(&self, cx: &Context) -> Result<BoxFuture<Reply>, Exception>;
}

struct Erased<H, T>(H, std::marker::PhantomData<fn() -> T>);

impl<H: Handler<T>, T: 'static> ErasedHandler for Erased<H, T> {
    fn call(&self, cx: &Context) -> Result<BoxFuture<Reply>, Exception> {
        self.0.call(cx)
    }
}

/// A handler with its guards, pipes and exception filter: what
/// [`Gateway::subscribe_message`](crate::Gateway::subscribe_message) registers.
///
/// Built from a handler with the [`HandlerExt`] methods:
/// `create_message.pipe(ValidateObject).filter(ErrorEvent)`.
#[derive(Clone)]
pub struct Route {
    pub(crate) handler: Arc<dyn ErasedHandler>,
    pub(crate) guards: Vec<Arc<dyn DynGuard>>,
    pub(crate) pipes: Vec<Arc<dyn DynPipe>>,
    pub(crate) filter: Option<Arc<dyn ExceptionFilter>>,
}

impl Route {
    /// A route for `handler`, with no guard, pipe or filter of its own.
    pub fn new<H: Handler<T>, T: 'static>(handler: H) -> Self {
        Self {
            handler: Arc::new(Erased(handler, std::marker::PhantomData)),
            guards: Vec::new(),
            pipes: Vec::new(),
            filter: None,
        }
    }

    /// Adds a guard (`@UseGuards`); guards run in the order they were added.
    #[must_use]
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.guards.push(Arc::new(guard));
        self
    }

    /// Adds a pipe (`@UsePipes`); pipes run in the order they were added, after the guards.
    #[must_use]
    pub fn pipe(mut self, pipe: impl Pipe) -> Self {
        self.pipes.push(Arc::new(pipe));
        self
    }

    /// Sets the exception filter of this handler (`@UseFilters`), in place of the gateway's.
    #[must_use]
    pub fn filter(mut self, filter: impl ExceptionFilter) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }
}

/// Attaches guards, pipes and filters to a handler function.
pub trait HandlerExt<T>: Handler<T> {
    /// The handler behind `guard`.
    fn guard(self, guard: impl Guard) -> Route;
    /// The handler behind `pipe`.
    fn pipe(self, pipe: impl Pipe) -> Route;
    /// The handler with its own exception filter.
    fn filter(self, filter: impl ExceptionFilter) -> Route;
}

impl<H: Handler<T>, T: 'static> HandlerExt<T> for H {
    fn guard(self, guard: impl Guard) -> Route {
        Route::new(self).guard(guard)
    }
    fn pipe(self, pipe: impl Pipe) -> Route {
        Route::new(self).pipe(pipe)
    }
    fn filter(self, filter: impl ExceptionFilter) -> Route {
        Route::new(self).filter(filter)
    }
}

/// Anything [`Gateway::subscribe_message`](crate::Gateway::subscribe_message) takes: a handler
/// function or a [`Route`].
pub trait IntoRoute<T> {
    /// The route.
    fn into_route(self) -> Route;
}

impl<H: Handler<T>, T: 'static> IntoRoute<T> for H {
    fn into_route(self) -> Route {
        Route::new(self)
    }
}

/// Marks the [`IntoRoute`] impl of [`Route`] itself.
#[doc(hidden)]
pub enum ViaRoute {}

impl IntoRoute<ViaRoute> for Route {
    fn into_route(self) -> Route {
        self
    }
}

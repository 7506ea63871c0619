//! Extractors: what a handler's arguments can be.
//!
//! | argument | what it gives | fails with |
//! |---|---|---|
//! | [`Data<T>`] | the body (`@MessageBody()`), deserialised into `T`: one argument as itself, several as an array | `Invalid message body: ..` |
//! | [`Args`] | the arguments exactly as sent, count preserved, with their binary attachments ([`args`](crate::args)) | never |
//! | [`Client`] | the client that sent the event (`@ConnectedSocket()`) | never |
//! | [`Server`] | the server handle | never |
//! | [`Namespace`](crate::Namespace) | the gateway's namespace (`@WebSocketServer() server`) | never |
//! | [`State<T>`] | shared state registered with [`App::state`](crate::App::state) | internal error if missing |
//! | [`Extension<T>`] | typed data stored on the client, e.g. JWT claims | `Forbidden resource` if missing |
//! | [`Event`] | the event's name | never |
//! | [`Binary`] | the binary attachments (their placeholders are in the body) | never |
//!
//! Write your own by implementing [`FromContext`].

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::exception::{Exception, WsException};
use crate::{Args, Client, Context, Server};

/// Builds a handler argument from the event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an iogate extractor",
    label = "cannot be a handler argument",
    note = "handler arguments must implement FromContext: Data<T>, Args, Client, Server, State<T>, Extension<T>, Event, Binary"
)]
pub trait FromContext: Sized {
    /// Extracts the value; an error goes to the exception filter and the handler is not called.
    fn from_context(cx: &Context) -> Result<Self, Exception>;
}

/// The message body, deserialised with serde (`@MessageBody()`).
///
/// One argument from the client is the body; several become an array (`emit('e', 1, 2)` gives
/// `[1, 2]`, as `emit('e', [1, 2])` does); none is `null`, so take `Data<Option<T>>` when the
/// body is optional. A body that does not fit `T` reaches the client as an `exception` naming
/// the event. Take [`Args`] for the arguments as a list, exactly as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> FromContext for Data<T> {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        cx.body
            .decode()
            .map(Data)
            .map_err(|e| invalid_body(&e).into())
    }
}

/// What the client is told when the body does not fit the handler's type.
pub(crate) fn invalid_body(e: &serde_json::Error) -> WsException {
    WsException::new(format!("Invalid message body: {}", without_position(e)))
}

/// serde_json's message without its ` at line 1 column 9` tail, which means nothing to the
/// client (it never saw the text the position is in).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&tail).map_or(text.clone(), str::to_owned)
}

impl FromContext for Client {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(cx.client.clone())
    }
}

impl FromContext for Server {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(cx.server.clone())
    }
}

/// Shared state registered with [`App::state`](crate::App::state) (NestJS's injected
/// providers). `T` is cloned for each call, so make it a cheap handle (an `Arc`).
#[derive(Debug, Clone)]
pub struct State<T>(pub T);

/// A [`State<T>`] was asked for, but no `T` was registered.
#[derive(Debug, thiserror::Error)]
#[error("no state of type {0} was registered with App::state")]
pub struct MissingState(&'static str);

impl<T: Clone + Send + Sync + 'static> FromContext for State<T> {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        cx.server
            .state::<T>()
            .map(State)
            .ok_or_else(|| MissingState(std::any::type_name::<T>()).into())
    }
}

/// Typed data stored on the client with [`Client::insert`](crate::Client::insert), such as
/// the claims of its verified JWT. A client without one is refused with `Forbidden resource`,
/// so `Extension<Claims>` doubles as an authentication check; take `Option<Extension<T>>`
/// when it is optional.
#[derive(Debug, Clone)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext for Extension<T> {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        cx.client
            .get::<T>()
            .map(Extension)
            .ok_or_else(|| WsException::forbidden().into())
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext for Option<Extension<T>> {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(cx.client.get::<T>().map(Extension))
    }
}

/// The event's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event(pub String);

impl FromContext for Event {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(Event(cx.event().to_owned()))
    }
}

/// The binary attachments of the event, in the order of their placeholders' `num` in the body
/// (see [`Args`] for the arguments and their attachments together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary(pub Vec<Bytes>);

impl FromContext for Binary {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(Binary(cx.binaries.clone()))
    }
}

/// The event's arguments exactly as the client sent them, with their binary attachments: see
/// [`args`](crate::args). After a [pipe](crate::Pipe), the body it returned: its items when
/// the client sent several arguments and the pipe returned an array, else one argument.
impl FromContext for Args {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(cx.args())
    }
}

/// The namespace of the gateway handling the event: what `@WebSocketServer() server` is in a
/// NestJS gateway with a `namespace` option. Broadcasts through it include the sender.
impl FromContext for crate::Namespace {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        Ok(cx.server.of(cx.client.namespace()))
    }
}

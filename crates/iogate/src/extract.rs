//! Extractors: what a handler's arguments can be.
//!
//! | argument | what it gives | fails with |
//! |---|---|---|
//! | [`Data<T>`] | the body (`@MessageBody()`), deserialised into `T`: one argument as itself, several as an array | [`Rejection::InvalidBody`]: `Invalid message body: ..` |
//! | [`Args`] | the arguments exactly as sent, count preserved, with their binary attachments ([`args`](crate::args)) | never |
//! | [`Client`] | the client that sent the event (`@ConnectedSocket()`) | never |
//! | [`Server`] | the server handle | never |
//! | [`Namespace`](crate::Namespace) | the gateway's namespace (`@WebSocketServer() server`) | never |
//! | [`State<T>`] | shared state registered with [`App::state`](crate::App::state) | [`Rejection::MissingState`]: `Internal server error` |
//! | [`Extension<T>`] | typed data stored on the client, e.g. JWT claims | [`Rejection::MissingExtension`]: `Forbidden resource` |
//! | [`Event`] | the event's name | never |
//! | [`Binary`] | the binary attachments (their placeholders are in the body) | never |
//!
//! Write your own by implementing [`FromContext`].
//!
//! A refused extraction is a [`Rejection`], which an [exception filter](crate::ExceptionFilter)
//! can match on with [`Exception::rejection`]; the client gets the message of the table above.
//! An extractor is tested without a server, on a [`Context::builder`]:
//!
//! ```
//! use iogate::{Context, Data, FromContext, Rejection};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Debug, Deserialize)]
//! struct Message { text: String }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let cx = Context::builder().body(json!({ "text": "hi" })).build().await;
//! let Data(m) = Data::<Message>::from_context(&cx).unwrap();
//! assert_eq!(m.text, "hi");
//!
//! let cx = Context::builder().body(json!({ "txt": "hi" })).build().await;
//! let refused = Data::<Message>::from_context(&cx).unwrap_err();
//! assert!(matches!(
//!     refused.rejection(),
//!     Some(Rejection::InvalidBody { reason }) if reason == "missing field `text`"
//! ));
//! assert_eq!(refused.to_client().to_string(), "Invalid message body: missing field `text`");
//! # }
//! ```

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::exception::{Exception, INTERNAL_ERROR, WsException};
use crate::{Args, Client, Context, Server};

/// Why an extractor refused an event: what an exception filter matches on
/// ([`Exception::rejection`]).
///
/// Its `Display` text is what the log gets; [`to_client`](Self::to_client) is what the client
/// is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The body does not fit the handler's type ([`Data<T>`], [`Args::decode`]). The client is
    /// told `Invalid message body: <reason>`.
    #[error("Invalid message body: {reason}")]
    InvalidBody {
        /// serde's reason, without its position in a text the client never saw.
        reason: String,
    },
    /// No value of the [`Extension<T>`]'s type is stored on the client. The client is told
    /// `Forbidden resource`.
    #[error("no {type_name} is stored on the client")]
    MissingExtension {
        /// The name of `T`.
        type_name: &'static str,
    },
    /// No [`State<T>`] of this type was registered with [`App::state`](crate::App::state): a
    /// bug in the app. The client is told `Internal server error`.
    #[error("no state of type {type_name} was registered with App::state")]
    MissingState {
        /// The name of `T`.
        type_name: &'static str,
    },
}

impl Rejection {
    /// The refusal of a body that does not fit: serde's reason, without its position.
    pub(crate) fn invalid_body(e: &serde_json::Error) -> Self {
        Self::InvalidBody {
            reason: without_position(e),
        }
    }

    /// What the client is sent.
    pub fn to_client(&self) -> WsException {
        match self {
            Self::InvalidBody { .. } => WsException::new(self.to_string()),
            Self::MissingExtension { .. } => WsException::forbidden(),
            Self::MissingState { .. } => WsException::new(INTERNAL_ERROR),
        }
    }

    /// Whether the refusal is about the client's event (not a bug in the app).
    pub(crate) fn is_client_error(&self) -> bool {
        !matches!(self, Self::MissingState { .. })
    }
}

/// A rejection as the client sees it, so that `?` works in a handler returning
/// `Result<_, WsException>`.
impl From<Rejection> for WsException {
    fn from(rejection: Rejection) -> Self {
        rejection.to_client()
    }
}

/// Builds a handler argument from the event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an iogate extractor",
    label = "cannot be a handler argument",
    note = "handler arguments must implement FromContext: the extractors of `iogate::extract` (Data<T>, Args, Client, ...), or your own type implementing it"
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
            .map_err(|e| Rejection::invalid_body(&e).into())
    }
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

impl<T: Clone + Send + Sync + 'static> FromContext for State<T> {
    fn from_context(cx: &Context) -> Result<Self, Exception> {
        cx.server.state::<T>().map(State).ok_or_else(|| {
            let type_name = std::any::type_name::<T>();
            Rejection::MissingState { type_name }.into()
        })
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
        cx.client.get::<T>().map(Extension).ok_or_else(|| {
            let type_name = std::any::type_name::<T>();
            Rejection::MissingExtension { type_name }.into()
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[tokio::test]
    async fn data_decodes_the_body_or_rejects_it_with_serdes_reason() {
        let cx = Context::builder().body(json!({ "n": 1 })).build().await;
        assert_eq!(cx.extract::<Data<Value>>().unwrap().0, json!({ "n": 1 }));
        let refused = cx.extract::<Data<Vec<u8>>>().unwrap_err();
        assert_eq!(
            refused.rejection(),
            Some(&Rejection::InvalidBody {
                reason: "invalid type: map, expected a sequence".into()
            })
        );
        assert!(refused.is_client_error());
        // No argument is `null`: fine for an `Option`, refused otherwise.
        let cx = Context::builder().build().await;
        assert_eq!(cx.extract::<Data<Option<u8>>>().unwrap().0, None);
        assert!(matches!(
            cx.extract::<Data<u8>>().unwrap_err().rejection(),
            Some(Rejection::InvalidBody { .. })
        ));
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Claims(&'static str);

    #[tokio::test]
    async fn a_missing_extension_is_forbidden_and_missing_state_internal() {
        let cx = Context::builder().extension(Claims("alice")).build().await;
        assert_eq!(
            cx.extract::<Extension<Claims>>().unwrap().0,
            Claims("alice")
        );
        let cx = Context::builder().build().await;
        let refused = cx.extract::<Extension<Claims>>().unwrap_err();
        assert!(matches!(
            refused.rejection(),
            Some(Rejection::MissingExtension { .. })
        ));
        assert_eq!(refused.to_client(), WsException::forbidden());
        assert!(cx.extract::<Option<Extension<Claims>>>().unwrap().is_none());

        let missing = cx.extract::<State<Claims>>().unwrap_err();
        assert!(matches!(
            missing.rejection(),
            Some(Rejection::MissingState { .. })
        ));
        assert!(!missing.is_client_error());
        assert_eq!(missing.to_client(), WsException::new(INTERNAL_ERROR));
        let cx = Context::builder().state(Claims("shared")).build().await;
        assert_eq!(cx.extract::<State<Claims>>().unwrap().0, Claims("shared"));
    }

    #[tokio::test]
    async fn several_arguments_are_one_array_for_data_and_a_list_for_args() {
        let cx = Context::builder()
            .event("move")
            .args(Args::new().arg(1).arg("two").binary(vec![3u8]))
            .build()
            .await;
        let Data(body) = cx.extract::<Data<Value>>().unwrap();
        assert_eq!(body[0], 1);
        assert_eq!(body[1], "two");
        let args = cx.extract::<Args>().unwrap();
        assert_eq!(args.values.len(), 3);
        assert_eq!(
            cx.extract::<Binary>().unwrap().0,
            vec![Bytes::from_static(&[3])]
        );
        assert_eq!(cx.extract::<Event>().unwrap().0, "move");
    }
}

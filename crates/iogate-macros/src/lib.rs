//! # iogate-macros: gateways written as an `impl` block
//!
//! The attributes of [iogate](../iogate/index.html), re-exported there (feature `macros`, on by
//! default): a gateway written the way NestJS writes one, as a type whose methods are its
//! handlers and hooks.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use iogate::{
//!     Ack, App, Client, Context, Data, DisconnectReason, Exception, Server, WsException, gateway,
//!     middleware, subscribe_message, use_filters, use_guards, use_pipes,
//! };
//! use serde_json::{Value, json};
//!
//! #[derive(Default)]
//! struct EventsGateway {
//!     ids: AtomicU64,
//! }
//!
//! #[gateway(namespace = "/events")]
//! #[use_guards(is_known)] // every handler of the gateway
//! impl EventsGateway {
//!     // The hooks are found by their names, as NestJS's `afterInit`, `handleConnection`, ...
//!     fn after_init(&self, _server: Server) {}
//!
//!     async fn handle_connection(&self, client: Client) {
//!         let _ = client.emit("welcome", client.id());
//!     }
//!
//!     async fn handle_disconnect(&self, _client: Client, _reason: DisconnectReason) {}
//!
//!     /// Runs during the handshake; an error refuses the client.
//!     #[middleware]
//!     async fn authenticate(&self, client: Client) -> Result<(), WsException> {
//!         let name = client.auth().get("name").and_then(Value::as_str);
//!         let name = name.ok_or_else(|| WsException::new("Who are you?"))?;
//!         client.insert(name.to_owned());
//!         Ok(())
//!     }
//!
//!     // The returned value is the acknowledgement.
//!     #[subscribe_message("message")]
//!     async fn handle_message(&self, Data(_text): Data<String>) -> &'static str {
//!         "Message received"
//!     }
//!
//!     #[subscribe_message("createMessage")]
//!     #[use_pipes(require_object)]
//!     #[use_filters(error_event)]
//!     async fn create_message(&self, Data(data): Data<Value>) -> Ack<Value> {
//!         let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
//!         Ack(json!({ "id": id, "message": data }))
//!     }
//! }
//!
//! fn is_known(cx: &Context) -> bool {
//!     cx.client().get::<String>().is_some()
//! }
//!
//! fn require_object(body: Option<Value>) -> Result<Option<Value>, WsException> {
//!     match body {
//!         Some(Value::Object(_)) => Ok(body),
//!         _ => Err(WsException::new("Validation failed: Data must be an object")),
//!     }
//! }
//!
//! fn error_event(exception: &Exception, cx: &Context) {
//!     let _ = cx.client().emit("error", &exception.to_client().to_string());
//! }
//!
//! let app = App::new().gateway(EventsGateway::default());
//! ```
//!
//! `#[gateway]` leaves the `impl` block as it is and writes `impl iogate::IntoGateway for
//! EventsGateway`, which [`App::gateway`](../iogate/struct.App.html#method.gateway) takes. Its
//! `into_gateway` puts the gateway in an `Arc` and makes the `Gateway` a user would build by
//! hand, one builder call per method: nothing here is out of reach of a hand-written gateway,
//! and `EventsGateway::default().into_gateway()` is a `Gateway` to which more can be added.
//!
//! ## The attributes
//! | attribute | on | NestJS | becomes |
//! |---|---|---|---|
//! | [`#[gateway(namespace = "/events")]`](macro@gateway) | the `impl` block | `@WebSocketGateway({ namespace })` | `Gateway::new` |
//! | [`#[subscribe_message("event")]`](macro@subscribe_message) | an async method | `@SubscribeMessage('event')` | `Gateway::subscribe_message` |
//! | [`#[use_guards(a, b)]`](macro@use_guards) | a handler, or the block | `@UseGuards(A, B)` | `Route::guard`, `Gateway::guard` |
//! | [`#[use_pipes(a, b)]`](macro@use_pipes) | a handler, or the block | `@UsePipes(A, B)` | `Route::pipe` |
//! | [`#[use_filters(f)]`](macro@use_filters) | a handler, or the block | `@UseFilters(F)` | `Route::filter`, `Gateway::filter` |
//! | [`#[middleware]`](macro@middleware) | an async method | `server.use(...)` | `Gateway::middleware` |
//! | [`#[on_server_event("event")]`](macro@on_server_event) | an async method | `io.on(event)` of `serverSideEmit` | `Gateway::on_server_event` |
//! | `fn after_init(&self, server: Server)` | a method, by name | `afterInit` | `Gateway::after_init` |
//! | `async fn handle_connection(&self, client: Client)` | a method, by name | `handleConnection` | `Gateway::handle_connection` |
//! | `async fn handle_disconnect(&self, client: Client, reason: DisconnectReason)` | a method, by name | `handleDisconnect` | `Gateway::handle_disconnect` |
//!
//! Import the attributes you use (`use iogate::{gateway, subscribe_message}`), as a NestJS
//! gateway imports its decorators; `#[gateway]` reads the others and leaves them to say
//! nothing more.
//!
//! ## Methods
//! - They take `&self`, or no receiver. One gateway serves every client at once, so it is
//!   shared: keep what changes in atomics or behind a `Mutex`, as a NestJS gateway keeps its
//!   state in fields. The type must be `Send + Sync + 'static`.
//! - A handler's arguments are extractors (those of `iogate::extract`: `Data<T>`, `Args`,
//!   `Client`, ..., or a type implementing `FromContext`),
//!   at most eight, in any order; patterns such as `Data(text): Data<String>` are fine. Its
//!   return value is the reply (`IntoReply`): a value acknowledges, `WsResponse` emits, an
//!   `Err` goes to the exception filter.
//! - Methods without a role stay ordinary methods, which the others may call.
//!
//! ## Values in attributes
//! Guards, pipes and filters are Rust expressions, evaluated once when the gateway is built
//! (`into_gateway`), before any client connects: a function (`is_known`), a unit struct
//! (`WsJwtGuard`), a call (`JwtGuard::new("secret")`), or a field of the gateway
//! (`self.jwt.guard()`, as NestJS injects a guard's dependencies). A pipe on the `impl` block
//! is evaluated once per handler, since iogate keeps pipes per handler.
//!
//! ## Errors
//! A mistake is reported at the code that has it, with what to write instead: a handler that
//! is not `async`, an argument that is not an extractor or a return value that is not a reply
//! (rustc's message, at the argument or the return type), an event handled twice, an unknown
//! option, a hook with the wrong signature, an attribute out of place. The `tests/ui/fail`
//! cases of this crate show each message.

mod attrs;
mod expand;
mod gateway;

use proc_macro::TokenStream;

use attrs::Helper;

/// Makes the type of this `impl` block a gateway (NestJS's `@WebSocketGateway`).
///
/// ```
/// # use iogate::{gateway, subscribe_message, Data};
/// struct ChatGateway;
///
/// #[gateway(namespace = "/chat")]
/// impl ChatGateway {
///     #[subscribe_message("ping")]
///     async fn ping(&self) -> &'static str {
///         "pong"
///     }
/// }
///
/// let app = iogate::App::new().gateway(ChatGateway);
/// ```
///
/// Options:
/// - `namespace = "/chat"`: the namespace it serves; `"/"` when left out.
///
/// Server-wide options (CORS, transports, ping intervals, sizes), which NestJS also accepts in
/// `@WebSocketGateway`, are set once for the app: `App::options(Options::default()...)`.
///
/// The block keeps its methods as written; `#[gateway]` adds `impl iogate::IntoGateway` for the
/// type, registering the methods marked [`#[subscribe_message]`](macro@subscribe_message) and
/// [`#[middleware]`](macro@middleware) and the hooks `after_init`, `handle_connection` and
/// `handle_disconnect`. [`#[use_guards]`](macro@use_guards),
/// [`#[use_pipes]`](macro@use_pipes) and [`#[use_filters]`](macro@use_filters) below it apply
/// to every handler. See [the crate docs](crate) for the whole picture.
#[proc_macro_attribute]
pub fn gateway(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut block = match syn::parse::<syn::ItemImpl>(item.clone()) {
        Ok(block) => block,
        Err(_) => {
            let error = syn::Error::new_spanned(
                proc_macro2::TokenStream::from(item.clone()),
                "`#[gateway]` goes on the `impl` block that holds the gateway's handlers: \
                 `#[gateway(namespace = \"/events\")] impl EventsGateway { .. }`",
            )
            .into_compile_error();
            let item = proc_macro2::TokenStream::from(item);
            return quote::quote!(#error #item).into();
        }
    };
    match gateway::Gateway::read(args.into(), &mut block) {
        Ok(gateway) => expand::expand(&block, gateway),
        Err(error) => expand::expand_failed(&block, &error),
    }
    .into()
}

/// Handles an event with this method (NestJS's `@SubscribeMessage`).
///
/// ```
/// # use iogate::{gateway, subscribe_message, Ack, Client, Data, Exception, Namespace, WsResponse};
/// # use serde_json::{json, Value};
/// # struct ChatGateway;
/// #[gateway]
/// impl ChatGateway {
///     /// Acknowledges with the text.
///     #[subscribe_message("message")]
///     async fn message(&self, Data(text): Data<String>) -> String {
///         text
///     }
///
///     /// Sends the sender `joinedRoom` instead of an acknowledgement.
///     #[subscribe_message("joinRoom")]
///     async fn join_room(
///         &self,
///         Data(room): Data<String>,
///         client: Client,
///         ns: Namespace,
///     ) -> Result<WsResponse<String>, Exception> {
///         client.join(&room)?;
///         ns.to(&room).emit("userJoined", &json!({ "userId": client.id() })).await?;
///         Ok(WsResponse::new("joinedRoom", room))
///     }
/// }
/// ```
///
/// The argument is the event's name, a string. The method is an `async fn` taking `&self` (or
/// nothing) and up to eight extractors, and returns what `IntoReply` accepts. An event has one
/// handler per namespace.
///
/// Only inside a [`#[gateway]`](macro@gateway) impl block: elsewhere it is an error.
#[proc_macro_attribute]
pub fn subscribe_message(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::SubscribeMessage, args.into(), item.into()).into()
}

/// Guards a handler, or with the `impl` block every handler of the gateway (NestJS's
/// `@UseGuards`).
///
/// ```
/// # use iogate::{gateway, subscribe_message, use_guards, Context, Data};
/// # struct AdminGateway;
/// fn signed_in(cx: &Context) -> bool {
///     cx.client().user().is_some()
/// }
///
/// fn is_admin(cx: &Context) -> bool {
///     cx.client().user() == Some("admin")
/// }
///
/// #[gateway(namespace = "/admin")]
/// #[use_guards(signed_in)]
/// impl AdminGateway {
///     #[subscribe_message("shutdown")]
///     #[use_guards(is_admin)]
///     async fn shutdown(&self) {}
/// }
/// ```
///
/// Takes one or more guards (`iogate::Guard`: any `Fn(&Context) -> bool`, or a type
/// implementing it), separated by commas. They run in order, the gateway's before the
/// handler's; the first that refuses stops the event, and the client gets `exception`
/// `"Forbidden resource"`. Each expression is evaluated once, when the gateway is built, and
/// may use `self`.
///
/// On the `impl` block, write it below `#[gateway]`.
#[proc_macro_attribute]
pub fn use_guards(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::UseGuards, args.into(), item.into()).into()
}

/// Transforms or validates the body before a handler, or with the `impl` block before every
/// handler of the gateway (NestJS's `@UsePipes`).
///
/// ```
/// # use iogate::{gateway, subscribe_message, use_pipes, Data, WsException};
/// # use serde_json::Value;
/// # struct NotesGateway;
/// fn not_empty(body: Option<Value>) -> Result<Option<Value>, WsException> {
///     match body {
///         None | Some(Value::Null) => Err(WsException::new("Validation failed: No data provided")),
///         body => Ok(body),
///     }
/// }
///
/// #[gateway]
/// impl NotesGateway {
///     #[subscribe_message("note")]
///     #[use_pipes(not_empty)]
///     async fn note(&self, Data(note): Data<Value>) -> Value {
///         note
///     }
/// }
/// ```
///
/// Takes one or more pipes (`iogate::Pipe`: any
/// `Fn(Option<Value>) -> Result<Option<Value>, E>`, or a type implementing it), separated by
/// commas. They run in order after the guards, the gateway's before the handler's; an error
/// goes to the exception filter and the handler is not called. Each expression is evaluated
/// when the gateway is built, and may use `self`; one on the `impl` block is evaluated once for
/// each handler.
///
/// On the `impl` block, write it below `#[gateway]`.
#[proc_macro_attribute]
pub fn use_pipes(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::UsePipes, args.into(), item.into()).into()
}

/// Sets the exception filter of a handler, or with the `impl` block of every handler of the
/// gateway (NestJS's `@UseFilters`).
///
/// ```
/// # use iogate::{gateway, subscribe_message, use_filters, Context, Exception, WsException};
/// # struct OrdersGateway;
/// fn error_event(exception: &Exception, cx: &Context) {
///     let _ = cx.client().emit("error", &exception.to_client().to_string());
/// }
///
/// #[gateway(namespace = "/orders")]
/// #[use_filters(error_event)]
/// impl OrdersGateway {
///     #[subscribe_message("order")]
///     async fn order(&self) -> Result<(), WsException> {
///         Err(WsException::new("Out of stock"))
///     }
/// }
/// ```
///
/// Takes one filter (`iogate::ExceptionFilter`: any `Fn(&Exception, &Context)`, or a type
/// implementing it): iogate runs one filter per handler, the handler's own or else the
/// gateway's, or else `BaseExceptionFilter`. To combine several, write one filter that tries
/// each and falls back on `BaseExceptionFilter`, as a NestJS filter calls `super.catch`. The
/// expression is evaluated once, when the gateway is built, and may use `self`.
///
/// On the `impl` block, write it below `#[gateway]`.
#[proc_macro_attribute]
pub fn use_filters(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::UseFilters, args.into(), item.into()).into()
}

/// Handles an event another node of the cluster sends to this gateway's namespace (socket.io's
/// `io.on(event)` for `serverSideEmit`): what the method returns is this node's answer.
///
/// ```
/// # use iogate::{gateway, on_server_event, ServerEvent};
/// struct CacheGateway;
///
/// #[gateway(namespace = "/")]
/// impl CacheGateway {
///     #[on_server_event("cache:drop")]
///     async fn drop_entry(&self, event: ServerEvent) -> bool {
///         let key: String = event.data().unwrap_or_default();
///         // ... forget the cached entry `key` ...
///         !key.is_empty()
///     }
/// }
/// ```
///
/// Written `async fn name(&self, event: ServerEvent) -> T` with `T: Serialize` (the event may be
/// left out). See `Gateway::on_server_event`.
#[proc_macro_attribute]
pub fn on_server_event(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::OnServerEvent, args.into(), item.into()).into()
}

/// Runs this method during each client's handshake, to admit or refuse it (a socket.io
/// middleware, NestJS's `server.use(...)`).
///
/// ```
/// # use iogate::{gateway, middleware, Client, WsException};
/// # use serde_json::Value;
/// struct ChatGateway {
///     token: String,
/// }
///
/// #[gateway(namespace = "/chat")]
/// impl ChatGateway {
///     #[middleware]
///     async fn authenticate(&self, client: Client) -> Result<(), WsException> {
///         match client.auth().get("token").and_then(Value::as_str) {
///             Some(token) if token == self.token => Ok(()),
///             _ => Err(WsException::new("Authentication error")),
///         }
///     }
/// }
/// ```
///
/// Written `async fn name(&self, client: Client) -> Result<(), E>`. The client is not connected
/// yet: its handshake can be read and data stored on it, but it cannot be emitted to. An `Err`
/// refuses it: it gets `connect_error` with the error's client-facing message. Middlewares run
/// in the order they are written.
#[proc_macro_attribute]
pub fn middleware(args: TokenStream, item: TokenStream) -> TokenStream {
    attrs::standalone(Helper::Middleware, args.into(), item.into()).into()
}

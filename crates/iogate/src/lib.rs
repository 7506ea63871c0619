//! # iogate: Socket.IO gateways for Rust, the way NestJS writes them
//!
//! iogate serves the official `socket.io-client` (browser, React, Node, mobile) with gateways
//! written the way the NestJS WebSockets guide writes them: a **gateway** is a namespace with
//! lifecycle hooks and event **handlers**; a handler's return value becomes the
//! acknowledgement; **guards**, **pipes** and **exception filters** sit around handlers;
//! **middleware** admits or refuses connections; and a cloneable [`Server`] handle emits to
//! everyone, a room, a user or one client from anywhere.
//!
//! ```no_run
//! use iogate::{App, Client, Data, Gateway, Server};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! struct RoomMessage { room: String, message: String }
//!
//! fn chat() -> Gateway {
//!     Gateway::new("/")
//!         // A returned value is the acknowledgement.
//!         .subscribe_message("message", async |Data(_text): Data<String>| "Message received")
//!         .subscribe_message("joinRoom", async |Data(room): Data<String>, client: Client, server: Server| {
//!             client.join(&room)?;
//!             client.emit("joinedRoom", &room)?;
//!             server.of("/").to(&room).emit("userJoined", &json!({ "userId": client.id(), "room": room })).await?;
//!             Ok::<_, iogate::Exception>(())
//!         })
//!         .subscribe_message("messageToRoom", async |Data(m): Data<RoomMessage>, client: Client, server: Server| {
//!             let msg = json!({ "userId": client.id(), "message": m.message });
//!             server.of("/").to(m.room).emit("message", &msg).await
//!         })
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = App::new().gateway(chat()).build();
//! let router = app.into_router(axum::Router::new());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! iogate::serve(listener, router, std::future::pending()).await
//! # }
//! ```
//!
//! ## The parts
//! | NestJS | iogate | module |
//! |---|---|---|
//! | `@WebSocketGateway({ namespace })` | [`Gateway::new`] | [`gateway`](mod@gateway) |
//! | `@SubscribeMessage('e')` | [`Gateway::subscribe_message`] | [`handler`] |
//! | `@MessageBody()`, `@ConnectedSocket()` | [`Data<T>`], [`Client`] | [`extract`] |
//! | `(...args)` of a socket.io listener, `Buffer` arguments | [`Args`] | [`args`] |
//! | `@WebSocketServer() server` | [`Server`], [`Namespace`], [`Broadcast`] | [`server`] |
//! | `WsResponse`, returned values | [`WsResponse`], [`IntoReply`] | [`handler`] |
//! | `@UseGuards`, `CanActivate` | [`Guard`], [`HandlerExt::guard`] | [`guard`] |
//! | `@UsePipes`, `PipeTransform` | [`Pipe`], [`HandlerExt::pipe`] | [`pipe`] |
//! | `@UseFilters`, `BaseWsExceptionFilter` | [`ExceptionFilter`], [`BaseExceptionFilter`] | [`filter`] |
//! | `WsException` | [`WsException`], [`Exception`] | [`exception`] |
//! | `server.use(...)` | [`Gateway::middleware`] | [`gateway`](mod@gateway) |
//! | `afterInit`, `handleConnection`, `handleDisconnect` | [`Gateway::after_init`], [`Gateway::handle_connection`], [`Gateway::handle_disconnect`] | [`gateway`](mod@gateway) |
//! | `IoAdapter` options | [`Options`] | [`options`] |
//! | JWT in the handshake | [`auth::JwtAuth`] (feature `jwt`) | [`auth`] |
//! | who is in a room, across nodes | [`Namespace::presence`], [`Gateway::presence_events`], [`App::presence_webhook`] | [`presence`], [`webhook`] |
//!
//! ## Guarantees
//! - **Order**: a client's events are handled one after the other, in the order it sent them.
//!   Different clients are handled in parallel.
//! - **Private session ids**: each client has a public id ([`Client::id`]) that is safe to
//!   broadcast; the protocol's session id is never exposed.
//! - **Errors reach the client**: a failed extraction, guard, pipe or handler becomes the
//!   `exception` event (or what the gateway's filter sends), never a silent timeout.
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `jwt` | yes | [`auth::JwtAuth`]: handshake authentication with JSON Web Tokens |
//! | `redis` | yes | [`App::build_redis`]: several processes as one server, over Redis ([`cluster`]) |
//! | `macros` | yes | [`#[gateway]`](macro@gateway) and its attributes: a gateway written as an `impl` block, as NestJS writes one |
//! | `testing` | no | [`testing`]: serve an app on a free port and drive it with a socket.io test client |

#[cfg(feature = "admin")]
pub mod admin;
pub mod app;
pub mod args;
#[cfg(feature = "jwt")]
pub mod auth;
pub mod client;
#[cfg(feature = "redis")]
pub mod cluster;
#[cfg(not(feature = "redis"))]
mod cluster {
    //! Without the `redis` feature there is no cluster: a health flag that is never made.
    #[derive(Debug)]
    pub(crate) struct Health;
    impl Health {
        pub(crate) fn is_up(&self) -> bool {
            true
        }
    }
}
pub mod context;
pub mod defaults;
mod dispatch;
mod engine;
pub mod exception;
#[cfg(feature = "jwt")]
mod expiry;
pub mod extract;
pub mod filter;
pub mod gateway;
pub mod guard;
pub mod handler;
mod handshake;
mod layers;
pub mod limits;
pub mod metrics;
mod mount;
mod namespace;
pub mod options;
pub mod pipe;
pub mod presence;
mod rails;
pub mod server;
mod session;
#[cfg(feature = "testing")]
pub mod testing;
pub mod typed;
pub mod webhook;

pub use app::{App, Gateways};
pub use args::Args;
pub use client::{Client, DisconnectReason, EmitError, RoomError, Transport};
pub use context::{Context, ContextBuilder};
pub use exception::{Exception, Refusal, WsError, WsException};
pub use extract::{Binary, Data, Event, Extension, FromContext, Rejection, State};
pub use filter::{BaseExceptionFilter, ExceptionFilter};
pub use gateway::{Gateway, HookResult, IntoGateway, Middleware};
pub use guard::Guard;
pub use handler::{
    Ack, BoxFuture, Handler, HandlerExt, IntoReply, IntoRoute, Reply, Route, WsResponse,
};
pub use layers::serve;
pub use limits::Limits;
pub use options::{Cors, ForwardedHeader, Options, Parser, Recovery, Transports, TrustedProxies};
pub use pipe::Pipe;
pub use presence::{Presence, PresentUser};
pub use server::{
    Broadcast, BroadcastError, ClientInfo, Namespace, RecoveryCounts, Server, ServerEvent,
};

#[cfg(feature = "macros")]
pub use iogate_macros::{
    gateway, middleware, on_server_event, subscribe_message, use_filters, use_guards, use_pipes,
};

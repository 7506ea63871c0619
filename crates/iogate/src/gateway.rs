//! [`Gateway`]: a namespace, its lifecycle hooks and its event handlers (`@WebSocketGateway`).

use std::future::Future;
use std::sync::Arc;

use crate::exception::Exception;
use crate::filter::ExceptionFilter;
use crate::guard::Guard;
use crate::handler::{BoxFuture, IntoRoute, Route};
use crate::{Client, DisconnectReason, Server, ServerEvent};

pub(crate) type ConnectHook = Arc<dyn Fn(Client) -> BoxFuture<Result<(), Exception>> + Send + Sync>;
pub(crate) type DisconnectHook =
    Arc<dyn Fn(Client, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
pub(crate) type InitHook = Arc<dyn Fn(Server) + Send + Sync>;
pub(crate) type ServerEventHandler =
    Arc<dyn Fn(ServerEvent) -> BoxFuture<serde_json::Value> + Send + Sync>;
pub(crate) type RoomPolicy = Arc<dyn Fn(&Client, &str) -> bool + Send + Sync>;

/// A gateway: a namespace, its hooks and its handlers.
///
/// ```
/// use iogate::{Data, Gateway, Client, WsException};
/// use serde_json::Value;
///
/// fn events_gateway() -> Gateway {
///     Gateway::new("/events")
///         .handle_connection(async |client: Client| {
///             tracing::info!(client = client.id(), "connected");
///         })
///         .subscribe_message("message", async |Data(text): Data<String>| {
///             tracing::debug!(%text, "received");
///             "Message received"
///         })
///         .subscribe_message("events", async |Data(data): Data<Value>| data)
///         .subscribe_message("fail", async || -> Result<(), WsException> {
///             Err(WsException::new("nope"))
///         })
/// }
/// ```
///
/// Several gateways may serve one namespace; an event may have one handler per namespace.
#[must_use]
pub struct Gateway {
    pub(crate) namespace: String,
    pub(crate) routes: Vec<(String, Route)>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) on_connection: Vec<ConnectHook>,
    pub(crate) on_disconnect: Vec<DisconnectHook>,
    pub(crate) after_init: Vec<InitHook>,
    pub(crate) guards: Vec<Arc<dyn crate::guard::DynGuard>>,
    pub(crate) filter: Option<Arc<dyn ExceptionFilter>>,
    pub(crate) room_policies: Vec<RoomPolicy>,
    pub(crate) server_events: Vec<(String, ServerEventHandler)>,
    pub(crate) contract: Vec<crate::typed::Declared>,
    /// Whether the members of a room hear of users coming and going ([`Self::presence_events`]).
    pub(crate) presence_events: bool,
}

impl Gateway {
    /// A gateway on `namespace` (`"/"` for the default one).
    pub fn new(namespace: impl Into<String>) -> Self {
        let mut namespace = namespace.into();
        if !namespace.starts_with('/') {
            namespace.insert(0, '/');
        }
        Self {
            namespace,
            routes: Vec::new(),
            middleware: Vec::new(),
            on_connection: Vec::new(),
            on_disconnect: Vec::new(),
            after_init: Vec::new(),
            guards: Vec::new(),
            filter: None,
            room_policies: Vec::new(),
            server_events: Vec::new(),
            contract: Vec::new(),
            presence_events: false,
        }
    }

    /// The namespace this gateway serves.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Handles `event` with `handler` (`@SubscribeMessage(event)`): a handler function, or a
    /// [`Route`] built with [`HandlerExt`](crate::HandlerExt) to add guards, pipes and a filter.
    pub fn subscribe_message<T>(
        mut self,
        event: impl Into<String>,
        handler: impl IntoRoute<T>,
    ) -> Self {
        self.routes.push((event.into(), handler.into_route()));
        self
    }

    /// Adds a connection middleware (`server.use(...)`): it runs during the handshake, before
    /// the client is connected, in the order added. An error refuses the client, which gets
    /// `connect_error` with the error's client-facing message.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Runs `hook` when a client has connected (`handleConnection`), before any of its events
    /// is handled. The client is connected, so the hook can emit to it. An error disconnects the
    /// client.
    pub fn handle_connection<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: HookResult> + Send + 'static,
    {
        self.on_connection.push(Arc::new(move |client| {
            let fut = hook(client);
            Box::pin(async move { fut.await.into_result() })
        }));
        self
    }

    /// Runs `hook` when a client has left (`handleDisconnect`), after every event it sent was
    /// handled; the client's rooms are still readable.
    pub fn handle_disconnect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Client, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnect.push(Arc::new(move |client, reason| {
            Box::pin(hook(client, reason))
        }));
        self
    }

    /// Runs `hook` once the server is built (`afterInit`), with the server handle.
    pub fn after_init(mut self, hook: impl Fn(Server) + Send + Sync + 'static) -> Self {
        self.after_init.push(Arc::new(hook));
        self
    }

    /// Declares that clients send `event` with data of type `T`, for the generated TypeScript
    /// types and AsyncAPI document ([`typed`](crate::typed)); `()` for no data. It declares:
    /// the handler that serves the event is added with
    /// [`subscribe_message`](Self::subscribe_message).
    pub fn accepts<T: crate::typed::EventType>(mut self, event: impl Into<String>) -> Self {
        let declared = crate::typed::Declared::new::<T>(event.into(), true, None);
        self.contract.push(declared);
        self
    }

    /// Declares that clients send `event` with data of type `T` and an acknowledgement, which
    /// the server answers with `A` (`()` for none).
    pub fn accepts_with_ack<T: crate::typed::EventType, A: crate::typed::EventType>(
        mut self,
        event: impl Into<String>,
    ) -> Self {
        let ack = Some(crate::typed::Desc::of::<A>());
        let declared = crate::typed::Declared::new::<T>(event.into(), true, ack);
        self.contract.push(declared);
        self
    }

    /// Declares that the server emits `event` with data of type `T` to this namespace's clients.
    pub fn emits<T: crate::typed::EventType>(mut self, event: impl Into<String>) -> Self {
        let declared = crate::typed::Declared::new::<T>(event.into(), false, None);
        self.contract.push(declared);
        self
    }

    /// Handles `event` when another node of the cluster sends it to this namespace with
    /// [`Namespace::server_side_emit`](crate::Namespace::server_side_emit) (or Node's
    /// `io.serverSideEmit`): socket.io's `io.on(event, ...)` for server-side events. What the
    /// handler returns is this node's answer, for a sender that waits for answers
    /// ([`Namespace::server_side_emit_with_ack`](crate::Namespace::server_side_emit_with_ack)).
    ///
    /// ```
    /// use iogate::{Gateway, ServerEvent};
    ///
    /// let gateway = Gateway::new("/").on_server_event("cache:drop", async |event: ServerEvent| {
    ///     let key: String = event.data().unwrap_or_default();
    ///     tracing::info!(key, "dropping a cached entry another node changed");
    ///     "dropped"
    /// });
    /// ```
    ///
    /// # Panics
    /// At build, when two gateways of one namespace handle the same server event.
    pub fn on_server_event<F, Fut>(mut self, event: impl Into<String>, handler: F) -> Self
    where
        F: Fn(ServerEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: serde::Serialize> + Send + 'static,
    {
        let call: ServerEventHandler = Arc::new(move |event| {
            let answer = handler(event);
            Box::pin(async move {
                serde_json::to_value(answer.await).unwrap_or(serde_json::Value::Null)
            })
        });
        self.server_events.push((event.into(), call));
        self
    }

    /// Tells the members of each room of this namespace when a user comes online in it (its
    /// first client joins: [`USER_ONLINE`](crate::presence::USER_ONLINE)) and goes offline
    /// (its last client left: [`USER_OFFLINE`](crate::presence::USER_OFFLINE)), with
    /// `{room, user}`: once per user, however many clients or nodes it is on. Only clients
    /// with a user count ([`Client::set_user`]); see [`presence`](crate::presence).
    pub fn presence_events(mut self) -> Self {
        self.presence_events = true;
        self
    }

    /// Guards every handler of this gateway (`@UseGuards` on the class); these run before the
    /// handler's own guards.
    pub fn guard(mut self, guard: impl Guard) -> Self {
        self.guards.push(Arc::new(guard));
        self
    }

    /// Decides which rooms a client of this namespace may join with
    /// [`Client::join`]: a join the policy refuses fails with
    /// [`RoomError::NotAllowed`](crate::RoomError::NotAllowed). Every policy of the namespace
    /// must allow the join. Server-side joins ([`Broadcast::join`](crate::Broadcast::join)) are
    /// not checked.
    pub fn room_policy(
        mut self,
        policy: impl Fn(&Client, &str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.room_policies.push(Arc::new(policy));
        self
    }

    /// The exception filter of this gateway's handlers (`@UseFilters` on the class), unless a
    /// handler has its own.
    pub fn filter(mut self, filter: impl ExceptionFilter) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }
}

/// Anything that makes a [`Gateway`]: a `Gateway`, or a type whose `impl` block is annotated
/// with `#[gateway]`.
pub trait IntoGateway {
    /// The gateway.
    fn into_gateway(self) -> Gateway;
}

impl IntoGateway for Gateway {
    fn into_gateway(self) -> Gateway {
        self
    }
}

/// What a connection hook may return: `()` or a `Result<(), E>`.
pub trait HookResult {
    /// The hook's outcome.
    fn into_result(self) -> Result<(), Exception>;
}

impl HookResult for () {
    fn into_result(self) -> Result<(), Exception> {
        Ok(())
    }
}

impl<E: Into<Exception>> HookResult for Result<(), E> {
    fn into_result(self) -> Result<(), Exception> {
        self.map_err(Into::into)
    }
}

/// A connection middleware: runs during the handshake and may refuse the client.
///
/// The client is not connected yet: it cannot be emitted to, but its handshake (auth, headers,
/// query) can be read, data stored on it and its user set. A refusal reaches the client as
/// `connect_error`, whose `message` is the error's client-facing message (see
/// [`Exception::to_client`]). Any `Fn(Client) -> impl Future<Output = Result<(), E>>` is a
/// middleware.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a connection middleware",
    label = "not a middleware",
    note = "a middleware (a function given to socket.io's `server.use`) is an async fn or closure \
            `Fn(Client) -> impl Future<Output = Result<(), E>> + Send`, where `E: Into<Exception>` \
            (e.g. `WsException`), or a type implementing `iogate::Middleware`, whose `call` \
            returns a `BoxFuture<Result<(), Exception>>`"
)]
pub trait Middleware: Send + Sync + 'static {
    /// Lets the client in, or refuses it.
    fn call(&self, client: Client) -> BoxFuture<Result<(), Exception>>;
}

impl<F, Fut, E> Middleware for F
where
    F: Fn(Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<Exception>,
{
    fn call(&self, client: Client) -> BoxFuture<Result<(), Exception>> {
        let fut = self(client);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

//! [`App`]: gateways, options and shared state, built into a server.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use http::{HeaderValue, Method};
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromConnectParts, Value as SioValue};
use socketioxide::socket::Socket;
use socketioxide::{SocketIo, SocketIoBuilder, TransportType};
use socketioxide_core::adapter::DefinedAdapter;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::client::ClientState;
use crate::dispatch;
use crate::gateway::{ConnectHook, DisconnectHook, IntoGateway, Middleware};
use crate::handler::Route;
use crate::limits::{Guardrails, Limits};
use crate::metrics::{NsMetrics, RouteMetrics};
use crate::{Client, Gateway, Server};

/// The server's gateways, options and state: what NestJS's `AppModule` and `IoAdapter` hold.
///
/// ```no_run
/// use iogate::{App, Data, Gateway, Options};
///
/// # async fn run() -> std::io::Result<()> {
/// let app = App::new()
///     .options(Options::default().max_payload(1_000_000))
///     .gateway(Gateway::new("/").subscribe_message("events", async |Data(v): Data<serde_json::Value>| v))
///     .build();
/// let server = app.server(); // emit from REST routes with it
/// let router = app.into_router(axum::Router::new());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// iogate::serve(listener, router, std::future::pending()).await
/// # }
/// ```
#[must_use]
#[derive(Default)]
pub struct App {
    gateways: Vec<Gateway>,
    options: Options,
    state: http::Extensions,
}

impl App {
    /// An app with no gateway and default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gateway.
    pub fn gateway(mut self, gateway: impl IntoGateway) -> Self {
        self.gateways.push(gateway.into_gateway());
        self
    }

    /// Sets the options (CORS, heartbeat, sizes, transports).
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Registers shared state, for handlers to extract with [`State<T>`](crate::State) and
    /// anyone to get with [`Server::state`]. One value per type.
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Builds a single-node server (the in-memory adapter): mounts every namespace and runs
    /// the gateways' `after_init` hooks.
    ///
    /// # Panics
    /// When two gateways of one namespace handle the same event.
    pub fn build(self) -> Gateways {
        let builder = self.options.io_builder();
        let mut assembled = self.assemble(builder, None);
        // The in-memory adapter has nothing to initialise.
        for (_, ()) in std::mem::take(&mut assembled.inits) {}
        assembled.finish()
    }

    /// Builds one node of a cluster over Redis: every operation of the [`Server`] handle
    /// reaches the clients of every node. Retries reaching Redis for the configured startup
    /// timeout; see [`cluster`](crate::cluster) for what happens during an outage later.
    ///
    /// # Panics
    /// When two gateways of one namespace handle the same event.
    #[cfg(feature = "redis")]
    pub async fn build_redis(
        self,
        redis: crate::cluster::Redis,
    ) -> Result<Gateways, crate::cluster::ClusterError> {
        use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
        let (driver, health) = crate::cluster::Resilient::connect(&redis).await?;
        let config = RedisAdapterConfig::new()
            .with_prefix(redis.prefix.clone())
            .with_request_timeout(redis.request_timeout);
        let ctr = RedisAdapterCtr::new_with_driver(driver, config);
        let builder = self
            .options
            .io_builder()
            .with_adapter::<CustomRedisAdapter<_, crate::cluster::Resilient>>(ctr);
        let mut assembled = self.assemble(builder, Some(health));
        for (namespace, init) in std::mem::take(&mut assembled.inits) {
            init.await
                .map_err(|e| crate::cluster::ClusterError::Subscribe {
                    namespace,
                    reason: e.to_string(),
                })?;
        }
        Ok(assembled.finish())
    }

    /// Mounts every namespace on a protocol server built from `builder`.
    fn assemble<A: Adapter + DefinedAdapter>(
        self,
        builder: SocketIoBuilder<A>,
        health: Option<Arc<crate::cluster::Health>>,
    ) -> Assembled<A> {
        let (layer, io) = builder.build_layer();
        let compression = self.options.http_compression;
        let server = Server::new(Arc::new(io.clone()), self.state, health);
        let rails = Arc::new(Guardrails::new(self.options.limits.clone()));
        let mut namespaces: Vec<NsRuntime> = Vec::new();
        let mut init_hooks = Vec::new();
        for g in self.gateways {
            let ns = match namespaces.iter_mut().position(|n| n.path == g.namespace) {
                Some(i) => &mut namespaces[i],
                None => {
                    namespaces.push(NsRuntime::new(g.namespace.clone(), rails.clone()));
                    namespaces.last_mut().expect("just pushed")
                }
            };
            for (event, mut route) in g.routes {
                let mut guards = g.guards.clone();
                guards.append(&mut route.guards);
                route.guards = guards;
                route.filter = route.filter.or_else(|| g.filter.clone());
                match ns.routes.entry(event.clone().into_boxed_str()) {
                    Entry::Occupied(_) => panic!(
                        "iogate: two handlers for the event {event:?} on the namespace {:?}",
                        g.namespace
                    ),
                    Entry::Vacant(v) => {
                        v.insert(Arc::new(RouteEntry {
                            metrics: RouteMetrics::new(&g.namespace, &event),
                            event: event.into(),
                            route,
                        }));
                    }
                }
            }
            ns.middleware.extend(g.middleware);
            ns.on_connection.extend(g.on_connection);
            ns.on_disconnect.extend(g.on_disconnect);
            ns.room_policies.extend(g.room_policies);
            init_hooks.extend(g.after_init);
        }
        let inits = namespaces
            .into_iter()
            .map(|ns| {
                let _ = ns.server.set(server.clone());
                (ns.path.clone(), mount(&io, Arc::new(ns)))
            })
            .collect();
        Assembled {
            server,
            // One stack, applied with one `Router::layer`: axum boxes and clones every route's
            // service once per `layer` call and per request, so each layer applied on its own
            // costs an allocation and a copy of its future on every request.
            router: Box::new(move |routes: Router, cors: CorsLayer| {
                routes.layer(
                    tower::ServiceBuilder::new()
                        .layer(cors)
                        .layer(tower::util::MapRequestLayer::new(detach_head))
                        .layer(
                            tower_http::compression::CompressionLayer::new()
                                .compress_when(CompressAbove(compression)),
                        )
                        .layer(layer),
                )
            }),
            cors: self.options.cors,
            inits,
            init_hooks,
        }
    }
}

/// A server whose namespaces are mounted, their adapters not yet initialised.
struct Assembled<A: Adapter> {
    server: Server,
    router: Box<dyn FnOnce(Router, CorsLayer) -> Router + Send>,
    cors: Cors,
    inits: Vec<(String, A::InitRes)>,
    init_hooks: Vec<crate::gateway::InitHook>,
}

impl<A: Adapter> Assembled<A> {
    /// Runs the `after_init` hooks and hands the app out.
    fn finish(self) -> Gateways {
        for hook in self.init_hooks {
            hook(self.server.clone());
        }
        Gateways {
            server: self.server,
            router: self.router,
            cors: self.cors,
        }
    }
}

/// The built app: its [`Server`] handle, and the HTTP service that speaks socket.io.
#[must_use]
pub struct Gateways {
    server: Server,
    /// Applies the socket.io layer and the given CORS layer, whatever the adapter's type.
    router: Box<dyn FnOnce(Router, CorsLayer) -> Router + Send>,
    cors: Cors,
}

impl Gateways {
    /// The server handle.
    pub fn server(&self) -> Server {
        self.server.clone()
    }

    /// `routes` (your REST API; `axum::Router::new()` for none) with socket.io served at
    /// `/socket.io/` and the CORS policy of the options applied to both. With a list of
    /// origins, socket.io requests (long-polling and the WebSocket upgrade alike) from any other
    /// `Origin` are refused with 403: browsers do not apply CORS to WebSockets, so without this
    /// check any site could open a socket with its visitors' cookies.
    pub fn into_router(self, routes: Router) -> Router {
        let router = (self.router)(routes, self.cors.layer());
        match &self.cors {
            Cors::Origins { origins, .. } => {
                let allowed: Arc<[String]> = origins.clone().into();
                router.layer(axum::middleware::from_fn(move |req, next| {
                    check_origin(allowed.clone(), req, next)
                }))
            }
            Cors::Any | Cors::SameOrigin => router,
        }
    }
}

/// Whether to compress a response: with a threshold, those the default predicate accepts
/// (not images, gRPC or event streams) of at least that many bytes; never without.
#[derive(Clone, Copy)]
struct CompressAbove(Option<u16>);

impl tower_http::compression::Predicate for CompressAbove {
    fn should_compress<B: axum::body::HttpBody>(&self, response: &http::Response<B>) -> bool {
        use tower_http::compression::predicate::{DefaultPredicate, SizeAbove};
        self.0.is_some_and(|threshold| {
            DefaultPredicate::new()
                .and(SizeAbove::new(threshold))
                .should_compress(response)
        })
    }
}

/// Gives a socket.io handshake request a head of its own.
///
/// hyper parses a request's header values and URI as slices of its connection's read buffer
/// (8–16 KiB), and socketioxide keeps the handshake's head for the whole life of the client, so
/// each connected client would keep that buffer alive: over half of an idle client's memory.
/// Copying the few hundred bytes of the head lets the buffer go. Only handshakes (no `sid` yet)
/// are copied; later requests of a session are not kept.
fn detach_head(mut req: axum::extract::Request) -> axum::extract::Request {
    let uri = req.uri();
    if !uri.path().starts_with("/socket.io") || uri.query().is_some_and(|q| q.contains("sid=")) {
        return req;
    }
    if let Ok(uri) = http::Uri::try_from(uri.to_string()) {
        *req.uri_mut() = uri;
    }
    let headers = std::mem::take(req.headers_mut());
    let mut owned = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in &headers {
        // `from_bytes` copies; a standard header's name is static already.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            owned.append(name, value);
        }
    }
    *req.headers_mut() = owned;
    req
}

/// Refuses socket.io requests whose `Origin` is not allowed. Requests without an `Origin`
/// (non-browser clients) pass: the check protects browsers' users, and a non-browser client
/// can send any header it likes anyway.
async fn check_origin(
    allowed: Arc<[String]>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path().starts_with("/socket.io")
        && let Some(origin) = req.headers().get(http::header::ORIGIN)
        && !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes())
    {
        tracing::info!(origin = ?origin, "socket.io request from a disallowed origin refused");
        let body = serde_json::json!({ "statusCode": 403, "error": "Forbidden", "message": "Origin not allowed" });
        return (http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(req).await
}

/// Mounts one namespace: a middleware that builds the client and runs the gateways'
/// middlewares, and a connect handler that starts the client's dispatch.
fn mount<A: Adapter + DefinedAdapter>(io: &SocketIo<A>, ns: Arc<NsRuntime>) -> A::InitRes {
    let on_connect = {
        let ns = ns.clone();
        move |Handshake { socket, .. }: Handshake<A>| {
            let ns = ns.clone();
            async move {
                if let Some(state) = socket.extensions.get::<Arc<ClientState>>() {
                    dispatch::connected(&ns, socket, state).await;
                }
            }
        }
    };
    let middleware = {
        let ns = ns.clone();
        move |Handshake { socket, auth }: Handshake<A>| {
            let ns = ns.clone();
            async move {
                if ns.server().is_closing() {
                    return Err(Refusal("Server shutting down".to_owned()));
                }
                let state = Arc::new(ClientState::new(auth, &ns));
                let conn: Arc<dyn crate::engine::Conn> = socket.clone();
                state.attach(Arc::downgrade(&conn));
                socket.extensions.insert(state.clone());
                socket.join(crate::client::client_room(&state.id));
                let client_socket = socket.clone();
                let client = Client::new(socket, state);
                for m in &ns.middleware {
                    if let Err(e) = m.call(client.clone()).await {
                        ns.metrics.refused.increment(1);
                        if !e.is_client_error() {
                            tracing::error!(namespace = %ns.path, error = %e, "connection middleware failed");
                        }
                        return Err(Refusal(e.to_client().to_string()));
                    }
                }
                let ip = client
                    .socket
                    .req_parts()
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip());
                if let Err(refusal) = ns.rails.admit(ip, client.user()) {
                    ns.metrics.refused.increment(1);
                    tracing::info!(namespace = %ns.path, ?ip, user = client.user(), refusal, "connection refused by a limit");
                    return Err(Refusal(refusal.to_owned()));
                }
                dispatch::admitted(&ns, &client_socket, &client.state);
                Ok(())
            }
        }
    };
    use socketioxide::handler::ConnectHandler;
    io.ns(ns.path.clone(), on_connect.with(middleware))
}

/// A refused handshake; its text becomes `connect_error`'s message.
#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a connect handler or middleware of iogate's gets from socketioxide.
struct Handshake<A: Adapter> {
    socket: Arc<Socket<A>>,
    auth: Value,
}

impl<A: Adapter> FromConnectParts<A> for Handshake<A> {
    type Error = std::convert::Infallible;
    fn from_connect_parts(
        s: &Arc<Socket<A>>,
        auth: &Option<SioValue>,
    ) -> Result<Self, Self::Error> {
        let auth = auth
            .as_ref()
            .and_then(|a| a.as_str())
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Ok(Self {
            socket: s.clone(),
            auth,
        })
    }
}

/// One namespace, merged from every gateway that serves it.
pub(crate) struct NsRuntime {
    pub(crate) path: String,
    pub(crate) routes: HashMap<Box<str>, Arc<RouteEntry>>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) on_connection: Vec<ConnectHook>,
    pub(crate) on_disconnect: Vec<DisconnectHook>,
    pub(crate) rails: Arc<Guardrails>,
    pub(crate) room_policies: Vec<crate::gateway::RoomPolicy>,
    pub(crate) metrics: NsMetrics,
    server: OnceLock<Server>,
}

impl NsRuntime {
    fn new(path: String, rails: Arc<Guardrails>) -> Self {
        Self {
            metrics: NsMetrics::new(&path),
            path,
            routes: HashMap::new(),
            middleware: Vec::new(),
            on_connection: Vec::new(),
            on_disconnect: Vec::new(),
            rails,
            room_policies: Vec::new(),
            server: OnceLock::new(),
        }
    }

    pub(crate) fn server(&self) -> &Server {
        self.server
            .get()
            .expect("set before the namespace is mounted")
    }
}

/// A route as dispatch uses it: the handler with the gateway's guards and filter merged in.
pub(crate) struct RouteEntry {
    pub(crate) event: Arc<str>,
    pub(crate) route: Route,
    pub(crate) metrics: RouteMetrics,
}

/// Which transports clients may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transports {
    /// Long-polling first, upgraded to WebSocket (socket.io's default).
    #[default]
    All,
    /// WebSocket only: a polling handshake is refused.
    WebsocketOnly,
    /// Long-polling only.
    PollingOnly,
}

/// The CORS policy of the socket.io endpoint and of the routes next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: browsers only on the same origin.
    SameOrigin,
    /// Any origin (`*`), without credentials.
    Any,
    /// Only these origins, optionally with credentials (cookies).
    Origins {
        /// The allowed origins, e.g. `https://app.example.com`.
        origins: Vec<String>,
        /// Whether browsers may send credentials.
        credentials: bool,
    },
}

impl Cors {
    /// `*` when `origins` is empty or `["*"]`, else that list with credentials.
    pub fn from_list(origins: &[String]) -> Self {
        if origins.is_empty() || origins.iter().any(|o| o == "*") {
            Self::Any
        } else {
            Self::Origins {
                origins: origins.to_vec(),
                credentials: true,
            }
        }
    }

    fn layer(&self) -> CorsLayer {
        let base = CorsLayer::new().allow_methods([Method::GET, Method::POST]);
        match self {
            Cors::SameOrigin => CorsLayer::new(),
            Cors::Any => base
                .allow_origin(tower_http::cors::Any)
                .allow_headers(tower_http::cors::Any),
            Cors::Origins {
                origins,
                credentials,
            } => base
                .allow_origin(AllowOrigin::list(
                    origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
                ))
                .allow_headers(AllowHeaders::mirror_request())
                .allow_credentials(*credentials),
        }
    }
}

/// The server's options: those of NestJS's `IoAdapter` and gateway decorators.
#[derive(Debug, Clone)]
#[must_use]
pub struct Options {
    cors: Cors,
    ping_interval: Duration,
    ping_timeout: Duration,
    connect_timeout: Duration,
    max_payload: u64,
    transports: Transports,
    max_outgoing_packets: usize,
    ws_read_buffer: usize,
    http_compression: Option<u16>,
    limits: Limits,
}

impl Default for Options {
    /// socket.io's defaults: ping every 25 s, 20 s to answer, 45 s to join a namespace, 1 MB
    /// payloads, every transport; CORS `*`.
    fn default() -> Self {
        Self {
            cors: Cors::Any,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(45),
            max_payload: 1_000_000,
            transports: Transports::All,
            max_outgoing_packets: 4096,
            ws_read_buffer: 1024,
            http_compression: Some(1024),
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// The protocol server's builder with these options.
    fn io_builder(&self) -> SocketIoBuilder {
        let builder = SocketIo::builder()
            .ping_interval(self.ping_interval)
            .ping_timeout(self.ping_timeout)
            .connect_timeout(self.connect_timeout)
            .max_payload(self.max_payload)
            // engineioxide applies `max_payload` to long-polling only; a WebSocket message is
            // bounded by its own settings, so they get the same limit.
            .ws_max_message_size(self.max_payload as usize)
            .ws_max_frame_size(self.max_payload as usize)
            .max_buffer_size(self.max_outgoing_packets)
            .ws_read_buffer_size(self.ws_read_buffer);
        match self.transports {
            Transports::All => builder,
            Transports::WebsocketOnly => builder.transports([TransportType::Websocket]),
            Transports::PollingOnly => builder.transports([TransportType::Polling]),
        }
    }

    /// The CORS policy (`cors`).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }
    /// How often the server pings (`pingInterval`).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// How long a client has to answer a ping (`pingTimeout`).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// How long a client has to join a namespace after the handshake (`connectTimeout`).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// The largest packet a client may send, in bytes (`maxHttpBufferSize`); a larger one ends
    /// that client's connection.
    pub fn max_payload(mut self, bytes: u64) -> Self {
        self.max_payload = bytes;
        self
    }
    /// The transports clients may use (`transports`).
    pub fn transports(mut self, t: Transports) -> Self {
        self.transports = t;
        self
    }
    /// How many packets may wait to be written to one client (default 4,096). A client that
    /// falls that far behind is disconnected rather than silently missing messages.
    pub fn max_outgoing_packets(mut self, n: usize) -> Self {
        self.max_outgoing_packets = n.max(1);
        self
    }
    /// How many bytes a WebSocket connection reads at a time (default 1 KiB; socketioxide's
    /// default is 4 KiB). Each connected client holds a buffer of this size: at 1 KiB an idle
    /// client costs 3 KiB less memory than at 4 KiB, and a large message takes a few more
    /// reads. Raise it when clients mostly send large messages.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes.max(64);
        self
    }
    /// Compresses long-polling responses of at least `threshold` bytes (gzip or deflate, as
    /// the client's `Accept-Encoding` asks), as socket.io's `httpCompression` does; on by
    /// default with its threshold, 1 KiB. WebSocket messages are not compressed (see
    /// `docs/benchmarks.md` for what permessage-deflate would save and cost).
    pub fn http_compression(mut self, threshold: u16) -> Self {
        self.http_compression = Some(threshold);
        self
    }
    /// Sends long-polling responses uncompressed.
    pub fn no_http_compression(mut self) -> Self {
        self.http_compression = None;
        self
    }
    /// The rate and size limits ([`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// How many events of one client may wait for their handler (default 4,096); past that
    /// the client gets `exception` `"Too many requests"` for each extra event. A shortcut for
    /// [`Limits::max_pending_events`].
    pub fn max_pending_events(mut self, n: usize) -> Self {
        self.limits = self.limits.max_pending_events(n);
        self
    }
}

/// Serves `router` on `listener` until `shutdown` completes, with each request's peer address
/// available to the handshake.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small packets (acks, pings) go out at once instead of waiting for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

//! [`App`]: gateways, options and shared state, built into a server.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use http::{HeaderValue, Method};
use serde_json::Value;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::client::ClientState;
use crate::defaults;
use crate::engine::{Mount, sio};
use crate::gateway::{ConnectHook, DisconnectHook, IntoGateway, Middleware};
use crate::handler::Route;
use crate::limits::{Guardrails, Limits};
use crate::metrics::{NsMetrics, RouteMetrics};
use crate::{Client, Gateway, Server};
pub use sio::engineio::{ForwardedHeader, TrustedProxies};

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
    /// Who watches the sockets (the Admin UI), if anyone.
    observer: Option<Arc<dyn sio::Observer>>,
    /// Presence's webhook and heartbeat.
    presence: crate::presence::Settings,
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

    /// Serves socket.io's Admin UI on `/admin` (see [`admin`](crate::admin)): its dashboard
    /// then watches, and unless read-only acts on, this server's sockets.
    #[cfg(feature = "admin")]
    pub fn admin_ui(mut self, admin: crate::admin::AdminUi) -> Self {
        let (gateway, observer) = admin.build();
        self.gateways.push(gateway);
        self.observer = Some(observer);
        self
    }

    /// Posts presence's transitions (a user online or offline in a room, a room occupied or
    /// vacated) to `webhook`, signed; see [`webhook`](crate::webhook) for the format. In a
    /// cluster, each transition is posted by one node.
    pub fn presence_webhook(mut self, webhook: crate::webhook::Webhook) -> Self {
        self.presence.webhook = Some(webhook);
        self
    }

    /// In a cluster, how often each node tells Redis it is alive (default 5 s), and how long a
    /// node may stay silent before the others take its clients out of every presence (default
    /// 10 s; Node's cluster adapter's figures). A dead node's clients leave within about
    /// `timeout + every`.
    pub fn presence_heartbeat(mut self, every: Duration, timeout: Duration) -> Self {
        self.presence.timing = Some((every, timeout));
        self
    }

    /// The events the gateways declared ([`typed`](crate::typed)), for TypeScript types and an
    /// AsyncAPI document.
    pub fn contract(&self) -> crate::typed::Contract {
        let mut contract = crate::typed::Contract::default();
        for g in &self.gateways {
            contract.add(&g.namespace, g.contract.clone());
        }
        contract
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

    /// Builds a single-node server: mounts every namespace and runs the gateways'
    /// `after_init` hooks.
    ///
    /// # Panics
    /// When two gateways of one namespace handle the same event.
    pub fn build(self) -> Gateways {
        // With no other node, starting the adapter does nothing.
        let store = Arc::new(crate::presence::MemoryStore::default());
        self.assemble(Arc::new(sio::Single), None, store).0.finish()
    }

    /// Builds one node of a cluster over Redis: every operation of the [`Server`] handle
    /// reaches the clients of every node, and Node socket.io servers on the same Redis (with
    /// the adapter of [`Redis::protocol`](crate::cluster::Redis::protocol)) share rooms with it. Retries reaching Redis for the
    /// configured startup timeout; see [`cluster`](crate::cluster) for what happens during an
    /// outage later.
    ///
    /// # Panics
    /// When two gateways of one namespace handle the same event.
    #[cfg(feature = "redis")]
    pub async fn build_redis(
        self,
        redis: crate::cluster::Redis,
    ) -> Result<Gateways, crate::cluster::ClusterError> {
        let presence = iogate_redis::connection(&redis).await?;
        let (adapter, health) = iogate_redis::connect(redis).await?;
        let mut presence = iogate_redis::presence::RedisPresence::new(presence);
        if let Some((every, timeout)) = self.presence.timing {
            presence = presence.timing(every, timeout);
        }
        if let Err(e) = presence.register().await {
            // Its first heartbeat finds it missing and registers it.
            tracing::warn!(error = %e, "presence: could not register this node yet");
        }
        let (assembled, inits) = self.assemble(adapter, Some(health), Arc::new(presence));
        for (namespace, init) in inits {
            init.await
                .map_err(|e| crate::cluster::ClusterError::Subscribe {
                    namespace,
                    reason: e.to_string(),
                })?;
        }
        Ok(assembled.finish())
    }

    /// Mounts every namespace on a protocol server forwarding through `adapter`.
    fn assemble(
        self,
        adapter: Arc<dyn sio::Adapter>,
        health: Option<Arc<crate::cluster::Health>>,
        presence: Arc<dyn crate::presence::Store>,
    ) -> (Assembled, Vec<sio::AdapterInit>) {
        let compression = self.options.http_compression;
        let rails = Arc::new(Guardrails::new(self.options.limits.clone()));
        let mut namespaces: Vec<NsRuntime> = Vec::new();
        let mut init_hooks = Vec::new();
        let mut presence_events = std::collections::HashSet::new();
        for g in self.gateways {
            if g.presence_events {
                presence_events.insert(g.namespace.clone());
            }
            let ns = match namespaces.iter_mut().position(|n| n.path == g.namespace) {
                Some(i) => &mut namespaces[i],
                None => {
                    let skip = self
                        .options
                        .recovery
                        .as_ref()
                        .is_some_and(Recovery::skips_middlewares);
                    namespaces.push(NsRuntime::new(g.namespace.clone(), rails.clone(), skip));
                    namespaces.last_mut().expect("just pushed")
                }
            };
            if ns.filter.is_none() {
                ns.filter = g.filter.clone();
            }
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
            for (event, handler) in g.server_events {
                match ns.server_events.entry(event.clone().into_boxed_str()) {
                    Entry::Occupied(_) => panic!(
                        "iogate: two handlers for the server event {event:?} on the namespace {:?}",
                        g.namespace
                    ),
                    Entry::Vacant(v) => {
                        v.insert(handler);
                    }
                }
            }
            ns.middleware.extend(g.middleware);
            ns.on_connection.extend(g.on_connection);
            ns.on_disconnect.extend(g.on_disconnect);
            ns.room_policies.extend(g.room_policies);
            init_hooks.extend(g.after_init);
        }
        let namespaces: Vec<Arc<NsRuntime>> = namespaces.into_iter().map(Arc::new).collect();
        let (tracker, handle, pending) = crate::presence::channel();
        let observer: Arc<dyn sio::Observer> = match self.observer {
            Some(admin) => Arc::new(Observers(vec![admin, tracker])),
            None => tracker,
        };
        let mut builder = sio::Io::builder(self.options.protocol())
            .adapter(adapter)
            .observer(observer);
        for ns in &namespaces {
            builder = builder.ns(ns.path.clone(), Arc::new(Mount(ns.clone())));
        }
        let (io, inits) = builder.build();
        let server = Server::new(io.clone(), self.state, health, handle);
        pending.start(
            server.clone(),
            presence,
            presence_events,
            self.presence.webhook,
        );
        for ns in &namespaces {
            let _ = ns.server.set(server.clone());
        }
        let engine = io.engine().clone();
        let assembled = Assembled {
            server,
            // One stack, applied with one `Router::layer`: axum boxes and clones every route's
            // service once per `layer` call and per request, so each layer applied on its own
            // costs an allocation and a copy of its future on every request.
            router: Box::new(move |routes: Router, cors: CorsLayer| {
                routes.route_service(SOCKET_IO_PATH, engine).layer(
                    tower::ServiceBuilder::new().layer(cors).layer(
                        tower_http::compression::CompressionLayer::new()
                            .compress_when(CompressAbove(compression)),
                    ),
                )
            }),
            cors: self.options.cors,
            init_hooks,
        };
        (assembled, inits)
    }
}

/// Tells several observers (the Admin UI's and presence's) what the sockets do.
struct Observers(Vec<Arc<dyn sio::Observer>>);

impl sio::Observer for Observers {
    fn connected(&self, socket: &Arc<sio::Socket>) {
        self.0.iter().for_each(|o| o.connected(socket));
    }
    fn disconnected(&self, socket: &sio::Socket, reason: sio::DisconnectReason) {
        self.0.iter().for_each(|o| o.disconnected(socket, reason));
    }
    fn upgraded(&self, socket: &sio::Socket) {
        self.0.iter().for_each(|o| o.upgraded(socket));
    }
    fn joined(&self, socket: &sio::Socket, room: &str) {
        self.0.iter().for_each(|o| o.joined(socket, room));
    }
    fn left(&self, socket: &sio::Socket, room: &str) {
        self.0.iter().for_each(|o| o.left(socket, room));
    }
    fn wants_events(&self) -> bool {
        self.0.iter().any(|o| o.wants_events())
    }
    fn received(&self, socket: &sio::Socket, args: &str) {
        for o in self.0.iter().filter(|o| o.wants_events()) {
            o.received(socket, args);
        }
    }
    fn sent(&self, socket: &sio::Socket, args: &str) {
        for o in self.0.iter().filter(|o| o.wants_events()) {
            o.sent(socket, args);
        }
    }
}

/// Where socket.io clients find the server (their default `path`).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// A server whose namespaces are mounted, their adapters not yet started.
struct Assembled {
    server: Server,
    router: Box<dyn FnOnce(Router, CorsLayer) -> Router + Send>,
    cors: Cors,
    init_hooks: Vec<crate::gateway::InitHook>,
}

impl Assembled {
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

/// Admits a client to a namespace, or refuses it (`connect_error`). The cheap checks come
/// first (a closing server, the per-IP handshake rate, a full server), so that a flood of bad
/// tokens is counted against its address and costs no signature check; then the gateways'
/// middlewares; then the client is counted in, per server and per user, in one step, so that
/// simultaneous handshakes cannot pass a limit together.
pub(crate) async fn admit(
    ns: Arc<NsRuntime>,
    socket: Arc<sio::Socket>,
    auth: Option<sio::Str>,
) -> Result<(), sio::ConnectError> {
    let refuse = |message: &str| {
        ns.metrics.refused.increment(1);
        Err(sio::ConnectError::new(message))
    };
    if ns.server().is_closing() {
        return refuse("Server shutting down");
    }
    let ip = socket.peer().map(|p| p.ip());
    if let Err(refusal) = ns.rails.check_handshake(ip) {
        tracing::info!(namespace = %ns.path, ?ip, refusal, "connection refused by a limit");
        return refuse(refusal);
    }
    let auth = auth
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    // A recovered client carries on with its data and user; the rest is new. From another node
    // of the cluster, only its user and claims come back (see `session`).
    let previous = socket
        .previous_ext()
        .and_then(|ext| ext.clone().downcast::<ClientState>().ok())
        .or_else(|| {
            let kept = crate::session::read(socket.previous_data()?)?;
            let state = ClientState::new(socket.id().into(), Value::Null, &ns);
            kept.restore(&state);
            Some(Arc::new(state))
        });
    // Unless the token it authenticated with expired meanwhile: then every middleware checks
    // the handshake it came back with, as a new client's. So does a client recovered from
    // another node with no user to vouch for it.
    let skip = ns.skip_middlewares && previous.as_deref().is_some_and(|p| !token_expired(p));
    let state = Arc::new(match &previous {
        Some(previous) => ClientState::recovered(previous, auth, &ns),
        None => ClientState::new(socket.id().into(), auth, &ns),
    });
    socket.join(&crate::client::client_room(&state.id));
    let client = Client::new(socket.clone(), state.clone());
    for m in ns.middleware.iter().filter(|_| !skip) {
        if let Err(e) = m.call(client.clone()).await {
            ns.metrics.refused.increment(1);
            if !e.is_client_error() {
                tracing::error!(namespace = %ns.path, error = %e, "connection middleware failed");
            }
            return Err(e.to_connect_error());
        }
    }
    if let Err(refusal) = ns.rails.count_in(client.user()) {
        tracing::info!(namespace = %ns.path, ?ip, user = client.user(), refusal, "connection refused by a limit");
        return refuse(refusal);
    }
    let ext: Arc<dyn std::any::Any + Send + Sync> = state;
    let _ = socket.ext.set(ext);
    Ok(())
}

/// Whether the JWT a client authenticated with has expired (never, without the `jwt` feature).
fn token_expired(state: &ClientState) -> bool {
    #[cfg(feature = "jwt")]
    return crate::auth::token_expired(state);
    #[cfg(not(feature = "jwt"))]
    {
        let _ = state;
        false
    }
}

/// One namespace, merged from every gateway that serves it.
pub(crate) struct NsRuntime {
    pub(crate) path: String,
    pub(crate) routes: HashMap<Box<str>, Arc<RouteEntry>>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) on_connection: Vec<ConnectHook>,
    pub(crate) on_disconnect: Vec<DisconnectHook>,
    /// The handlers of server-side events from the other nodes, by event.
    pub(crate) server_events: HashMap<Box<str>, crate::gateway::ServerEventHandler>,
    pub(crate) rails: Arc<Guardrails>,
    pub(crate) room_policies: Vec<crate::gateway::RoomPolicy>,
    /// The filter of refusals that reach no route: the first of the namespace's gateways'.
    pub(crate) filter: Option<Arc<dyn crate::filter::ExceptionFilter>>,
    pub(crate) metrics: NsMetrics,
    /// Whether a recovered client skips the connection middlewares
    /// ([`Recovery::skip_middlewares`]).
    skip_middlewares: bool,
    server: OnceLock<Server>,
}

impl NsRuntime {
    pub(crate) fn new(path: String, rails: Arc<Guardrails>, skip_middlewares: bool) -> Self {
        Self {
            skip_middlewares,
            metrics: NsMetrics::new(&path),
            path,
            routes: HashMap::new(),
            middleware: Vec::new(),
            on_connection: Vec::new(),
            on_disconnect: Vec::new(),
            server_events: HashMap::new(),
            rails,
            room_policies: Vec::new(),
            filter: None,
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
    max_outgoing_bytes: usize,
    write_timeout: Duration,
    ws_read_buffer: usize,
    per_message_deflate: bool,
    http_compression: Option<u16>,
    recovery: Option<Recovery>,
    parser: Parser,
    trusted_proxies: TrustedProxies,
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
            max_payload: defaults::MAX_PAYLOAD,
            transports: Transports::All,
            max_outgoing_packets: defaults::MAX_OUTGOING_PACKETS,
            max_outgoing_bytes: defaults::MAX_OUTGOING_BYTES,
            write_timeout: Duration::from_secs(defaults::WRITE_TIMEOUT_SECS),
            ws_read_buffer: defaults::WS_READ_BUFFER_SIZE,
            per_message_deflate: false,
            http_compression: Some(1024),
            recovery: None,
            parser: Parser::Json,
            trusted_proxies: TrustedProxies::default(),
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// The protocol layer's settings.
    fn protocol(&self) -> sio::Config {
        let engine = sio::engineio::Config {
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_payload: usize::try_from(self.max_payload).unwrap_or(usize::MAX),
            transports: sio::engineio::Transports {
                polling: self.transports != Transports::WebsocketOnly,
                websocket: self.transports != Transports::PollingOnly,
            },
            max_outgoing_bytes: self.max_outgoing_bytes,
            max_outgoing_packets: self.max_outgoing_packets,
            write_timeout: self.write_timeout,
            ws_read_buffer: self.ws_read_buffer,
            per_message_deflate: self
                .per_message_deflate
                .then(sio::engineio::Deflate::default),
            trusted_proxies: self.trusted_proxies.clone(),
            ..sio::engineio::Config::default()
        };
        sio::Config {
            engine,
            connect_timeout: self.connect_timeout,
            recovery: self.recovery.clone().map(|r| r.0),
            parser: match self.parser {
                Parser::Json => sio::Parser::Json,
                Parser::Msgpack => sio::Parser::Msgpack,
            },
            ..sio::Config::default()
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
    /// falls that far behind is cut off rather than silently missing messages.
    pub fn max_outgoing_packets(mut self, n: usize) -> Self {
        self.max_outgoing_packets = n.max(1);
        self
    }
    /// How many bytes may wait to be written to one client (default 1 MiB, as Centrifugo's).
    /// A client that stops reading is cut off once its queue would pass this, so it costs the
    /// server at most about this much; it reconnects, and its client knows it missed messages.
    pub fn max_outgoing_bytes(mut self, bytes: usize) -> Self {
        self.max_outgoing_bytes = bytes.max(1);
        self
    }
    /// How long a write to a WebSocket client may take (default 10 s). A client whose TCP
    /// window stays shut that long is cut off.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }
    /// How many bytes a WebSocket connection reads at a time (default 1 KiB). Each connected client holds a buffer of this size: at 1 KiB an idle
    /// client costs 3 KiB less memory than at 4 KiB, and a large message takes a few more
    /// reads. Raise it when clients mostly send large messages.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes.max(64);
        self
    }
    /// Compresses WebSocket messages of at least 1 KiB with permessage-deflate (RFC 7692) for
    /// clients that offer it, as socket.io's `perMessageDeflate` does; off by default, as in
    /// socket.io. Browsers and Node's `ws` offer it. It costs CPU on every large message and
    /// saves bandwidth on text that repeats (JSON). Memory stays flat: each message is
    /// compressed on its own (no context takeover either way), with a compressor borrowed
    /// per thread, so an idle client costs no more than without it.
    pub fn per_message_deflate(mut self, on: bool) -> Self {
        self.per_message_deflate = on;
        self
    }
    /// Compresses long-polling responses of at least `threshold` bytes (gzip or deflate, as
    /// the client's `Accept-Encoding` asks), as socket.io's `httpCompression` does; on by
    /// default with its threshold, 1 KiB. WebSocket messages are compressed only with
    /// [`Options::per_message_deflate`].
    pub fn http_compression(mut self, threshold: u16) -> Self {
        self.http_compression = Some(threshold);
        self
    }
    /// The reverse proxies whose forwarding header names the client (none by default): a
    /// connection from one of them counts as coming from the client's address in its
    /// `X-Forwarded-For` (or `Forwarded`), the rightmost hop that is not one of these proxies.
    /// That address is what the per-IP limit counts, what the logs and
    /// [`Client::address`](crate::Client::address) say. A connection from anywhere else is
    /// taken at its own address, whatever header it sends. Without this, every client behind a
    /// proxy shares the proxy's address, and the per-IP limit then holds for them all together.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }
    /// Sends long-polling responses uncompressed.
    pub fn no_http_compression(mut self) -> Self {
        self.http_compression = None;
        self
    }
    /// Connection state recovery (socket.io's `connectionStateRecovery`; off by default, as in
    /// socket.io): a client whose connection broke (not one that left, or that the server
    /// disconnected) and that comes back within
    /// [`max_disconnection_duration`](Recovery::max_disconnection_duration) keeps its id, its
    /// rooms and its data, gets the events it missed, in order, and
    /// [`Client::recovered`](crate::Client::recovered) is true in its connection hooks.
    ///
    /// With it on, every event sent without an acknowledgement carries an offset as its last
    /// argument, as socket.io's does. When
    /// [`skip_middlewares`](Recovery::skip_middlewares) is on, a recovered client skips the
    /// connection middlewares, unless the JWT it authenticated with has expired meanwhile:
    /// then they all run on the handshake it came back with, so an expired token is refused as
    /// for a new client, and a fresh one for the same user lets it back into its session.
    pub fn connection_state_recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = Some(recovery);
        self
    }
    /// How packets are written ([`Parser`]; socket.io's default parser unless told).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
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

/// How packets are written on the wire (socket.io's `parser` option). Clients must use the same
/// one: a client with the other gets `connect_error` saying which the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io's default parser: text packets, binary arguments in messages of their own.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: each packet one msgpack message, binary in place. Clients
    /// pass `parser: require("socket.io-msgpack-parser")` to `io()`.
    Msgpack,
}

/// The settings of connection state recovery ([`Options::connection_state_recovery`]), with
/// socket.io's defaults and iogate's bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery(sio::Recovery);

impl Recovery {
    /// How long a client's session and the events it misses are kept after its connection
    /// broke (default 2 minutes, socket.io's `maxDisconnectionDuration`).
    pub fn max_disconnection_duration(mut self, d: Duration) -> Self {
        self.0.max_disconnection_duration = d;
        self
    }
    /// Whether a recovered client skips the connection middlewares (default true, socket.io's
    /// `skipMiddlewares`); never when the JWT it authenticated with expired meanwhile.
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.0.skip_middlewares = skip;
        self
    }
    /// The most sessions kept at once, on this server (default 10,000); past it, the session
    /// whose connection broke first is forgotten.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.0.max_sessions = n;
        self
    }
    /// The most events kept for replay, on this server (default 10,000).
    pub fn max_packets(mut self, n: usize) -> Self {
        self.0.max_packets = n;
        self
    }
    /// The most bytes of events kept for replay, on this server (default 16 MiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.0.max_bytes = n;
        self
    }
    /// The window ([`max_disconnection_duration`](Self::max_disconnection_duration)).
    pub fn window(&self) -> Duration {
        self.0.max_disconnection_duration
    }
    /// Whether middlewares are skipped ([`skip_middlewares`](Self::skip_middlewares)).
    pub fn skips_middlewares(&self) -> bool {
        self.0.skip_middlewares
    }
    /// The session bound ([`max_sessions`](Self::max_sessions)).
    pub fn sessions_bound(&self) -> usize {
        self.0.max_sessions
    }
    /// The log's bounds in events and bytes ([`max_packets`](Self::max_packets),
    /// [`max_bytes`](Self::max_bytes)).
    pub fn log_bounds(&self) -> (usize, usize) {
        (self.0.max_packets, self.0.max_bytes)
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

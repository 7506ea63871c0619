//! [`App`]: gateways, options and shared state, assembled into a server.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::engine::sio;
use crate::gateway::IntoGateway;
use crate::layers::SOCKET_IO_PATH;
use crate::mount::Mount;
use crate::namespace::NsRuntime;
use crate::options::{Cors, Options, Recovery};
use crate::rails::Guardrails;
use crate::{Gateway, Server};

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
        for mut g in self.gateways {
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
            init_hooks.extend(std::mem::take(&mut g.after_init));
            ns.merge(g);
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
            ns.attach(server.clone());
        }
        let engine = io.engine().clone();
        let assembled = Assembled {
            gateways: Gateways {
                server,
                mount: Box::new(move |routes: Router| routes.route_service(SOCKET_IO_PATH, engine)),
                cors: self.options.cors,
                compression,
            },
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

/// A server whose namespaces are mounted, their adapters not yet started.
struct Assembled {
    gateways: Gateways,
    init_hooks: Vec<crate::gateway::InitHook>,
}

impl Assembled {
    /// Runs the `after_init` hooks and hands the app out.
    fn finish(self) -> Gateways {
        for hook in self.init_hooks {
            hook(self.gateways.server.clone());
        }
        self.gateways
    }
}

/// The built app: its [`Server`] handle, and the HTTP service that speaks socket.io.
#[must_use]
pub struct Gateways {
    server: Server,
    /// Adds the socket.io route, whatever the adapter's type.
    mount: Box<dyn FnOnce(Router) -> Router + Send>,
    cors: Cors,
    compression: Option<u16>,
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
        crate::layers::around((self.mount)(routes), &self.cors, self.compression)
    }
}

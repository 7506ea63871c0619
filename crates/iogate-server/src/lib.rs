//! The `iogate` server: the NestJS WebSockets guide's app on the iogate framework, ready to
//! operate.
//!
//! `main.rs` only loads the configuration, handles signals and calls [`app`] and [`serve`];
//! tests call [`run`] with their own listener and shutdown future.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | settings from a TOML file, environment variables and flags |
//! | [`gateways`] | the guide's gateways |
//! | [`api`] | the REST API (emit, rooms, clients), `/health`, `/ready`, `/openapi.json` |
//! | [`metrics`] | `/metrics` for Prometheus |
//! | [`shutdown`] | graceful shutdown |
//! | [`demo`] | the development-only chat page and token route, and the static folder |

pub mod api;
pub mod config;
pub mod demo;
pub mod gateways;
pub mod metrics;
pub mod shutdown;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, Response, header};
use iogate::auth::JwtAuth;
use iogate::cluster::Redis;
use iogate::{App, Cors, Options, Server};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

pub use config::Config;
pub use shutdown::{Running, Stopped};

/// What the server needs beyond its config: secrets resolved (given or generated).
#[derive(Clone)]
pub struct Secrets {
    /// The HS256 secret of client tokens.
    pub jwt_secret: String,
    /// The accepted REST API keys.
    pub api_keys: Vec<String>,
}

impl Secrets {
    /// The configured secrets, or random ones for those unset.
    pub fn resolve(config: &Config) -> Self {
        Self {
            jwt_secret: config
                .jwt_secret
                .clone()
                .unwrap_or_else(config::random_secret),
            api_keys: if config.api_key.is_empty() {
                vec![config::random_secret()]
            } else {
                config.api_key.clone()
            },
        }
    }
}

/// The built server: its handle, its HTTP app, and what a graceful shutdown waits for.
pub struct Service {
    /// The gateways' server handle.
    pub server: Server,
    /// socket.io, the REST API, `/metrics`, the demo and static files, as one router.
    pub router: Router,
    /// The gateways' running handlers, for the shutdown to wait for.
    pub running: Running,
    stopping: Arc<AtomicBool>,
}

impl Service {
    /// A service of other gateways than the server's (their handlers tracked by `running`),
    /// with no REST API: to embed the shutdown of [`serve`] elsewhere, or to test it.
    pub fn from_gateways(gateways: iogate::Gateways, running: Running) -> Self {
        Self {
            server: gateways.server(),
            router: gateways.into_router(Router::new()),
            running,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Builds the gateways, the REST API and the rest; with `redis_url`, joins the cluster first.
pub async fn app(
    config: &Config,
    secrets: &Secrets,
) -> Result<Service, iogate::cluster::ClusterError> {
    // The recorder must be in place before the app is built: the framework looks its metric
    // handles up as it builds.
    let recorder = config.metrics.then(metrics::recorder).flatten();
    let jwt = JwtAuth::hs256(secrets.jwt_secret.as_bytes());
    let options = Options::default()
        .cors(Cors::from_list(&config.allowed_origins))
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(60))
        .max_payload(config.max_payload);
    let running = Running::default();
    let gateways = [
        gateways::chat(&running),
        gateways::events(&jwt, &running),
        gateways::chat_namespace(&jwt, &running),
        gateways::notifications(&running),
    ];
    let namespaces: Arc<[String]> = gateways.iter().map(|g| g.namespace().to_owned()).collect();
    let app = gateways
        .into_iter()
        .fold(App::new().options(options), App::gateway);
    let gateways = match &config.redis_url {
        Some(url) => {
            let redis = Redis::new(url.clone())
                .startup_timeout(Duration::from_secs(config.redis_startup_timeout));
            app.build_redis(redis).await?
        }
        None => app.build(),
    };
    let server = gateways.server();
    let stopping = Arc::new(AtomicBool::new(false));
    let mut routes = api::routes(api::ApiState {
        server: server.clone(),
        keys: Arc::new(secrets.api_keys.clone()),
        stopping: stopping.clone(),
    });
    if let Some(handle) = recorder {
        routes = routes.merge(metrics::routes(metrics::MetricsState {
            handle,
            server: server.clone(),
            namespaces,
            key: config.metrics_key.clone().map(|k| Arc::from(vec![k])),
        }));
    }
    if config.demo {
        routes = routes.merge(demo::routes(secrets.jwt_secret.clone()));
    }
    if let Some(dir) = &config.static_dir {
        routes = routes.fallback_service(demo::static_files(dir));
    }
    let router = with_tracing(gateways.into_router(routes).layer(
        SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ));
    Ok(Service {
        server,
        router,
        running,
        stopping,
    })
}

/// Adds one span per HTTP request, with its method and path (never the query: long-polling
/// puts the session id there). REST calls log at `info`; socket.io's own requests (a long-poll
/// every few seconds per client) at `debug`. Handlers add fields: `api_key` (which key, by its
/// index, authorised the call).
fn with_tracing(router: Router) -> Router {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &Request<axum::body::Body>| {
                let path = req.uri().path();
                if path.starts_with("/socket.io") {
                    tracing::debug_span!("http", method = %req.method(), path)
                } else {
                    tracing::info_span!("http", method = %req.method(), path, api_key = tracing::field::Empty)
                }
            })
            .on_request(())
            .on_response(|res: &Response<axum::body::Body>, latency: Duration, span: &Span| {
                // Milliseconds to the microsecond: enough, and short in the logs.
                let ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
                let status = res.status().as_u16();
                if span.metadata().is_some_and(|m| *m.level() == Level::INFO) {
                    tracing::info!(status, ms, "answered");
                } else {
                    tracing::debug!(status, ms, "answered");
                }
            })
            .on_failure(DefaultOnFailure::new().level(Level::WARN)),
    )
}

/// Builds the app ([`app`]) and serves it ([`serve`]).
pub async fn run(
    config: Config,
    secrets: Secrets,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Stopped> {
    let service = app(&config, &secrets)
        .await
        .map_err(std::io::Error::other)?;
    let grace = Duration::from_secs(config.shutdown_timeout);
    serve(service, listener, shutdown, grace).await
}

/// Serves until `shutdown` completes, then shuts down gracefully within `grace` (see
/// [`shutdown`] for the steps).
pub async fn serve(
    service: Service,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Stopped> {
    let Service {
        server,
        router,
        running,
        stopping,
    } = service;
    let (stop_accepting, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut http = tokio::spawn(iogate::serve(listener, router, async move {
        let _ = stop_rx.await;
    }));
    tokio::select! {
        served = &mut http => {
            // The listener failed before any shutdown was asked for.
            return served.map_err(std::io::Error::other)?.map(|()| Stopped::Clean);
        }
        () = shutdown => {}
    }
    tracing::info!(
        timeout_s = grace.as_secs_f64(),
        handlers = running.len(),
        "shutting down: no new connections"
    );
    stopping.store(true, Ordering::Relaxed);
    let _ = stop_accepting.send(());
    let drained = async {
        running.finished().await;
        tracing::info!("disconnecting every client");
        server.close().await;
        running.idle().await;
        http.await.map_err(std::io::Error::other)?
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(served) => served.map(|()| Stopped::Clean),
        Err(_) => Ok(Stopped::TimedOut {
            handlers: running.len(),
        }),
    }
}

/// Signs an HS256 token for `sub`, valid `ttl` seconds.
pub fn sign_token(
    secret: &str,
    sub: &str,
    email: Option<&str>,
    ttl: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({ "sub": sub, "iat": now, "exp": now + ttl });
    if let Some(email) = email {
        claims["email"] = email.into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
}

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
pub mod rest;
pub mod shutdown;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, Response, header};
use iogate::auth::JwtAuth;
use iogate::cluster::{Protocol, Redis};
use iogate::{App, Cors, Limits, Options, Parser, Recovery, Server};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

pub use config::Config;
pub use shutdown::{Stopped, serve};

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
}

impl Service {
    /// A service of other gateways than the server's, with no REST API: to embed the shutdown
    /// of [`serve`] elsewhere, or to test it.
    pub fn from_gateways(gateways: iogate::Gateways) -> Self {
        Self {
            server: gateways.server(),
            router: gateways.into_router(Router::new()),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The JWT settings do not make a working verifier.
    #[error("{0}")]
    Jwt(String),
    /// The cluster could not be joined.
    #[error(transparent)]
    Cluster(#[from] iogate::cluster::ClusterError),
}

/// The token verifier the settings describe: a JWKS file, a public key file, or the secret.
pub fn jwt_auth(config: &Config, secrets: &Secrets) -> Result<JwtAuth, StartError> {
    use iogate::auth::JwtAlgorithm;
    let read = |key: &str, path: &str| {
        std::fs::read(path).map_err(|e| StartError::Jwt(format!("{key}: cannot read {path}: {e}")))
    };
    let bad = |key: &str, e: &dyn std::fmt::Display| StartError::Jwt(format!("{key}: {e}"));
    let auth = if let Some(path) = &config.jwt_jwks_file {
        let json = String::from_utf8(read("jwt_jwks_file", path)?)
            .map_err(|e| bad("jwt_jwks_file", &e))?;
        JwtAuth::jwks(&json).map_err(|e| bad("jwt_jwks_file", &e))?
    } else {
        let alg: JwtAlgorithm = config
            .jwt_algorithm
            .parse()
            .map_err(|e| bad("jwt_algorithm", &e))?;
        match &config.jwt_public_key_file {
            Some(path) => JwtAuth::public_key_pem(alg, &read("jwt_public_key_file", path)?)
                .map_err(|e| bad("jwt_public_key_file", &e))?,
            None => JwtAuth::hmac(alg, secrets.jwt_secret.as_bytes()).map_err(|e| {
                bad(
                    "jwt_algorithm",
                    &format!("{e} (an RS*, ES* or EdDSA algorithm needs jwt_public_key_file)"),
                )
            })?,
        }
    };
    let auth = auth.leeway(config.jwt_leeway);
    let auth = match &config.jwt_issuer {
        Some(iss) => auth.issuer(iss.clone()),
        None => auth,
    };
    Ok(match &config.jwt_audience {
        Some(aud) => auth.audience(aud.clone()),
        None => auth,
    })
}

/// The events the app's gateways declare: what `iogate codegen` writes and `/asyncapi.json`
/// serves. Nothing is started; the key that would check tokens is a throwaway one.
pub fn contract() -> iogate::typed::Contract {
    let jwt = JwtAuth::hmac(
        iogate::auth::JwtAlgorithm::HS256,
        &rand::random::<[u8; 32]>(),
    )
    .expect("HS256 takes any key");
    gateways::all(&jwt)
        .into_iter()
        .fold(App::new(), App::gateway)
        .contract()
}

/// The AsyncAPI document of `contract`, as this server describes itself.
pub fn asyncapi_of(contract: &iogate::typed::Contract) -> serde_json::Value {
    contract.asyncapi("iogate", env!("CARGO_PKG_VERSION"))
}

/// Builds the gateways, the REST API and the rest; with `redis_url`, joins the cluster first.
pub async fn app(config: &Config, secrets: &Secrets) -> Result<Service, StartError> {
    // The recorder must be in place before the app is built: the framework looks its metric
    // handles up as it builds.
    let recorder = config.metrics.then(metrics::recorder).flatten();
    let jwt = jwt_auth(config, secrets)?;
    let limits = Limits::default()
        .events_per_second(config.events_per_second)
        .event_burst(config.event_burst)
        .max_pending_events(config.max_pending_events)
        .max_event_name_len(config.max_event_name_len)
        .max_json_depth(config.max_json_depth)
        .connections_per_ip_per_second(config.connections_per_ip_per_second)
        .connection_burst_per_ip(config.connection_burst_per_ip)
        .max_clients(config.max_clients)
        .max_clients_per_user(config.max_clients_per_user)
        .max_rooms_per_client(config.max_rooms_per_client)
        .max_clients_per_room(config.max_clients_per_room)
        .max_room_name_len(config.max_room_name_len);
    let mut options = Options::default()
        .cors(Cors::from_list(&config.allowed_origins))
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(60))
        .max_payload(config.max_payload)
        .max_outgoing_packets(config.max_outgoing_packets)
        .max_outgoing_bytes(config.max_outgoing_bytes)
        .write_timeout(Duration::from_secs(config.write_timeout))
        .per_message_deflate(config.per_message_deflate)
        .ws_read_buffer_size(config.ws_read_buffer_size)
        .limits(limits);
    if !config.http_compression {
        options = options.no_http_compression();
    }
    if config.parser == "msgpack" {
        options = options.parser(Parser::Msgpack);
    }
    // Checked by `Config::validate`.
    let proxies = config.proxies().unwrap_or_default();
    options = options.trusted_proxies(proxies.clone());
    if config.connection_state_recovery {
        options = options.connection_state_recovery(
            Recovery::default()
                .max_disconnection_duration(Duration::from_secs(config.max_disconnection_duration))
                .skip_middlewares(config.skip_middlewares)
                .max_sessions(config.recovery_max_sessions)
                .max_packets(config.recovery_max_packets)
                .max_bytes(config.recovery_max_bytes),
        );
    }
    let gateways = gateways::all(&jwt);
    let namespaces: Arc<[String]> = gateways.iter().map(|g| g.namespace().to_owned()).collect();
    let mut app = gateways
        .into_iter()
        .fold(App::new().options(options), App::gateway);
    let asyncapi = Arc::new(asyncapi_of(&app.contract()));
    // Checked by `Config::validate`.
    if let Ok(Some(admin)) = config.admin() {
        app = app.admin_ui(admin);
    }
    // Checked by `Config::validate`.
    if let Ok(Some(webhook)) = config.presence_webhook() {
        app = app.presence_webhook(webhook);
    }
    let gateways = match &config.redis_url {
        Some(url) => {
            let protocol = match config.redis_adapter.as_str() {
                "streams" => Protocol::Streams,
                "sharded" => Protocol::Sharded,
                _ => Protocol::PubSub,
            };
            // The stream keeps about as many entries as recovery's log, so that a client can
            // be recovered on another node as long as on its own.
            let redis = Redis::new(url.clone())
                .startup_timeout(Duration::from_secs(config.redis_startup_timeout))
                .protocol(protocol)
                .stream_max_len(config.recovery_max_packets);
            app.build_redis(redis).await?
        }
        None => app.build(),
    };
    let server = gateways.server();
    let mut routes = api::routes(api::ApiState {
        server: server.clone(),
        keys: Arc::new(secrets.api_keys.clone()),
    });
    if let Some(handle) = recorder {
        routes = routes.merge(metrics::routes(metrics::MetricsState {
            handle,
            server: server.clone(),
            namespaces,
            key: config.metrics_key.clone().map(|k| Arc::from(vec![k])),
        }));
    }
    routes = routes.route(
        "/asyncapi.json",
        axum::routing::get(move || {
            let doc = asyncapi.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    if config.demo {
        routes = routes.merge(demo::routes(secrets.jwt_secret.clone()));
    }
    if let Some(dir) = &config.static_dir {
        routes = routes.fallback_service(demo::static_files(dir));
    }
    let router = with_tracing(gateways.into_router(routes), proxies);
    Ok(Service { server, router })
}

/// Adds one span per HTTP request, with its method, path (never the query: long-polling
/// puts the session id there) and client address (behind a trusted proxy, the client's it
/// forwarded). REST calls log at `info`; socket.io's own requests (a long-poll
/// every few seconds per client) at `debug`. Handlers add fields: `api_key` (which key, by its
/// index, authorised the call).
///
/// Every answer also gets `X-Content-Type-Options: nosniff`. Both layers go on in one
/// `Router::layer` call: axum boxes and clones the routes' services once per call.
fn with_tracing(router: Router, proxies: iogate::TrustedProxies) -> Router {
    let nosniff = SetResponseHeaderLayer::if_not_present(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let trace = TraceLayer::new_for_http()
            .make_span_with(move |req: &Request<axum::body::Body>| {
                let path = req.uri().path();
                let client = req
                    .extensions()
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| proxies.client(info.0, req.headers()).ip());
                let client = tracing::field::display(client.map_or_else(String::new, |ip| ip.to_string()));
                if path.starts_with("/socket.io") {
                    tracing::debug_span!("http", method = %req.method(), path, client)
                } else {
                    tracing::info_span!("http", method = %req.method(), path, client, api_key = tracing::field::Empty)
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
        .on_failure(DefaultOnFailure::new().level(Level::WARN));
    router.layer(tower::ServiceBuilder::new().layer(trace).layer(nosniff))
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

#[cfg(test)]
mod jwt_settings_tests {
    use super::*;

    const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../iogate/tests/keys/");

    fn secrets() -> Secrets {
        Secrets {
            jwt_secret: "a-secret-of-at-least-thirty-two-bytes".into(),
            api_keys: vec!["an-api-key-of-16+".into()],
        }
    }

    #[test]
    fn a_public_key_file_verifies_tokens_of_its_algorithm_only() {
        let config = Config {
            jwt_algorithm: "RS256".into(),
            jwt_public_key_file: Some(format!("{KEYS}rsa.pub")),
            jwt_issuer: Some("https://issuer.example".into()),
            ..Config::default()
        };
        let auth = jwt_auth(&config, &secrets()).unwrap();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(
            &std::fs::read(format!("{KEYS}rsa.key")).unwrap(),
        )
        .unwrap();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
                &claims,
                &key,
            )
            .unwrap()
        };
        assert!(
            auth.verify(&sign(
                serde_json::json!({"sub": "a", "iss": "https://issuer.example"})
            ))
            .is_ok()
        );
        assert!(
            auth.verify(&sign(
                serde_json::json!({"sub": "a", "iss": "https://other.example"})
            ))
            .is_err()
        );
    }

    #[test]
    fn settings_that_cannot_work_name_their_key() {
        let refusal = |config: Config| jwt_auth(&config, &secrets()).err().unwrap().to_string();
        let e = refusal(Config {
            jwt_algorithm: "RS256".into(),
            ..Config::default()
        });
        assert!(e.starts_with("jwt_algorithm:"), "{e}");
        let e = refusal(Config {
            jwt_algorithm: "none".into(),
            ..Config::default()
        });
        assert!(e.contains("unsupported algorithm"), "{e}");
        let e = refusal(Config {
            jwt_jwks_file: Some("/nonexistent/jwks.json".into()),
            ..Config::default()
        });
        assert!(e.starts_with("jwt_jwks_file: cannot read"), "{e}");
    }
}

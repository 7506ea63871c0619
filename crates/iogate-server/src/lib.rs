//! The `iogate` server: the NestJS WebSockets guide's app on the iogate framework.
//!
//! `main.rs` only parses the configuration and calls [`run`]; tests call [`run`] with their own
//! listener and shutdown future.

pub mod api;
pub mod config;
pub mod gateways;

use std::future::Future;
use std::sync::Arc;

use iogate::auth::JwtAuth;
use iogate::{App, Cors, Options, Server};
use tokio::net::TcpListener;

pub use config::Config;

/// What the server needs beyond its config: secrets resolved (given or generated).
#[derive(Clone)]
pub struct Secrets {
    /// The HS256 secret of client tokens.
    pub jwt_secret: String,
    /// The accepted REST API keys.
    pub api_keys: Vec<String>,
}

/// Builds the gateways and the REST API.
pub fn app(config: &Config, secrets: &Secrets) -> (Server, axum::Router) {
    let jwt = JwtAuth::hs256(secrets.jwt_secret.as_bytes());
    let options = Options::default()
        .cors(Cors::from_list(&config.allowed_origins))
        .ping_interval(std::time::Duration::from_secs(25))
        .ping_timeout(std::time::Duration::from_secs(60))
        .max_payload(config.max_payload);
    let gateways = App::new()
        .options(options)
        .gateway(gateways::chat())
        .gateway(gateways::events(&jwt))
        .gateway(gateways::chat_namespace(&jwt))
        .gateway(gateways::notifications())
        .build();
    let server = gateways.server();
    let api = api::routes(api::ApiState {
        server: server.clone(),
        keys: Arc::new(secrets.api_keys.clone()),
    });
    (server, gateways.into_router(api))
}

/// Serves until `shutdown` completes, then disconnects every client (`server shutting down`).
pub async fn run(
    config: Config,
    secrets: Secrets,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (server, router) = app(&config, &secrets);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let closer = {
        let server = server.clone();
        async move {
            shutdown.await;
            server.close().await;
            let _ = stop_tx.send(());
        }
    };
    tokio::spawn(closer);
    iogate::serve(listener, router, async move {
        let _ = stop_rx.await;
    })
    .await
}

//! The handshake: a client asks to join a namespace, and is admitted or refused.

use std::sync::Arc;

use serde_json::Value;

use crate::Client;
use crate::client::ClientState;
use crate::engine::sio;
use crate::namespace::NsRuntime;

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

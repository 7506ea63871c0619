//! Graceful shutdown: stop accepting, let running handlers finish, tell the clients, answer the
//! HTTP requests in flight, then stop, all within a time limit.
//!
//! [`serve`] runs the steps when its shutdown future completes:
//!
//! 1. `/ready` answers 503 and the listener is closed: new connections are refused.
//! 2. [`Server::close`](iogate::Server::close) lets every handler running or queued at that
//!    moment finish (the clients are still connected, so their acknowledgements and emits are
//!    delivered; later events are dropped), then closes every connection. The JS client sees
//!    `disconnect` with the reason `transport close` and, as with any lost connection,
//!    reconnects by itself — behind a balancer, to another node. The gateways'
//!    `handle_disconnect` hooks run with `server shutting down`.
//! 3. The HTTP requests in flight (REST calls, long-polls) are answered.
//!
//! If that takes longer than the timeout, [`Stopped::TimedOut`] says so and the process exits
//! anyway. A second signal is the binary's business (`main.rs`): it exits at once.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::Service;

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every step finished within the timeout.
    Clean,
    /// The timeout ran out first (a handler, a hook or an HTTP request still running); what
    /// was left is cut off when the process exits.
    TimedOut,
}

/// Serves until `shutdown` completes, then shuts down gracefully within `grace` (see
/// [the module docs](self) for the steps).
pub async fn serve(
    service: Service,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Stopped> {
    let Service { server, router } = service;
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
        "shutting down: no new connections"
    );
    // Closing first: from now on `/ready` answers 503 and new clients are refused.
    let closed = server.close();
    let _ = stop_accepting.send(());
    let drained = async {
        closed.await;
        tracing::info!("every client disconnected");
        http.await.map_err(std::io::Error::other)?
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(served) => served.map(|()| Stopped::Clean),
        Err(_) => Ok(Stopped::TimedOut),
    }
}

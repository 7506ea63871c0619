//! Graceful shutdown: stop accepting, let running handlers finish, tell the clients, answer the
//! HTTP requests in flight, then stop, all within a time limit.
//!
//! [`serve`](crate::serve) runs the steps when its shutdown future completes:
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

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every step finished within the timeout.
    Clean,
    /// The timeout ran out first (a handler, a hook or an HTTP request still running); what
    /// was left is cut off when the process exits.
    TimedOut,
}

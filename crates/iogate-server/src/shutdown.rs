//! Graceful shutdown: stop accepting, let running handlers finish, tell the clients, answer the
//! HTTP requests in flight, then stop, all within a time limit.
//!
//! [`serve`](crate::serve) runs the steps when its shutdown future completes:
//!
//! 1. `/ready` answers 503 and the listener is closed: new connections are refused.
//! 2. The handlers running at that moment finish ([`Running::finished`]); their clients are
//!    still connected, so their acknowledgements and emits are delivered.
//! 3. [`Server::close`](iogate::Server::close) disconnects every client: the server sees
//!    `server shutting down`, the JS client sees `disconnect` with the reason `transport close`
//!    and, as with any lost connection, reconnects by itself — behind a balancer, to another
//!    node.
//! 4. Handlers started in between finish ([`Running::idle`]), and the HTTP requests in flight
//!    (REST calls, long-polls) are answered.
//!
//! If that takes longer than the timeout, [`Stopped::TimedOut`] says so and the process exits
//! anyway. A second signal is the binary's business (`main.rs`): it exits at once.
//!
//! The server counts its handlers itself, by wrapping each in [`Running::track`]:
//! `Server::close` closes the transports after unmounting the namespaces, so the clients'
//! disconnect hooks do not run and nothing in the framework says when a client's last
//! handler is done.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use iogate::{Context, Exception, Handler, Reply};
use tokio::sync::watch;

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every step finished within the timeout.
    Clean,
    /// The timeout ran out first; what was left is cut off when the process exits.
    TimedOut {
        /// Handlers still running.
        handlers: usize,
    },
}

/// The handlers running now, for a shutdown to wait for.
///
/// Cheap to clone (an `Arc`): every tracked handler and the shutdown share it.
#[derive(Clone, Debug, Default)]
pub struct Running {
    inner: Arc<RunningInner>,
}

#[derive(Debug)]
struct RunningInner {
    /// The number the next handler to start gets.
    next: AtomicU64,
    /// The numbers of the handlers running now.
    live: watch::Sender<BTreeSet<u64>>,
}

impl Default for RunningInner {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            live: watch::Sender::new(BTreeSet::new()),
        }
    }
}

impl Running {
    /// `handler`, counted while it runs.
    pub fn track<H>(&self, handler: H) -> Tracked<H> {
        Tracked {
            handler,
            running: self.clone(),
        }
    }

    /// How many tracked handlers are running.
    pub fn len(&self) -> usize {
        self.inner.live.borrow().len()
    }

    /// Whether no tracked handler is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once every handler running now has finished (later ones are not waited for).
    pub async fn finished(&self) {
        let horizon = self.inner.next.load(Ordering::SeqCst);
        let mut rx = self.inner.live.subscribe();
        // The sender lives in `self`: the channel cannot close while this waits.
        let _ = rx
            .wait_for(|live| live.first().is_none_or(|&first| first >= horizon))
            .await;
    }

    /// Completes once no tracked handler is running.
    pub async fn idle(&self) {
        let mut rx = self.inner.live.subscribe();
        let _ = rx.wait_for(BTreeSet::is_empty).await;
    }

    fn enter(&self) -> Ticket {
        let id = self.inner.next.fetch_add(1, Ordering::SeqCst);
        self.inner.live.send_modify(|live| {
            live.insert(id);
        });
        Ticket {
            id,
            running: self.clone(),
        }
    }
}

/// One running handler; dropping it (the handler finished, or its future was dropped) counts
/// it out.
struct Ticket {
    id: u64,
    running: Running,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.running
            .inner
            .live
            .send_if_modified(|live| live.remove(&self.id));
    }
}

/// A handler counted by [`Running`] while it runs; a handler itself, so guards, pipes and
/// filters go on it as on any.
#[derive(Clone, Debug)]
pub struct Tracked<H> {
    handler: H,
    running: Running,
}

impl<H: Handler<T>, T: 'static> Handler<T> for Tracked<H> {
    fn call(&self, cx: &Context) -> Result<Pin<Box<dyn Future<Output = Reply> + Send>>, Exception> {
        let ticket = self.running.enter();
        let reply = self.handler.call(cx)?;
        Ok(Box::pin(async move {
            let reply = reply.await;
            drop(ticket);
            reply
        }))
    }
}

//! What the engine handle, the request handlers and the session tasks share: the
//! configuration, the handler and the map of open sessions.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::session::{Counters, Session};
use crate::{CloseReason, Config, Handler};

/// Open sessions by sid.
type SessionMap<D> = HashMap<Box<str>, Arc<Session<D>>>;

/// State shared by the engine handle, the request handlers and the session tasks.
pub(crate) struct Shared<H: Handler> {
    pub(crate) config: Config,
    pub(crate) handler: H,
    /// Open sessions by sid. An entry lives from the handshake until its
    /// driver finishes the session, never longer.
    pub(crate) sessions: Mutex<SessionMap<H::Data>>,
    pub(crate) totals: Arc<Counters>,
    /// Signalled every time a session finishes (for [`Engine::close`](crate::Engine::close)).
    pub(crate) finished: Notify,
}

impl<H: Handler> Shared<H> {
    pub(crate) fn sessions(&self) -> std::sync::MutexGuard<'_, SessionMap<H::Data>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes a finished session and tells the handler. Called once per
    /// session, by the task driving it.
    pub(crate) fn finish(&self, session: &Arc<Session<H::Data>>, reason: CloseReason) {
        {
            let mut sessions = self.sessions();
            if sessions
                .get(session.sid())
                .is_some_and(|s| Arc::ptr_eq(s, session))
            {
                sessions.remove(session.sid());
            }
        }
        tracing::debug!(reason = reason.as_str(), "engine.io session closed");
        self.totals.finished.fetch_add(1, Ordering::Relaxed);
        self.handler.on_close(session, reason);
        self.finished.notify_waiters();
    }
}

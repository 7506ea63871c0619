//! The token expiries of a [`JwtAuth`](crate::auth::JwtAuth)'s clients, watched by one task.
//!
//! A task and a timer per client would cost a spawn on every handshake and a few hundred bytes
//! per idle client. Here a client is an entry in a map ordered by deadline, and one task sleeps
//! until the earliest deadline. A client that leaves takes its entry out at once
//! ([`forget`]): nothing of it stays until its token's deadline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::Client;
use crate::client::ClientState;
use crate::engine::sio;

/// What happens to a client whose deadline passed.
pub(crate) trait OnExpiry: Send + Sync + 'static {
    /// The deadline (in seconds since the epoch) the client's token gives now, past which it
    /// has expired: a refreshed token moves it on. `None` when the client has no expiring
    /// token any more.
    fn deadline(&self, state: &ClientState) -> Option<u64>;
    /// The deadline passed: tell the client and disconnect it.
    fn expired(&self, client: Client);
}

/// One watched client.
struct Watched {
    socket: Weak<sio::Socket>,
    state: Weak<ClientState>,
}

/// The clients to check, by deadline (and an arrival number, so that deadlines may be equal).
pub(crate) struct Expiries {
    due: Mutex<Due>,
    /// Woken when an entry goes before the earliest one.
    earlier: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
    me: Weak<Self>,
}

#[derive(Default)]
struct Due {
    entries: BTreeMap<(u64, u64), Watched>,
    next: u64,
}

/// Seconds since the Unix epoch, the unit of a token's `exp`.
pub(crate) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

impl Expiries {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            due: Mutex::new(Due::default()),
            earlier: Notify::new(),
            task: Mutex::new(None),
            me: me.clone(),
        })
    }

    /// Watches `client` until `deadline`; the watching task starts with the first client, and
    /// `on` (called then only) says what expiry means.
    pub(crate) fn watch(
        self: &Arc<Self>,
        client: &Client,
        deadline: u64,
        on: impl FnOnce() -> Arc<dyn OnExpiry>,
    ) {
        let first = {
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            let key = (deadline, due.next);
            due.next += 1;
            due.entries.insert(
                key,
                Watched {
                    socket: Arc::downgrade(&client.socket),
                    state: Arc::downgrade(&client.state),
                },
            );
            client.state.set_expiry(Arc::downgrade(self), key);
            due.entries
                .first_key_value()
                .is_some_and(|(k, _)| *k == key)
        };
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        // A task from a runtime that has since shut down is gone: start another.
        if task.as_ref().is_none_or(JoinHandle::is_finished) {
            *task = Some(tokio::spawn(self.clone().run(on())));
        } else if first {
            self.earlier.notify_one();
        }
    }

    fn weak(&self) -> Weak<Self> {
        self.me.clone()
    }

    async fn run(self: Arc<Self>, on: Arc<dyn OnExpiry>) {
        loop {
            let earliest = {
                let due = self.due.lock().unwrap_or_else(|e| e.into_inner());
                due.entries.first_key_value().map(|(k, _)| k.0)
            };
            let Some(deadline) = earliest else {
                self.earlier.notified().await;
                continue;
            };
            let now = now();
            if deadline > now {
                // `now` is rounded down to the second: this wakes just after `deadline`.
                let wait = Duration::from_secs(deadline - now) + Duration::from_millis(50);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.earlier.notified() => {}
                }
                continue;
            }
            let passed = {
                let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
                let later = due.entries.split_off(&(now + 1, 0));
                std::mem::replace(&mut due.entries, later)
            };
            for watched in passed.into_values() {
                self.check(watched, &on, now);
            }
        }
    }

    /// A client whose deadline passed: expired, or watched on until its refreshed deadline.
    fn check(&self, watched: Watched, on: &Arc<dyn OnExpiry>, now: u64) {
        let Some(state) = watched.state.upgrade() else {
            return;
        };
        match on.deadline(&state) {
            None => {}
            Some(deadline) if deadline > now => {
                let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
                let key = (deadline, due.next);
                due.next += 1;
                due.entries.insert(key, watched);
                state.set_expiry(self.weak(), key);
            }
            Some(_) => {
                if let Some(socket) = watched.socket.upgrade() {
                    on.expired(Client::new(socket, state));
                }
            }
        }
    }
}

/// Where a client's expiry is watched: the watch, and the client's key in it.
pub(crate) type Watch = (Weak<Expiries>, (u64, u64));

/// Stops watching a client that left.
pub(crate) fn forget(expiries: &Weak<Expiries>, key: (u64, u64)) {
    if let Some(expiries) = expiries.upgrade() {
        let mut due = expiries.due.lock().unwrap_or_else(|e| e.into_inner());
        due.entries.remove(&key);
    }
}

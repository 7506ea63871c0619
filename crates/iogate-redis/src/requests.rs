//! Requests that every other node answers (the sockets it has, its rooms): how many answers are
//! still to come, what they brought, and the wait for them; and the random ids of requests and
//! nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use iogate_socketio::AdapterError;
use rand::Rng;
use tokio::sync::oneshot;

use crate::driver::{Driver, unavailable};

/// The requests of one node waiting for the others' answers, by request id.
pub(crate) struct Requests<T> {
    pending: Mutex<HashMap<String, Pending<T>>>,
}

struct Pending<T> {
    /// Answers still expected.
    missing: usize,
    collected: T,
    done: Option<oneshot::Sender<T>>,
}

impl<T> Default for Requests<T> {
    fn default() -> Self {
        Self {
            pending: Mutex::default(),
        }
    }
}

impl<T: Send + 'static> Requests<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending<T>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes request `id` (`body`) on `channel`, whose subscribers are the nodes (one
    /// connection each, this node's among them: `PUBSUB NUMSUB`), and waits up to `timeout` for
    /// every other node's answer, gathered into `collected` by [`answered`](Self::answered).
    pub(crate) async fn ask(
        &self,
        driver: &Driver,
        channel: String,
        id: String,
        body: impl Into<Vec<u8>>,
        collected: T,
        timeout: Duration,
    ) -> Result<T, AdapterError> {
        let nodes = driver.numsub(&channel).await.map_err(unavailable)?;
        let others = nodes.saturating_sub(1);
        if others == 0 {
            return Ok(collected);
        }
        let (tx, rx) = oneshot::channel();
        let pending = Pending {
            missing: others,
            collected,
            done: Some(tx),
        };
        self.lock().insert(id.clone(), pending);
        if let Err(e) = driver.publish(channel, body).await {
            self.lock().remove(&id);
            return Err(unavailable(e));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(collected)) => Ok(collected),
            _ => {
                self.lock().remove(&id);
                Err(AdapterError::Timeout)
            }
        }
    }

    /// One node answered request `id`: `add` gathers its answer. Answers to requests this node
    /// did not make (or gave up on) are skipped.
    pub(crate) fn answered(&self, id: &str, add: impl FnOnce(&mut T)) {
        let mut pending = self.lock();
        let Some(request) = pending.get_mut(id) else {
            return;
        };
        add(&mut request.collected);
        request.missing = request.missing.saturating_sub(1);
        if request.missing == 0
            && let Some(request) = pending.remove(id)
            && let Some(done) = request.done
        {
            let _ = done.send(request.collected);
        }
    }
}

/// A random id, like the Node adapter's `uid2(6)` (whose ids are 6 characters of base 62); a
/// bit longer here, as nothing reads them but the nodes.
pub(crate) fn random_id() -> String {
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

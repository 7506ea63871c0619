//! Webhooks: presence's transitions posted to a URL of yours, signed, retried, each with an id
//! to drop the copies of ([`App::presence_webhook`](crate::App::presence_webhook)).
//!
//! Each transition is one `POST` of JSON:
//!
//! ```json
//! {"id": "5f0c…", "type": "user_online", "time": "2026-12-02T16:40:12.345Z",
//!  "namespace": "/chat", "room": "lobby", "user": "alice"}
//! ```
//!
//! `type` is `user_online`, `user_offline`, `room_occupied` or `room_vacated` (the last two
//! without `user`). Headers:
//! - `X-Iogate-Event-Id`: the event's `id`, the same on every attempt;
//! - `X-Iogate-Timestamp`: when this attempt was signed, in Unix seconds;
//! - `X-Iogate-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the secret, of
//!   `<timestamp>.<body>`.
//!
//! A receiver checks the signature ([`verify`] does it in Rust), refuses timestamps too far
//! from its clock (replays), and drops an `id` it has seen: delivery is at least once. Any
//! answer but 2xx, a refused connection or no answer within the timeout is retried, after
//! 0.5 s, then twice as long each time up to 30 s, at most 8 attempts (each configurable).
//! Events go out one at a time, in order; at most [`Webhook::queue`] wait (past that, new ones
//! are dropped with a warning). Only `http://` URLs are taken: put a TLS-terminating proxy in
//! front of an `https://` receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

/// The header holding the event's id.
pub const EVENT_ID_HEADER: &str = "x-iogate-event-id";
/// The header holding the Unix time, in seconds, the attempt was signed at.
pub const TIMESTAMP_HEADER: &str = "x-iogate-timestamp";
/// The header holding the signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-iogate-signature";

/// Where and how presence's transitions are posted.
#[derive(Clone)]
#[must_use]
pub struct Webhook {
    uri: http::Uri,
    secret: Arc<[u8]>,
    max_attempts: u32,
    timeout: Duration,
    queue: usize,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("uri", &self.uri)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Why a webhook's settings are refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// The URL does not parse, or has no host.
    #[error("invalid webhook URL {0:?}")]
    InvalidUrl(String),
    /// The URL is not `http://` (TLS is not spoken: put a proxy in front of an https receiver).
    #[error(
        "the webhook URL must be http:// (got {0:?}); put a TLS-terminating proxy in front of an https receiver"
    )]
    NotHttp(String),
    /// The secret is empty: every event is signed.
    #[error("the webhook secret must not be empty")]
    EmptySecret,
}

impl Webhook {
    /// Posts to `url` (`http://host[:port]/path`), signing with `secret`.
    pub fn new(url: &str, secret: impl AsRef<[u8]>) -> Result<Self, WebhookError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| WebhookError::InvalidUrl(url.to_owned()))?;
        if uri.scheme_str() != Some("http") {
            return Err(WebhookError::NotHttp(url.to_owned()));
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(WebhookError::InvalidUrl(url.to_owned()));
        }
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        Ok(Self {
            uri,
            secret: secret.into(),
            max_attempts: 8,
            timeout: Duration::from_secs(5),
            queue: 4096,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        })
    }

    /// The most attempts per event, the first included (default 8); then it is dropped, with
    /// an error in the log.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How long one attempt may take, connection included (default 5 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// How many events may wait to be posted (default 4,096); past that, new ones are dropped
    /// with a warning rather than held.
    pub fn queue(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// The wait before the first retry (default 0.5 s), doubled at each retry up to `max`
    /// (default 30 s).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// Starts the delivery task.
    pub(crate) fn start(self) -> Deliveries {
        let (queue, events) = mpsc::channel(self.queue);
        let waiting = Arc::new(AtomicUsize::new(0));
        tokio::spawn(deliver(self, events, waiting.clone()));
        Deliveries {
            queue,
            waiting,
            full: AtomicBool::new(false),
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`: the value
/// of [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp.to_string().as_bytes(), body)
        .finalize()
        .into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Whether `signature` (a [`SIGNATURE_HEADER`] value) signs `body` sent at `timestamp` (the
/// [`TIMESTAMP_HEADER`] value) with `secret`; compared in constant time. The timestamp's age is
/// the receiver's to check.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let Some(bytes) = bytes else {
        return false;
    };
    mac(secret, timestamp.as_bytes(), body)
        .verify_slice(&bytes)
        .is_ok()
}

fn mac(secret: &[u8], timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

/// One event to post: its id and its JSON body, kept for every attempt.
struct Event {
    id: String,
    body: Bytes,
}

/// The presence task's end of the delivery queue.
pub(crate) struct Deliveries {
    queue: mpsc::Sender<Event>,
    /// Events queued or being posted.
    waiting: Arc<AtomicUsize>,
    /// Whether the queue was full last time: warned once per overflow.
    full: AtomicBool,
}

impl Deliveries {
    /// Queues an event of type `kind` for posting, its body `fields` under a fresh `id` and
    /// the current `time`; or drops it (with a warning) when the queue is full.
    pub(crate) fn post(&self, kind: &str, fields: serde_json::Map<String, serde_json::Value>) {
        let id = format!("{:032x}", rand::random::<u128>());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut body = serde_json::json!({
            "id": id,
            "type": kind,
            "time": crate::engine::sio::msgpack::iso_date(now.as_secs() as i64, now.subsec_millis()),
        });
        if let Some(envelope) = body.as_object_mut() {
            envelope.extend(fields);
        }
        let event = Event {
            id,
            body: Bytes::from(body.to_string()),
        };
        self.waiting.fetch_add(1, Ordering::AcqRel);
        if self.queue.try_send(event).is_err() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            if !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(kind, "webhook queue full: presence events dropped");
            }
        } else {
            self.full.store(false, Ordering::Relaxed);
        }
    }

    /// Waits until every queued event was posted (or given up on), at most `max`.
    pub(crate) async fn drain(&self, max: Duration) {
        let until = tokio::time::Instant::now() + max;
        while self.waiting.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Posts the queued events one after the other, each until it is taken or out of attempts.
async fn deliver(hook: Webhook, mut events: mpsc::Receiver<Event>, waiting: Arc<AtomicUsize>) {
    while let Some(event) = events.recv().await {
        let mut wait = hook.first_backoff;
        for attempt in 1..=hook.max_attempts {
            match tokio::time::timeout(hook.timeout, post(&hook, &event)).await {
                Ok(Ok(())) => break,
                outcome => {
                    let error = match outcome {
                        Ok(Err(e)) => e,
                        _ => format!("no answer within {:?}", hook.timeout),
                    };
                    if attempt == hook.max_attempts {
                        tracing::error!(
                            id = event.id,
                            attempts = attempt,
                            error,
                            "webhook event given up"
                        );
                    } else {
                        tracing::debug!(
                            id = event.id,
                            attempt,
                            error,
                            "webhook attempt failed; retrying"
                        );
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(hook.max_backoff);
                    }
                }
            }
        }
        waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One attempt: connects, posts, reads the status. Ok only for 2xx.
async fn post(hook: &Webhook, event: &Event) -> Result<(), String> {
    let host = hook.uri.host().unwrap_or_default();
    let port = hook.uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let authority = hook.uri.authority().map_or(host, |a| a.as_str());
    let path = hook.uri.path_and_query().map_or("/", |p| p.as_str());
    let request = http::Request::post(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "iogate-webhook")
        .header(EVENT_ID_HEADER, &event.id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(&hook.secret, timestamp, &event.body))
        .body(http_body_util::Full::new(event.body.clone()))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    // Read the answer through, so the receiver is not cut off mid-write.
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_the_timestamp_and_the_body() {
        // As `printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret` prints it.
        let signature = sign(b"secret", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            signature,
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
        assert!(verify(b"secret", "1700000000", br#"{"a":1}"#, &signature));
        assert!(!verify(b"other", "1700000000", br#"{"a":1}"#, &signature));
        assert!(!verify(b"secret", "1700000001", br#"{"a":1}"#, &signature));
        assert!(!verify(b"secret", "1700000000", br#"{"a":2}"#, &signature));
        assert!(!verify(b"secret", "1700000000", br#"{"a":1}"#, "sha256=00"));
        assert!(!verify(
            b"secret",
            "1700000000",
            br#"{"a":1}"#,
            &signature[7..]
        ));
    }

    #[test]
    fn only_http_urls_and_a_secret_are_taken() {
        assert!(Webhook::new("http://127.0.0.1:8080/hooks", "s").is_ok());
        assert_eq!(
            Webhook::new("https://example.com/hooks", "s").unwrap_err(),
            WebhookError::NotHttp("https://example.com/hooks".into())
        );
        assert!(matches!(
            Webhook::new("not a url", "s").unwrap_err(),
            WebhookError::InvalidUrl(_)
        ));
        assert_eq!(
            Webhook::new("http://h/", "").unwrap_err(),
            WebhookError::EmptySecret
        );
    }
}

//! The engine: routes each request of the endpoint to a handshake, a polling
//! request or a websocket, and owns the map of open sessions.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, header};
use hyper::upgrade::OnUpgrade;
use rand::RngCore;
use tokio::sync::Notify;

use crate::driver;
use crate::errors::{ErrorCode, error_response};
use crate::forwarded::TrustedProxies;
use crate::packet::Frame;
use crate::session::{Counters, Session};
use crate::shared::Shared;
use crate::websocket::{self, WsConn};
use crate::{CloseReason, Config, Handler, TransportKind};

/// An Engine.IO server endpoint; cheap to clone (shared state).
pub struct Engine<H: Handler> {
    shared: Arc<Shared<H>>,
}

impl<H: Handler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            shared: self.shared.clone(),
        }
    }
}

/// The query parameters the protocol uses.
#[derive(Default)]
struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Query<'a> {
        let mut q = Query::default();
        // Values of interest are plain ASCII tokens (sids are base64url), so
        // no percent-decoding is needed: an encoded value just does not match.
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" => q.eio = Some(value),
                "transport" => q.transport = Some(value),
                "sid" => q.sid = Some(value),
                _ => {}
            }
        }
        q
    }
}

/// Copies the request head into memory of its own: hyper's header values
/// (and the URI) are slices of its per-connection read buffer, and keeping
/// them for the life of a session would pin that buffer.
fn copy_head(parts: &http::request::Parts) -> http::request::Parts {
    let (mut head, ()) = Request::new(()).into_parts();
    head.method = parts.method.clone();
    head.version = parts.version;
    head.uri = parts
        .uri
        .to_string()
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name = HeaderName::from_bytes(name.as_str().as_bytes());
        let value = HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    head.headers = headers;
    head
}

/// The client's address, when the server was served with `ConnectInfo`: the TCP peer's, or,
/// when that is a trusted proxy, the one its forwarding header names.
fn peer(parts: &http::request::Parts, proxies: &TrustedProxies) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| proxies.client(*addr, &parts.headers))
}

/// 15 random bytes from the thread's CSPRNG, as 20 base64url characters.
fn generate_sid() -> Box<str> {
    let mut bytes = [0u8; 15];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes).into_boxed_str()
}

impl<H: Handler> Engine<H> {
    /// An engine with this configuration, calling `handler` for every session.
    pub fn new(config: Config, handler: H) -> Self {
        Engine {
            shared: Arc::new(Shared {
                config,
                handler,
                sessions: Mutex::new(HashMap::new()),
                totals: Arc::new(Counters::default()),
                finished: Notify::new(),
            }),
        }
    }

    /// The handler given to [`Engine::new`].
    pub fn handler(&self) -> &H {
        &self.shared.handler
    }

    /// The configuration given to [`Engine::new`].
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Open sessions (opened and not yet finished).
    pub fn session_count(&self) -> usize {
        self.shared.sessions().len()
    }

    /// Open sessions on long-polling (not upgraded).
    pub fn polling_count(&self) -> usize {
        let sessions = self.shared.sessions();
        sessions
            .values()
            .filter(|s| s.transport() == TransportKind::Polling)
            .count()
    }

    /// Sessions opened since the engine started.
    pub fn sessions_opened(&self) -> u64 {
        self.shared.totals.opened.load(Ordering::Relaxed)
    }

    /// Sessions finished since the engine started.
    pub fn sessions_finished(&self) -> u64 {
        self.shared.totals.finished.load(Ordering::Relaxed)
    }

    /// Bytes received from all clients since the engine started.
    pub fn bytes_in(&self) -> u64 {
        self.shared.totals.bytes_in.load(Ordering::Relaxed)
    }

    /// Bytes written to all clients since the engine started.
    pub fn bytes_out(&self) -> u64 {
        self.shared.totals.bytes_out.load(Ordering::Relaxed)
    }

    /// Packets received from all clients since the engine started.
    pub fn packets_in(&self) -> u64 {
        self.shared.totals.packets_in.load(Ordering::Relaxed)
    }

    /// Packets written to all clients since the engine started.
    pub fn packets_out(&self) -> u64 {
        self.shared.totals.packets_out.load(Ordering::Relaxed)
    }

    /// Closes every open session with [`CloseReason::ServerShutdown`] and
    /// completes once each of their `on_close` ran. Closing sessions still
    /// get their queued frames, within `write_timeout`.
    pub async fn close(&self) {
        let sessions: Vec<_> = self.shared.sessions().values().cloned().collect();
        for session in &sessions {
            session.close(CloseReason::ServerShutdown);
        }
        loop {
            let finished = self.shared.finished.notified();
            tokio::pin!(finished);
            // Register before checking, so a finish in between is not missed.
            finished.as_mut().enable();
            let open = {
                let map = self.shared.sessions();
                sessions
                    .iter()
                    .any(|s| map.get(s.sid()).is_some_and(|m| Arc::ptr_eq(m, s)))
            };
            if !open {
                return;
            }
            finished.await;
        }
    }

    /// Serves one request of the endpoint (mount it at `/engine.io/` or `/socket.io/`).
    pub async fn handle(&self, req: Request<Body>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let config = &self.shared.config;
        let transport = match query.transport {
            Some("polling") if config.transports.polling => TransportKind::Polling,
            Some("websocket") if config.transports.websocket => TransportKind::Websocket,
            _ => return error_response(ErrorCode::UnknownTransport),
        };
        let is_upgrade = parts.method == Method::GET && websocket::is_upgrade(&parts.headers);

        if let Some(sid) = query.sid {
            let Some(session) = self.shared.sessions().get(sid).cloned() else {
                return error_response(ErrorCode::UnknownSid);
            };
            if transport == TransportKind::Websocket && is_upgrade {
                return self.accept_websocket(&mut parts, Some(session));
            }
            if transport != session.transport() || transport == TransportKind::Websocket {
                return error_response(ErrorCode::BadRequest);
            }
            return match parts.method {
                Method::GET => crate::polling::get(&session).await,
                Method::POST => {
                    let len = parts
                        .headers
                        .get(header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok());
                    crate::polling::post(&self.shared, &session, body, len).await
                }
                _ => error_response(ErrorCode::BadRequest),
            };
        }

        // A handshake.
        if parts.method != Method::GET {
            return error_response(ErrorCode::BadHandshakeMethod);
        }
        if transport == TransportKind::Websocket && !is_upgrade {
            return error_response(ErrorCode::BadRequest);
        }
        if query.eio != Some("4") {
            return error_response(ErrorCode::UnsupportedProtocolVersion);
        }
        match transport {
            TransportKind::Websocket => self.accept_websocket(&mut parts, None),
            TransportKind::Polling => {
                let session = self.open(
                    copy_head(&parts),
                    peer(&parts, &self.shared.config.trusted_proxies),
                    TransportKind::Polling,
                );
                tokio::spawn(driver::drive_polling(self.shared.clone(), session.clone()));
                crate::polling::get(&session).await
            }
        }
    }

    /// Creates a session with `head` (a [`copy_head`]), registers it and calls `on_open`;
    /// OPEN is queued first.
    fn open(
        &self,
        head: http::request::Parts,
        peer: Option<SocketAddr>,
        transport: TransportKind,
    ) -> Arc<Session<H::Data>> {
        let config = &self.shared.config;
        let sid = generate_sid();
        let upgrades = if transport == TransportKind::Polling && config.transports.websocket {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        let open = Frame::open(format!(
            r#"{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            config.ping_interval.as_millis(),
            config.ping_timeout.as_millis(),
            config.max_payload,
        ));
        let session = Arc::new(Session::new(
            H::Data::default(),
            sid.clone(),
            head,
            peer,
            transport,
            config,
            self.shared.totals.clone(),
            open,
        ));
        self.shared.sessions().insert(sid, session.clone());
        self.shared.totals.opened.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(transport = transport.as_str(), "engine.io session opened");
        self.shared.handler.on_open(&session);
        session
    }

    /// Answers `101` and spawns the connection's one task: a new websocket
    /// session, or an upgrade of `existing`.
    fn accept_websocket(
        &self,
        parts: &mut http::request::Parts,
        existing: Option<Arc<Session<H::Data>>>,
    ) -> Response<Body> {
        let Some((res, accepted)) =
            websocket::accept_response::<Body>(&parts.headers, &self.shared.config)
        else {
            return error_response(ErrorCode::BadRequest);
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            // Not served by hyper (or HTTP/2): no connection to take over.
            return error_response(ErrorCode::BadRequest);
        };
        let engine = self.clone();
        // Only what the task needs, copied: not the request's buffers; an upgrade needs none.
        let proxies = &self.shared.config.trusted_proxies;
        let head = existing
            .is_none()
            .then(|| (copy_head(parts), peer(parts, proxies)));
        tokio::spawn(async move {
            let Ok(ws) = WsConn::accept(on_upgrade, &engine.shared.config, accepted).await else {
                return;
            };
            match (existing, head) {
                (Some(session), _) => driver::upgrade(engine.shared.clone(), session, ws).await,
                (None, Some((head, peer))) => {
                    let session = engine.open(head, peer, TransportKind::Websocket);
                    driver::drive_websocket(engine.shared.clone(), session, ws).await;
                }
                (None, None) => {}
            }
        });
        res
    }
}

impl<H: Handler> tower::Service<Request<Body>> for Engine<H> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let engine = self.clone();
        Box::pin(async move { Ok(engine.handle(req).await) })
    }
}

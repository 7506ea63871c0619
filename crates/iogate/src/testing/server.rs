//! [`TestServer`]: an app served on a free loopback port for the length of a test.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Connect, DEFAULT_TIMEOUT, TestClient};
use crate::{App, Server};

/// An app served on `127.0.0.1` and a free port, for the length of a test (NestJS's
/// `app.listen` in a testing module).
///
/// Dropping it stops accepting connections; [`close`](Self::close) also disconnects the clients.
#[derive(Debug)]
pub struct TestServer {
    /// The address the app listens on.
    pub addr: SocketAddr,
    /// The app's server handle, to emit or count clients from the test.
    pub server: Server,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Builds `app` and serves its gateways on `127.0.0.1:0`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(app: App) -> Self {
        let gateways = app.build();
        let server = gateways.server();
        Self::start_router(server, gateways.into_router(axum::Router::new())).await
    }

    /// Serves a whole app on `127.0.0.1:0`: `router` as made by
    /// [`Gateways::into_router`](crate::Gateways::into_router) (REST routes included), and
    /// `server`, the handle of the same gateways (a router does not give it back).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start_router(server: Server, router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("iogate::testing: cannot bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve(listener, router, async move {
            let _ = stop.await;
        }));
        Self {
            addr,
            server,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// The app's base URL, `http://127.0.0.1:<port>`, for REST requests.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts connecting a client to `namespace`: [`TestClient::connect`].
    pub fn connect(&self, namespace: &str) -> Connect {
        TestClient::connect(self, namespace)
    }

    /// Sends `request` to the app over HTTP/1.1 and reads the whole answer: for REST routes
    /// served next to the gateways. The request's URI is a path, e.g. `/notifications/send`.
    ///
    /// ```no_run
    /// # async fn run(server: iogate::testing::TestServer) -> Result<(), Box<dyn std::error::Error>> {
    /// let request = http::Request::post("/notifications/send")
    ///     .header("content-type", "application/json")
    ///     .body(r#"{"userId":"alice","message":"hi"}"#.to_owned())?;
    /// let response = server.request(request).await?;
    /// assert_eq!(response.status, http::StatusCode::CREATED);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request(&self, request: http::Request<String>) -> Result<TestResponse, HttpError> {
        let (mut parts, body) = request.into_parts();
        if !parts.headers.contains_key(http::header::HOST) {
            let host = http::HeaderValue::try_from(self.addr.to_string())
                .map_err(|e| HttpError::Request(e.to_string()))?;
            parts.headers.insert(http::header::HOST, host);
        }
        let request =
            http::Request::from_parts(parts, http_body_util::Full::new(Bytes::from(body)));
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| HttpError::Request(e.to_string()))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| HttpError::Request(e.to_string()))?;
        tokio::spawn(connection);
        let exchange = async {
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::BodyExt::collect(body).await?.to_bytes();
            Ok::<_, hyper::Error>(TestResponse {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                bytes: body,
            })
        };
        match tokio::time::timeout(DEFAULT_TIMEOUT, exchange).await {
            Ok(result) => result.map_err(|e| HttpError::Request(e.to_string())),
            Err(_) => Err(HttpError::Timeout(DEFAULT_TIMEOUT)),
        }
    }

    /// Disconnects every client (each sees the connection close; the gateways see
    /// `server shutting down`), then stops serving.
    pub async fn close(mut self) {
        self.server.close().await;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Connections that outlive the shutdown (a stuck request) are not waited for.
            if tokio::time::timeout(DEFAULT_TIMEOUT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An HTTP answer read by [`TestServer::request`].
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status code.
    pub status: http::StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body's bytes, as received (e.g. compressed).
    pub bytes: Bytes,
}

impl TestResponse {
    /// The body, parsed as JSON.
    pub fn json(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.body)
    }
}

/// Why [`TestServer::request`] got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be sent, or the answer read.
    #[error("HTTP request failed: {0}")]
    Request(String),
    /// No whole answer in time.
    #[error("no HTTP answer within {0:?}")]
    Timeout(Duration),
}

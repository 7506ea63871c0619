//! [`ContextBuilder`]: a [`Context`] made by hand, to unit-test a guard, pipe, extractor or
//! exception filter without a server.
//!
//! The context's [`Client`] is a real one: the builder serves a one-namespace app in memory
//! (no port, no socket), opens a long-polling session to it with plain requests, as axum's
//! tests call a router with `oneshot`, and takes the client its gateway admitted. So what a
//! guard reads (the user, the handshake's `auth`, headers and query, stored data) is what it
//! reads in production.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tower::ServiceExt as _;

use super::{Body, Context};
use crate::{App, Args, Client, Gateway};

/// How long [`ContextBuilder::build`] waits for its in-memory client to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds a [`Context`] for a unit test: [`Context::builder`].
///
/// ```
/// use iogate::{Context, Data, FromContext};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cx = Context::builder()
///     .namespace("/chat")
///     .event("createMessage")
///     .body(json!({ "text": "hi" }))
///     .user("alice")
///     .auth(json!({ "token": "t" }))
///     .build()
///     .await;
/// assert_eq!(cx.event(), "createMessage");
/// assert_eq!(cx.client().namespace(), "/chat");
/// assert_eq!(cx.client().user(), Some("alice"));
/// assert_eq!(cx.client().auth()["token"], "t");
/// let Data(body) = Data::<serde_json::Value>::from_context(&cx).unwrap();
/// assert_eq!(body, json!({ "text": "hi" }));
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct ContextBuilder {
    namespace: String,
    event: String,
    args: Args,
    ack: bool,
    user: Option<String>,
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    query: Option<String>,
    app: App,
    setup: Vec<Setup>,
}

/// A change made to the client once it connected (a stored extension).
type Setup = Box<dyn FnOnce(&Client) + Send>;

impl Context {
    /// A builder of a context for unit tests: the namespace `/`, an event named `event`, no
    /// argument, no acknowledgement asked for, an anonymous client. See [`ContextBuilder`].
    pub fn builder() -> ContextBuilder {
        ContextBuilder {
            namespace: "/".into(),
            event: "event".into(),
            args: Args::new(),
            ack: false,
            user: None,
            auth: None,
            headers: Vec::new(),
            query: None,
            app: App::new(),
            setup: Vec::new(),
        }
    }
}

impl ContextBuilder {
    /// The namespace the client is connected to.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        if !self.namespace.starts_with('/') {
            self.namespace.insert(0, '/');
        }
        self
    }

    /// The event's name.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = event.into();
        self
    }

    /// One argument: the body, as [`Data<T>`](crate::Data) and pipes see it.
    pub fn body(mut self, body: Value) -> Self {
        self.args = Args::new().arg(body);
        self
    }

    /// The arguments exactly as a client sends them, binary attachments included: several
    /// arguments make the body an array (see [`args`](crate::args)).
    pub fn args(mut self, args: Args) -> Self {
        self.args = args;
        self
    }

    /// Whether the client asked for an acknowledgement ([`Context::wants_ack`]).
    pub fn ack(mut self, ack: bool) -> Self {
        self.ack = ack;
        self
    }

    /// The authenticated user ([`Client::set_user`]).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The handshake's `auth` payload ([`Client::auth`]).
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// A header of the handshake request ([`Client::headers`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The handshake's query string, without the `?` ([`Client::query`]).
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// Shared state, as [`App::state`] registers it, for [`State<T>`](crate::State).
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.app = self.app.state(value);
        self
    }

    /// A value stored on the client ([`Client::insert`]), for
    /// [`Extension<T>`](crate::Extension), as a middleware stores verified claims.
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.setup
            .push(Box::new(move |client| client.insert(value)));
        self
    }

    /// The context, once its client has connected.
    ///
    /// # Panics
    /// When the in-memory client cannot connect (it always can, unless a bug in iogate).
    pub async fn build(mut self) -> Context {
        let app = std::mem::replace(&mut self.app, App::new());
        let client = self.connect(app).await;
        if let Some(user) = &self.user {
            client
                .set_user(user.as_str())
                .expect("a new client has no user yet");
        }
        for setup in self.setup {
            setup(&client);
        }
        let Args { values, binaries } = self.args;
        let body = match values.len() {
            0 => Body::None,
            1 => Body::Value {
                value: values.into_iter().next().unwrap_or_default(),
                list: false,
            },
            _ => Body::Value {
                value: Value::Array(values),
                list: true,
            },
        };
        Context {
            server: client.server().clone(),
            client,
            event: self.event.into(),
            body,
            ack_id: self.ack.then_some(0),
            binaries,
        }
    }

    /// Serves a gateway on the namespace in memory and connects one client to it over
    /// long-polling; returns that client.
    async fn connect(&self, app: App) -> Client {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let admitted = Arc::new(Mutex::new(Some(tx)));
        let gateway = Gateway::new(self.namespace.clone()).handle_connection(move |client| {
            if let Some(tx) = admitted.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(client);
            }
            std::future::ready(())
        });
        let router = app
            .gateway(gateway)
            .build()
            .into_router(axum::Router::new());

        let mut handshake = "/socket.io/?EIO=4&transport=polling".to_owned();
        if let Some(query) = &self.query {
            handshake = format!("{handshake}&{query}");
        }
        let mut request = http::Request::get(handshake);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let open = send(&router, request.body(String::new())).await;
        let sid = open
            .strip_prefix('0')
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
            .and_then(|open| open["sid"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("iogate: the in-memory handshake failed: {open}"));

        let ns = match self.namespace.as_str() {
            "/" => String::new(),
            ns => format!("{ns},"),
        };
        let auth = self.auth.as_ref().map(Value::to_string).unwrap_or_default();
        let connect = http::Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .body(format!("40{ns}{auth}"));
        send(&router, connect).await;
        tokio::time::timeout(CONNECT_TIMEOUT, rx)
            .await
            .ok()
            .and_then(Result::ok)
            .expect("iogate: the in-memory client did not connect")
    }
}

/// Sends `request` to `router`; the response's body as text.
async fn send(router: &axum::Router, request: http::Result<http::Request<String>>) -> String {
    let request = request
        .expect("a valid request")
        .map(axum::body::Body::from);
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("a router never fails");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|_| Bytes::new());
    String::from_utf8_lossy(&body).into_owned()
}

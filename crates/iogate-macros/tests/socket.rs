//! Macro gateways served on 127.0.0.1:0 and spoken to over a real socket, with
//! `iogate::testing`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use iogate::testing::{Args, ConnectError, TestClient, TestServer};
use iogate::{
    Ack, App, Client, Context, Data, DisconnectReason, Exception, Extension, Server, WsException,
    gateway, middleware, subscribe_message, use_filters, use_guards, use_pipes,
};
use serde_json::{Value, json};

/// The NestJS guide's `EventsGateway`, with every attribute.
#[derive(Default)]
struct EventsGateway {
    ids: AtomicU64,
    server: OnceLock<Server>,
    /// The reasons clients left for, shared with the test.
    left: Arc<Mutex<Vec<String>>>,
}

#[gateway(namespace = "/events")]
#[use_guards(not_banned)]
impl EventsGateway {
    fn after_init(&self, server: Server) {
        let _ = self.server.set(server);
    }

    async fn handle_connection(&self, client: Client) {
        let _ = client.emit("welcome", client.id());
    }

    async fn handle_disconnect(&self, _client: Client, reason: DisconnectReason) {
        self.left.lock().unwrap().push(reason.to_string());
    }

    #[middleware]
    async fn authenticate(&self, client: Client) -> Result<(), WsException> {
        let name = client.auth().get("name").and_then(Value::as_str);
        let name = name.ok_or_else(|| WsException::new("Who are you?"))?;
        client.insert(name.to_owned());
        Ok(())
    }

    #[subscribe_message("message")]
    async fn handle_message(&self, Data(_text): Data<String>) -> &'static str {
        "Message received"
    }

    #[subscribe_message("whoami")]
    async fn whoami(&self, Extension(name): Extension<String>) -> String {
        name
    }

    #[subscribe_message("initialised")]
    async fn initialised(&self) -> bool {
        self.server.get().is_some()
    }

    #[subscribe_message("createMessage")]
    #[use_pipes(require_object)]
    #[use_filters(error_event)]
    async fn create_message(&self, Data(data): Data<Value>) -> Ack<Value> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        Ack(json!({ "id": id, "message": data }))
    }
}

fn not_banned(cx: &Context) -> bool {
    cx.client().get::<String>().as_deref() != Some("mallory")
}

fn require_object(body: Option<Value>) -> Result<Option<Value>, WsException> {
    match body {
        Some(Value::Object(_)) => Ok(body),
        _ => Err(WsException::new(
            "Validation failed: Data must be an object",
        )),
    }
}

/// The guide's `WebSocketExceptionFilter`, shortened: `error` with the message.
fn error_event(exception: &Exception, cx: &Context) {
    let message = exception.to_client().to_string();
    let _ = cx.client().emit("error", &json!({ "message": message }));
}

async fn connect(server: &TestServer, name: &str) -> TestClient {
    TestClient::connect(server, "/events")
        .auth(json!({ "name": name }))
        .await
        .expect("admitted by the middleware")
}

#[tokio::test]
async fn handlers_acknowledge_and_hooks_run() -> Result<(), Box<dyn std::error::Error>> {
    let gateway = EventsGateway::default();
    let left = gateway.left.clone();
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = connect(&server, "ada").await;

    assert_eq!(c.wait_for("welcome").await?.args.len(), 1);
    assert_eq!(
        c.emit_args_with_ack("message", Args::new().arg("hi"))
            .await?,
        Args::new().arg("Message received")
    );
    assert_eq!(
        c.emit_args_with_ack("whoami", Args::new()).await?,
        Args::new().arg("ada")
    );
    assert_eq!(
        c.emit_args_with_ack("initialised", Args::new()).await?,
        Args::new().arg(true)
    );
    assert_eq!(
        c.emit_args_with_ack("createMessage", Args::new().arg(json!({ "text": "a" })))
            .await?,
        Args::new().arg(json!({ "id": 1, "message": { "text": "a" } }))
    );

    // socket.io's DISCONNECT packet for the namespace.
    c.send_raw("41/events,").await?;
    tokio::time::timeout(Duration::from_secs(5), async {
        while left.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("handle_disconnect ran");
    Ok(())
}

#[tokio::test]
async fn middleware_guards_pipes_and_filters_answer_the_client()
-> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start(App::new().gateway(EventsGateway::default())).await;

    match TestClient::connect(&server, "/events").await {
        Err(ConnectError::Refused { message, data }) => {
            assert_eq!((message.as_str(), data), ("Who are you?", None));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The gateway-wide guard, and the default filter's `exception`.
    let mut mallory = connect(&server, "mallory").await;
    mallory
        .emit_args_with_ack_id("message", Args::new().arg("hi"))
        .await?;
    let exception = mallory.wait_for("exception").await?;
    assert_eq!(exception.data()["message"], json!("Forbidden resource"));

    // The handler's pipe, and its own filter's `error`.
    let mut ada = connect(&server, "ada").await;
    ada.emit_args_with_ack_id("createMessage", Args::new().arg("not an object"))
        .await?;
    assert_eq!(
        ada.wait_for("error").await?.args,
        vec![json!({ "message": "Validation failed: Data must be an object" })]
    );
    Ok(())
}

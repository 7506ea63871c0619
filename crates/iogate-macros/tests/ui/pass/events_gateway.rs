//! The NestJS guide's `EventsGateway`, every attribute at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use iogate::{
    Ack, App, Client, Context, Data, DisconnectReason, Exception, IntoGateway, Namespace, Server,
    WsException, WsResponse, gateway, middleware, subscribe_message, use_filters, use_guards,
    use_pipes,
};
use serde_json::{Value, json};

#[derive(Default)]
struct EventsGateway {
    ids: AtomicU64,
    log: Mutex<Vec<String>>,
}

#[gateway(namespace = "/events")]
#[use_guards(is_known)]
#[use_filters(error_event)]
impl EventsGateway {
    fn after_init(&self, _server: Server) {
        self.log.lock().unwrap().push("initialised".into());
    }

    async fn handle_connection(&self, client: Client) -> Result<(), WsException> {
        client
            .emit("welcome", client.id())
            .map_err(|_| WsException::new("gone"))
    }

    async fn handle_disconnect(&self, client: Client, reason: DisconnectReason) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} left: {reason}", client.id()));
    }

    #[middleware]
    async fn authenticate(&self, client: Client) -> Result<(), WsException> {
        client
            .auth()
            .get("token")
            .map(|_| ())
            .ok_or_else(|| WsException::new("No token"))
    }

    #[subscribe_message("message")]
    async fn handle_message(&self, Data(_data): Data<String>, _client: Client) -> &'static str {
        "Message received"
    }

    #[subscribe_message("events")]
    async fn handle_event(&self, Data(data): Data<Value>) -> Value {
        data
    }

    #[subscribe_message("joinRoom")]
    async fn join_room(
        &self,
        Data(room): Data<String>,
        client: Client,
        ns: Namespace,
    ) -> Result<WsResponse<String>, Exception> {
        client.join(&room)?;
        ns.to(&room)
            .emit("userJoined", &json!({ "userId": client.id() }))
            .await?;
        Ok(WsResponse::new("joinedRoom", room))
    }

    #[subscribe_message("createMessage")]
    #[use_pipes(validate_message)]
    #[use_filters(error_event)]
    async fn create_message(&self, Data(data): Data<Value>) -> Ack<Value> {
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        Ack(json!({ "id": id, "data": data }))
    }

    /// Not a handler: an ordinary method the others may call.
    fn count(&self) -> u64 {
        self.ids.load(Ordering::Relaxed)
    }
}

fn is_known(cx: &Context) -> bool {
    cx.client().auth().get("token").is_some()
}

fn validate_message(body: Option<Value>) -> Result<Option<Value>, WsException> {
    match body {
        Some(Value::Object(_)) => Ok(body),
        _ => Err(WsException::new(
            "Validation failed: Data must be an object",
        )),
    }
}

fn error_event(exception: &Exception, cx: &Context) {
    let _ = cx
        .client()
        .emit("error", &exception.to_client().to_string());
}

fn main() {
    let gateway = EventsGateway::default();
    assert_eq!(gateway.count(), 0);
    assert_eq!(gateway.into_gateway().namespace(), "/events");
    let _app = App::new().gateway(EventsGateway::default());
}

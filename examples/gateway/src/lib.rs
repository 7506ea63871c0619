//! The guide's Gateway section: a gateway on the main namespace, its lifecycle hooks
//! (`afterInit`, `handleConnection`, `handleDisconnect`) and its handlers
//! (`@SubscribeMessage`), whose return values become acknowledgements, or emits with
//! [`WsResponse`].

use iogate::{App, Client, Data, DisconnectReason, Gateway, Server, WsResponse};
use serde_json::{Value, json};

/// The guide's `EventsGateway`.
pub fn events_gateway() -> Gateway {
    Gateway::new("/")
        .after_init(|_server: Server| tracing::info!("WebSocket Gateway initialized"))
        .handle_connection(async |client: Client| {
            tracing::info!(client = client.id(), "client connected");
            client.emit("welcome", &json!({ "id": client.id() }))
        })
        .handle_disconnect(async |client: Client, reason: DisconnectReason| {
            tracing::info!(client = client.id(), %reason, "client disconnected");
        })
        .subscribe_message("message", handle_message)
        .subscribe_message("events", handle_event)
        .subscribe_message("identity", async |Data(n): Data<i64>| n)
        .subscribe_message("echo", async |Data(data): Data<Value>| {
            WsResponse::new("events", data)
        })
}

/// `message`: the client's acknowledgement callback gets `"Message received"`.
async fn handle_message(Data(data): Data<String>, client: Client) -> &'static str {
    tracing::info!(client = client.id(), %data, "received");
    "Message received"
}

/// `events`: acknowledged with the body itself.
async fn handle_event(Data(data): Data<Value>) -> Value {
    data
}

/// The app: this one gateway.
pub fn app() -> App {
    App::new().gateway(events_gateway())
}

//! The guide's Redis adapter section (`RedisIoAdapter`): several processes behave as one
//! server, so clients connected to different nodes (behind a load balancer) reach each other.
//!
//! ```ts
//! const adapter = new RedisIoAdapter(app);
//! await adapter.connectToRedis();      // pub + sub clients on REDIS_URL
//! app.useWebSocketAdapter(adapter);
//! ```
//!
//! With iogate the gateways do not change (`messageToRoom` here is the Rooms example's handler,
//! [`example_rooms::message_to_room`]): the app is built with [`App::build_redis`] instead
//! of [`App::build`], and every operation of the [`Server`] handle (emit to everyone, a room, a
//! user or a client, join, leave, disconnect, count) then reaches the clients of every node.
//! See [`iogate::cluster`] for what happens while Redis is unreachable.
//!
//! Long-polling clients need sticky sessions across nodes (a session lives in the memory of the
//! node that opened it); websocket-only clients do not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use iogate::cluster::{ClusterError, Redis};
use iogate::{App, Client, Data, Exception, Gateway, Namespace, Server};
use serde::Deserialize;
use serde_json::{Value, json};

/// The gateways: the same whether the app runs alone or in a cluster.
pub fn app() -> App {
    App::new().gateway(chat_gateway())
}

/// `/`: rooms and messages, as in the guide's `ChatGateway`.
pub fn chat_gateway() -> Gateway {
    Gateway::new("/")
        .subscribe_message(
            "joinRoom",
            async |Data(room): Data<String>, client: Client| {
                client.join(&room)?;
                Ok::<_, Exception>(room)
            },
        )
        .subscribe_message("messageToRoom", example_rooms::message_to_room)
        .subscribe_message("count", async |ns: Namespace| {
            ns.count().await.map(|n| n as u64)
        })
}

/// One node of the cluster: the gateways over the Redis at `redis_url` (channels named with
/// `prefix`), and a REST route, `POST /broadcast {event, data}`, that emits to every client of
/// every node.
pub async fn node(redis_url: &str, prefix: &str) -> Result<(Server, Router), ClusterError> {
    let gateways = app()
        .build_redis(Redis::new(redis_url).prefix(prefix))
        .await?;
    let server = gateways.server();
    let routes = Router::new()
        .route("/broadcast", post(broadcast))
        .with_state(server.clone());
    Ok((server, gateways.into_router(routes)))
}

/// The body of `/broadcast`.
#[derive(Debug, Deserialize)]
pub struct Broadcast {
    event: String,
    #[serde(default)]
    data: Value,
}

async fn broadcast(
    State(server): State<Server>,
    Json(body): Json<Broadcast>,
) -> Result<(StatusCode, Json<Value>), (StatusCode, String)> {
    server
        .of("/")
        .emit(&body.event, &body.data)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok((StatusCode::CREATED, Json(json!({ "success": true }))))
}

//! A benchmark anchor: the NestJS gateway app's root namespace written directly on
//! socketioxide 0.18.9 and axum 0.8, with socketioxide's own handlers, so that iogate's cost
//! over the bare library can be measured.
//!
//! - `/`: `events` (ack echoes the body), `joinRoom(room)` (→ `joinedRoom`, room gets
//!   `userJoined`), `leaveRoom`, `messageToRoom {room, message}` (room gets `message`).
//! - `/events`: a connection middleware checks an HS256 JWT in `auth.token` and joins the room
//!   named by its `sub`.
//! - `POST /notifications/send {userId, message}` emits `notification` to that room on `/events`
//!   and answers 201, as the reference does (no API key).
//!
//! Environment: `PORT` (0 picks a free port), `HOST` (127.0.0.1), `JWT_SECRET`,
//! `MAX_BUFFER_SIZE` (socketioxide's per-client packet queue; its default, 128, when unset).
//! Accepted connections get `TCP_NODELAY`, as iogate's do.
//! Prints `anchor listening on http://<addr>` once bound; stops on SIGINT or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use anyhow::Context as _;
use axum::Json;
use axum::http::StatusCode;
use axum::routing::post;
use axum::serve::ListenerExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use socketioxide::handler::ConnectHandler as _;

/// The key `/events` tokens are checked with; set once at start.
static JWT_KEY: OnceLock<jsonwebtoken::DecodingKey> = OnceLock::new();

/// The body of `messageToRoom`.
#[derive(Deserialize)]
struct RoomMessage {
    room: String,
    message: Value,
}

/// The body of `POST /notifications/send`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendNotification {
    user_id: String,
    #[serde(default)]
    message: Value,
}

/// The `/events` handshake payload.
#[derive(Deserialize)]
struct Auth {
    token: String,
}

/// The claims the anchor reads.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

/// Why a `/events` client was refused.
#[derive(Debug)]
struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unauthorized")
    }
}

fn root(s: SocketRef) {
    s.on("events", async |Data(v): Data<Value>, ack: AckSender| {
        let _ = ack.send(&v);
    });
    s.on(
        "joinRoom",
        async |s: SocketRef, io: SocketIo, Data(room): Data<String>| {
            s.join(room.clone());
            let _ = s.emit("joinedRoom", &room);
            let joined = json!({ "userId": s.id, "room": room });
            let _ = io.to(room).emit("userJoined", &joined).await;
        },
    );
    s.on(
        "leaveRoom",
        async |s: SocketRef, io: SocketIo, Data(room): Data<String>| {
            s.leave(room.clone());
            let left = json!({ "userId": s.id, "room": room });
            let _ = io.to(room).emit("userLeft", &left).await;
        },
    );
    s.on(
        "messageToRoom",
        async |s: SocketRef, io: SocketIo, Data(m): Data<RoomMessage>| {
            let msg = json!({ "userId": s.id, "message": m.message });
            let _ = io.to(m.room).emit("message", &msg).await;
        },
    );
}

async fn check_jwt(s: SocketRef, TryData(auth): TryData<Auth>) -> Result<(), Unauthorized> {
    let auth = auth.map_err(|_| Unauthorized)?;
    let key = JWT_KEY.get().ok_or(Unauthorized)?;
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let claims = jsonwebtoken::decode::<Claims>(&auth.token, key, &validation)
        .map_err(|_| Unauthorized)?
        .claims;
    s.join(claims.sub);
    Ok(())
}

async fn events(s: SocketRef) {
    s.on("events", async |Data(v): Data<Value>, ack: AckSender| {
        let _ = ack.send(&v);
    });
}

fn main() -> anyhow::Result<()> {
    let port: u16 = env_or("PORT", 0)?;
    let host: IpAddr = env_or("HOST", IpAddr::from([127, 0, 0, 1]))?;
    let max_buffer: usize = env_or("MAX_BUFFER_SIZE", 128)?;
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| "dev-secret-change-me".into());
    let _ = JWT_KEY.set(jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()));

    tokio::runtime::Runtime::new()?.block_on(async move {
        let (layer, io) = SocketIo::builder()
            .max_payload(1_000_000)
            .max_buffer_size(max_buffer)
            .build_layer();
        io.ns("/", async |s: SocketRef| root(s));
        io.ns("/events", events.with(check_jwt));

        let api_io = io.clone();
        let app = axum::Router::new()
            .route(
                "/notifications/send",
                post(async move |Json(body): Json<SendNotification>| {
                    if let Some(ns) = api_io.of("/events") {
                        let _ = ns
                            .to(body.user_id)
                            .emit("notification", &body.message)
                            .await;
                    }
                    (StatusCode::CREATED, Json(json!({ "success": true })))
                }),
            )
            .layer(layer);

        let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
            .await
            .context("cannot listen")?;
        println!("anchor listening on http://{}", listener.local_addr()?);
        // Small packets go out at once, as iogate's server sends them.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped())
            .await?;
        Ok(())
    })
}

/// A variable of the environment, parsed, or `default` when unset.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}")),
        Err(_) => Ok(default),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

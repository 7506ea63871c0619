//! The guide's Rooms section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-rooms
//! ```
//!
//! With `socket.io-client`: `socket.emit("joinRoom", "lobby")`, then
//! `socket.emit("messageToRoom", { room: "lobby", message: "hi" })` from any client.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = example_rooms::app().build();
    example_support::serve("example-rooms", app.into_router(axum::Router::new())).await
}

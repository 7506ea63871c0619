//! [`Observer`]: what a server tells a tool that watches it (socket.io's Admin UI).

use std::sync::Arc;

use crate::DisconnectReason;
use crate::socket::Socket;

/// Watches a server's sockets. Each call is made where the thing happened, in the task that
/// did it, while the server goes on: it must not wait. Every method does nothing by default.
pub trait Observer: Send + Sync + 'static {
    /// `socket` connected to its namespace (sent CONNECT), new or recovered.
    fn connected(&self, socket: &Arc<Socket>) {
        let _ = socket;
    }
    /// `socket` left its namespace.
    fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        let _ = (socket, reason);
    }
    /// `socket`'s connection moved from long-polling to its websocket.
    fn upgraded(&self, socket: &Socket) {
        let _ = socket;
    }
    /// `socket` joined `room`.
    fn joined(&self, socket: &Socket, room: &str) {
        let _ = (socket, room);
    }
    /// `socket` left `room`.
    fn left(&self, socket: &Socket, room: &str) {
        let _ = (socket, room);
    }
    /// Whether [`received`](Self::received) and [`sent`](Self::sent) are wanted: each event
    /// then costs a call per socket. Not by default.
    fn wants_events(&self) -> bool {
        false
    }
    /// `socket`'s client sent an event: `args` is its JSON arguments, name first (binary
    /// attachments as placeholders).
    fn received(&self, socket: &Socket, args: &str) {
        let _ = (socket, args);
    }
    /// An event was queued to `socket`'s client, as `args` (as in [`received`](Self::received)).
    fn sent(&self, socket: &Socket, args: &str) {
        let _ = (socket, args);
    }
}

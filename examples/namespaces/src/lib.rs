//! The guide's Namespaces section: one gateway per namespace (`@WebSocketGateway({ namespace })`).
//!
//! A namespace is a separate channel over the same connection: its own handlers, hooks,
//! middleware and rooms. An event with no handler in the client's namespace is ignored, as in
//! NestJS. Several gateways may share one namespace, each with its own events.
//!
//! | namespace | events |
//! |---|---|
//! | `/` | `message` → `"Message received"` |
//! | `/notifications` | `ping` → `"pong"`; `announce(text)` → `announcement(text)` to every client of `/notifications` |
//! | `/notifications` (a second gateway) | `count` → how many clients `/notifications` has |

use iogate::{App, Data, Gateway, Namespace};
use serde_json::Value;

/// `/`: the chat.
pub fn chat_gateway() -> Gateway {
    Gateway::new("/").subscribe_message("message", async |Data(_): Data<Value>| "Message received")
}

/// `/notifications`: the guide's `NotificationsGateway`, and an announcement to the whole
/// namespace ([`Namespace`] is the gateway's `@WebSocketServer() server`).
pub fn notifications_gateway() -> Gateway {
    Gateway::new("/notifications")
        .subscribe_message("ping", async || "pong")
        .subscribe_message(
            "announce",
            async |Data(text): Data<String>, ns: Namespace| ns.emit("announcement", &text).await,
        )
}

/// A second gateway on `/notifications`.
pub fn stats_gateway() -> Gateway {
    Gateway::new("/notifications").subscribe_message("count", async |ns: Namespace| {
        ns.count().await.map(|n| n as u64)
    })
}

/// The app: the three gateways.
pub fn app() -> App {
    App::new()
        .gateway(chat_gateway())
        .gateway(notifications_gateway())
        .gateway(stats_gateway())
}

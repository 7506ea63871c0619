//! The guide's Testing section: the gateway under test. Its test, in `tests/events_gateway.rs`,
//! is the guide's Jest test with `iogate::testing`:
//!
//! | NestJS | iogate |
//! |---|---|
//! | `Test.createTestingModule({ providers: [EventsGateway] })` | [`app`] with the state the test chooses |
//! | `.overrideProvider(MessagesService).useValue(mock)` | `App::state(..)` with the test's own value |
//! | `app.listen(3001)` | `TestServer::start(app)` (a free port) |
//! | `io('http://localhost:3001')` | `TestClient::connect(&server, "/")` |
//! | `client.emit('message', data, callback)` | `client.emit_with_ack("message", data)` |
//! | `client.on('event', ...)` | `client.wait_for("event")` |
//! | `client.close(); await app.close()` | `client.close().await; server.close().await` |

use std::sync::{Arc, Mutex};

use iogate::{App, Data, Gateway, State};
use serde_json::Value;

/// What the gateway received: the provider a test replaces to look inside.
#[derive(Debug, Clone, Default)]
pub struct Messages(Arc<Mutex<Vec<String>>>);

impl Messages {
    /// Records a message.
    pub fn push(&self, message: String) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    /// The messages received so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The guide's `EventsGateway`: `message` is recorded and acknowledged, `events` echoed.
pub fn events_gateway() -> Gateway {
    Gateway::new("/")
        .subscribe_message(
            "message",
            async |Data(data): Data<String>, State(messages): State<Messages>| {
                messages.push(data);
                "Message received"
            },
        )
        .subscribe_message("events", async |Data(data): Data<Value>| data)
}

/// The app, with `messages` as its provider.
pub fn app(messages: Messages) -> App {
    App::new().state(messages).gateway(events_gateway())
}

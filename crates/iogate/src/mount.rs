//! The seam the protocol layer calls: each namespace of the app is served by a [`Mount`]. The
//! protocol layer asks it to admit a client, tells it the client connected, hands it the
//! client's events in order, and tells it when the client left.

use std::sync::Arc;

use crate::client::state;
use crate::engine::sio;
use crate::handler::BoxFuture;
use crate::namespace::NsRuntime;

/// One namespace of the app, as the protocol layer calls it.
pub(crate) struct Mount(pub(crate) Arc<NsRuntime>);

impl sio::NsHandler for Mount {
    fn connect(
        &self,
        socket: Arc<sio::Socket>,
        auth: Option<sio::Str>,
    ) -> BoxFuture<Result<(), sio::ConnectError>> {
        Box::pin(crate::handshake::admit(self.0.clone(), socket, auth))
    }

    fn connected(&self, socket: Arc<sio::Socket>) -> BoxFuture<()> {
        match state(&socket) {
            // The hooks are queued now, before any departure is reported; they run in the future.
            Some(state) => Box::pin(crate::dispatch::connected(self.0.clone(), socket, state)),
            None => Box::pin(std::future::ready(())),
        }
    }

    fn event(&self, socket: &Arc<sio::Socket>, event: sio::Event) {
        if let Some(state) = state(socket) {
            crate::dispatch::event(&self.0, socket, state, event);
        }
    }

    fn disconnect(&self, socket: &Arc<sio::Socket>, reason: sio::DisconnectReason) {
        if let Some(state) = state(socket) {
            crate::dispatch::disconnected(&self.0, socket, state, reason.into());
        }
    }

    fn received(&self, packets: usize, bytes: usize) {
        let m = &self.0.metrics;
        m.packets_in.increment(packets as u64);
        m.bytes_in.increment(bytes as u64);
    }

    fn sent(&self, packets: usize, bytes: usize) {
        let m = &self.0.metrics;
        m.packets_out.increment(packets as u64);
        m.bytes_out.increment(bytes as u64);
    }

    fn server_event(
        &self,
        mut args: Vec<serde_json::Value>,
    ) -> BoxFuture<Option<serde_json::Value>> {
        let ns = &self.0;
        let handler = args
            .first()
            .and_then(serde_json::Value::as_str)
            .and_then(|name| ns.server_events.get(name))
            .cloned();
        let Some(handler) = handler else {
            // No handler: no answer, as a Node node without a listener.
            return Box::pin(std::future::ready(None));
        };
        let name = match args.remove(0) {
            serde_json::Value::String(name) => name,
            _ => String::new(),
        };
        let event = crate::ServerEvent {
            name,
            args,
            server: ns.server().clone(),
        };
        Box::pin(async move { Some(handler(event).await) })
    }

    fn session_data(&self, socket: &sio::Socket) -> serde_json::Value {
        state(socket).map_or(serde_json::Value::Null, |s| crate::session::to_json(&s))
    }
}

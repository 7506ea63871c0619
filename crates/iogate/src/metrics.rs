//! What iogate measures, through the [`metrics`] facade: install any recorder (e.g.
//! `metrics-exporter-prometheus`) **before** building the [`App`](crate::App) and these appear.
//! Without a recorder they cost nothing.
//!
//! | metric | kind | labels | meaning |
//! |---|---|---|---|
//! | `iogate_clients_connected` | gauge | `namespace` | clients connected now |
//! | `iogate_connects_total` | counter | `namespace` | clients that connected |
//! | `iogate_connects_refused_total` | counter | `namespace` | handshakes refused by a middleware |
//! | `iogate_disconnects_total` | counter | `namespace`, `reason` | clients that left, by socket.io's reason |
//! | `iogate_events_total` | counter | `namespace`, `event`, `outcome` | events received; `outcome` is `ok`, `forbidden` (a guard refused), `invalid` (the body did not fit, or a pipe refused it), `error` (the handler failed), `rate_limited` (refused by a limit) |
//! | `iogate_handler_duration_seconds` | histogram | `namespace`, `event` | time from the event's turn to its reply |
//! | `iogate_packets_sent_total` | counter | `namespace`, `kind` | packets iogate sent to one client: `ack`, `emit`, `exception` |
//! | `iogate_clients_cut_off_total` | counter | `namespace`, `reason` | clients cut off for reading too slowly: `outgoing queue full` (over `max_outgoing_bytes` or `max_outgoing_packets`) or `write timeout` |
//! | `iogate_abusive_clients_disconnected_total` | counter | `namespace` | clients disconnected for going on past the event rate limit |
//! | `iogate_socketio_packets_received_total` | counter | `namespace` | Socket.IO packets from clients (CONNECT, events, acks, DISCONNECT), whatever became of them |
//! | `iogate_socketio_bytes_received_total` | counter | `namespace` | their bytes: packet text and binary attachments, without the transport's framing |
//! | `iogate_socketio_packets_sent_total` | counter | `namespace` | Socket.IO packets queued to clients; a broadcast counts once per recipient |
//! | `iogate_socketio_bytes_sent_total` | counter | `namespace` | their bytes, counted as those received (a broadcast's bytes once per recipient) |
//!
//! Events are labelled only with the names of registered handlers, so the label set is bounded.

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use crate::DisconnectReason;

/// The metric names, for exporters and dashboards.
pub mod names {
    /// Clients connected now.
    pub const CLIENTS_CONNECTED: &str = "iogate_clients_connected";
    /// Clients that connected.
    pub const CONNECTS: &str = "iogate_connects_total";
    /// Handshakes refused by a middleware.
    pub const CONNECTS_REFUSED: &str = "iogate_connects_refused_total";
    /// Clients that left.
    pub const DISCONNECTS: &str = "iogate_disconnects_total";
    /// Events received, by outcome.
    pub const EVENTS: &str = "iogate_events_total";
    /// Handler latency.
    pub const HANDLER_DURATION: &str = "iogate_handler_duration_seconds";
    /// Packets sent to one client.
    pub const PACKETS_SENT: &str = "iogate_packets_sent_total";
    /// Clients cut off for reading too slowly, by reason.
    pub const CLIENTS_CUT_OFF: &str = "iogate_clients_cut_off_total";
    /// Clients disconnected for going on past the event rate limit.
    pub const ABUSIVE_CLIENTS: &str = "iogate_abusive_clients_disconnected_total";
    /// Socket.IO packets from clients.
    pub const PACKETS_RECEIVED: &str = "iogate_socketio_packets_received_total";
    /// Bytes of the Socket.IO packets from clients.
    pub const BYTES_RECEIVED: &str = "iogate_socketio_bytes_received_total";
    /// Socket.IO packets queued to clients, one per recipient.
    pub const PACKETS_OUT: &str = "iogate_socketio_packets_sent_total";
    /// Bytes of the Socket.IO packets queued to clients.
    pub const BYTES_OUT: &str = "iogate_socketio_bytes_sent_total";
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Forbidden,
    Invalid,
    Error,
    RateLimited,
}

/// The handles of one namespace, looked up once.
pub(crate) struct NsMetrics {
    path: String,
    pub(crate) connected: Gauge,
    pub(crate) connects: Counter,
    pub(crate) refused: Counter,
    pub(crate) acks: Counter,
    pub(crate) emits: Counter,
    pub(crate) exceptions: Counter,
    pub(crate) abusive: Counter,
    pub(crate) packets_in: Counter,
    pub(crate) bytes_in: Counter,
    pub(crate) packets_out: Counter,
    pub(crate) bytes_out: Counter,
}

impl NsMetrics {
    pub(crate) fn new(path: &str) -> Self {
        let ns = path.to_owned();
        Self {
            connected: gauge!(names::CLIENTS_CONNECTED, "namespace" => ns.clone()),
            connects: counter!(names::CONNECTS, "namespace" => ns.clone()),
            refused: counter!(names::CONNECTS_REFUSED, "namespace" => ns.clone()),
            acks: counter!(names::PACKETS_SENT, "namespace" => ns.clone(), "kind" => "ack"),
            emits: counter!(names::PACKETS_SENT, "namespace" => ns.clone(), "kind" => "emit"),
            exceptions: counter!(names::PACKETS_SENT, "namespace" => ns.clone(), "kind" => "exception"),
            abusive: counter!(names::ABUSIVE_CLIENTS, "namespace" => ns.clone()),
            packets_in: counter!(names::PACKETS_RECEIVED, "namespace" => ns.clone()),
            bytes_in: counter!(names::BYTES_RECEIVED, "namespace" => ns.clone()),
            packets_out: counter!(names::PACKETS_OUT, "namespace" => ns.clone()),
            bytes_out: counter!(names::BYTES_OUT, "namespace" => ns.clone()),
            path: ns,
        }
    }

    pub(crate) fn disconnected(&self, reason: DisconnectReason) {
        self.connected.decrement(1);
        counter!(names::DISCONNECTS, "namespace" => self.path.clone(), "reason" => reason.as_str())
            .increment(1);
        if matches!(
            reason,
            DisconnectReason::OutgoingFull | DisconnectReason::WriteTimeout
        ) {
            tracing::warn!(namespace = %self.path, %reason, "client cut off for reading too slowly");
            counter!(names::CLIENTS_CUT_OFF, "namespace" => self.path.clone(), "reason" => reason.as_str())
                .increment(1);
        }
    }
}

/// The handles of one event's route, looked up once.
pub(crate) struct RouteMetrics {
    ok: Counter,
    forbidden: Counter,
    invalid: Counter,
    error: Counter,
    rate_limited: Counter,
    pub(crate) duration: Histogram,
}

impl RouteMetrics {
    pub(crate) fn new(ns: &str, event: &str) -> Self {
        let c = |outcome: &'static str| counter!(names::EVENTS, "namespace" => ns.to_owned(), "event" => event.to_owned(), "outcome" => outcome);
        Self {
            ok: c("ok"),
            forbidden: c("forbidden"),
            invalid: c("invalid"),
            error: c("error"),
            rate_limited: c("rate_limited"),
            duration: histogram!(names::HANDLER_DURATION, "namespace" => ns.to_owned(), "event" => event.to_owned()),
        }
    }

    pub(crate) fn outcome(&self, outcome: Outcome) {
        match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Forbidden => &self.forbidden,
            Outcome::Invalid => &self.invalid,
            Outcome::Error => &self.error,
            Outcome::RateLimited => &self.rate_limited,
        }
        .increment(1);
    }
}

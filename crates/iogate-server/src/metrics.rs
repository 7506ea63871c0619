//! `/metrics`: the framework's metrics, and a few read at scrape time, in Prometheus's text
//! format.
//!
//! The framework records through the [`metrics`] facade ([`iogate::metrics`] lists what); this
//! module installs `metrics-exporter-prometheus`'s recorder (before the app is built, or those
//! handles would go nowhere) and renders it on each request, on the server's own port: no
//! second listener. At scrape time it also sets what the framework does not count itself:
//! the rooms of each namespace, what connection state recovery keeps and did, and, on a node
//! of a cluster, whether Redis answers.
//!
//! `/metrics` is open unless `metrics_key` is set; then it takes `Authorization: Bearer <key>`.
//! The key is a separate one from the REST API's: a scraper should hold a credential that can
//! read, not one that can emit to every client.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use iogate::Server;
use iogate::metrics::names;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::rest::{ApiError, bearer_matches};

/// The metrics the server adds to the framework's.
pub mod extra {
    /// Rooms of a namespace that have clients (iogate's own left out); read at scrape time.
    pub const ROOMS: &str = "iogate_rooms";
    /// 1 while the cluster's Redis answers, 0 while it does not; only on a node of a cluster.
    pub const CLUSTER_UP: &str = "iogate_cluster_up";
    /// Always 1, labelled with the server's version.
    pub const BUILD_INFO: &str = "iogate_build_info";
    /// Sessions kept now for clients whose connection broke; read at scrape time.
    pub const RECOVERY_SESSIONS: &str = "iogate_recovery_sessions_kept";
    /// Sessions handed back to their client; read at scrape time.
    pub const RECOVERY_RECOVERED: &str = "iogate_recovery_recovered_total";
    /// Sessions let go unrecovered; read at scrape time.
    pub const RECOVERY_EXPIRED: &str = "iogate_recovery_expired_total";
}

/// The upper bounds of the handler-latency histogram's buckets, in seconds: 100 µs to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The Prometheus recorder of this process, installed on first call.
///
/// `None` when another recorder was installed first (one per process is all the facade
/// allows); the server then serves no `/metrics` and says so in its log.
pub fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(names::HANDLER_DURATION.into()), LATENCY_BUCKETS)
                .expect("buckets are not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "another metrics recorder is installed: /metrics is off");
                return None;
            }
            describe();
            // Histograms are drained into their buckets at each scrape; without scrapes this
            // keeps their samples from piling up.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("iogate-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread can be started");
            Some(handle)
        })
        .clone()
}

/// The HELP lines.
fn describe() {
    describe_gauge!(
        names::CLIENTS_CONNECTED,
        "Clients connected to this node now, by namespace."
    );
    describe_counter!(names::CONNECTS, "Clients that connected, by namespace.");
    describe_counter!(
        names::CONNECTS_REFUSED,
        "Handshakes refused by a connection middleware, by namespace."
    );
    describe_counter!(
        names::DISCONNECTS,
        "Clients that left, by namespace and socket.io's reason."
    );
    describe_counter!(
        names::EVENTS,
        "Events received, by namespace, event and outcome (ok, forbidden, invalid, error, rate_limited)."
    );
    describe_histogram!(
        names::HANDLER_DURATION,
        Unit::Seconds,
        "Time from an event's turn in its client's queue to its reply, by namespace and event."
    );
    describe_counter!(
        names::PACKETS_SENT,
        "Packets iogate sent to one client (ack, emit, exception), by namespace."
    );
    describe_counter!(
        names::CLIENTS_CUT_OFF,
        "Clients cut off for reading too slowly, by reason (outgoing queue full, write timeout)."
    );
    describe_counter!(
        names::PACKETS_RECEIVED,
        "Socket.IO packets from clients, by namespace."
    );
    describe_counter!(
        names::BYTES_RECEIVED,
        Unit::Bytes,
        "Bytes of the Socket.IO packets from clients (text and attachments), by namespace."
    );
    describe_counter!(
        names::PACKETS_OUT,
        "Socket.IO packets queued to clients, one per recipient, by namespace."
    );
    describe_counter!(
        names::BYTES_OUT,
        Unit::Bytes,
        "Bytes of the Socket.IO packets queued to clients, once per recipient, by namespace."
    );
    describe_gauge!(
        extra::ROOMS,
        "Rooms of the namespace that have clients, on every node; read at scrape time."
    );
    describe_gauge!(
        extra::CLUSTER_UP,
        "1 while the cluster's Redis answers, 0 while it does not."
    );
    describe_gauge!(
        extra::RECOVERY_SESSIONS,
        "Sessions kept for clients whose connection broke, waiting for them to come back."
    );
    describe_counter!(
        extra::RECOVERY_RECOVERED,
        "Clients that came back in time and got their session and missed events back."
    );
    describe_counter!(
        extra::RECOVERY_EXPIRED,
        "Sessions let go: past max_disconnection_duration, over a bound, or unrecoverable."
    );
    describe_gauge!(extra::BUILD_INFO, "Always 1; the version is a label.");
    gauge!(extra::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// What `/metrics` needs.
#[derive(Clone)]
pub struct MetricsState {
    /// The recorder's handle.
    pub handle: PrometheusHandle,
    /// The server, to read rooms and cluster health at scrape time.
    pub server: Server,
    /// The namespaces whose rooms are counted.
    pub namespaces: Arc<[String]>,
    /// The key `/metrics` asks for, if any.
    pub key: Option<Arc<[String]>>,
}

/// `GET /metrics`.
pub fn routes(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Proof that the request may read the metrics.
pub struct MetricsKey;

impl FromRequestParts<MetricsState> for MetricsKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &MetricsState) -> Result<Self, ApiError> {
        match &state.key {
            Some(keys) if bearer_matches(parts, keys).is_none() => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "A valid metrics key is required: Authorization: Bearer <key>",
            )),
            _ => Ok(MetricsKey),
        }
    }
}

/// The metrics, in Prometheus's text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security((), ("metrics_key" = [])),
    responses(
        (status = 200, description = "The metrics (text/plain; version=0.0.4)", body = String, content_type = "text/plain"),
        (status = 401, description = "metrics_key is set and the request does not carry it", body = crate::rest::ErrorBody),
    )
)]
pub(crate) async fn scrape(_: MetricsKey, State(state): State<MetricsState>) -> Response {
    for ns in state.namespaces.iter() {
        // NaN rather than a stale count when the rooms cannot be read (Redis down).
        let rooms = match state.server.of(ns.as_str()).rooms().await {
            Ok(rooms) => rooms.len() as f64,
            Err(_) => f64::NAN,
        };
        gauge!(extra::ROOMS, "namespace" => ns.clone()).set(rooms);
    }
    if let Some(r) = state.server.recovery() {
        gauge!(extra::RECOVERY_SESSIONS).set(r.sessions as f64);
        counter!(extra::RECOVERY_RECOVERED).absolute(r.recovered);
        counter!(extra::RECOVERY_EXPIRED).absolute(r.expired);
    }
    if let Some(up) = state.server.cluster_healthy() {
        gauge!(extra::CLUSTER_UP).set(if up { 1.0 } else { 0.0 });
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.handle.render(),
    )
        .into_response()
}

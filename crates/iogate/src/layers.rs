//! The HTTP side of the socket.io endpoint: the CORS policy, the `Origin` check, response
//! compression, and [`serve`].

use std::sync::Arc;

use axum::Router;
use http::{HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::options::Cors;

/// Where socket.io clients find the server (their default `path`).
pub(crate) const SOCKET_IO_PATH: &str = "/socket.io/";

/// Wraps `router` (the app's routes and socket.io's) in the CORS policy and the compression of
/// long-polling responses above `compression` bytes; with a list of origins, also refuses
/// socket.io requests from any other `Origin`.
pub(crate) fn around(router: Router, cors: &Cors, compression: Option<u16>) -> Router {
    // One stack, applied with one `Router::layer`: axum boxes and clones every route's
    // service once per `layer` call and per request, so each layer applied on its own
    // costs an allocation and a copy of its future on every request.
    let router = router.layer(tower::ServiceBuilder::new().layer(cors_layer(cors)).layer(
        tower_http::compression::CompressionLayer::new().compress_when(CompressAbove(compression)),
    ));
    match cors {
        Cors::Origins { origins, .. } => {
            let allowed: Arc<[String]> = origins.clone().into();
            router.layer(axum::middleware::from_fn(move |req, next| {
                check_origin(allowed.clone(), req, next)
            }))
        }
        Cors::Any | Cors::SameOrigin => router,
    }
}

fn cors_layer(cors: &Cors) -> CorsLayer {
    let base = CorsLayer::new().allow_methods([Method::GET, Method::POST]);
    match cors {
        Cors::SameOrigin => CorsLayer::new(),
        Cors::Any => base
            .allow_origin(tower_http::cors::Any)
            .allow_headers(tower_http::cors::Any),
        Cors::Origins {
            origins,
            credentials,
        } => base
            .allow_origin(AllowOrigin::list(
                origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
            ))
            .allow_headers(AllowHeaders::mirror_request())
            .allow_credentials(*credentials),
    }
}

/// Whether to compress a response: with a threshold, those the default predicate accepts
/// (not images, gRPC or event streams) of at least that many bytes; never without.
#[derive(Clone, Copy)]
struct CompressAbove(Option<u16>);

impl tower_http::compression::Predicate for CompressAbove {
    fn should_compress<B: axum::body::HttpBody>(&self, response: &http::Response<B>) -> bool {
        use tower_http::compression::predicate::{DefaultPredicate, SizeAbove};
        self.0.is_some_and(|threshold| {
            DefaultPredicate::new()
                .and(SizeAbove::new(threshold))
                .should_compress(response)
        })
    }
}

/// Refuses socket.io requests whose `Origin` is not allowed. Requests without an `Origin`
/// (non-browser clients) pass: the check protects browsers' users, and a non-browser client
/// can send any header it likes anyway.
async fn check_origin(
    allowed: Arc<[String]>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path().starts_with("/socket.io")
        && let Some(origin) = req.headers().get(http::header::ORIGIN)
        && !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes())
    {
        tracing::info!(origin = ?origin, "socket.io request from a disallowed origin refused");
        let body = serde_json::json!({ "statusCode": 403, "error": "Forbidden", "message": "Origin not allowed" });
        return (http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(req).await
}

/// Serves `router` on `listener` until `shutdown` completes, with each request's peer address
/// available to the handshake.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small packets (acks, pings) go out at once instead of waiting for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

//! The demo chat page and its token route (development only), and the static folder.
//!
//! With `demo` on, `GET /demo` serves a small chat page (embedded in the binary) that uses the
//! official `socket.io-client` in the browser: it gets a token from `POST /demo/token`, joins
//! a room of `/chat`, sends and receives messages, and shows the `notification`s that the REST
//! API sends to its user on `/events`. `POST /demo/token` signs a token for **any** name it is
//! given, so `demo` is off by default and must never be on where others can reach the server.
//!
//! The page loads the client from `/socket.io.min.js`. iogate does not ship that file
//! (socketioxide serves no client bundle, and the repository vendors no JavaScript): copy
//! `node_modules/socket.io-client/dist/socket.io.min.js` into the folder given as `static_dir`,
//! which the server serves at `/`.

use std::path::Path;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::services::ServeDir;

use crate::rest::ApiError;

const PAGE: &str = include_str!("../assets/demo/chat.html");
const SCRIPT: &str = include_str!("../assets/demo/chat.js");
const STYLE: &str = include_str!("../assets/demo/chat.css");

/// Scripts and styles from this origin only, and sockets to it: a message cannot run code.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long a demo token lasts, in seconds.
pub const TOKEN_TTL: u64 = 3600;

/// The longest user name the token route takes.
pub const MAX_USER_LEN: usize = 64;

/// `GET /demo`, its script and style, and `POST /demo/token`; tokens are signed with
/// `jwt_secret`.
pub fn routes(jwt_secret: String) -> Router {
    tracing::warn!(
        "demo is on: POST /demo/token gives a token for any user; never expose this server"
    );
    Router::new()
        .route("/demo", get(page))
        .route(
            "/demo/chat.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/demo/chat.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/demo/token", post(token))
        .with_state(jwt_secret)
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
}

/// The body of `POST /demo/token`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user: String,
}

/// Signs a token for `user` (its `sub`), valid [`TOKEN_TTL`] seconds.
async fn token(
    State(secret): State<String>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(TokenRequest { user }) = body?;
    let user = user.trim();
    if user.is_empty() || user.len() > MAX_USER_LEN || user.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("user must be 1 to {MAX_USER_LEN} printable characters"),
        ));
    }
    let token = crate::sign_token(&secret, user, None, TOKEN_TTL)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    tracing::info!(user, "demo token issued");
    Ok(Json(
        json!({ "token": token, "user": user, "expiresIn": TOKEN_TTL }),
    ))
}

/// The files of `dir`, served at `/` for paths no route takes (`/` is `index.html`).
pub fn static_files(dir: &Path) -> ServeDir {
    ServeDir::new(dir)
}

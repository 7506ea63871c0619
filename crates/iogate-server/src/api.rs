//! The REST API: notify users from outside the sockets, behind an API key.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use iogate::Server;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The gateways' server handle.
    pub server: Server,
    /// The accepted API keys.
    pub keys: Arc<Vec<String>>,
}

/// The API's routes.
pub fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/notifications/send", post(send_notification))
        .with_state(state)
}

/// An error answer, shaped as NestJS's: `{"statusCode", "error", "message"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "statusCode": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}

/// Proof that the request carried a valid API key.
pub struct ApiKey;

impl FromRequestParts<ApiState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Every key is compared, in constant time, so timing tells nothing of which matched.
        let matched = state.keys.iter().fold(0u8, |acc, k| {
            acc | k.as_bytes().ct_eq(presented.as_bytes()).unwrap_u8()
        });
        if presented.is_empty() || matched == 0 {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "A valid API key is required: Authorization: Bearer <key>",
            ));
        }
        Ok(ApiKey)
    }
}

/// The body of `POST /notifications/send`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendNotification {
    user_id: String,
    #[serde(default)]
    message: Value,
}

/// Emits `notification` to every `/events` client of `userId`; answers 201 `{"success": true}`.
async fn send_notification(
    _: ApiKey,
    State(state): State<ApiState>,
    body: Result<Json<SendNotification>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    if body.user_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "userId must not be empty",
        ));
    }
    state
        .server
        .of("/events")
        .to_user(&body.user_id)
        .emit("notification", &body.message)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    // 201, as a NestJS `@Post` route answers.
    Ok((StatusCode::CREATED, Json(json!({ "success": true }))))
}

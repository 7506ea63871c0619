//! What every HTTP route of the server shares: the error answer, in one shape that is both
//! sent and documented; the extractors whose rejections are that answer; and the check of a
//! bearer key.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use utoipa::{IntoResponses, ToSchema};

/// An error answer, shaped as NestJS's: `{"statusCode", "error", "message"}`.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

/// A JSON body, or [`ApiError`] 400 saying what is wrong with it.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// The query's parameters, or [`ApiError`] 400.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The path's segments, or [`ApiError`] 400.
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status.
    #[schema(example = 400)]
    status_code: u16,
    /// The status's reason phrase.
    #[schema(example = "Bad Request")]
    error: String,
    /// What went wrong.
    #[schema(example = "event: \"connect\" is reserved by socket.io")]
    message: String,
}

/// What the API's routes answer when they fail, each with an [`ErrorBody`].
#[derive(IntoResponses)]
pub enum Errors {
    /// An invalid body, path or query: the message says which part, and why
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// No valid API key
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// No gateway serves the namespace
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
    /// Not done on every node (Redis down), or not delivered to a client whose queue is full
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// The index of the key among `keys` that the request's `Authorization: Bearer` header holds.
///
/// Every key is compared, in constant time, so timing tells nothing of which matched, nor how
/// much of a key a guess got right.
pub fn bearer_matches(parts: &Parts, keys: &[String]) -> Option<usize> {
    let presented = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let mut matched = subtle::Choice::from(0);
    let mut index = 0u32;
    for (i, key) in keys.iter().enumerate() {
        let eq = key.as_bytes().ct_eq(presented.as_bytes());
        matched |= eq;
        index = subtle::ConditionallySelectable::conditional_select(&index, &(i as u32), eq);
    }
    (!presented.is_empty() && bool::from(matched)).then_some(index as usize)
}

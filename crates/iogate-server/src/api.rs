//! The REST API: reach the sockets from outside, behind an API key.
//!
//! `POST /notifications/send` is the guide's route, kept as the guide's clients call it. The
//! routes under `/api/` are iogate's own: emit to a namespace, a room, a user or one client;
//! make a user's clients join or leave a room; disconnect a user; count clients; list rooms and
//! who is in one (its users and their clients, on every node).
//! Each takes the namespace as `?namespace=/events` (default `/`).
//!
//! Every route but `/health`, `/ready` and `/openapi.json` needs `Authorization: Bearer <API
//! key>`. Every error is JSON shaped as NestJS's (`{"statusCode", "error", "message"}`). The
//! routes are described by an OpenAPI document, [`ApiDoc`], served at `/openapi.json`.
//!
//! On a node of a cluster, every operation reaches every node; while Redis is down it reaches
//! this node's clients only, and the route answers 503 so that the caller knows.

use std::sync::{Arc, LazyLock};

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use iogate::client::RESERVED_EVENTS;
use iogate::{Broadcast, BroadcastError, Namespace, Server};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::rest::{ApiError, Body, Errors, Params, Segments, bearer_matches};

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
    documented().split_for_parts().0.with_state(state)
}

/// Every route with its place in the OpenAPI document: one list makes both, so no route can
/// be served undocumented.
fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(send_notification))
        .routes(routes!(emit_namespace))
        .routes(routes!(emit_room))
        .routes(routes!(emit_user))
        .routes(routes!(emit_client))
        .routes(routes!(join_room, leave_room))
        .routes(routes!(disconnect_user))
        .routes(routes!(count_clients))
        .routes(routes!(list_rooms))
        .routes(routes!(room_presence))
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(openapi))
}

/// The OpenAPI document of the REST API (and of `/metrics`, whose route is the metrics
/// module's), served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

/// Maps a failed operation of the server handle to its answer.
impl From<BroadcastError> for ApiError {
    fn from(e: BroadcastError) -> Self {
        let status = match e {
            BroadcastError::NoNamespace(_) => StatusCode::NOT_FOUND,
            BroadcastError::Reserved(_) => StatusCode::BAD_REQUEST,
            BroadcastError::Serialize(_) => StatusCode::INTERNAL_SERVER_ERROR,
            BroadcastError::Adapter(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

/// Proof that the request carried a valid API key.
pub struct ApiKey;

impl FromRequestParts<ApiState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        match bearer_matches(parts, &state.keys) {
            Some(index) => {
                // Which key, never the key: tells rotations apart in the logs.
                tracing::Span::current().record("api_key", index);
                Ok(ApiKey)
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "A valid API key is required: Authorization: Bearer <key>",
            )),
        }
    }
}

/// The body of `POST /notifications/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendNotification {
    /// The user (`sub` of its token) whose `/events` clients get the notification.
    #[schema(example = "alice")]
    user_id: String,
    /// The notification: any JSON, sent as the event's one argument.
    #[serde(default)]
    #[schema(example = json!("Your order has shipped"))]
    message: Value,
}

/// `{"success": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    /// Always `true`.
    success: bool,
}

/// `{"success": true}` once the operation reached every node (see [`cluster_wide`]).
fn done(server: &Server) -> Result<Json<Success>, ApiError> {
    cluster_wide(server)?;
    Ok(Json(Success { success: true }))
}

/// `201 {"success": true}`.
#[derive(IntoResponses)]
pub enum Sent {
    /// Sent
    #[response(status = 201)]
    Sent(#[to_schema] Success),
}

/// `200 {"success": true}`.
#[derive(IntoResponses)]
pub enum Done {
    /// Done
    #[response(status = 200)]
    Done(#[to_schema] Success),
}

/// The guide's route: emits `notification` with `message` to every `/events` client of
/// `userId`.
#[utoipa::path(
    post,
    path = "/notifications/send",
    tag = "notifications",
    request_body = SendNotification,
    responses(Sent, Errors)
)]
async fn send_notification(
    _: ApiKey,
    State(state): State<ApiState>,
    Body(body): Body<SendNotification>,
) -> Result<(StatusCode, Json<Success>), ApiError> {
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
    Ok((StatusCode::CREATED, done(&state.server)?))
}

/// The namespace a route acts on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NamespaceQuery {
    /// The namespace, as the gateway names it (`/`, `/events`, `/chat`, ...).
    #[param(default = "/", example = "/chat")]
    namespace: Option<String>,
}

impl NamespaceQuery {
    fn of(&self, server: &Server) -> Result<Namespace, ApiError> {
        let path = self.namespace.as_deref().unwrap_or("/");
        if !path.starts_with('/') {
            return Err(ApiError::bad_request(format!(
                "namespace: {path:?} must start with '/' (e.g. \"/events\")"
            )));
        }
        Ok(server.of(path))
    }
}

/// An event to emit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmitBody {
    /// The event's name: not empty, at most 256 bytes, and not one of the names socket.io
    /// reserves (`connect`, `connect_error`, `disconnect`, `disconnecting`, `newListener`,
    /// `removeListener`).
    #[schema(example = "news")]
    event: String,
    /// The event's argument: any JSON (`null` when absent).
    #[serde(default)]
    #[schema(example = json!({"title": "Maintenance at 22:00"}))]
    data: Value,
    /// Clients to leave out.
    #[serde(default)]
    except: Except,
}

/// Clients to leave out of an emit: those in any of these rooms, of any of these users, or
/// with any of these ids.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Except {
    /// Rooms whose clients are left out.
    #[serde(default)]
    rooms: Vec<String>,
    /// Users whose clients are left out.
    #[serde(default)]
    users: Vec<String>,
    /// Public ids of clients left out.
    #[serde(default)]
    clients: Vec<String>,
}

/// The longest event, room, user or client id the API takes.
pub const MAX_NAME_LEN: usize = 256;

fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("{field} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(ApiError::bad_request(format!(
            "{field} must be at most {MAX_NAME_LEN} bytes long (got {})",
            value.len()
        )));
    }
    Ok(())
}

/// Checks an event name: not empty, not too long, not reserved.
pub fn check_event(event: &str) -> Result<(), ApiError> {
    check_name("event", event)?;
    if RESERVED_EVENTS.contains(&event) {
        return Err(ApiError::bad_request(format!(
            "event: {event:?} is reserved by socket.io"
        )));
    }
    Ok(())
}

/// Checks a room name: not empty, not too long, and not one of iogate's own (`$...`), which
/// address users and clients.
pub fn check_room(field: &str, room: &str) -> Result<(), ApiError> {
    check_name(field, room)?;
    if room.starts_with(iogate::client::RESERVED_PREFIX) {
        return Err(ApiError::bad_request(format!(
            "{field}: {room:?}: rooms starting with '$' are iogate's own"
        )));
    }
    Ok(())
}

impl Except {
    fn is_empty(&self) -> bool {
        self.rooms.is_empty() && self.users.is_empty() && self.clients.is_empty()
    }

    /// Checks the lists and leaves their clients out of `to` (the whole namespace when `None`).
    fn apply(&self, ns: &Namespace, to: Option<Broadcast>) -> Result<Option<Broadcast>, ApiError> {
        if self.is_empty() {
            return Ok(to);
        }
        // `Namespace` has `except(room)` but no selection of everyone to add `except_user` to:
        // start from leaving out a room nobody can be in (clients cannot join `$` rooms, and
        // iogate's own are `$client:` and `$user:`).
        let mut to = to.unwrap_or_else(|| ns.except("$nobody"));
        for room in &self.rooms {
            check_room("except.rooms", room)?;
            to = to.except(room.clone());
        }
        for user in &self.users {
            check_name("except.users", user)?;
            to = to.except_user(user);
        }
        for client in &self.clients {
            check_name("except.clients", client)?;
            to = to.except_client(client);
        }
        Ok(Some(to))
    }
}

impl EmitBody {
    /// Checks the body, then emits to `to` (the whole namespace when `None`).
    async fn send(
        self,
        server: &Server,
        ns: &Namespace,
        to: Option<Broadcast>,
    ) -> Result<(StatusCode, Json<Success>), ApiError> {
        check_event(&self.event)?;
        match self.except.apply(ns, to)? {
            Some(to) => to.emit(&self.event, &self.data).await?,
            None => ns.emit(&self.event, &self.data).await?,
        }
        Ok((StatusCode::CREATED, done(server)?))
    }
}

/// Emits an event to every client of a namespace.
#[utoipa::path(
    post,
    path = "/api/emit",
    tag = "emit",
    params(NamespaceQuery),
    request_body = EmitBody,
    responses(Sent, Errors)
)]
async fn emit_namespace(
    _: ApiKey,
    State(state): State<ApiState>,
    Params(query): Params<NamespaceQuery>,
    Body(body): Body<EmitBody>,
) -> Result<(StatusCode, Json<Success>), ApiError> {
    let ns = query.of(&state.server)?;
    body.send(&state.server, &ns, None).await
}

/// Emits an event to every client in a room.
#[utoipa::path(
    post,
    path = "/api/rooms/{room}/emit",
    tag = "emit",
    params(("room" = String, Path, description = "The room; not starting with `$`"), NamespaceQuery),
    request_body = EmitBody,
    responses(Sent, Errors)
)]
async fn emit_room(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(room): Segments<String>,
    Params(query): Params<NamespaceQuery>,
    Body(body): Body<EmitBody>,
) -> Result<(StatusCode, Json<Success>), ApiError> {
    check_room("room", &room)?;
    let ns = query.of(&state.server)?;
    body.send(&state.server, &ns, Some(ns.to(room))).await
}

/// Emits an event to every client of a user (all its devices).
#[utoipa::path(
    post,
    path = "/api/users/{user}/emit",
    tag = "emit",
    params(("user" = String, Path, description = "The user: the `sub` of its token"), NamespaceQuery),
    request_body = EmitBody,
    responses(Sent, Errors)
)]
async fn emit_user(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(user): Segments<String>,
    Params(query): Params<NamespaceQuery>,
    Body(body): Body<EmitBody>,
) -> Result<(StatusCode, Json<Success>), ApiError> {
    check_name("user", &user)?;
    let ns = query.of(&state.server)?;
    body.send(&state.server, &ns, Some(ns.to_user(&user))).await
}

/// Emits an event to one client, by its public id.
#[utoipa::path(
    post,
    path = "/api/clients/{client}/emit",
    tag = "emit",
    params(("client" = String, Path, description = "The client's public id (what `userId` carries in the app's broadcasts)"), NamespaceQuery),
    request_body = EmitBody,
    responses(Sent, Errors)
)]
async fn emit_client(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(client): Segments<String>,
    Params(query): Params<NamespaceQuery>,
    Body(body): Body<EmitBody>,
) -> Result<(StatusCode, Json<Success>), ApiError> {
    check_name("client", &client)?;
    let ns = query.of(&state.server)?;
    body.send(&state.server, &ns, Some(ns.to_client(&client)))
        .await
}

/// The user and the room of `/api/users/{user}/rooms/{room}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserRoom {
    /// The user
    user: String,
    /// The room; not starting with `$`
    room: String,
}

impl UserRoom {
    /// Checks both names, then selects the user's clients in the query's namespace.
    fn clients(&self, server: &Server, query: &NamespaceQuery) -> Result<Broadcast, ApiError> {
        check_name("user", &self.user)?;
        check_room("room", &self.room)?;
        Ok(query.of(server)?.to_user(&self.user))
    }
}

/// Makes every client of a user join a room.
#[utoipa::path(
    put,
    path = "/api/users/{user}/rooms/{room}",
    tag = "rooms",
    params(UserRoom, NamespaceQuery),
    responses(Done, Errors)
)]
async fn join_room(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(path): Segments<UserRoom>,
    Params(query): Params<NamespaceQuery>,
) -> Result<Json<Success>, ApiError> {
    path.clients(&state.server, &query)?.join(path.room).await?;
    done(&state.server)
}

/// Makes every client of a user leave a room.
#[utoipa::path(
    delete,
    path = "/api/users/{user}/rooms/{room}",
    tag = "rooms",
    params(UserRoom, NamespaceQuery),
    responses(Done, Errors)
)]
async fn leave_room(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(path): Segments<UserRoom>,
    Params(query): Params<NamespaceQuery>,
) -> Result<Json<Success>, ApiError> {
    path.clients(&state.server, &query)?
        .leave(path.room)
        .await?;
    done(&state.server)
}

/// Disconnects every client of a user from the namespace; each sees `io server disconnect`
/// (and, as socket.io clients do after it, does not reconnect by itself).
#[utoipa::path(
    post,
    path = "/api/users/{user}/disconnect",
    tag = "clients",
    params(("user" = String, Path, description = "The user"), NamespaceQuery),
    responses(Done, Errors)
)]
async fn disconnect_user(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(user): Segments<String>,
    Params(query): Params<NamespaceQuery>,
) -> Result<Json<Success>, ApiError> {
    check_name("user", &user)?;
    let ns = query.of(&state.server)?;
    ns.to_user(&user).disconnect().await?;
    done(&state.server)
}

/// Which clients to count.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountQuery {
    /// The namespace.
    #[param(default = "/", example = "/chat")]
    namespace: Option<String>,
    /// Count only the clients in this room.
    room: Option<String>,
    /// Count only the clients of this user.
    user: Option<String>,
}

/// How many clients.
#[derive(Debug, Serialize, ToSchema, IntoResponses)]
#[response(status = 200, description = "The count")]
pub struct Count {
    /// The namespace counted.
    #[schema(example = "/chat")]
    namespace: String,
    /// The clients connected to it (in the room, or of the user, when asked), on every node.
    #[schema(example = 42)]
    count: usize,
}

/// Counts the clients of a namespace, of a room, or of a user, across the cluster.
#[utoipa::path(
    get,
    path = "/api/clients/count",
    tag = "clients",
    params(CountQuery),
    responses(Count, Errors)
)]
async fn count_clients(
    _: ApiKey,
    State(state): State<ApiState>,
    Params(q): Params<CountQuery>,
) -> Result<Json<Count>, ApiError> {
    let ns = NamespaceQuery {
        namespace: q.namespace,
    }
    .of(&state.server)?;
    let count = match (q.room, q.user) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give room or user, not both"));
        }
        (Some(room), None) => {
            check_room("room", &room)?;
            ns.to(room).count().await?
        }
        (None, Some(user)) => {
            check_name("user", &user)?;
            ns.to_user(&user).count().await?
        }
        (None, None) => ns.count().await?,
    };
    cluster_wide(&state.server)?;
    Ok(Json(Count {
        namespace: ns.path().to_owned(),
        count,
    }))
}

/// The rooms of a namespace.
#[derive(Debug, Serialize, ToSchema, IntoResponses)]
#[response(status = 200, description = "The rooms")]
pub struct Rooms {
    /// The namespace.
    #[schema(example = "/chat")]
    namespace: String,
    /// Its rooms that have clients, sorted; iogate's own (`$...`) left out.
    #[schema(example = json!(["lobby", "support"]))]
    rooms: Vec<String>,
}

/// Lists the rooms of a namespace that have clients, across the cluster.
#[utoipa::path(
    get,
    path = "/api/rooms",
    tag = "rooms",
    params(NamespaceQuery),
    responses(Rooms, Errors)
)]
async fn list_rooms(
    _: ApiKey,
    State(state): State<ApiState>,
    Params(query): Params<NamespaceQuery>,
) -> Result<Json<Rooms>, ApiError> {
    let ns = query.of(&state.server)?;
    let mut rooms = ns.rooms().await?;
    rooms.sort();
    cluster_wide(&state.server)?;
    Ok(Json(Rooms {
        namespace: ns.path().to_owned(),
        rooms,
    }))
}

/// Who is in a room: its users and their clients.
#[derive(Debug, Serialize, ToSchema, IntoResponses)]
#[response(status = 200, description = "The room's users and their clients")]
pub struct RoomPresence {
    /// The namespace.
    #[schema(example = "/chat")]
    namespace: String,
    /// The room.
    #[schema(example = "lobby")]
    room: String,
    /// Its users (clients with a token's `sub`), sorted; each once, however many clients.
    users: Vec<PresentUser>,
}

/// A user present in a room.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresentUser {
    /// The user: the `sub` of its token.
    #[schema(example = "alice")]
    user: String,
    /// The public ids of its clients in the room, on every node, sorted.
    #[schema(example = json!(["GZ3DBxTLpA0T1bAmAAAB", "xqZ2vV0n7w9c8S2MAAAD"]))]
    clients: Vec<String>,
}

/// Lists who is in a room, across the cluster: its users (the `sub` of their tokens), each
/// once, with its clients there. Clients without a user are not listed. A node that died
/// leaves the list within the heartbeat timeout (10 s by default).
#[utoipa::path(
    get,
    path = "/api/rooms/{room}/presence",
    tag = "rooms",
    params(("room" = String, Path, description = "The room; not starting with `$`"), NamespaceQuery),
    responses(RoomPresence, Errors)
)]
async fn room_presence(
    _: ApiKey,
    State(state): State<ApiState>,
    Segments(room): Segments<String>,
    Params(query): Params<NamespaceQuery>,
) -> Result<Json<RoomPresence>, ApiError> {
    check_room("room", &room)?;
    let ns = query.of(&state.server)?;
    let presence = ns.presence(&room).await?;
    Ok(Json(RoomPresence {
        namespace: ns.path().to_owned(),
        room: presence.room,
        users: presence
            .users
            .into_iter()
            .map(|u| PresentUser {
                user: u.user,
                clients: u.clients,
            })
            .collect(),
    }))
}

/// Fails a cluster-wide operation while the cluster's broker is down: the operation reached
/// this node's clients only, and the caller must know.
fn cluster_wide(server: &Server) -> Result<(), ApiError> {
    match server.cluster_healthy() {
        Some(false) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Redis is unreachable: delivered to the clients of this node only",
        )),
        _ => Ok(()),
    }
}

/// The process is alive.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Alive", body = Object, example = json!({"status": "ok"})))
)]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The server takes traffic: it listens, is not shutting down, and when clustered, Redis
/// answers.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Object, example = json!({"status": "ready", "redis": "up"})),
        (status = 503, description = "Shutting down, or Redis down", body = Object, example = json!({"status": "degraded", "redis": "down"})),
    )
)]
async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    if state.server.is_closing() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting down" })),
        );
    }
    match state.server.cluster_healthy() {
        None => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Some(true) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "redis": "up" })),
        ),
        Some(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "redis": "down" })),
        ),
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI document of this API", body = Object))
)]
async fn openapi() -> Response {
    static DOC: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOC.as_str(),
    )
        .into_response()
}

/// What the OpenAPI document says besides its paths: its description, security and tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "iogate REST API",
        description = "Reach the Socket.IO clients of an iogate server from outside: emit to a \
            namespace, a room, a user or a client; move a user's clients between rooms; \
            disconnect a user; count clients, list rooms and who is in one. Errors are \
            `{\"statusCode\", \"error\", \"message\"}`. Every operation reaches every node of a \
            cluster; while Redis is down it reaches this node's clients only and answers 503."
    ),
    // The API's own paths come with its routes (see `documented`).
    paths(crate::metrics::scrape),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "notifications", description = "The NestJS guide's route"),
        (name = "emit", description = "Emit an event to clients"),
        (name = "rooms", description = "Rooms of a namespace"),
        (name = "clients", description = "Count and disconnect clients"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Declares the `api_key` bearer scheme.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The API key: API_KEY (or api_key in the config file)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The metrics key, when metrics_key (METRICS_KEY) is set",
                    ))
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        e.message
    }

    #[test]
    fn reserved_events_and_iogate_rooms_are_refused() {
        for event in RESERVED_EVENTS {
            assert_eq!(
                message(check_event(event).unwrap_err()),
                format!("event: {event:?} is reserved by socket.io")
            );
        }
        assert_eq!(
            message(check_event("").unwrap_err()),
            "event must not be empty"
        );
        assert!(check_event("news").is_ok());
        assert!(message(check_event(&"e".repeat(257)).unwrap_err()).contains("at most 256"));
        assert_eq!(
            message(check_room("room", "$user:alice").unwrap_err()),
            "room: \"$user:alice\": rooms starting with '$' are iogate's own"
        );
        assert!(check_room("room", "lobby").is_ok());
    }

    #[test]
    fn the_key_that_matched_is_found_in_constant_time() {
        let keys = vec![
            "first-key-0123456789".to_owned(),
            "second-key-0123456789".to_owned(),
        ];
        let parts = |auth: &str| {
            let (parts, ()) = axum::http::Request::builder()
                .header("authorization", auth)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        assert_eq!(
            bearer_matches(&parts("Bearer first-key-0123456789"), &keys),
            Some(0)
        );
        assert_eq!(
            bearer_matches(&parts("Bearer second-key-0123456789"), &keys),
            Some(1)
        );
        assert_eq!(bearer_matches(&parts("Bearer second-key"), &keys), None);
        assert_eq!(bearer_matches(&parts("Bearer "), &[String::new()]), None);
    }

    #[test]
    fn every_route_is_documented_with_its_errors_and_key() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/metrics") && paths.contains_key("/openapi.json"));
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let open = ["/health", "/ready", "/openapi.json", "/metrics"].contains(&&**path);
                let responses = op["responses"].as_object().unwrap();
                if !open {
                    for status in ["400", "401", "404", "503"] {
                        assert!(
                            responses.contains_key(status),
                            "{method} {path}: no {status}"
                        );
                    }
                    assert!(
                        op.get("security").is_none(),
                        "{method} {path} takes the document's API key"
                    );
                }
            }
        }
        assert_eq!(doc["security"], serde_json::json!([{"api_key": []}]));
    }
}

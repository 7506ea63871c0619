//! The guide's Authentication section: JSON Web Tokens in the handshake.
//!
//! Two ways, as in the guide:
//! - on `/events`, a **connection middleware** checks the token: a client without a valid one
//!   is refused with `connect_error` (`Unauthorized: no token provided`, `invalid token`,
//!   `token expired`), and each client joins its user's room;
//! - on `/`, the namespace is public and a **guard** (the guide's `WsJwtGuard`) protects one
//!   handler: `privateMessage` without a valid token gets `exception` `Forbidden resource`.
//!
//! The token travels in `auth.token` (`io(url, { auth: { token } })`) or in an
//! `Authorization: Bearer` header.

use iogate::auth::{Claims, JwtAuth};
use iogate::{Ack, App, Client, Data, Extension, Gateway, HandlerExt};
use serde_json::{Value, json};

/// The app: tokens are HS256, signed with `secret`.
pub fn app(secret: &[u8]) -> App {
    let jwt = JwtAuth::hs256(secret);
    App::new().gateway(public(&jwt)).gateway(events(&jwt))
}

/// `/`: anyone connects; `privateMessage` is guarded.
pub fn public(jwt: &JwtAuth) -> Gateway {
    Gateway::new("/")
        .subscribe_message("message", async |Data(_): Data<Value>| "Message received")
        .subscribe_message("privateMessage", private_message.guard(jwt.guard()))
}

/// `/events`: only clients with a valid token connect.
pub fn events(jwt: &JwtAuth) -> Gateway {
    Gateway::new("/events")
        .middleware(jwt.middleware())
        .handle_connection(async |client: Client| {
            tracing::info!(client = client.id(), user = client.user(), "authenticated");
        })
        .subscribe_message("whoami", async |client: Client| {
            Ack(json!({ "user": client.user(), "id": client.id() }))
        })
}

/// The guide's `handlePrivateMessage`: `{ user: <claims>, data }`. The guard stored the claims
/// on the client; [`Extension`] hands them to the handler.
async fn private_message(
    Extension(user): Extension<Claims>,
    Data(data): Data<Value>,
) -> Ack<Value> {
    Ack(json!({ "user": user, "data": data }))
}

/// A token for `sub`, valid for `seconds` (negative: already expired), as the guide's
/// `jwtService.sign({ sub, email })` makes them.
///
/// # Panics
/// Never: HS256 signing of a JSON object cannot fail.
pub fn token(secret: &[u8], sub: &str, seconds: i64) -> String {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
    let claims = json!({ "sub": sub, "email": format!("{sub}@example.com"), "exp": now + seconds });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing does not fail")
}

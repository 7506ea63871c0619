//! Handshake authentication with JSON Web Tokens (feature `jwt`).
//!
//! ```
//! use iogate::{Gateway, HandlerExt, Data, Extension, Ack};
//! use iogate::auth::{Claims, JwtAuth};
//! use serde_json::{json, Value};
//!
//! let jwt = JwtAuth::hs256(b"a long random secret");
//! let gateway = Gateway::new("/events")
//!     // Refuses clients without a valid token; stores their claims; binds them to `sub`.
//!     .middleware(jwt.middleware())
//!     .subscribe_message(
//!         "privateMessage",
//!         (async |Extension(user): Extension<Claims>, Data(data): Data<Value>| {
//!             Ack(json!({ "user": user, "data": data }))
//!         })
//!         .guard(jwt.guard()),
//!     );
//! ```

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::exception::{Exception, WsException};
use crate::gateway::Middleware;
use crate::guard::Guard;
use crate::handler::BoxFuture;
use crate::{Client, Context};

/// Verifies JSON Web Tokens, and makes the middleware and guard that use them.
///
/// Cheap to clone: the key and the validation rules are shared.
#[derive(Clone)]
pub struct JwtAuth {
    inner: Arc<Inner>,
}

struct Inner {
    key: DecodingKey,
    validation: Validation,
}

impl JwtAuth {
    /// Tokens signed with HMAC-SHA256 and `secret`; no other algorithm (and never `none`) is
    /// accepted. As NestJS's `JwtService.verify`: `exp` and `nbf` are checked when present,
    /// with no leeway.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        validation.validate_nbf = true;
        Self {
            inner: Arc::new(Inner {
                key: DecodingKey::from_secret(secret),
                validation,
            }),
        }
    }

    /// Allows `seconds` of clock difference when checking `exp` and `nbf`.
    #[must_use]
    pub fn leeway(self, seconds: u64) -> Self {
        let mut validation = self.inner.validation.clone();
        validation.leeway = seconds;
        Self {
            inner: Arc::new(Inner {
                key: self.inner.key.clone(),
                validation,
            }),
        }
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.inner.key, &self.inner.validation)
            .map(|data| Claims(Arc::new(data.claims)))
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }

    /// The token a client sent: `auth.token` in its handshake, or else its
    /// `Authorization: Bearer` header. A `Bearer ` prefix is accepted in both.
    pub fn token_of(client: &Client) -> Option<String> {
        let raw = match client.auth().get("token").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => t,
            _ => client
                .headers()
                .get(http::header::AUTHORIZATION)?
                .to_str()
                .ok()?,
        };
        let token = match raw.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("bearer ") => raw[7..].trim_start(),
            _ => raw,
        };
        (!token.is_empty()).then(|| token.to_owned())
    }

    /// Verifies the token of `client`, stores its [`Claims`] on it and binds it to the user
    /// named by `sub` (so [`Broadcast::to_user`](crate::Broadcast::to_user) reaches it).
    pub fn authenticate(&self, client: &Client) -> Result<Claims, JwtError> {
        let token = Self::token_of(client).ok_or(JwtError::Missing)?;
        let claims = self.verify(&token)?;
        if let Some(sub) = claims.sub() {
            client.set_user(sub).map_err(|_| JwtError::Invalid)?;
        }
        client.insert(claims.clone());
        Ok(claims)
    }

    /// A connection middleware that admits only clients with a valid token: the others get
    /// `connect_error` with `Unauthorized: no token provided`, `Unauthorized: invalid token` or
    /// `Unauthorized: token expired`.
    pub fn middleware(&self) -> impl Middleware + use<> {
        JwtMiddleware(self.clone())
    }

    /// A guard that lets an event through only when its client authenticated and its token
    /// has not expired since (`WsJwtGuard`).
    pub fn guard(&self) -> impl Guard + use<> {
        JwtGuard(self.clone())
    }
}

struct JwtMiddleware(JwtAuth);

impl Middleware for JwtMiddleware {
    fn call(&self, client: Client) -> BoxFuture<Result<(), Exception>> {
        let result = self
            .0
            .authenticate(&client)
            .map(drop)
            .map_err(|e| WsException::new(format!("Unauthorized: {e}")).into());
        Box::pin(std::future::ready(result))
    }
}

struct JwtGuard(JwtAuth);

impl Guard for JwtGuard {
    fn can_activate(&self, cx: &Context) -> Result<bool, Exception> {
        let client = cx.client();
        let claims = match client.get::<Claims>() {
            Some(c) => c,
            // Not authenticated at the handshake: try the token it sent then.
            None => match self.0.authenticate(client) {
                Ok(c) => c,
                Err(_) => return Ok(false),
            },
        };
        Ok(!claims.is_expired(self.0.inner.validation.leeway))
    }
}

/// The verified claims of a token, as the client sent them (`sub`, `email`, `iat`, `exp`, ...).
///
/// Serialises as the claims object. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Claims(pub Arc<Map<String, Value>>);

impl Claims {
    /// The subject, `sub`: the user id. A number is taken as its decimal text.
    pub fn sub(&self) -> Option<String> {
        match self.0.get("sub")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether `exp` has passed (by more than `leeway` seconds).
    pub fn is_expired(&self, leeway: u64) -> bool {
        let Some(exp) = self.0.get("exp").and_then(Value::as_u64) else {
            return false;
        };
        exp.saturating_add(leeway) < jsonwebtoken::get_current_timestamp()
    }
}

/// Why a token was refused. Its message is safe to show the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The client sent no token.
    #[error("no token provided")]
    Missing,
    /// The token is malformed, signed with another key or algorithm, or not yet valid.
    #[error("invalid token")]
    Invalid,
    /// The token has expired.
    #[error("token expired")]
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn sign(claims: Value, secret: &[u8]) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn accepts_its_own_tokens_and_refuses_others() {
        let jwt = JwtAuth::hs256(b"secret");
        let now = jsonwebtoken::get_current_timestamp();
        let ok = sign(json!({"sub": "alice", "exp": now + 60}), b"secret");
        assert_eq!(jwt.verify(&ok).unwrap().sub().as_deref(), Some("alice"));
        let other = sign(json!({"sub": "alice"}), b"other");
        assert_eq!(jwt.verify(&other), Err(JwtError::Invalid));
        let expired = sign(json!({"sub": "alice", "exp": now - 5}), b"secret");
        assert_eq!(jwt.verify(&expired), Err(JwtError::Expired));
        assert_eq!(jwt.verify("garbage"), Err(JwtError::Invalid));
    }

    #[test]
    fn refuses_alg_none() {
        use base64::Engine as _;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.",
            b64(json!({"alg":"none","typ":"JWT"})),
            b64(json!({"sub":"mallory"}))
        );
        assert_eq!(
            JwtAuth::hs256(b"secret").verify(&token),
            Err(JwtError::Invalid)
        );
    }
}

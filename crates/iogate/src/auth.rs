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

use crate::client::ClientState;
use crate::exception::{Exception, WsException};
use crate::expiry::{Expiries, OnExpiry};
use crate::gateway::Middleware;
use crate::guard::Guard;
use crate::handler::{Ack, BoxFuture, Route};
use crate::{Client, Context, Data};

/// Verifies JSON Web Tokens, and makes the middleware and guard that use them.
///
/// The accepted algorithms are pinned by the key: an HMAC secret accepts only its HMAC
/// algorithm, a public key only the algorithm it was given for, a JWKS only each key's own
/// `alg`; `none` is never accepted. `iss` and `aud` are checked when configured.
///
/// Cheap to clone: the keys and the validation rules are shared.
#[derive(Clone)]
pub struct JwtAuth {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    /// The admitted clients' token expiries.
    expiries: Arc<Expiries>,
    /// What a token of the single key is checked against, made on first use.
    validation: std::sync::OnceLock<Validation>,
}

enum Keys {
    One(DecodingKey, Algorithm),
    /// A JWKS: keys by `kid`, each with its algorithm.
    Set(std::collections::HashMap<String, (DecodingKey, Algorithm)>),
}

/// A signing algorithm iogate accepts tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }

    fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = JwtConfigError;
    fn from_str(s: &str) -> Result<Self, JwtConfigError> {
        Ok(match s {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            other => return Err(JwtConfigError(format!("unsupported algorithm {other:?}"))),
        })
    }
}

/// A JWT configuration that cannot work: a bad key, a key that does not fit its algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JWT configuration: {0}")]
pub struct JwtConfigError(String);

impl JwtAuth {
    fn with_keys(keys: Keys) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                issuer: None,
                audience: None,
                leeway: 0,
                expiries: Expiries::new(),
                validation: std::sync::OnceLock::new(),
            }),
        }
    }

    fn map(self, f: impl FnOnce(&mut Inner)) -> Self {
        let Inner {
            keys,
            issuer,
            audience,
            leeway,
            expiries: _,
            validation: _,
        } = &*self.inner;
        let keys = match keys {
            Keys::One(k, a) => Keys::One(k.clone(), *a),
            Keys::Set(set) => Keys::Set(set.clone()),
        };
        let mut inner = Inner {
            keys,
            issuer: issuer.clone(),
            audience: audience.clone(),
            leeway: *leeway,
            expiries: Expiries::new(),
            validation: std::sync::OnceLock::new(),
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Tokens signed with HMAC-SHA256 and `secret`. As NestJS's `JwtService.verify`: `exp`
    /// and `nbf` are checked when present, with no leeway.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with_keys(Keys::One(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
        ))
    }

    /// Tokens signed with `algorithm` (HS256, HS384 or HS512) and `secret`.
    pub fn hmac(algorithm: JwtAlgorithm, secret: &[u8]) -> Result<Self, JwtConfigError> {
        if !algorithm.is_hmac() {
            return Err(JwtConfigError(format!(
                "{algorithm:?} is not an HMAC algorithm"
            )));
        }
        Ok(Self::with_keys(Keys::One(
            DecodingKey::from_secret(secret),
            algorithm.to_jwt(),
        )))
    }

    /// Tokens signed with `algorithm` (RS*, ES*, EdDSA) by the private key whose public key is
    /// `pem`.
    pub fn public_key_pem(algorithm: JwtAlgorithm, pem: &[u8]) -> Result<Self, JwtConfigError> {
        let bad = |e: jsonwebtoken::errors::Error| {
            JwtConfigError(format!("bad {algorithm:?} public key: {e}"))
        };
        let key = match algorithm {
            JwtAlgorithm::RS256 | JwtAlgorithm::RS384 | JwtAlgorithm::RS512 => {
                DecodingKey::from_rsa_pem(pem).map_err(bad)?
            }
            JwtAlgorithm::ES256 | JwtAlgorithm::ES384 => {
                DecodingKey::from_ec_pem(pem).map_err(bad)?
            }
            JwtAlgorithm::EdDSA => DecodingKey::from_ed_pem(pem).map_err(bad)?,
            hmac => {
                return Err(JwtConfigError(format!(
                    "{hmac:?} takes a secret, not a public key"
                )));
            }
        };
        Ok(Self::with_keys(Keys::One(key, algorithm.to_jwt())))
    }

    /// Tokens signed by any key of a JSON Web Key Set (`{"keys":[...]}`), chosen by the
    /// token's `kid`; each key must name its `alg`, and only that algorithm is accepted for it.
    pub fn jwks(json: &str) -> Result<Self, JwtConfigError> {
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(json).map_err(|e| JwtConfigError(format!("bad JWKS: {e}")))?;
        let mut keys = std::collections::HashMap::new();
        for jwk in &set.keys {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| JwtConfigError("a JWKS key has no kid".into()))?;
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<JwtAlgorithm>().ok())
                .ok_or_else(|| {
                    JwtConfigError(format!("JWKS key {kid:?} names no supported alg"))
                })?;
            if alg.is_hmac() {
                return Err(JwtConfigError(format!(
                    "JWKS key {kid:?}: HMAC keys are not accepted in a JWKS"
                )));
            }
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| JwtConfigError(format!("JWKS key {kid:?}: {e}")))?;
            keys.insert(kid, (key, alg.to_jwt()));
        }
        if keys.is_empty() {
            return Err(JwtConfigError("the JWKS has no keys".into()));
        }
        Ok(Self::with_keys(Keys::Set(keys)))
    }

    /// Requires `iss` to be `issuer`.
    #[must_use]
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.map(|i| i.issuer = Some(issuer))
    }

    /// Requires `aud` to contain `audience`.
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        self.map(|i| i.audience = Some(audience))
    }

    /// Allows `seconds` of clock difference when checking `exp` and `nbf`.
    #[must_use]
    pub fn leeway(self, seconds: u64) -> Self {
        self.map(|i| i.leeway = seconds)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.required_spec_claims.clear();
        v.leeway = self.inner.leeway;
        v.validate_nbf = true;
        if let Some(iss) = &self.inner.issuer {
            v.set_issuer(&[iss]);
            v.required_spec_claims.insert("iss".into());
        }
        match &self.inner.audience {
            Some(aud) => {
                v.set_audience(&[aud]);
                v.required_spec_claims.insert("aud".into());
            }
            None => v.validate_aud = false,
        }
        v
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        let (key, alg) = match &self.inner.keys {
            Keys::One(key, alg) => (key, *alg),
            Keys::Set(set) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
                let kid = header.kid.ok_or(JwtError::Invalid)?;
                let (key, alg) = set.get(&kid).ok_or(JwtError::Invalid)?;
                (key, *alg)
            }
        };
        let per_key;
        let validation = match &self.inner.keys {
            Keys::One(..) => self.inner.validation.get_or_init(|| self.validation(alg)),
            Keys::Set(_) => {
                per_key = self.validation(alg);
                &per_key
            }
        };
        jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
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

    /// Ends `client`'s connection when its token expires: at `exp` (plus the leeway), unless
    /// the client sent a fresh token meanwhile ([`REFRESH_EVENT`]), it is sent
    /// [`TOKEN_EXPIRED_EVENT`] `{"message":"Token expired"}` and then disconnected, so that it
    /// can tell this disconnect from others, fetch a new token and reconnect. The middleware
    /// does this for every client it admits; call it from middleware of your own.
    pub fn watch_expiry(&self, client: &Client) {
        let expire = Expire(self.inner.leeway);
        let Some(deadline) = expire.deadline(&client.state) else {
            return;
        };
        self.inner
            .expiries
            .watch(client, deadline, || Arc::new(expire));
    }

    /// The handler of [`REFRESH_EVENT`]: the client sends a fresh token (as a string or
    /// `{"token": ..}`) for the same user; it is acknowledged with `{"exp": <new exp>}` and the
    /// expiry watch moves on to it. Register it on the gateways that use this `JwtAuth`:
    /// `.subscribe_message(auth::REFRESH_EVENT, jwt.refresh_handler())`.
    pub fn refresh_handler(&self) -> Route {
        let jwt = self.clone();
        Route::new(move |client: Client, Data(body): Data<Value>| {
            let refreshed = jwt.refresh(&client, &body);
            async move { refreshed }
        })
    }

    /// What [`refresh_handler`](Self::refresh_handler) does, for a handler of your own (e.g. a
    /// `#[subscribe_message("refreshToken")]` method): checks the fresh token in `body` (a
    /// string or `{"token": ..}`) for `client`'s user, stores its claims, and returns the
    /// acknowledgement `{"exp": <new exp>}`.
    pub fn refresh(&self, client: &Client, body: &Value) -> Result<Ack<Value>, WsException> {
        let token = match body {
            Value::String(t) => Some(t.as_str()),
            other => other.get("token").and_then(Value::as_str),
        }
        .ok_or_else(|| WsException::new(format!("Unauthorized: {}", JwtError::Missing)))?;
        let claims = self
            .verify(token)
            .map_err(|e| WsException::new(format!("Unauthorized: {e}")))?;
        if claims.sub().as_deref() != client.user() {
            return Err(WsException::new(
                "Unauthorized: the token is for another user",
            ));
        }
        let exp = claims.get("exp").cloned().unwrap_or(Value::Null);
        client.insert(claims);
        Ok(Ack(serde_json::json!({ "exp": exp })))
    }

    /// What [`middleware`](Self::middleware) does, for a middleware of your own (e.g. a
    /// `#[middleware]` method): [`authenticate`](Self::authenticate)s `client` and
    /// [watches](Self::watch_expiry) its token's expiry, or refuses it with
    /// `Unauthorized: <why>`.
    pub fn admit(&self, client: &Client) -> Result<Claims, WsException> {
        let claims = self
            .authenticate(client)
            .map_err(|e| WsException::new(format!("Unauthorized: {e}")))?;
        self.watch_expiry(client);
        Ok(claims)
    }

    /// A connection middleware that admits only clients with a valid token: the others get
    /// `connect_error` with `Unauthorized: no token provided`, `Unauthorized: invalid token` or
    /// `Unauthorized: token expired`. Admitted clients are watched for expiry
    /// ([`watch_expiry`](Self::watch_expiry)).
    pub fn middleware(&self) -> impl Middleware + use<> {
        JwtMiddleware(self.clone())
    }

    /// A guard that lets an event through only when its client authenticated and its token
    /// has not expired since (`WsJwtGuard`).
    pub fn guard(&self) -> impl Guard + use<> {
        JwtGuard(self.clone())
    }
}

/// The event a client is sent when its token expires, right before it is disconnected.
pub const TOKEN_EXPIRED_EVENT: &str = "tokenExpired";
/// The event a client sends with a fresh token to stay connected past its token's expiry.
pub const REFRESH_EVENT: &str = "refreshToken";

/// Whether the token a client authenticated with (its stored [`Claims`]) is past its `exp`,
/// without leeway: a client recovering its session is then checked again by the middlewares.
pub(crate) fn token_expired(state: &ClientState) -> bool {
    Expire(0)
        .deadline(state)
        .is_some_and(|exp| exp <= crate::expiry::now())
}

/// What expiry means to a [`JwtAuth`]: the deadline is the stored claims' `exp` plus the
/// leeway; a client past it is told [`TOKEN_EXPIRED_EVENT`], then disconnected.
struct Expire(u64);

impl OnExpiry for Expire {
    fn deadline(&self, state: &ClientState) -> Option<u64> {
        let claims = state.get::<Claims>()?;
        let exp = claims.get("exp").and_then(Value::as_u64)?;
        Some(exp.saturating_add(self.0))
    }

    fn expired(&self, client: Client) {
        if client.connected() {
            tracing::info!(
                client = client.id(),
                user = client.user(),
                "token expired: disconnecting"
            );
            let _ = client.emit(
                TOKEN_EXPIRED_EVENT,
                &serde_json::json!({ "message": "Token expired" }),
            );
            client.disconnect();
        }
    }
}

struct JwtMiddleware(JwtAuth);

impl Middleware for JwtMiddleware {
    fn call(&self, client: Client) -> BoxFuture<Result<(), Exception>> {
        let result = self.0.admit(&client).map(drop).map_err(Exception::from);
        Box::pin(std::future::ready(result))
    }
}

struct JwtGuard(JwtAuth);

impl Guard for JwtGuard {
    async fn can_activate(&self, cx: &Context) -> Result<bool, Exception> {
        let client = cx.client();
        let claims = match client.get::<Claims>() {
            Some(c) => c,
            // Not authenticated at the handshake: try the token it sent then.
            None => match self.0.authenticate(client) {
                Ok(c) => c,
                Err(_) => return Ok(false),
            },
        };
        Ok(!claims.is_expired(self.0.inner.leeway))
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

    fn sign_with(alg: Algorithm, key: &EncodingKey, claims: Value, kid: Option<&str>) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, &claims, key).unwrap()
    }

    const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{KEYS}{name}")).unwrap()
    }

    #[test]
    fn public_keys_accept_only_their_own_algorithm() {
        let claims = json!({"sub": "alice"});
        let rsa = EncodingKey::from_rsa_pem(&read("rsa.key")).unwrap();
        let ec = EncodingKey::from_ec_pem(&read("ec.key")).unwrap();
        let ed = EncodingKey::from_ed_pem(&read("ed.key")).unwrap();
        let by_rsa = JwtAuth::public_key_pem(JwtAlgorithm::RS256, &read("rsa.pub")).unwrap();
        let by_ec = JwtAuth::public_key_pem(JwtAlgorithm::ES256, &read("ec.pub")).unwrap();
        let by_ed = JwtAuth::public_key_pem(JwtAlgorithm::EdDSA, &read("ed.pub")).unwrap();
        let rs256 = sign_with(Algorithm::RS256, &rsa, claims.clone(), None);
        let es256 = sign_with(Algorithm::ES256, &ec, claims.clone(), None);
        let eddsa = sign_with(Algorithm::EdDSA, &ed, claims.clone(), None);
        assert!(by_rsa.verify(&rs256).is_ok());
        assert!(by_ec.verify(&es256).is_ok());
        assert!(by_ed.verify(&eddsa).is_ok());
        assert_eq!(by_rsa.verify(&es256), Err(JwtError::Invalid));
        assert_eq!(by_ec.verify(&eddsa), Err(JwtError::Invalid));
        // Algorithm confusion: an HMAC token "signed" with the public key's text is refused.
        let confused = sign_with(
            Algorithm::HS256,
            &EncodingKey::from_secret(&read("rsa.pub")),
            claims,
            None,
        );
        assert_eq!(by_rsa.verify(&confused), Err(JwtError::Invalid));
        assert!(JwtAuth::public_key_pem(JwtAlgorithm::HS256, &read("rsa.pub")).is_err());
        assert!(JwtAuth::hmac(JwtAlgorithm::RS256, b"secret").is_err());
    }

    #[test]
    fn jwks_picks_the_key_by_kid_and_issuer_and_audience_are_checked() {
        let jwks = std::fs::read_to_string(format!("{KEYS}jwks.json")).unwrap();
        let rsa = EncodingKey::from_rsa_pem(&read("rsa.key")).unwrap();
        let auth = JwtAuth::jwks(&jwks)
            .unwrap()
            .issuer("https://issuer.example")
            .audience("iogate");
        let good = json!({"sub": "alice", "iss": "https://issuer.example", "aud": "iogate"});
        assert!(
            auth.verify(&sign_with(
                Algorithm::RS256,
                &rsa,
                good.clone(),
                Some("rsa-1")
            ))
            .is_ok()
        );
        assert_eq!(
            auth.verify(&sign_with(
                Algorithm::RS256,
                &rsa,
                good.clone(),
                Some("other")
            )),
            Err(JwtError::Invalid)
        );
        assert_eq!(
            auth.verify(&sign_with(Algorithm::RS256, &rsa, good.clone(), None)),
            Err(JwtError::Invalid)
        );
        let wrong_iss = json!({"sub": "alice", "iss": "https://evil.example", "aud": "iogate"});
        assert_eq!(
            auth.verify(&sign_with(Algorithm::RS256, &rsa, wrong_iss, Some("rsa-1"))),
            Err(JwtError::Invalid)
        );
        let no_aud = json!({"sub": "alice", "iss": "https://issuer.example"});
        assert_eq!(
            auth.verify(&sign_with(Algorithm::RS256, &rsa, no_aud, Some("rsa-1"))),
            Err(JwtError::Invalid)
        );
    }

    #[test]
    fn hmac_variants_and_leeway() {
        let now = jsonwebtoken::get_current_timestamp();
        let hs512 = JwtAuth::hmac(JwtAlgorithm::HS512, b"secret").unwrap();
        let token = sign_with(
            Algorithm::HS512,
            &EncodingKey::from_secret(b"secret"),
            json!({"exp": now - 5}),
            None,
        );
        assert_eq!(hs512.verify(&token), Err(JwtError::Expired));
        assert!(hs512.leeway(30).verify(&token).is_ok());
        let hs256_token = sign_with(
            Algorithm::HS256,
            &EncodingKey::from_secret(b"secret"),
            json!({}),
            None,
        );
        assert_eq!(
            JwtAuth::hmac(JwtAlgorithm::HS512, b"secret")
                .unwrap()
                .verify(&hs256_token),
            Err(JwtError::Invalid)
        );
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

//! What of a client travels with its session to another node of the cluster, when connection
//! state recovery keeps sessions in Redis (socket.io's `socket.data`): its user and the verified
//! claims of its token, as JSON. Values stored with [`Client::insert`](crate::Client::insert)
//! stay on the node that has them: they are typed, not serialisable.

use serde_json::Value;

use crate::client::ClientState;

/// The client's state as its session keeps it: `{"user": ..., "claims": {...}}`, each only
/// when set.
pub(crate) fn to_json(state: &ClientState) -> Value {
    let mut data = serde_json::Map::new();
    if let Some(user) = state.user() {
        data.insert("user".into(), user.into());
    }
    #[cfg(feature = "jwt")]
    if let Some(claims) = state.get::<crate::auth::Claims>() {
        data.insert("claims".into(), Value::Object((*claims.0).clone()));
    }
    Value::Object(data)
}

/// What another node kept of a client, as [`to_json`] wrote it.
pub(crate) struct Kept {
    /// Its user.
    pub(crate) user: String,
    /// The verified claims of its token.
    #[cfg(feature = "jwt")]
    pub(crate) claims: Option<crate::auth::Claims>,
}

impl Kept {
    /// Gives `state` (the recovered client's) the user and claims kept.
    pub(crate) fn restore(self, state: &ClientState) {
        state.bind_user(&self.user);
        #[cfg(feature = "jwt")]
        if let Some(claims) = self.claims {
            state.insert(claims);
        }
    }
}

/// What `data` (another node's session data) keeps of its client; `None` when it names no user
/// (a Node node's session, or a client that never authenticated): nothing then vouches for the
/// client, and the middlewares check it as a new one.
pub(crate) fn read(data: &Value) -> Option<Kept> {
    Some(Kept {
        user: data.get("user").and_then(Value::as_str)?.to_owned(),
        #[cfg(feature = "jwt")]
        claims: match data.get("claims") {
            Some(Value::Object(claims)) => {
                Some(crate::auth::Claims(std::sync::Arc::new(claims.clone())))
            }
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_user_no_state() {
        assert!(read(&serde_json::json!({})).is_none());
        assert!(read(&serde_json::json!({"user": 1})).is_none());
        let kept = read(&serde_json::json!({"user": "ann", "claims": {"sub": "ann"}})).unwrap();
        assert_eq!(kept.user, "ann");
        #[cfg(feature = "jwt")]
        assert_eq!(kept.claims.and_then(|c| c.sub()).as_deref(), Some("ann"));
    }
}

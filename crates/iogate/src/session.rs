//! What of a client travels with its session to another node of the cluster, when connection
//! state recovery keeps sessions in Redis (socket.io's `socket.data`): its user and the verified
//! claims of its token, as JSON. Values stored with [`Client::insert`](crate::Client::insert)
//! stay on the node that has them: they are typed, not serialisable.

use std::sync::Arc;

use serde_json::Value;

use crate::app::NsRuntime;
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

/// The state another node kept of client `id`, as [`to_json`] wrote it; `None` when it names
/// no user (a Node node's session, or a client that never authenticated): nothing then vouches
/// for the client, and the middlewares check it as a new one.
pub(crate) fn from_json(id: Box<str>, data: &Value, ns: &Arc<NsRuntime>) -> Option<ClientState> {
    let user = data.get("user").and_then(Value::as_str)?;
    let state = ClientState::new(id, Value::Null, ns);
    state.bind_user(user);
    #[cfg(feature = "jwt")]
    if let Some(Value::Object(claims)) = data.get("claims") {
        state.insert(crate::auth::Claims(Arc::new(claims.clone())));
    }
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_user_no_state() {
        let rails = Arc::new(crate::limits::Guardrails::new(Default::default()));
        let ns = Arc::new(NsRuntime::new("/".into(), rails, true));
        assert!(from_json("id".into(), &serde_json::json!({}), &ns).is_none());
        assert!(from_json("id".into(), &serde_json::json!({"user": 1}), &ns).is_none());
        let state = from_json("id".into(), &serde_json::json!({"user": "ann"}), &ns).unwrap();
        assert_eq!(to_json(&state), serde_json::json!({"user": "ann"}));
    }
}

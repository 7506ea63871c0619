//! Exception filters: how a failed handler reaches the client (NestJS's `@Catch()` filters).

use serde_json::{Map, Value, json};

use crate::Context;
use crate::exception::{Exception, WsError};

/// Sends the client what it should see when its event failed.
///
/// The default, [`BaseExceptionFilter`], writes NestJS's `exception` event. A gateway or a
/// handler can have its own; it can delegate to `BaseExceptionFilter` for the cases it does
/// not handle, as a NestJS filter calls `super.catch`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an exception filter",
    label = "not an exception filter",
    note = "an exception filter (NestJS's `@Catch()` filter) is a `fn(&Exception, &Context)` \
            or a closure of that signature, or a type implementing `iogate::ExceptionFilter` \
            (e.g. `BaseExceptionFilter`)"
)]
pub trait ExceptionFilter: Send + Sync + 'static {
    /// Reports `exception`, raised while handling the event in `cx`, to the client.
    fn catch(&self, exception: &Exception, cx: &Context);
}

impl<F: Fn(&Exception, &Context) + Send + Sync + 'static> ExceptionFilter for F {
    fn catch(&self, exception: &Exception, cx: &Context) {
        self(exception, cx)
    }
}

/// NestJS's `BaseWsExceptionFilter`, byte for byte: the event `exception` with
/// `{"status":"error","message":..,"cause":{"pattern":..,"data":..}}`, or the object of an
/// object [`WsException`](crate::WsException) as is.
#[derive(Debug, Clone, Copy, Default)]
pub struct BaseExceptionFilter;

/// The event the default filter emits.
pub const EXCEPTION_EVENT: &str = "exception";

impl BaseExceptionFilter {
    /// The payload the client is sent for `exception`.
    pub fn payload(exception: &Exception, cx: &Context) -> Value {
        match exception.to_client().error() {
            WsError::Object(v) => v.clone(),
            // An event refused before it was routed has no pattern, and no cause.
            WsError::Message(m) if cx.event().is_empty() => {
                json!({ "status": "error", "message": m })
            }
            WsError::Message(m) => {
                let mut cause = Map::new();
                cause.insert("pattern".into(), cx.event().into());
                if let Some(data) = cx.body() {
                    cause.insert("data".into(), data);
                }
                json!({ "status": "error", "message": m, "cause": cause })
            }
        }
    }
}

impl ExceptionFilter for BaseExceptionFilter {
    fn catch(&self, exception: &Exception, cx: &Context) {
        // A client gone meanwhile needs no report.
        let _ = cx
            .client()
            .emit(EXCEPTION_EVENT, &Self::payload(exception, cx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Data, Rejection, WsException};

    #[tokio::test]
    async fn the_default_payload_names_the_event_and_its_body() {
        let cx = Context::builder()
            .event("createMessage")
            .body(json!({ "text": "" }))
            .build()
            .await;
        let e = Exception::from(WsException::new("Text required"));
        assert_eq!(
            BaseExceptionFilter::payload(&e, &cx),
            json!({
                "status": "error",
                "message": "Text required",
                "cause": { "pattern": "createMessage", "data": { "text": "" } }
            })
        );
        let object = Exception::from(WsException::object(json!({ "code": 42 })));
        assert_eq!(
            BaseExceptionFilter::payload(&object, &cx),
            json!({ "code": 42 })
        );
        let internal = Exception::from(std::io::Error::other("disk on fire"));
        assert_eq!(
            BaseExceptionFilter::payload(&internal, &cx)["message"],
            "Internal server error"
        );
    }

    #[tokio::test]
    async fn a_filter_matches_a_typed_rejection() {
        let seen = std::sync::Mutex::new(Vec::new());
        let filter = |e: &Exception, _: &Context| {
            if let Some(Rejection::InvalidBody { reason }) = e.rejection() {
                seen.lock().unwrap().push(reason.clone());
            }
        };
        let cx = Context::builder().body(json!("seven")).build().await;
        let refused = cx.extract::<Data<u32>>().unwrap_err();
        filter(&refused, &cx);
        assert_eq!(
            *seen.lock().unwrap(),
            ["invalid type: string \"seven\", expected u32"]
        );
        // The client still reads the message it always did.
        assert_eq!(
            BaseExceptionFilter::payload(&refused, &cx)["message"],
            "Invalid message body: invalid type: string \"seven\", expected u32"
        );
    }
}

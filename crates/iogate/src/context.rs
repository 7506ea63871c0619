//! [`Context`]: one incoming event, as guards, pipes, extractors and filters see it (NestJS's
//! `ExecutionContext` / `ArgumentsHost`).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::handler::Value as SioValue;

use crate::{Client, Server};

/// One event from a client, on its way to its handler.
pub struct Context {
    pub(crate) client: Client,
    pub(crate) server: Server,
    pub(crate) event: Arc<str>,
    pub(crate) body: Body,
    pub(crate) ack_id: Option<i64>,
    pub(crate) binaries: Vec<Bytes>,
}

/// The event's arguments, kept as the client sent them until someone needs them decoded.
pub(crate) enum Body {
    /// No argument: `undefined` in NestJS.
    None,
    /// The JSON text of the arguments inside the packet's text: one argument, or several
    /// (`list`), which NestJS hands to the handler as an array.
    Raw {
        packet: SioValue,
        start: usize,
        end: usize,
        list: bool,
    },
    /// A body a pipe replaced.
    Value(Value),
}

impl Body {
    /// Deserialises the body into `T`; no argument deserialises as `null`.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        match self {
            Body::None => T::deserialize(&Value::Null),
            Body::Raw {
                packet,
                start,
                end,
                list,
            } => {
                let args = &packet_text(packet)[*start..*end];
                if *list {
                    serde_json::from_str(&format!("[{args}]"))
                } else {
                    serde_json::from_str(args)
                }
            }
            Body::Value(v) => T::deserialize(v),
        }
    }

    /// The body as a JSON value, `None` when the client sent no argument.
    pub(crate) fn to_value(&self) -> Option<Value> {
        match self {
            Body::None => None,
            // The text was checked when the packet was split, so it decodes.
            _ => self.decode().ok(),
        }
    }
}

/// The JSON text of a packet (binary packets have none).
pub(crate) fn packet_text(packet: &SioValue) -> &str {
    packet.as_str().map_or("", |s| s)
}

/// The parts of an event packet: its name and where its arguments are.
pub(crate) struct Packet<'a> {
    pub(crate) event: std::borrow::Cow<'a, str>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) args: usize,
}

/// Splits the JSON text of an event packet, `["event", arg, ...]`, without decoding the
/// arguments. `None` when it is not a JSON array starting with a string.
pub(crate) fn split_packet(text: &str) -> Option<Packet<'_>> {
    let parts: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    let (name, args) = parts.split_first()?;
    let event = serde_json::from_str(name.get()).ok()?;
    let offset = |raw: &RawValue| raw.get().as_ptr() as usize - text.as_ptr() as usize;
    let (start, end) = match (args.first(), args.last()) {
        (Some(first), Some(last)) => (offset(first), offset(last) + last.get().len()),
        _ => (0, 0),
    };
    Some(Packet {
        event,
        start,
        end,
        args: args.len(),
    })
}

impl Context {
    /// The client that sent the event.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server handle.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The event's name (NestJS's `pattern`).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The body, as NestJS's `@MessageBody()` sees it: the argument when the client sent one,
    /// an array of them when it sent several, `None` when it sent none.
    pub fn body(&self) -> Option<Value> {
        self.body.to_value()
    }

    /// Deserialises the body into `T`.
    pub fn body_as<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        self.body.decode()
    }

    /// Replaces the body (what a pipe does).
    pub fn set_body(&mut self, body: Option<Value>) {
        self.body = body.map_or(Body::None, Body::Value);
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack_id.is_some()
    }

    /// The binary attachments of the event, in order. In the body each one stands as a
    /// placeholder object `{"_placeholder":true,"num":<index>}`.
    pub fn binaries(&self) -> &[Bytes] {
        &self.binaries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Body {
        let p = split_packet(text).unwrap();
        match p.args {
            0 => Body::None,
            n => Body::Raw {
                packet: SioValue::Str(text.to_string().into(), None),
                start: p.start,
                end: p.end,
                list: n > 1,
            },
        }
    }

    #[test]
    fn one_argument_is_the_body_several_are_an_array_none_is_null() {
        assert_eq!(
            body(r#"["e",{"a":1}]"#).to_value(),
            Some(serde_json::json!({"a":1}))
        );
        assert_eq!(
            body(r#"["e", 1 , "two"]"#).to_value(),
            Some(serde_json::json!([1, "two"]))
        );
        assert_eq!(body(r#"["e"]"#).to_value(), None);
        assert_eq!(body(r#"["e"]"#).decode::<Option<u8>>().unwrap(), None);
    }

    #[test]
    fn escaped_event_names_are_decoded_and_bad_packets_refused() {
        assert_eq!(split_packet(r#"["caf\u00e9",1]"#).unwrap().event, "café");
        assert!(split_packet(r#"[1,2]"#).is_none());
        assert!(split_packet(r#"[]"#).is_none());
        assert!(split_packet(r#"{"a":1}"#).is_none());
    }
}

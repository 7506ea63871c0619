//! [`Context`]: one incoming event, as guards, pipes, extractors and filters see it (NestJS's
//! `ExecutionContext` / `ArgumentsHost`).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::handler::Value as SioValue;

use crate::{Args, Client, Server};

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
    /// A body a pipe replaced; `list` says whether the client had sent several arguments.
    Value { value: Value, list: bool },
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
            Body::Value { value, .. } => T::deserialize(value),
        }
    }

    /// Replaces the body with what a pipe returned, remembering whether the client sent
    /// several arguments.
    fn replace(&mut self, body: Option<Value>) {
        let list = match self {
            Body::None => false,
            Body::Raw { list, .. } | Body::Value { list, .. } => *list,
        };
        *self = match body {
            Some(value) => Body::Value { value, list },
            None => Body::None,
        };
    }

    /// The arguments as a list: as the client sent them, or what a pipe made of them.
    pub(crate) fn to_args(&self, binaries: &[Bytes]) -> Args {
        let values = match self {
            Body::None => Vec::new(),
            Body::Raw {
                packet, start, end, ..
            } => {
                let args = &packet_text(packet)[*start..*end];
                // The text was checked when the packet was split, so it decodes.
                serde_json::from_str(&format!("[{args}]")).unwrap_or_default()
            }
            Body::Value {
                value: Value::Array(items),
                list: true,
            } => items.clone(),
            Body::Value { value, .. } => vec![value.clone()],
        };
        Args {
            values,
            binaries: binaries.to_vec(),
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

    /// The arguments exactly as the client sent them, count preserved, with their binary
    /// attachments: what the [`Args`] extractor gives (see [`args`](crate::args)).
    ///
    /// After [`set_body`](Self::set_body) (a pipe), the new body: its items when the client
    /// sent several arguments and the body is an array, else the body as the one argument, and
    /// no argument for `None`. A pipe that returns the body unchanged changes nothing.
    pub fn args(&self) -> Args {
        self.body.to_args(&self.binaries)
    }

    /// Replaces the body (what a pipe does).
    pub fn set_body(&mut self, body: Option<Value>) {
        self.body.replace(body);
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack_id.is_some()
    }

    /// The binary attachments of the event, in order. In the body each one stands as a
    /// placeholder object `{"_placeholder":true,"num":<index>}`; [`args`](Self::args) gives
    /// both together.
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
    fn args_keep_the_count_the_client_sent() {
        let args = |text: &str| body(text).to_args(&[]).values;
        assert_eq!(args(r#"["e",[1,2]]"#), vec![serde_json::json!([1, 2])]);
        assert_eq!(
            args(r#"["e", 1 , "two"]"#),
            vec![serde_json::json!(1), serde_json::json!("two")]
        );
        assert_eq!(args(r#"["e"]"#), Vec::<Value>::new());
        let bins = [Bytes::from_static(b"x")];
        let with = body(r#"["e",{"_placeholder":true,"num":0}]"#).to_args(&bins);
        assert_eq!(with.binaries, bins);
    }

    #[test]
    fn a_pipes_body_is_the_arguments_a_pass_through_pipe_changes_nothing() {
        let piped = |text: &str, new: Option<Value>| {
            let mut b = body(text);
            b.replace(new);
            b.to_args(&[]).values
        };
        let (one, two) = (serde_json::json!(1), serde_json::json!(2));
        let pair = serde_json::json!([1, 2]);
        for text in [r#"["e",1,2]"#, r#"["e",[1,2]]"#, r#"["e",1]"#, r#"["e"]"#] {
            let unchanged = body(text).to_value();
            assert_eq!(
                piped(text, unchanged),
                body(text).to_args(&[]).values,
                "{text}"
            );
        }
        assert_eq!(
            piped(r#"["e",1,2]"#, Some(pair.clone())),
            vec![one.clone(), two]
        );
        assert_eq!(piped(r#"["e",1,2]"#, Some(one.clone())), vec![one.clone()]);
        assert_eq!(piped(r#"["e",1]"#, Some(pair.clone())), vec![pair]);
        assert_eq!(piped(r#"["e",1]"#, None), Vec::<Value>::new());
    }

    #[test]
    fn escaped_event_names_are_decoded_and_bad_packets_refused() {
        assert_eq!(split_packet(r#"["caf\u00e9",1]"#).unwrap().event, "café");
        assert!(split_packet(r#"[1,2]"#).is_none());
        assert!(split_packet(r#"[]"#).is_none());
        assert!(split_packet(r#"{"a":1}"#).is_none());
    }

    /// The packet's event name and body, as dispatch sees them.
    fn split(text: &str) -> Option<(String, usize)> {
        split_packet(text).map(|p| (p.event.into_owned(), p.args))
    }

    fn body_of(text: &str) -> Option<Option<Value>> {
        split_packet(text)?;
        Some(body(text).to_value())
    }

    mod properties {
        use super::*;
        use crate::limits::json_depth;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                ".*".prop_map(Value::from),
            ];
            leaf.prop_recursive(6, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                    prop::collection::btree_map(".*", inner, 0..8)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// No text, however broken, panics the splitter, the depth scan or the decoder.
            #[test]
            fn arbitrary_text_never_panics(text in ".{0,200}") {
                let _ = json_depth(&text, 32);
                if let Some(body) = body_of(&text) {
                    let _ = body;
                }
            }

            /// Bytes that look like packets (brackets, quotes, escapes) never panic either.
            #[test]
            fn packet_shaped_text_never_panics(text in r#"\[("[a-z\\"]{0,8}"|[0-9,\[\]{}:"\\ ]){0,60}"#) {
                let _ = json_depth(&text, 32);
                let _ = split(&text);
                let _ = body_of(&text);
            }

            /// Any event's arguments come back as the handler sees them: one as itself, several
            /// as an array.
            #[test]
            fn arguments_round_trip(event in "[a-zA-Z]{1,12}", args in prop::collection::vec(json_value(), 0..4)) {
                let mut packet = vec![Value::from(event.clone())];
                packet.extend(args.iter().cloned());
                let text = Value::Array(packet).to_string();
                let (name, _) = split(&text).expect("a valid packet splits");
                prop_assert_eq!(name, event);
                prop_assert_eq!(&body(&text).to_args(&[]).values, &args, "Args keeps the list");
                let expected = match args.len() {
                    0 => None,
                    1 => Some(args[0].clone()),
                    _ => Some(Value::Array(args)),
                };
                prop_assert_eq!(body_of(&text).expect("a valid packet decodes"), expected);
            }
        }
    }
}

//! [`Context`]: one incoming event, as guards, pipes, extractors and filters see it (NestJS's
//! `ExecutionContext` / `ArgumentsHost`).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::{Args, Client, Server};

mod builder;

pub use builder::ContextBuilder;

/// One event from a client, on its way to its handler.
///
/// Cheap to clone (reference counts, and the event's binary attachments, if any).
#[derive(Clone)]
pub struct Context {
    pub(crate) client: Client,
    pub(crate) server: Server,
    pub(crate) event: Arc<str>,
    pub(crate) body: Body,
    pub(crate) ack_id: Option<i64>,
    pub(crate) binaries: Vec<Bytes>,
}

/// The event's arguments, kept as the client sent them until someone needs them decoded.
#[derive(Clone)]
pub(crate) enum Body {
    /// No argument: `undefined` in NestJS.
    None,
    /// The JSON text of the arguments inside the packet's text: one argument, or several
    /// (`list`), which NestJS hands to the handler as an array.
    Raw {
        packet: crate::engine::sio::Str,
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
                let args = &packet[*start..*end];
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
                let args = &packet[*start..*end];
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

/// The parts of an event packet: its name and where its arguments are.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct Packet<'a> {
    pub(crate) event: std::borrow::Cow<'a, str>,
    /// Where the arguments' text starts: the first byte of the first argument (0 without
    /// arguments).
    pub(crate) start: usize,
    /// Where the arguments' text ends: just past the last byte of the last argument (0 without
    /// arguments).
    pub(crate) end: usize,
    /// How many arguments follow the name.
    pub(crate) args: usize,
    /// The nesting depth of arrays and objects, the packet's own array counting 1.
    pub(crate) depth: usize,
}

/// Splits the JSON text of an event packet, `["event", arg, ...]`, without decoding the
/// arguments, in one pass over its bytes that also measures its nesting depth. `None` when it
/// is not a JSON array starting with a string.
///
/// The protocol layer has parsed the text before (it is valid JSON): the scan checks the shape of
/// the outer array (the name, commas, the closing bracket, nothing after it) and skips the
/// arguments, strings and brackets, without checking their insides again. Whatever the
/// text, it does not panic, and `start..end` is within the text, on character boundaries.
pub(crate) fn split_packet(text: &str) -> Option<Packet<'_>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let (close, escaped) = string_end(b, i)?;
    let event = if escaped {
        std::borrow::Cow::Owned(serde_json::from_str(text.get(i..=close)?).ok()?)
    } else {
        std::borrow::Cow::Borrowed(text.get(i + 1..close)?)
    };
    i = close + 1;
    let (mut start, mut end, mut args, mut depth) = (0, 0, 0, 1);
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b']' => break,
            b',' => {}
            _ => return None,
        }
        i = skip_ws(b, i + 1);
        let first = i;
        i = match b.get(i)? {
            b'"' => string_end(b, i)?.0 + 1,
            b'[' | b'{' => {
                let (after, inner) = container_end(b, i)?;
                depth = depth.max(inner + 1);
                after
            }
            _ => scalar_end(b, i)?,
        };
        if args == 0 {
            start = first;
        }
        end = i;
        args += 1;
    }
    if skip_ws(b, i + 1) != b.len() {
        return None;
    }
    Some(Packet {
        event,
        start,
        end,
        args,
        depth,
    })
}

/// The index of the first byte from `i` on that is not JSON whitespace.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index of the quote closing the string opened at `open`, and whether the string has a
/// backslash escape.
fn string_end(b: &[u8], open: usize) -> Option<(usize, bool)> {
    let (mut i, mut escaped) = (open + 1, false);
    loop {
        match b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
}

/// The index just past the array or object opened at `open`, and its nesting depth (1 when
/// nothing is nested in it).
fn container_end(b: &[u8], open: usize) -> Option<(usize, usize)> {
    let (mut i, mut depth, mut max) = (open, 0usize, 0usize);
    loop {
        match b.get(i)? {
            b'"' => i = string_end(b, i)?.0,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => {
                // `open` is an opening bracket: `depth` is at least 1 here.
                depth -= 1;
                if depth == 0 {
                    return Some((i + 1, max));
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The index just past the number, `true`, `false` or `null` starting at `start`.
fn scalar_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'-' | b'.') = b.get(i) {
        i += 1;
    }
    (i > start).then_some(i)
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

    /// Runs the extractor `T` on this event, as a handler taking a `T` would: what a test of
    /// an extractor calls.
    ///
    /// ```
    /// use iogate::{Context, Data, Event};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = Context::builder().event("double").body(json!(21)).build().await;
    /// let (Event(name), Data(n)) = (cx.extract::<Event>().unwrap(), cx.extract::<Data<i64>>().unwrap());
    /// assert_eq!((name.as_str(), n), ("double", 21));
    /// # }
    /// ```
    pub fn extract<T: crate::FromContext>(&self) -> Result<T, crate::Exception> {
        T::from_context(self)
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

    /// The nesting depth of a JSON text (arrays and objects), strings skipped; stops counting at
    /// `limit + 1`. The reference the packet scanner's depth is checked against
    /// ([`split_packet`] measures it as it splits).
    fn json_depth(text: &str, limit: usize) -> usize {
        let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
        for &b in text.as_bytes() {
            if in_str {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max {
                        max = depth;
                        if max > limit {
                            return max;
                        }
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        max
    }

    #[test]
    fn json_depth_counts_brackets_outside_strings() {
        assert_eq!(json_depth(r#"["e",1]"#, 32), 1);
        assert_eq!(json_depth(r#"["e",{"a":[[1]]}]"#, 32), 4);
        assert_eq!(json_depth(r#"["e","[[[[{{{{"]"#, 32), 1);
        assert_eq!(json_depth(r#"["e","\"[[["]"#, 32), 1);
        assert_eq!(json_depth(&"[".repeat(1000), 32), 33);
    }

    fn body(text: &str) -> Body {
        let p = split_packet(text).unwrap();
        match p.args {
            0 => Body::None,
            n => Body::Raw {
                packet: crate::engine::sio::Str::from(text.to_string()),
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

    /// The splitter as it was, on serde_json, with [`json_depth`] for the depth: the reference
    /// the one-pass scanner is checked against.
    fn split_packet_serde(text: &str) -> Option<Packet<'_>> {
        use serde_json::value::RawValue;
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
            depth: json_depth(text, usize::MAX),
        })
    }

    /// The scanner agrees with the reference, and the arguments' text is what it says.
    fn check(text: &str) -> Packet<'_> {
        let p = split_packet(text).unwrap_or_else(|| panic!("{text}: does not split"));
        assert_eq!(Some(&p), split_packet_serde(text).as_ref(), "{text}");
        p
    }

    #[test]
    fn the_scanner_splits_names_arguments_and_measures_depth() {
        let p = check(r#"["e"]"#);
        assert_eq!(
            (&*p.event, p.start, p.end, p.args, p.depth),
            ("e", 0, 0, 0, 1)
        );
        let text = r#"[ "e" , 1 ]"#;
        let p = check(text);
        assert_eq!((&*p.event, &text[p.start..p.end], p.args), ("e", "1", 1));
        let text = " \t[\r\n\"e\"\n,\t1 ,\r\n\"two\"  ] \n";
        let p = check(text);
        assert_eq!((&text[p.start..p.end], p.args), ("1 ,\r\n\"two\"", 2));
        let text = r#"["e","a]b,c\"d\\",2]"#;
        let p = check(text);
        assert_eq!((&text[p.start..p.end], p.args), (r#""a]b,c\"d\\",2"#, 2));
        let text = r#"["e\\\"]", "[[{{", {"k]":"}\"]"}, ["\\"]]"#;
        let p = check(text);
        assert_eq!((&*p.event, p.args, p.depth), ("e\\\"]", 3, 2));
        assert_eq!(&text[p.start..p.end], r#""[[{{", {"k]":"}\"]"}, ["\\"]"#);
        let p = check(r#"["caf\u00e9\ud83d\ude00\/",true,null,-1.5e+3,{}]"#);
        assert_eq!((&*p.event, p.args, p.depth), ("café😀/", 4, 2));
        assert!(matches!(
            check(r#"["plain",1]"#).event,
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn depth_at_the_limit_passes_one_more_is_too_deep() {
        let limit = crate::Limits::default().max_json_depth;
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            for inner in [limit - 1, limit] {
                let text = format!(r#"["e",{}1{}]"#, open.repeat(inner), close.repeat(inner));
                let p = check(&text);
                assert_eq!(p.depth, inner + 1);
                assert_eq!(p.depth > limit, inner == limit, "{text}");
            }
        }
        // The deepest argument counts, not the last.
        let text = format!(r#"["e",{}{},[]]"#, "[".repeat(limit), "]".repeat(limit));
        assert_eq!(check(&text).depth, limit + 1);
    }

    #[test]
    fn malformed_packets_do_not_split() {
        for text in [
            "",
            " ",
            "[",
            r#"[""#,
            r#"["e"#,
            r#"["e\"]"#,
            r#"["e","#,
            r#"["e",]"#,
            r#"["e",,1]"#,
            r#"["e" 1]"#,
            r#"["e",1"#,
            r#"["e",1 2]"#,
            r#"["e",1]x"#,
            r#"["e",1],"#,
            r#"["e",[1]"#,
            r#"["e",{"a":"]"#,
            r#"["e","a]"#,
            r#"["\x"]"#,
            r#"["\ud800x"]"#,
            r#"[1,"e"]"#,
            r#"[[],"e"]"#,
            r#"{"e":1}"#,
            r#""e""#,
        ] {
            assert!(split_packet(text).is_none(), "{text}");
            assert!(split_packet_serde(text).is_none(), "{text}");
        }
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
                r#"[\[\]{},:"\\/ aé😀\n]{0,10}"#.prop_map(Value::from),
            ];
            leaf.prop_recursive(6, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                    prop::collection::btree_map(".*", inner, 0..8)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Writes JSON text with whitespace between its tokens and characters of its strings
        /// escaped as `\uXXXX`, both as drawn.
        struct Writer {
            out: String,
            spaces: Vec<String>,
            escapes: Vec<bool>,
            n: usize,
        }

        impl Writer {
            fn pad(&mut self) {
                if !self.spaces.is_empty() {
                    let space = &self.spaces[self.n % self.spaces.len()];
                    self.out.push_str(space);
                }
                self.n += 1;
            }

            fn string(&mut self, s: &str) {
                self.out.push('"');
                for c in s.chars() {
                    let unicode =
                        !self.escapes.is_empty() && self.escapes[self.n % self.escapes.len()];
                    self.n += 1;
                    if unicode {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            self.out.push_str(&format!("\\u{unit:04x}"));
                        }
                    } else {
                        let quoted = serde_json::to_string(&c.to_string()).unwrap();
                        self.out.push_str(&quoted[1..quoted.len() - 1]);
                    }
                }
                self.out.push('"');
            }

            fn value(&mut self, value: &Value) {
                match value {
                    Value::String(s) => self.string(s),
                    Value::Array(items) => {
                        self.out.push('[');
                        for (k, item) in items.iter().enumerate() {
                            self.pad();
                            if k > 0 {
                                self.out.push(',');
                                self.pad();
                            }
                            self.value(item);
                        }
                        self.pad();
                        self.out.push(']');
                    }
                    Value::Object(map) => {
                        self.out.push('{');
                        for (k, (key, item)) in map.iter().enumerate() {
                            self.pad();
                            if k > 0 {
                                self.out.push(',');
                                self.pad();
                            }
                            self.string(key);
                            self.pad();
                            self.out.push(':');
                            self.pad();
                            self.value(item);
                        }
                        self.pad();
                        self.out.push('}');
                    }
                    scalar => self.out.push_str(&scalar.to_string()),
                }
            }

            /// The packet `[event, args...]`.
            fn packet(mut self, event: &str, args: &[Value]) -> String {
                self.pad();
                self.out.push('[');
                self.pad();
                self.string(event);
                for arg in args {
                    self.pad();
                    self.out.push(',');
                    self.pad();
                    self.value(arg);
                }
                self.pad();
                self.out.push(']');
                self.pad();
                self.out
            }
        }

        fn event_name() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z]{1,12}",
                ".{0,12}",
                r#"[\[\]{},:"\\/ aé€😀\n\t\u{0}]{0,12}"#,
            ]
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
                // What splits on serde_json splits the same in one pass.
                if let Some(reference) = split_packet_serde(&text) {
                    prop_assert_eq!(split_packet(&text), Some(reference));
                }
            }

            /// Whatever the text, the arguments' bounds can be sliced.
            #[test]
            fn argument_bounds_are_always_in_the_text(text in r#"[ \[\]{}",:\\a1é]{0,40}"#) {
                if let Some(p) = split_packet(&text) {
                    prop_assert!(p.start <= p.end && text.get(p.start..p.end).is_some(), "{:?}", p);
                }
            }

            /// On any valid packet (nested arguments, escaped and unicode names, whitespace
            /// between tokens) the one-pass scanner finds what serde_json finds, and the depth
            /// [`json_depth`] measures.
            #[test]
            fn the_scanner_agrees_with_serde_json(
                event in event_name(),
                args in prop::collection::vec(json_value(), 0..5),
                spaces in prop::collection::vec("[ \t\n\r]{0,3}", 0..6),
                escapes in prop::collection::vec(any::<bool>(), 0..6),
            ) {
                let writer = Writer { out: String::new(), spaces, escapes, n: 0 };
                let text = writer.packet(&event, &args);
                let reference = split_packet_serde(&text).expect("a valid packet");
                let p = split_packet(&text).expect("a valid packet splits");
                prop_assert_eq!(&*p.event, event.as_str());
                prop_assert_eq!(p.args, args.len());
                prop_assert_eq!(p.depth, json_depth(&text, usize::MAX));
                prop_assert_eq!(p, reference);
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

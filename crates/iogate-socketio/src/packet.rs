//! Socket.IO v5 packets: parse and encode, no I/O.
//!
//! A packet travels as the text of one Engine.IO message,
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, followed, for the two binary
//! types, by as many binary messages as it announces attachments. Parsing keeps the JSON data
//! as text (a zero-copy slice of the message): the layers above decode only what they use.

use iogate_engineio::{Frame, Str};

/// The seven packet types of Socket.IO v5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: join a namespace (client), or the namespace's answer (server).
    Connect,
    /// `1`: leave a namespace, either way.
    Disconnect,
    /// `2`: an event, `["name", ...arguments]`.
    Event,
    /// `3`: an acknowledgement, `[...arguments]`.
    Ack,
    /// `4`: the server refused to join a namespace.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketType {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A packet as a client sent it; binary attachments, when announced, follow separately.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Its type.
    pub kind: PacketType,
    /// The namespace, `/` when the packet names none.
    pub ns: Str,
    /// The acknowledgement id, for an event that asks for one or an acknowledgement.
    pub id: Option<i64>,
    /// How many binary attachments follow (binary types only).
    pub attachments: usize,
    /// The JSON data, as text; `None` when the packet has none.
    pub data: Option<Str>,
}

/// Why a client's packet could not be parsed. socket.io closes the connection of a client that
/// sends one (`parse error`): it is not speaking the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// An empty message.
    #[error("empty packet")]
    Empty,
    /// The first character is no packet type.
    #[error("unknown packet type")]
    UnknownType,
    /// A binary packet without a well-formed attachment count, or with more than allowed.
    #[error("bad attachment count")]
    Attachments,
    /// The acknowledgement id is not a non-negative integer.
    #[error("bad acknowledgement id")]
    Id,
    /// The data is not valid JSON, or not of the shape its type requires.
    #[error("bad payload")]
    Payload,
    /// A packet type only servers send.
    #[error("packet type not accepted from a client")]
    Direction,
}

/// Event names socket.io keeps for itself: a client may not send them, and a server that
/// emitted one would be taken for the protocol's own.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Parses a client's packet. `max_attachments` bounds what a binary packet may announce.
pub fn parse(text: &Str, max_attachments: usize) -> Result<Packet, ParseError> {
    let b = text.as_bytes();
    let kind = PacketType::from_byte(*b.first().ok_or(ParseError::Empty)?)
        .ok_or(ParseError::UnknownType)?;
    if kind == PacketType::ConnectError {
        return Err(ParseError::Direction);
    }
    let mut i = 1;
    let mut attachments = 0;
    if kind.is_binary() {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b'-') || i - start > 6 {
            return Err(ParseError::Attachments);
        }
        attachments = text[start..i]
            .parse()
            .map_err(|_| ParseError::Attachments)?;
        if attachments > max_attachments {
            return Err(ParseError::Attachments);
        }
        i += 1;
    }
    let ns = if b.get(i) == Some(&b'/') {
        let start = i;
        while b.get(i).is_some_and(|&c| c != b',') {
            i += 1;
        }
        let ns = text.slice(start..i);
        if i < b.len() {
            i += 1; // the comma
        }
        ns
    } else {
        Str::from("/")
    };
    let id_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let id = if i > id_start {
        // At most 15 digits: within JavaScript's safe integers, as the ids clients make.
        if i - id_start > 15 {
            return Err(ParseError::Id);
        }
        Some(text[id_start..i].parse().map_err(|_| ParseError::Id)?)
    } else {
        None
    };
    let data = (i < b.len()).then(|| text.slice(i..b.len()));
    check_payload(kind, data.as_deref())?;
    Ok(Packet {
        kind,
        ns,
        id,
        attachments,
        data,
    })
}

/// Checks the data's shape as Node's parser does: CONNECT an object or nothing, DISCONNECT
/// nothing, an event a non-empty array whose first element is a name that is not reserved, an
/// acknowledgement an array.
pub(crate) fn check_payload(kind: PacketType, data: Option<&str>) -> Result<(), ParseError> {
    use serde::de::IgnoredAny;
    let first = data.map(|d| d.trim_start().as_bytes().first().copied());
    match kind {
        PacketType::Connect => match first {
            None => return Ok(()),
            Some(Some(b'{')) => {}
            Some(_) => return Err(ParseError::Payload),
        },
        PacketType::Disconnect => {
            return if data.is_none() {
                Ok(())
            } else {
                Err(ParseError::Payload)
            };
        }
        PacketType::Event | PacketType::BinaryEvent => {
            let text = data.ok_or(ParseError::Payload)?;
            let (name, _) = first_element(text).ok_or(ParseError::Payload)?;
            if let serde_json::Value::String(name) = &name
                && RESERVED_EVENTS.contains(&name.as_str())
            {
                return Err(ParseError::Payload);
            }
            // Node also takes a number as a name; a name is a string here, as a handler's is.
            if !matches!(name, serde_json::Value::String(_)) {
                return Err(ParseError::Payload);
            }
        }
        PacketType::Ack | PacketType::BinaryAck => {
            if first != Some(Some(b'[')) {
                return Err(ParseError::Payload);
            }
        }
        PacketType::ConnectError => return Err(ParseError::Direction),
    }
    let text = data.ok_or(ParseError::Payload)?;
    serde_json::from_str::<IgnoredAny>(text)
        .map(drop)
        .map_err(|_| ParseError::Payload)
}

/// The first element of a JSON array, decoded, when `text` starts as a non-empty array.
fn first_element(text: &str) -> Option<(serde_json::Value, usize)> {
    let rest = text.trim_start().strip_prefix('[')?;
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    let value = stream.next()?.ok()?;
    Some((value, stream.byte_offset()))
}

/// The text of a packet's prefix: `<type>[<attachments>-][<ns>,][<id>]`, after the Engine.IO
/// message type `4`, which every frame this module makes starts with.
fn prefix(out: &mut String, kind: u8, attachments: usize, ns: &str, id: Option<i64>) {
    use std::fmt::Write as _;
    out.push('4');
    out.push(kind as char);
    if attachments > 0 {
        let _ = write!(out, "{attachments}-");
    }
    if ns != "/" {
        out.push_str(ns);
        out.push(',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

/// The server's answer to CONNECT: `0[/ns,]{"sid":"<socket id>"}`, with the session's
/// `"pid"` when its state can be recovered.
pub(crate) fn connect(ns: &str, sid: &str, pid: Option<&str>) -> Frame {
    let mut out = String::with_capacity(48 + ns.len() + sid.len());
    prefix(&mut out, b'0', 0, ns, None);
    out.push_str("{\"sid\":");
    push_json_str(&mut out, sid);
    if let Some(pid) = pid {
        out.push_str(",\"pid\":");
        push_json_str(&mut out, pid);
    }
    out.push('}');
    Frame::Text(out.into())
}

/// A refused CONNECT: `4[/ns,]{"message":..., "data":...}`.
pub(crate) fn connect_error(ns: &str, message: &str, data: Option<&serde_json::Value>) -> Frame {
    let mut out = String::with_capacity(32 + ns.len() + message.len());
    prefix(&mut out, b'4', 0, ns, None);
    out.push_str("{\"message\":");
    push_json_str(&mut out, message);
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(&data.to_string());
    }
    out.push('}');
    Frame::Text(out.into())
}

/// The server leaves the client's namespace: `1[/ns,]`.
pub(crate) fn disconnect(ns: &str) -> Frame {
    let mut out = String::with_capacity(4 + ns.len());
    prefix(&mut out, b'1', 0, ns, None);
    Frame::Text(out.into())
}

/// The bytes of one packet's frames: its text (without Engine.IO's `4`) and its binary
/// attachments, as a received packet is counted.
pub fn frames_len(frames: &[Frame]) -> usize {
    frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len().saturating_sub(1),
            Frame::Binary(b) => b.len(),
        })
        .sum()
}

/// An event or acknowledgement whose JSON data (`[...]`) is already encoded: its frames, the
/// text first, then one binary frame per attachment.
pub(crate) fn data_frames(
    ns: &str,
    ack: bool,
    id: Option<i64>,
    data: &str,
    attachments: &[bytes::Bytes],
) -> Vec<Frame> {
    let kind = match (ack, attachments.is_empty()) {
        (false, true) => b'2',
        (true, true) => b'3',
        (false, false) => b'5',
        (true, false) => b'6',
    };
    let mut out = String::with_capacity(8 + ns.len() + data.len());
    prefix(&mut out, kind, attachments.len(), ns, id);
    out.push_str(data);
    let mut frames = Vec::with_capacity(1 + attachments.len());
    frames.push(Frame::Text(out.into()));
    frames.extend(attachments.iter().cloned().map(Frame::Binary));
    frames
}

fn push_json_str(out: &mut String, s: &str) {
    // Serialising a string into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &'static str) -> Result<Packet, ParseError> {
        parse(&Str::from(text), 10)
    }

    #[test]
    fn parses_each_part() {
        let e = p("2/chat,12[\"hi\",1]").unwrap();
        assert_eq!(e.kind, PacketType::Event);
        assert_eq!(&*e.ns, "/chat");
        assert_eq!(e.id, Some(12));
        assert_eq!(e.data.as_deref(), Some("[\"hi\",1]"));

        let b = p("51-[\"up\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!(
            (b.kind, b.attachments, &*b.ns),
            (PacketType::BinaryEvent, 1, "/")
        );

        let c = p("0/admin,{\"token\":\"x\"}").unwrap();
        assert_eq!(
            (&*c.ns, c.data.as_deref()),
            ("/admin", Some("{\"token\":\"x\"}"))
        );
        assert!(p("0").unwrap().data.is_none());
        assert_eq!(&*p("1/chat,").unwrap().ns, "/chat");
        assert_eq!(p("3/chat,7[]").unwrap().id, Some(7));
    }

    #[test]
    fn refuses_what_node_refuses() {
        for bad in [
            "",
            "9",
            "4{\"message\":\"x\"}",
            "0[]",
            "1{}",
            "2{}",
            "2[]",
            "2[\"connect\"]",
            "2[{}]",
            "2[\"a\",",
            "3{}",
            "5[\"a\"]",
            "599-[\"a\"]",
            "21234567890123456[\"a\"]",
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn encodes_as_node_does() {
        let text = |f: Frame| match f {
            Frame::Text(s) => s.to_string(),
            Frame::Binary(_) => unreachable!(),
        };
        assert_eq!(text(connect("/", "abc", None)), "40{\"sid\":\"abc\"}");
        assert_eq!(
            text(connect("/chat", "abc", Some("p"))),
            "40/chat,{\"sid\":\"abc\",\"pid\":\"p\"}"
        );
        assert_eq!(
            text(connect_error(
                "/x",
                "no",
                Some(&serde_json::json!({"a": 1}))
            )),
            "44/x,{\"message\":\"no\",\"data\":{\"a\":1}}"
        );
        assert_eq!(text(disconnect("/chat")), "41/chat,");
        let frames = data_frames("/", false, Some(3), "[\"e\",1]", &[]);
        assert_eq!(text(frames[0].clone()), "423[\"e\",1]");
        let frames = data_frames(
            "/n",
            true,
            Some(4),
            "[{}]",
            &[bytes::Bytes::from_static(b"x")],
        );
        assert_eq!(frames.len(), 2);
        assert_eq!(text(frames[0].clone()), "461-/n,4[{}]");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse(&Str::from(s), 10);
        }

        #[test]
        fn round_trips_events(ns in "(/[a-z]{1,8})?", id in proptest::option::of(0i64..1_000_000), n in 0i64..1000) {
            let ns = if ns.is_empty() { "/".to_owned() } else { ns };
            let data = format!("[\"ev\",{n}]");
            let Frame::Text(text) = data_frames(&ns, false, id, &data, &[]).remove(0) else { unreachable!() };
            let parsed = parse(&text.slice(1..text.len()), 0).unwrap();
            proptest::prop_assert_eq!(&*parsed.ns, ns.as_str());
            proptest::prop_assert_eq!(parsed.id, id);
            proptest::prop_assert_eq!(parsed.data.as_deref(), Some(data.as_str()));
        }
    }
}

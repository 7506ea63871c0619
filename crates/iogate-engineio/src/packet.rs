//! Engine.IO v4 packets: decoding what clients send and encoding what we send.
//!
//! Pure functions over byte buffers, no I/O. Text packets are one type digit
//! followed by their data (`4hello`); on long-polling several packets are
//! joined with the record separator `\x1e` and a binary packet is `b` followed
//! by its base64; on a websocket a binary frame is the raw binary message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};

use crate::str::Str;

/// The separator between packets of one long-polling payload.
pub(crate) const SEPARATOR: u8 = 0x1e;

/// An incoming MESSAGE packet, without its `4` type byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (`4<text>`).
    Text(Str),
    /// A binary message (a websocket binary frame, or `b<base64>` on polling).
    Binary(Bytes),
}

/// An outgoing Engine.IO packet, already encoded.
///
/// Cloning shares the bytes, so a broadcast is encoded once and queued to many
/// sessions at the cost of a reference count each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text packet, type digit included (`4hello`, `2`).
    Text(Str),
    /// A binary message; sent as a websocket binary frame, or `b<base64>` on polling.
    Binary(Bytes),
}

impl Frame {
    /// A MESSAGE packet carrying `text` (`"4" + text`).
    pub fn message(text: &str) -> Frame {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('4');
        s.push_str(text);
        Frame::Text(Str::from(s))
    }

    /// A binary MESSAGE packet.
    pub fn binary(b: Bytes) -> Frame {
        Frame::Binary(b)
    }

    /// Encoded size in bytes (as counted against the outgoing bounds).
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame has no bytes at all (never true for a valid packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn ping() -> Frame {
        Frame::Text(Str::from("2"))
    }

    pub(crate) fn pong_probe() -> Frame {
        Frame::Text(Str::from("3probe"))
    }

    pub(crate) fn open(json: String) -> Frame {
        Frame::Text(Str::from(format!("0{json}")))
    }
}

/// A decoded packet from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    Open,
    Close,
    Ping(Str),
    Pong(Str),
    Message(Message),
    Upgrade,
    Noop,
}

impl Packet {
    /// The bytes of its message, if it carries one.
    pub(crate) fn len(&self) -> usize {
        match self {
            Packet::Message(Message::Text(s)) => s.len(),
            Packet::Message(Message::Binary(b)) => b.len(),
            _ => 0,
        }
    }
}

/// The client sent bytes that are not an Engine.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParseError;

/// Decodes one text packet (a websocket text frame, or one record of a payload).
pub(crate) fn decode_text(s: Str) -> Result<Packet, ParseError> {
    let Some(&kind) = s.as_bytes().first() else {
        return Err(ParseError);
    };
    let data = || s.slice(1..s.len());
    Ok(match kind {
        b'0' => Packet::Open,
        b'1' => Packet::Close,
        b'2' => Packet::Ping(data()),
        b'3' => Packet::Pong(data()),
        b'4' => Packet::Message(Message::Text(data())),
        b'5' => Packet::Upgrade,
        b'6' => Packet::Noop,
        _ => return Err(ParseError),
    })
}

/// Decodes a long-polling POST body: records separated by `\x1e`, each a text
/// packet or `b<base64>`. Text records are zero-copy slices of `body`.
pub(crate) fn decode_payload(body: Bytes) -> Result<Vec<Packet>, ParseError> {
    let body = Str::from_utf8(body).map_err(|_| ParseError)?;
    let mut packets = Vec::new();
    let mut start = 0;
    // `\x1e` is ASCII, so every split point is a char boundary.
    for end in memchr_all(body.as_bytes(), SEPARATOR).chain(std::iter::once(body.len())) {
        let record = body.slice(start..end);
        start = end + 1;
        if record.as_bytes().first() == Some(&b'b') {
            let raw = BASE64
                .decode(&record.as_bytes()[1..])
                .map_err(|_| ParseError)?;
            packets.push(Packet::Message(Message::Binary(Bytes::from(raw))));
        } else {
            packets.push(decode_text(record)?);
        }
    }
    Ok(packets)
}

fn memchr_all(haystack: &[u8], needle: u8) -> impl Iterator<Item = usize> + '_ {
    haystack
        .iter()
        .enumerate()
        .filter(move |(_, b)| **b == needle)
        .map(|(i, _)| i)
}

/// Encodes frames as one long-polling response body.
pub(crate) fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Bytes {
    let frames: Vec<&Frame> = frames.into_iter().collect();
    if let [Frame::Text(s)] = frames.as_slice() {
        // The common case of a single text packet needs no new buffer.
        return s.as_bytes_shared();
    }
    let size: usize = frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len() + 1,
            Frame::Binary(b) => 2 + b.len().div_ceil(3) * 4,
        })
        .sum();
    let mut out = BytesMut::with_capacity(size);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match frame {
            Frame::Text(s) => out.put_slice(s.as_bytes()),
            Frame::Binary(b) => {
                out.put_u8(b'b');
                out.put_slice(BASE64.encode(b).as_bytes());
            }
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_packet_type() {
        let p = |s: &'static str| decode_text(Str::from(s));
        assert_eq!(p("0"), Ok(Packet::Open));
        assert_eq!(p("1"), Ok(Packet::Close));
        assert_eq!(p("2probe"), Ok(Packet::Ping(Str::from("probe"))));
        assert_eq!(p("3"), Ok(Packet::Pong(Str::from(""))));
        assert_eq!(
            p("4hé"),
            Ok(Packet::Message(Message::Text(Str::from("hé"))))
        );
        assert_eq!(p("5"), Ok(Packet::Upgrade));
        assert_eq!(p("6"), Ok(Packet::Noop));
        assert_eq!(p("abc"), Err(ParseError));
        assert_eq!(p(""), Err(ParseError));
    }

    #[test]
    fn decodes_a_payload_with_binary() {
        let got = decode_payload(Bytes::from_static(b"4hello\x1ebAQIDBA==\x1e3")).unwrap();
        assert_eq!(
            got,
            vec![
                Packet::Message(Message::Text(Str::from("hello"))),
                Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
                Packet::Pong(Str::from("")),
            ]
        );
        assert_eq!(
            decode_payload(Bytes::from_static(b"4a\x1e")),
            Err(ParseError)
        );
        assert_eq!(decode_payload(Bytes::from_static(b"b!!")), Err(ParseError));
    }

    #[test]
    fn encodes_a_payload() {
        let frames = [
            Frame::message("hello"),
            Frame::binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        assert_eq!(&encode_payload(&frames)[..], b"4hello\x1ebAQIDBA==");
        assert_eq!(&encode_payload(&[Frame::ping()])[..], b"2");
    }
}

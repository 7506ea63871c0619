//! msgpack: the packets of `socket.io-msgpack-parser`, and the one translation between
//! msgpack values and this layer's JSON text with binary placeholders. No I/O.
//!
//! With that parser a packet is one binary message, the whole packet `{type, data, nsp, id}`
//! msgpack-encoded, binary values in place (`bin`), types 0 to 4 only. The layers above keep
//! seeing events as JSON text whose binary arguments are placeholders
//! `{"_placeholder":true,"num":n}` plus a list of attachments, as with the default parser; the
//! Redis adapter translates Node's msgpack broadcasts the same way.

use bytes::Bytes;
use iogate_engineio::{Frame, Str};
use rmpv::Value as Mp;
use serde_json::{Map, Value as Json, json};

use crate::packet::{self, Packet, PacketType, ParseError};

/// A placeholder names an attachment that is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placeholder {0} has no attachment")]
pub struct MissingAttachment(pub usize);

/// `Some(n)` when `v` is exactly a placeholder `{"_placeholder":true,"num":n}`.
pub fn placeholder_num(v: &Map<String, Json>) -> Option<usize> {
    if v.len() != 2 || v.get("_placeholder") != Some(&Json::Bool(true)) {
        return None;
    }
    v.get("num")?.as_u64().map(|n| n as usize)
}

/// JSON to msgpack, placeholders replaced by their attachment as `bin`.
pub fn json_to_mp(v: &Json, attachments: &[Bytes]) -> Result<Mp, MissingAttachment> {
    Ok(match v {
        Json::Null => Mp::Nil,
        Json::Bool(b) => Mp::Boolean(*b),
        Json::Number(n) => number_to_mp(n),
        Json::String(s) => Mp::from(s.as_str()),
        Json::Array(items) => Mp::Array(
            items
                .iter()
                .map(|i| json_to_mp(i, attachments))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) => match placeholder_num(map) {
            Some(n) => Mp::Binary(attachments.get(n).ok_or(MissingAttachment(n))?.to_vec()),
            None => Mp::Map(
                map.iter()
                    .map(|(k, v)| Ok((Mp::from(k.as_str()), json_to_mp(v, attachments)?)))
                    .collect::<Result<_, MissingAttachment>>()?,
            ),
        },
    })
}

/// A JSON number as notepack writes a JavaScript number: integers (of a safe size) as msgpack
/// integers, anything else as a float64. JSON text from JavaScript never says `1.0`, but a
/// Rust serializer may, and Node would have written that number as the integer 1.
fn number_to_mp(n: &serde_json::Number) -> Mp {
    if let Some(u) = n.as_u64() {
        Mp::from(u)
    } else if let Some(i) = n.as_i64() {
        Mp::from(i)
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        const SAFE: f64 = 9_007_199_254_740_991.0;
        if f.fract() == 0.0 && f.abs() <= SAFE {
            Mp::from(f as i64)
        } else {
            Mp::F64(f)
        }
    }
}

/// msgpack to JSON, each `bin` replaced by a placeholder numbered in the order met and pushed on
/// `attachments`.
pub fn mp_to_json(v: Mp, attachments: &mut Vec<Bytes>) -> Json {
    match v {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::from(u),
            (None, Some(i)) => Json::from(i),
            (None, None) => Json::Null,
        },
        // JSON has no NaN nor infinities: JavaScript's JSON.stringify writes them as null too.
        Mp::F32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(Json::Null, Json::Number),
        Mp::F64(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        Mp::String(s) => Json::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Mp::Binary(b) => {
            let num = attachments.len();
            attachments.push(Bytes::from(b));
            json!({"_placeholder": true, "num": num})
        }
        Mp::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|i| mp_to_json(i, attachments))
                .collect(),
        ),
        Mp::Map(entries) => Json::Object(
            entries
                .into_iter()
                // notepack writes `undefined` as an ext; JSON.stringify drops such keys.
                .filter(|(_, v)| !is_undefined(v))
                .map(|(k, v)| (map_key(k), mp_to_json(v, attachments)))
                .collect(),
        ),
        Mp::Ext(kind, data) => ext_to_json(kind, &data),
    }
}

/// notepack 2's `undefined`: fixext 1 of type 0 (notepack 3 writes nil).
fn is_undefined(v: &Mp) -> bool {
    matches!(v, Mp::Ext(0, data) if data.len() == 1)
}

/// Extensions: a msgpack timestamp (type -1, how notepack 3 writes a `Date`) becomes the text
/// JSON.stringify gives a `Date`, what socket.io's JSON parser would have sent; anything else
/// null.
fn ext_to_json(kind: i8, data: &[u8]) -> Json {
    let (secs, nanos): (i64, u32) = match (kind, data.len()) {
        (-1, 4) => (
            i64::from(u32::from_be_bytes(data.try_into().unwrap_or_default())),
            0,
        ),
        (-1, 8) => {
            let v = u64::from_be_bytes(data.try_into().unwrap_or_default());
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        (-1, 12) => (
            i64::from_be_bytes(data[4..].try_into().unwrap_or_default()),
            u32::from_be_bytes(data[..4].try_into().unwrap_or_default()),
        ),
        _ => return Json::Null,
    };
    Json::String(iso_date(secs, nanos / 1_000_000))
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` of a Unix time, as JavaScript's `Date.prototype.toISOString`
/// (and `JSON.stringify` of a `Date`) writes it.
pub fn iso_date(secs: i64, millis: u32) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date of a day count (Howard Hinnant's days_from_civil, inverted).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// JSON object keys are text; msgpack's may be anything (JavaScript's are text too).
fn map_key(k: Mp) -> String {
    match k {
        Mp::String(s) => s.into_str().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Field `name` of a packet's map; one written as `undefined` (notepack's ext, or nil) is
/// absent, as in JavaScript.
fn field<'a>(fields: &'a [(Mp, Mp)], name: &str) -> Option<&'a Mp> {
    fields
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
        .filter(|v| !v.is_nil() && !is_undefined(v))
}

/// Reads one msgpack value; `None` when the bytes are not exactly one.
pub fn read(bytes: &[u8]) -> Option<Mp> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value(&mut rest).ok()?;
    rest.is_empty().then_some(value)
}

/// Writes one msgpack value.
pub fn write(value: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// A client's packet as `socket.io-msgpack-parser` encodes it, with its binary values taken out
/// as attachments: what [`packet::parse`] and its attachments give for the default parser, and
/// checked the same way.
pub fn parse(bytes: &[u8], max_attachments: usize) -> Result<(Packet, Vec<Bytes>), ParseError> {
    let Some(Mp::Map(fields)) = read(bytes) else {
        return Err(ParseError::Payload);
    };
    let field = |name| field(&fields, name);
    let kind = match field("type").and_then(Mp::as_u64) {
        Some(0) => PacketType::Connect,
        Some(1) => PacketType::Disconnect,
        Some(2) => PacketType::Event,
        Some(3) => PacketType::Ack,
        Some(4) => return Err(ParseError::Direction),
        _ => return Err(ParseError::UnknownType),
    };
    let ns = field("nsp")
        .and_then(Mp::as_str)
        .ok_or(ParseError::Payload)?
        .to_owned();
    // At most JavaScript's safe integers, as the ids clients make.
    let id = field("id")
        .map(|v| v.as_u64().filter(|&n| n < 1 << 53).ok_or(ParseError::Id))
        .transpose()?
        .map(|n| n as i64);
    let mut attachments = Vec::new();
    let data = field("data").map(|v| mp_to_json(v.clone(), &mut attachments).to_string());
    if attachments.len() > max_attachments {
        return Err(ParseError::Attachments);
    }
    let kind = match (kind, attachments.is_empty()) {
        (PacketType::Event, false) => PacketType::BinaryEvent,
        (PacketType::Ack, false) => PacketType::BinaryAck,
        (kind, _) => kind,
    };
    packet::check_payload(kind, data.as_deref())?;
    let packet = Packet {
        kind,
        ns: Str::from(if ns.is_empty() { "/".to_owned() } else { ns }),
        id,
        attachments: attachments.len(),
        data: data.map(Str::from),
    };
    Ok((packet, attachments))
}

/// Whether `bytes` are a msgpack CONNECT (`{type: 0, nsp}`): a client speaking
/// `socket.io-msgpack-parser` to a server that does not; its namespace.
pub fn connect_ns(bytes: &[u8]) -> Option<String> {
    let Mp::Map(fields) = read(bytes)? else {
        return None;
    };
    let field = |name| field(&fields, name);
    (field("type")?.as_u64()? == 0).then(|| field("nsp")?.as_str().map(str::to_owned))?
}

/// A packet as `socket.io-msgpack-parser` encodes it: `{type, data, nsp, id}`, one binary
/// frame; `data` is JSON text (with placeholders for `attachments`) or an object already.
pub fn frame(kind: u8, ns: &str, id: Option<i64>, data: Option<Mp>) -> Frame {
    let mut fields = vec![(Mp::from("type"), Mp::from(kind))];
    if let Some(data) = data {
        fields.push((Mp::from("data"), data));
    }
    fields.push((Mp::from("nsp"), Mp::from(ns)));
    if let Some(id) = id {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    Frame::Binary(Bytes::from(write(&Mp::Map(fields))))
}

/// An event or acknowledgement's data, JSON text with placeholders, as msgpack.
pub fn data(text: &str, attachments: &[Bytes]) -> Mp {
    // The layers above hand valid JSON with each placeholder's attachment; anything else is a
    // bug there, and sends null rather than half a packet.
    serde_json::from_str::<Json>(text)
        .ok()
        .and_then(|json| json_to_mp(&json, attachments).ok())
        .unwrap_or(Mp::Nil)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(json: Json) -> Vec<u8> {
        write(&json_to_mp(&json, &[]).unwrap())
    }

    #[test]
    fn reads_a_clients_packets() {
        let (p, bins) = parse(
            &mp(json!({"type": 2, "data": ["hi", {"a": 1}], "nsp": "/chat", "id": 7})),
            4,
        )
        .unwrap();
        assert_eq!(p.kind, PacketType::Event);
        assert_eq!((&*p.ns, p.id), ("/chat", Some(7)));
        assert_eq!(p.data.as_deref(), Some("[\"hi\",{\"a\":1}]"));
        assert!(bins.is_empty());

        let bytes = write(&Mp::Map(vec![
            (Mp::from("type"), Mp::from(2)),
            (
                Mp::from("data"),
                Mp::Array(vec![Mp::from("up"), Mp::Binary(vec![1, 2])]),
            ),
            (Mp::from("nsp"), Mp::from("/")),
        ]));
        let (p, bins) = parse(&bytes, 4).unwrap();
        assert_eq!(p.kind, PacketType::BinaryEvent);
        assert_eq!(
            p.data.as_deref(),
            Some("[\"up\",{\"_placeholder\":true,\"num\":0}]")
        );
        assert_eq!(bins, [Bytes::from_static(&[1, 2])]);
        assert_eq!(
            parse(&bytes, 0).unwrap_err(),
            ParseError::Attachments,
            "attachments are bounded as with the default parser"
        );
    }

    #[test]
    fn undefined_fields_are_absent() {
        // socket.io-client's CONNECT without auth: `data: undefined`, as notepack writes it.
        let bytes = write(&Mp::Map(vec![
            (Mp::from("type"), Mp::from(0)),
            (Mp::from("data"), Mp::Ext(0, vec![0])),
            (Mp::from("nsp"), Mp::from("/")),
        ]));
        let (p, _) = parse(&bytes, 4).unwrap();
        assert_eq!((p.kind, p.data), (PacketType::Connect, None));
    }

    #[test]
    fn refuses_what_the_parser_refuses() {
        for bad in [
            json!([2, ["a"]]),
            json!({"type": 9, "nsp": "/", "data": ["a"]}),
            json!({"type": 4, "nsp": "/", "data": "x"}),
            json!({"type": 2, "data": ["a"]}),
            json!({"type": 2, "nsp": "/", "data": {}}),
            json!({"type": 2, "nsp": "/", "data": ["connect"]}),
            json!({"type": 2, "nsp": "/", "data": ["a"], "id": -1}),
            json!({"type": 1, "nsp": "/", "data": ["a"]}),
        ] {
            assert!(parse(&mp(bad.clone()), 4).is_err(), "{bad} was accepted");
        }
        assert!(parse(b"\xc1", 4).is_err());
        assert!(parse(b"", 4).is_err());
    }

    #[test]
    fn writes_what_the_parser_reads() {
        let Frame::Binary(bytes) = frame(
            2,
            "/",
            None,
            Some(data(
                "[\"e\",{\"_placeholder\":true,\"num\":0}]",
                &[Bytes::from_static(b"x")],
            )),
        ) else {
            unreachable!()
        };
        let Some(Mp::Map(fields)) = read(&bytes) else {
            unreachable!()
        };
        assert_eq!(fields[0], (Mp::from("type"), Mp::from(2)));
        assert_eq!(
            fields[1],
            (
                Mp::from("data"),
                Mp::Array(vec![Mp::from("e"), Mp::Binary(b"x".to_vec())])
            )
        );
        assert_eq!(fields[2], (Mp::from("nsp"), Mp::from("/")));
        assert_eq!(fields.len(), 3, "no id when none");
    }

    #[test]
    fn dates_are_written_as_javascript_writes_them() {
        assert_eq!(iso_date(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(951_782_400, 1), "2000-02-29T00:00:00.001Z");
        let mut none = Vec::new();
        let ts = Mp::Ext(-1, 1_700_000_000u32.to_be_bytes().to_vec());
        assert_eq!(mp_to_json(ts, &mut none), json!("2023-11-14T22:13:20.000Z"));
    }

    #[test]
    fn tells_a_msgpack_connect() {
        assert_eq!(
            connect_ns(&mp(json!({"type": 0, "nsp": "/chat"}))),
            Some("/chat".to_owned())
        );
        assert_eq!(connect_ns(&mp(json!({"type": 2, "nsp": "/"}))), None);
        assert_eq!(connect_ns(b"hello"), None);
    }
}

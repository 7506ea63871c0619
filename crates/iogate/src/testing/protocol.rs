//! The raw frames the test client reads and writes: engine.io's open packet and socket.io's
//! packets, parsed with no I/O.

use std::time::Duration;

use serde_json::Value;

use super::Handshake;

/// A socket.io packet, split (the `4` of engine.io's message packet already removed).
#[derive(Debug)]
pub(super) struct Packet {
    pub(super) kind: u8,
    pub(super) attachments: usize,
    pub(super) namespace: String,
    pub(super) ack_id: Option<i64>,
    pub(super) payload: String,
}

/// Splits `<type>[<attachments>-][<namespace>,][<ack id>]<payload>`.
pub(super) fn parse_packet(text: &str) -> Result<Packet, String> {
    let bad = || format!("an unreadable socket.io packet: {text:?}");
    let mut rest = text;
    let kind = rest
        .chars()
        .next()
        .and_then(|c| c.to_digit(10))
        .filter(|k| *k <= 6)
        .ok_or_else(bad)? as u8;
    rest = &rest[1..];
    let mut attachments = 0;
    if kind == 5 || kind == 6 {
        let dash = rest.find('-').ok_or_else(bad)?;
        attachments = rest[..dash].parse().map_err(|_| bad())?;
        rest = &rest[dash + 1..];
    }
    let mut namespace = "/".to_owned();
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = rest[..end].to_owned();
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let mut ack_id = None;
    if matches!(kind, 2 | 3 | 5 | 6) {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            ack_id = Some(rest[..digits].parse().map_err(|_| bad())?);
            rest = &rest[digits..];
        }
    }
    Ok(Packet {
        kind,
        attachments,
        namespace,
        ack_id,
        payload: rest.to_owned(),
    })
}

/// Reads engine.io's open packet, `0{"sid":..,"upgrades":..,"pingInterval":..,..}`.
pub(super) fn parse_open(text: &str) -> Option<Handshake> {
    let body: Value = serde_json::from_str(text.strip_prefix('0')?).ok()?;
    Some(Handshake {
        sid: body.get("sid")?.as_str()?.to_owned(),
        upgrades: body
            .get("upgrades")
            .and_then(Value::as_array)
            .map(|u| {
                u.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        ping_interval: Duration::from_millis(body.get("pingInterval")?.as_u64()?),
        ping_timeout: Duration::from_millis(body.get("pingTimeout")?.as_u64()?),
        max_payload: body.get("maxPayload").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// `"/ns,"` for a namespace other than the main one, which has no prefix.
pub(super) fn namespace_prefix(namespace: &str) -> String {
    if namespace == "/" {
        String::new()
    } else {
        format!("{namespace},")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(super) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_split_into_type_attachments_namespace_id_and_payload() {
        let p = parse_packet(r#"2/chat,12["e",1]"#).unwrap();
        assert_eq!(
            (p.kind, p.namespace.as_str(), p.ack_id, p.payload.as_str()),
            (2, "/chat", Some(12), r#"["e",1]"#)
        );
        let p = parse_packet(r#"62-/x,7[{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!((p.kind, p.attachments, p.ack_id), (6, 2, Some(7)));
        let p = parse_packet(r#"0{"sid":"abc"}"#).unwrap();
        assert_eq!((p.namespace.as_str(), p.ack_id), ("/", None));
        assert_eq!(parse_packet("1/chat,").unwrap().namespace, "/chat");
        assert!(parse_packet("9").is_err());
        assert!(parse_packet("5x-[]").is_err());
    }

    #[test]
    fn the_open_packet_gives_the_heartbeat() {
        let h = parse_open(
            r#"0{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#,
        )
        .unwrap();
        assert_eq!(h.ping_interval, Duration::from_millis(300));
        assert_eq!(h.max_payload, 1_000_000);
        assert!(parse_open("0{}").is_none());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}

//! Engine.IO v4 / Socket.IO v5 over the websocket transport, client side, as little as the
//! scenarios need: open a session, join a namespace, send text packets, read and classify the
//! server's packets without building a JSON tree.
//!
//! With `--parser msgpack` ([`use_msgpack`]) clients speak `socket.io-msgpack-parser`: the
//! scenarios still write and read the default parser's text, and each Socket.IO packet is
//! translated to and from one msgpack message here, at the socket, so the translation is the
//! generator's cost, which its CPU figure includes.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// One client's websocket.
pub type Ws = WebSocketStream<TcpStream>;

/// Why a client failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connect failed.
    #[error("tcp connect: {0}")]
    Tcp(std::io::Error),
    /// The websocket layer failed (handshake, framing, I/O).
    #[error("websocket: {0}")]
    Ws(Box<tokio_tungstenite::tungstenite::Error>),
    /// The server closed the connection.
    #[error("closed by the server")]
    Closed,
    /// The server refused the namespace (`44`).
    #[error("connect_error: {0}")]
    Refused(String),
    /// The server said something this client does not expect at this point.
    #[error("unexpected packet: {0}")]
    Unexpected(String),
    /// Nothing came in time.
    #[error("timed out")]
    Timeout,
    /// The answer a request waits for did not come in time.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::Ws(Box::new(e))
    }
}

/// A packet from the server, borrowed from the frame's text.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Engine.IO `0`: the session is open.
    Open,
    /// Engine.IO `1`.
    Close,
    /// Engine.IO `2`: answer with `3`.
    Ping,
    /// Socket.IO CONNECT (`40`) to `ns`.
    Connect { ns: &'a str },
    /// Socket.IO DISCONNECT (`41`).
    Disconnect { ns: &'a str },
    /// Socket.IO EVENT (`42`): `data` is the JSON array `["name", args...]`.
    Event {
        ns: &'a str,
        ack: Option<u64>,
        data: &'a str,
    },
    /// Socket.IO ACK (`43`): `data` is the JSON array of the ack's arguments.
    Ack { ns: &'a str, id: u64, data: &'a str },
    /// Socket.IO CONNECT_ERROR (`44`).
    ConnectError { ns: &'a str, data: &'a str },
    /// Anything else (pong, noop, binary packets).
    Other,
}

/// Classifies one text frame.
pub fn parse(text: &str) -> Packet<'_> {
    let b = text.as_bytes();
    match b.first() {
        Some(b'0') => Packet::Open,
        Some(b'1') => Packet::Close,
        Some(b'2') => Packet::Ping,
        Some(b'4') => parse_socket(&text[1..]),
        _ => Packet::Other,
    }
}

fn parse_socket(text: &str) -> Packet<'_> {
    let Some(&kind) = text.as_bytes().first() else {
        return Packet::Other;
    };
    let mut rest = &text[1..];
    let mut ns = "/";
    if rest.starts_with('/') {
        match rest.find(',') {
            Some(i) => {
                ns = &rest[..i];
                rest = &rest[i + 1..];
            }
            None => {
                ns = rest;
                rest = "";
            }
        }
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        rest[..digits].parse().ok()
    } else {
        None
    };
    let data = &rest[digits..];
    match kind {
        b'0' => Packet::Connect { ns },
        b'1' => Packet::Disconnect { ns },
        b'2' => Packet::Event { ns, ack: id, data },
        b'3' => match id {
            Some(id) => Packet::Ack { ns, id, data },
            None => Packet::Other,
        },
        b'4' => Packet::ConnectError { ns, data },
        _ => Packet::Other,
    }
}

/// The websocket settings of every client: small buffers, so that 18,000 clients fit.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Whether clients speak `socket.io-msgpack-parser` (set once, before any client starts).
static MSGPACK: AtomicBool = AtomicBool::new(false);

/// Makes every client speak `socket.io-msgpack-parser` rather than the default parser.
pub fn use_msgpack(on: bool) {
    MSGPACK.store(on, Ordering::Relaxed);
}

fn msgpack() -> bool {
    MSGPACK.load(Ordering::Relaxed)
}

/// A frame to send: Socket.IO packets (`4...`) as msgpack when clients speak it.
fn frame(text: Utf8Bytes) -> Message {
    if msgpack() && text.starts_with('4') {
        Message::Binary(to_msgpack(&text).into())
    } else {
        Message::Text(text)
    }
}

/// A Socket.IO packet in the default parser's text (`4<type>[/ns,][id][json]`) as
/// `socket.io-msgpack-parser` writes it: `{type, data, nsp, id}`.
fn to_msgpack(text: &str) -> Vec<u8> {
    use rmpv::Value as Mp;
    let b = text.as_bytes();
    let kind = u64::from(b.get(1).map_or(0, |c| c - b'0'));
    let mut rest = &text[2.min(text.len())..];
    let mut ns = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        ns = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id: Option<u64> = rest[..digits].parse().ok();
    let data = &rest[digits..];
    let mut fields = vec![(Mp::from("type"), Mp::from(kind))];
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(data) {
        fields.push((Mp::from("data"), json_to_mp(&json)));
    }
    fields.push((Mp::from("nsp"), Mp::from(ns)));
    if let Some(id) = id {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    let mut out = Vec::new();
    let _ = rmpv::encode::write_value(&mut out, &Mp::Map(fields));
    out
}

/// A server's msgpack packet as the default parser's text, for [`parse`]; `None` when it is
/// not one.
fn from_msgpack(bytes: &[u8]) -> Option<Utf8Bytes> {
    use rmpv::Value as Mp;
    let Mp::Map(fields) = rmpv::decode::read_value(&mut &bytes[..]).ok()? else {
        return None;
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    let mut text = String::from("4");
    text.push_str(&field("type")?.as_u64()?.to_string());
    let ns = field("nsp").and_then(Mp::as_str).unwrap_or("/");
    if ns != "/" {
        text.push_str(ns);
        text.push(',');
    }
    if let Some(id) = field("id").and_then(Mp::as_u64) {
        text.push_str(&id.to_string());
    }
    if let Some(data) = field("data") {
        text.push_str(&mp_to_json(data).to_string());
    }
    Some(text.into())
}

fn json_to_mp(v: &serde_json::Value) -> rmpv::Value {
    use rmpv::Value as Mp;
    use serde_json::Value as Json;
    match v {
        Json::Null => Mp::Nil,
        Json::Bool(b) => Mp::Boolean(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Mp::from(u),
            (None, Some(i)) => Mp::from(i),
            _ => Mp::F64(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Mp::from(s.as_str()),
        Json::Array(items) => Mp::Array(items.iter().map(json_to_mp).collect()),
        Json::Object(map) => Mp::Map(
            map.iter()
                .map(|(k, v)| (Mp::from(k.as_str()), json_to_mp(v)))
                .collect(),
        ),
    }
}

fn mp_to_json(v: &rmpv::Value) -> serde_json::Value {
    use rmpv::Value as Mp;
    use serde_json::Value as Json;
    match v {
        Mp::Boolean(b) => Json::Bool(*b),
        Mp::Integer(i) => i
            .as_u64()
            .map(Json::from)
            .or_else(|| i.as_i64().map(Json::from))
            .unwrap_or(Json::Null),
        Mp::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        Mp::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Mp::String(s) => Json::String(s.as_str().unwrap_or_default().to_owned()),
        Mp::Array(items) => Json::Array(items.iter().map(mp_to_json).collect()),
        Mp::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), mp_to_json(v)))
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// Reads the next text frame (a msgpack packet as its text); `None` when the server closed.
pub async fn recv(ws: &mut Ws) -> Result<Utf8Bytes, Error> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Binary(b))) if msgpack() => {
                if let Some(text) = from_msgpack(&b) {
                    return Ok(text);
                }
            }
            Some(Ok(Message::Close(_))) | None => return Err(Error::Closed),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Reads the next text frame a scenario has to look at: pings are answered on the way, and a
/// close or a namespace DISCONNECT ends the client ([`Error::Closed`]).
pub async fn next(ws: &mut Ws) -> Result<Utf8Bytes, Error> {
    loop {
        let text = recv(ws).await?;
        match parse(&text) {
            Packet::Ping => send(ws, "3").await?,
            Packet::Close | Packet::Disconnect { .. } => return Err(Error::Closed),
            _ => return Ok(text),
        }
    }
}

/// Hands the data (`[name, ...]`) of every event packet to `on_event` until the client ends
/// (as [`next`] ends it); returns why it ended.
pub async fn events(ws: &mut Ws, mut on_event: impl FnMut(&str)) -> Error {
    loop {
        let text = match next(ws).await {
            Ok(t) => t,
            Err(e) => return e,
        };
        if let Packet::Event { data, .. } = parse(&text) {
            on_event(data);
        }
    }
}

/// Answers pings until the connection fails or the server closes it; unlike [`next`], a close
/// packet or a namespace DISCONNECT does not end it.
pub async fn answer_pings(ws: &mut Ws) {
    while let Ok(t) = recv(ws).await {
        if parse(&t) == Packet::Ping && send(ws, "3").await.is_err() {
            return;
        }
    }
}

/// Sends one text frame and flushes it.
pub async fn send(ws: &mut Ws, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
    ws.send(frame(text.into())).await?;
    Ok(())
}

/// Queues one text frame without flushing (see [`flush`]).
pub async fn feed(ws: &mut Ws, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
    ws.feed(frame(text.into())).await?;
    Ok(())
}

/// Flushes what [`feed`] queued.
pub async fn flush(ws: &mut Ws) -> Result<(), Error> {
    ws.flush().await?;
    Ok(())
}

/// Where a client connects from and to.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The server.
    pub server: SocketAddr,
    /// The local address to connect from (any of 127.0.0.0/8 on loopback); the system's
    /// choice when `None`.
    pub source: Option<IpAddr>,
    /// `SO_RCVBUF` in bytes, set before connecting (the window is settled in the handshake);
    /// the system's default when `None`. A small one keeps what the kernel takes in for a
    /// client that stops reading small (the server's own send buffer still fills).
    pub recv_buffer: Option<u32>,
}

/// Opens an Engine.IO session over websocket and joins namespace `ns` (`"/"` or `"/events"`)
/// with the handshake payload `auth` (a JSON object's text), within `limit`.
pub async fn connect(
    route: Route,
    ns: &str,
    auth: Option<&str>,
    limit: Duration,
) -> Result<Ws, Error> {
    tokio::time::timeout(limit, connect_inner(route, ns, auth))
        .await
        .unwrap_or(Err(Error::Timeout))
}

async fn tcp_connect(route: Route) -> std::io::Result<TcpStream> {
    if route.source.is_none() && route.recv_buffer.is_none() {
        return TcpStream::connect(route.server).await;
    }
    let socket = match route.server {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(bytes) = route.recv_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    if let Some(source) = route.source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.connect(route.server).await
}

async fn connect_inner(route: Route, ns: &str, auth: Option<&str>) -> Result<Ws, Error> {
    let addr = route.server;
    let tcp = tcp_connect(route).await.map_err(Error::Tcp)?;
    let _ = tcp.set_nodelay(true);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, tcp, Some(ws_config())).await?;
    let open = recv(&mut ws).await?;
    if parse(&open) != Packet::Open {
        return Err(Error::Unexpected(open.to_string()));
    }
    let mut hello = String::from("40");
    if ns != "/" {
        hello.push_str(ns);
        hello.push(',');
    }
    if let Some(auth) = auth {
        hello.push_str(auth);
    }
    send(&mut ws, hello).await?;
    loop {
        let text = recv(&mut ws).await?;
        match parse(&text) {
            Packet::Connect { ns: n } if n == ns => return Ok(ws),
            Packet::ConnectError { data, .. } => return Err(Error::Refused(data.to_string())),
            Packet::Ping => send(&mut ws, "3").await?,
            Packet::Close | Packet::Disconnect { .. } => return Err(Error::Closed),
            _ => {}
        }
    }
}

/// What a publishing client does with a frame the server sent it: answers a ping; a close, a
/// namespace DISCONNECT or an `exception` event (the server refused what it sent, such as over
/// its event rate) is an error, as the messages would then be lost without a word.
pub async fn publisher_frame(ws: &mut Ws, text: &str) -> Result<(), Error> {
    match parse(text) {
        Packet::Ping => send(ws, "3").await,
        Packet::Close | Packet::Disconnect { .. } => Err(Error::Closed),
        Packet::Event { data, .. } if event_name(data) == Some("exception") => {
            Err(Error::Unexpected(data.chars().take(200).collect()))
        }
        _ => Ok(()),
    }
}

/// A publisher's pause between two sends: sleeps until `until`, unless the server sends a
/// frame first, which [`publisher_frame`] then handles.
pub async fn publisher_pause(ws: &mut Ws, until: tokio::time::Instant) -> Result<(), Error> {
    tokio::select! {
        () = tokio::time::sleep_until(until) => Ok(()),
        text = recv(ws) => publisher_frame(ws, &text?).await,
    }
}

/// `42<ack>[event,<data>]` on the root namespace (`ack` omitted when `None`); `data` is JSON.
pub fn event(ack: Option<u64>, event: &str, data: &str) -> String {
    let mut s = String::with_capacity(event.len() + data.len() + 16);
    s.push_str("42");
    if let Some(id) = ack {
        s.push_str(&id.to_string());
    }
    s.push_str("[\"");
    s.push_str(event);
    s.push_str("\",");
    s.push_str(data);
    s.push(']');
    s
}

/// The name of an event packet's data (`["name", ...]`), when it is a plain string.
pub fn event_name(data: &str) -> Option<&str> {
    let rest = data.strip_prefix("[\"")?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// The `"<seq>:<micros>"` stamp the scenarios put in the messages they time: the last string
/// in `data` that looks like one, found from the end without parsing the JSON. It may not be
/// the last string: with connection state recovery on, a server appends an offset
/// (`"<ms>-<n>"`) to every event.
pub fn stamp(data: &str) -> Option<(u64, u64)> {
    let mut rest = data;
    // The stamp, or the offset after it and then the stamp.
    for _ in 0..2 {
        let end = rest.rfind('"')?;
        let start = rest[..end].rfind('"')?;
        let parsed = rest[start + 1..end]
            .split_once(':')
            .and_then(|(seq, micros)| Some((seq.parse().ok()?, micros.parse().ok()?)));
        if parsed.is_some() {
            return parsed;
        }
        rest = &rest[..start];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_classified() {
        assert_eq!(parse("0{\"sid\":\"x\"}"), Packet::Open);
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse("40{\"sid\":\"x\"}"), Packet::Connect { ns: "/" });
        assert_eq!(
            parse("40/events,{\"sid\":\"x\"}"),
            Packet::Connect { ns: "/events" }
        );
        assert_eq!(
            parse("431[{\"a\":1}]"),
            Packet::Ack {
                ns: "/",
                id: 1,
                data: "[{\"a\":1}]"
            }
        );
        assert_eq!(
            parse("42/events,[\"notification\",\"1:2\"]"),
            Packet::Event {
                ns: "/events",
                ack: None,
                data: "[\"notification\",\"1:2\"]"
            }
        );
        assert_eq!(
            parse("44/events,{\"message\":\"no\"}"),
            Packet::ConnectError {
                ns: "/events",
                data: "{\"message\":\"no\"}"
            }
        );
    }

    #[test]
    fn events_are_written_as_socket_io_does() {
        assert_eq!(event(Some(7), "events", "{}"), "427[\"events\",{}]");
        assert_eq!(event(None, "joinRoom", "\"r\""), "42[\"joinRoom\",\"r\"]");
    }

    #[test]
    fn msgpack_packets_read_as_their_text() {
        for text in [
            "42[\"joinRoom\",\"r\"]",
            "427[\"events\",{\"a\":[1,-2,1.5,null,true]}]",
            "40/events,{\"token\":\"t\"}",
            "43/events,3[\"ok\"]",
            "41/chat,",
        ] {
            let back = from_msgpack(&to_msgpack(text)).unwrap();
            assert_eq!(&*back, text);
        }
    }

    #[test]
    fn stamps_and_names_are_read_without_parsing() {
        let data = r#"["message",{"userId":"ab","message":"12:3456"}]"#;
        assert_eq!(event_name(data), Some("message"));
        assert_eq!(stamp(data), Some((12, 3456)));
        assert_eq!(stamp(r#"["notification","3:4"]"#), Some((3, 4)));
        assert_eq!(stamp(r#"["userJoined",{"userId":"ab","room":"r"}]"#), None);
        // Behind a recovery offset.
        let data = r#"["message",{"userId":"ab","message":"12:3456"},"1796220781547-3"]"#;
        assert_eq!(stamp(data), Some((12, 3456)));
    }
}

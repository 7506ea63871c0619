//! What `@socket.io/redis-streams-adapter` 0.3 writes to Redis: stream entries, the sessions
//! of connection state recovery, and the pub/sub messages of what is not streamed. Formats
//! only, no I/O: [`StreamsAdapter`](crate::StreamsAdapter) reads and writes them.
//!
//! - **Entries** of the one stream (`socket.io`, `XADD ... MAXLEN ~ 10000 *`) have four fields:
//!   `uid` (the writing node), `nsp`, `type` (socket.io-adapter's `MessageType`, as decimal
//!   text) and `data`: JSON text, or, when it holds binary, the base64 of its msgpack. A
//!   broadcast's `data` is `{packet: {type: 2, data: [...]}, opts: {rooms, except, flags}}`,
//!   without the packet's `nsp`. The entry id is the events' recovery offset.
//! - **Sessions** are `sio:session:<pid>` = base64 of the msgpack `{sid, pid, rooms, data}`,
//!   with a TTL of the recovery window, taken back with `GETDEL`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use iogate_socketio::msgpack::{json_to_mp, mp_to_json};
use iogate_socketio::{BroadcastOptions, EventData};
use rmpv::Value as Mp;
use serde_json::{Value as Json, json};

use crate::wire::{WireError, bad, opts_of, read_mp, rooms_of, take_event};

/// The kinds of entries and messages (`MessageType` of socket.io-adapter's cluster adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// A broadcast to rooms.
    Broadcast = 3,
    /// Selected sockets join rooms.
    SocketsJoin = 4,
    /// Selected sockets leave rooms.
    SocketsLeave = 5,
    /// Selected sockets are disconnected.
    DisconnectSockets = 6,
    /// A request for the selected sockets (published, not streamed).
    FetchSockets = 7,
    /// The answer to [`FetchSockets`](Self::FetchSockets).
    FetchSocketsResponse = 8,
    /// An event for the namespace's servers (`serverSideEmit`, published, not streamed).
    ServerSideEmit = 9,
    /// One node's answer to [`ServerSideEmit`](Self::ServerSideEmit).
    ServerSideEmitResponse = 10,
}

/// One entry of the stream, its fields as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The node that wrote it.
    pub uid: String,
    /// Its namespace.
    pub nsp: String,
    /// Its [`MessageType`], as a number.
    pub kind: u8,
    /// Its data: JSON text, or base64 msgpack.
    pub data: Option<String>,
}

impl Entry {
    /// The fields in the order Node writes them, for `XADD`.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("uid", self.uid.clone()),
            ("nsp", self.nsp.clone()),
            ("type", self.kind.to_string()),
        ];
        if let Some(data) = &self.data {
            fields.push(("data", data.clone()));
        }
        fields
    }

    /// An entry from the fields `XREAD`/`XRANGE` return; `None` when it is not one (an entry
    /// without `nsp`, which Node skips too).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let (mut uid, mut nsp, mut kind, mut data) = (None, None, None, None);
        for (k, v) in fields {
            match k {
                "uid" => uid = Some(v.to_owned()),
                "nsp" => nsp = Some(v.to_owned()),
                "type" => kind = v.parse().ok(),
                "data" => data = Some(v.to_owned()),
                _ => {}
            }
        }
        Some(Self {
            uid: uid?,
            nsp: nsp?,
            kind: kind?,
            data,
        })
    }
}

/// What an entry asks of the nodes that read it.
#[derive(Debug, Clone)]
pub enum Op {
    /// Deliver an event to the selected sockets.
    Broadcast {
        /// The event.
        event: EventData,
        /// The selected sockets.
        opts: BroadcastOptions,
    },
    /// The selected sockets join (`join`) or leave `rooms`.
    Rooms {
        /// Join, or leave.
        join: bool,
        /// The selected sockets.
        opts: BroadcastOptions,
        /// The rooms.
        rooms: Vec<String>,
    },
    /// Disconnect the selected sockets, closing their connection when `close`.
    Disconnect {
        /// The selected sockets.
        opts: BroadcastOptions,
        /// Whether their whole connection is closed.
        close: bool,
    },
    /// Anything else (heartbeats, requests with answers): another part of the protocol.
    Other(u8),
}

/// The data of an entry: JSON when it starts with `{`, else base64 msgpack (with its binary
/// values as placeholders and attachments).
fn read_data(data: &str) -> Result<(Json, Vec<Bytes>), WireError> {
    if data.starts_with('{') {
        return Ok((
            serde_json::from_str(data).map_err(|e| bad(e.to_string()))?,
            Vec::new(),
        ));
    }
    let bytes = BASE64.decode(data).map_err(|e| bad(e.to_string()))?;
    let mut attachments = Vec::new();
    let json = mp_to_json(read_mp(&bytes)?, &mut attachments);
    Ok((json, attachments))
}

/// What `entry` asks.
pub fn read_op(entry: &Entry) -> Result<Op, WireError> {
    match entry.kind {
        3..=6 => {
            let (data, attachments) = read_data(entry.data.as_deref().unwrap_or("{}"))?;
            op_of(entry.kind, &data, &attachments)
        }
        other => Ok(Op::Other(other)),
    }
}

/// What an entry or a message of `kind` with `data` asks.
fn op_of(kind: u8, data: &Json, attachments: &[Bytes]) -> Result<Op, WireError> {
    let opts = || opts_of(data.get("opts"));
    Ok(match kind {
        3 => {
            let packet = data.get("packet").ok_or_else(|| bad("no packet"))?;
            if packet.get("type").and_then(Json::as_u64) != Some(2) {
                return Err(bad("a broadcast that is not an event"));
            }
            let args = packet.get("data").cloned().unwrap_or(Json::Null);
            Op::Broadcast {
                event: take_event(args, attachments)?,
                opts: opts(),
            }
        }
        4 | 5 => Op::Rooms {
            join: kind == 4,
            opts: opts(),
            rooms: rooms_of(data.get("rooms")),
        },
        6 => Op::Disconnect {
            opts: opts(),
            close: data.get("close").and_then(Json::as_bool).unwrap_or(false),
        },
        other => Op::Other(other),
    })
}

fn opts_json(opts: &BroadcastOptions) -> Json {
    json!({"rooms": opts.rooms, "except": opts.except, "flags": {}})
}

/// A broadcast as Node's adapter streams it: JSON data, or base64 msgpack when it has binary.
pub fn broadcast(
    uid: &str,
    nsp: &str,
    event: &EventData,
    opts: &BroadcastOptions,
) -> Result<Entry, WireError> {
    let args: Json = serde_json::from_str(&event.data).map_err(|e| bad(e.to_string()))?;
    let data = if event.attachments.is_empty() {
        json!({"packet": {"type": 2, "data": args}, "opts": opts_json(opts)}).to_string()
    } else {
        let strings = |v: &[String]| Mp::Array(v.iter().map(|s| Mp::from(s.as_str())).collect());
        let msg = Mp::Map(vec![
            (
                Mp::from("packet"),
                Mp::Map(vec![
                    (Mp::from("type"), Mp::from(2)),
                    (Mp::from("data"), json_to_mp(&args, &event.attachments)?),
                ]),
            ),
            (
                Mp::from("opts"),
                Mp::Map(vec![
                    (Mp::from("rooms"), strings(&opts.rooms)),
                    (Mp::from("except"), strings(&opts.except)),
                    (Mp::from("flags"), Mp::Map(Vec::new())),
                ]),
            ),
        ]);
        BASE64.encode(iogate_socketio::msgpack::write(&msg))
    };
    Ok(entry(uid, nsp, MessageType::Broadcast, data))
}

/// The selected sockets join (`join`) or leave `rooms`.
pub fn rooms(uid: &str, nsp: &str, join: bool, opts: &BroadcastOptions, rooms: &[String]) -> Entry {
    let kind = if join {
        MessageType::SocketsJoin
    } else {
        MessageType::SocketsLeave
    };
    let data = json!({"opts": opts_json(opts), "rooms": rooms}).to_string();
    entry(uid, nsp, kind, data)
}

/// The selected sockets are disconnected.
pub fn disconnect(uid: &str, nsp: &str, opts: &BroadcastOptions, close: bool) -> Entry {
    let data = json!({"opts": opts_json(opts), "close": close}).to_string();
    entry(uid, nsp, MessageType::DisconnectSockets, data)
}

fn entry(uid: &str, nsp: &str, kind: MessageType, data: String) -> Entry {
    Entry {
        uid: uid.to_owned(),
        nsp: nsp.to_owned(),
        kind: kind as u8,
        data: Some(data),
    }
}

/// A session of connection state recovery, as kept in Redis: `{sid, pid, rooms, data}`, and
/// `nsp` after them when an iogate node wrote it (Node's nodes ignore it).
pub use iogate_socketio::SessionRecord as Session;

/// The Redis key of session `pid` (`sio:session:<pid>`, the adapter's default prefix).
pub fn session_key(pid: &str) -> String {
    format!("sio:session:{pid}")
}

/// A session as Node's adapter stores it: base64 of its msgpack.
pub fn write_session(session: &Session) -> Result<String, WireError> {
    let rooms = Mp::Array(session.rooms.iter().map(|r| Mp::from(r.as_str())).collect());
    let mut fields = vec![
        (Mp::from("sid"), Mp::from(session.sid.as_str())),
        (Mp::from("pid"), Mp::from(session.pid.as_str())),
        (Mp::from("rooms"), rooms),
        (Mp::from("data"), json_to_mp(&session.data, &[])?),
    ];
    if let Some(nsp) = &session.nsp {
        fields.push((Mp::from("nsp"), Mp::from(nsp.as_str())));
    }
    Ok(BASE64.encode(iogate_socketio::msgpack::write(&Mp::Map(fields))))
}

/// A stored session.
pub fn read_session(text: &str) -> Result<Session, WireError> {
    let bytes = BASE64.decode(text).map_err(|e| bad(e.to_string()))?;
    let json = mp_to_json(read_mp(&bytes)?, &mut Vec::new());
    let text_of = |k: &str| {
        json.get(k)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("a session without {k}")))
    };
    Ok(Session {
        sid: text_of("sid")?,
        pid: text_of("pid")?,
        rooms: rooms_of(json.get("rooms")),
        data: json.get("data").cloned().unwrap_or(Json::Null),
        nsp: json.get("nsp").and_then(Json::as_str).map(str::to_owned),
    })
}

/// A message of the adapter's pub/sub part, for what is not kept in the stream (fetching
/// sockets, broadcasts with acknowledgements, server-side events, and their answers): the
/// msgpack of `{uid, nsp, type, data}`, published on `<prefix>#<nsp>#` to every node or on
/// `<prefix>#<nsp>#<uid>#` to one.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The node that sent it.
    pub uid: String,
    /// Its namespace.
    pub nsp: String,
    /// Its [`MessageType`], as a number.
    pub kind: u8,
    /// Its data, with binary values as placeholders into `attachments`.
    pub data: Json,
    /// The binary values of `data`.
    pub attachments: Vec<Bytes>,
}

/// `BROADCAST_CLIENT_COUNT`: how many clients a node delivered a broadcast with
/// acknowledgements to.
pub const BROADCAST_CLIENT_COUNT: u8 = 11;

/// A pub/sub message: JSON when it starts with `{` (as the sharded adapter sends what has no
/// binary), else msgpack.
pub fn read_message(bytes: &[u8]) -> Result<Message, WireError> {
    let mut attachments = Vec::new();
    let json = if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?
    } else {
        mp_to_json(read_mp(bytes)?, &mut attachments)
    };
    let text = |k: &str| {
        json.get(k)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("a message without {k}")))
    };
    let kind = json
        .get("type")
        .and_then(Json::as_u64)
        .and_then(|t| u8::try_from(t).ok())
        .ok_or_else(|| bad("a message without type"))?;
    Ok(Message {
        uid: text("uid")?,
        nsp: text("nsp")?,
        kind,
        data: json.get("data").cloned().unwrap_or(Json::Null),
        attachments,
    })
}

/// A pub/sub message's bytes (`data` without binary).
pub fn write_message(uid: &str, nsp: &str, kind: u8, data: &Json) -> Result<Vec<u8>, WireError> {
    let msg = Mp::Map(vec![
        (Mp::from("uid"), Mp::from(uid)),
        (Mp::from("nsp"), Mp::from(nsp)),
        (Mp::from("type"), Mp::from(kind)),
        (Mp::from("data"), json_to_mp(data, &[])?),
    ]);
    Ok(iogate_socketio::msgpack::write(&msg))
}

/// A message as the sharded adapter publishes it: JSON text, or msgpack when `data` holds
/// binary (`attachments`, named by placeholders).
pub fn write_published(
    uid: &str,
    nsp: &str,
    kind: MessageType,
    data: Json,
    attachments: &[Bytes],
) -> Result<Vec<u8>, WireError> {
    if attachments.is_empty() {
        let msg = json!({"uid": uid, "nsp": nsp, "type": kind as u8, "data": data});
        return Ok(msg.to_string().into_bytes());
    }
    let msg = Mp::Map(vec![
        (Mp::from("uid"), Mp::from(uid)),
        (Mp::from("nsp"), Mp::from(nsp)),
        (Mp::from("type"), Mp::from(kind as u8)),
        (Mp::from("data"), json_to_mp(&data, attachments)?),
    ]);
    Ok(iogate_socketio::msgpack::write(&msg))
}

/// A broadcast, published (sharded adapter): the packet keeps its namespace.
pub fn published_broadcast(
    uid: &str,
    nsp: &str,
    event: &EventData,
    opts: &BroadcastOptions,
) -> Result<Vec<u8>, WireError> {
    let args: Json = serde_json::from_str(&event.data).map_err(|e| bad(e.to_string()))?;
    let data = json!({"packet": {"type": 2, "data": args, "nsp": nsp}, "opts": opts_json(opts)});
    write_published(uid, nsp, MessageType::Broadcast, data, &event.attachments)
}

/// The selected sockets join (`join`) or leave `rooms`, published (sharded adapter).
pub fn published_rooms(
    uid: &str,
    nsp: &str,
    join: bool,
    opts: &BroadcastOptions,
    rooms: &[String],
) -> Vec<u8> {
    let kind = if join {
        MessageType::SocketsJoin
    } else {
        MessageType::SocketsLeave
    };
    let data = json!({"opts": opts_json(opts), "rooms": rooms});
    write_published(uid, nsp, kind, data, &[]).unwrap_or_default()
}

/// The selected sockets are disconnected, published (sharded adapter).
pub fn published_disconnect(uid: &str, nsp: &str, opts: &BroadcastOptions, close: bool) -> Vec<u8> {
    let data = json!({"opts": opts_json(opts), "close": close});
    write_published(uid, nsp, MessageType::DisconnectSockets, data, &[]).unwrap_or_default()
}

/// What a published message asks of this node, when it is not a request with an answer:
/// [`Op::Broadcast`], [`Op::Rooms`] or [`Op::Disconnect`] (the sharded adapter's messages).
pub fn published_op(msg: &Message) -> Result<Op, WireError> {
    op_of(msg.kind, &msg.data, &msg.attachments)
}

/// `FETCH_SOCKETS`: every other node answers with its selected sockets.
pub fn fetch_request(uid: &str, nsp: &str, request_id: &str, opts: &BroadcastOptions) -> Vec<u8> {
    let data = json!({"opts": opts_json(opts), "requestId": request_id});
    write_message(uid, nsp, MessageType::FetchSockets as u8, &data).unwrap_or_default()
}

/// `FETCH_SOCKETS_RESPONSE`: this node's selected sockets.
pub fn fetch_response(
    uid: &str,
    nsp: &str,
    request_id: &str,
    sockets: &[iogate_socketio::SocketInfo],
) -> Result<Vec<u8>, WireError> {
    let data = json!({"requestId": request_id, "sockets": sockets});
    write_message(uid, nsp, MessageType::FetchSocketsResponse as u8, &data)
}

/// `SERVER_SIDE_EMIT`: `args` is `[name, ...args]`; with `request_id`, every other node
/// answers.
pub fn server_side_emit(
    uid: &str,
    nsp: &str,
    request_id: Option<&str>,
    args: &[Json],
) -> Result<Vec<u8>, WireError> {
    let mut data = json!({"packet": args});
    if let Some(id) = request_id {
        data["requestId"] = id.into();
    }
    write_message(uid, nsp, MessageType::ServerSideEmit as u8, &data)
}

/// `SERVER_SIDE_EMIT_RESPONSE`: this node's answer.
pub fn server_side_emit_response(
    uid: &str,
    nsp: &str,
    request_id: &str,
    answer: &Json,
) -> Result<Vec<u8>, WireError> {
    let data = json!({"requestId": request_id, "packet": answer});
    write_message(uid, nsp, MessageType::ServerSideEmitResponse as u8, &data)
}

/// `BROADCAST_CLIENT_COUNT`.
pub fn client_count_response(uid: &str, nsp: &str, request_id: &str, count: usize) -> Vec<u8> {
    let data = json!({"requestId": request_id, "clientCount": count});
    write_message(uid, nsp, BROADCAST_CLIENT_COUNT, &data).unwrap_or_default()
}

/// Whether `offset` is a stream entry id (`<ms>-<seq>`), as the adapter checks before using it.
pub fn is_offset(offset: &str) -> bool {
    offset.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The first entry id after `offset`, where an `XRANGE` of what came after it starts.
pub fn next_offset(offset: &str) -> Option<String> {
    let (ms, seq) = offset.split_once('-')?;
    Some(format!("{ms}-{}", seq.parse::<u64>().ok()?.checked_add(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries a Node socket.io 4.8.4 node with `@socket.io/redis-streams-adapter` 0.3.1
    /// wrote for: `to("room1").except("room2").emit("text", 1, "two", {three: [3]})`,
    /// `to("room1").emit("bin", Buffer [1,2,3], {nested: Buffer [4]})`,
    /// `in("room1").socketsJoin(["room3"])`, `in("room3").socketsLeave("room1")`,
    /// `except("room9").disconnectSockets(false)` (read back with `XRANGE socket.io - +`).
    const NODE: [(&str, &str); 5] = [
        (
            "3",
            r#"{"packet":{"type":2,"data":["text",1,"two",{"three":[3]}]},"opts":{"rooms":["room1"],"except":["room2"],"flags":{}}}"#,
        ),
        (
            "3",
            "gqZwYWNrZXSCpHR5cGUCpGRhdGGTo2JpbsQDAQIDgaZuZXN0ZWTEAQSkb3B0c4Olcm9vbXORpXJvb20xpmV4Y2VwdJClZmxhZ3OA",
        ),
        (
            "4",
            r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room3"]}"#,
        ),
        (
            "5",
            r#"{"opts":{"rooms":["room3"],"except":[],"flags":{}},"rooms":["room1"]}"#,
        ),
        (
            "6",
            r#"{"opts":{"rooms":[],"except":["room9"],"flags":{}},"close":false}"#,
        ),
    ];

    /// The session that node stored for a client with `socket.data = {user: "alice"}`, in
    /// `room1`, dropped with `socket.io.engine.close()`.
    const NODE_SESSION: &str = "hKNzaWS0aHloaHg0QzhGRUFUS0VsMUFBQUOjcGlktFhLdlNKNVJUNlJ2cFd4dEZBQUFEpXJvb21zkrRoeWhoeDRDOEZFQVRLRWwxQUFBQ6Vyb29tMaRkYXRhgaR1c2VypWFsaWNl";

    fn node_entry(i: usize) -> Entry {
        let (kind, data) = NODE[i];
        Entry::from_fields([
            ("uid", "5dcc6ba546d8e045"),
            ("nsp", "/"),
            ("type", kind),
            ("data", data),
        ])
        .unwrap()
    }

    fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
            local: false,
        }
    }

    #[test]
    fn reads_what_node_streams() {
        let Op::Broadcast { event, opts: o } = read_op(&node_entry(0)).unwrap() else {
            panic!("a broadcast")
        };
        assert_eq!(&*event.data, r#"["text",1,"two",{"three":[3]}]"#);
        assert_eq!(o, opts(&["room1"], &["room2"]));

        let Op::Broadcast { event, opts: o } = read_op(&node_entry(1)).unwrap() else {
            panic!("a broadcast")
        };
        assert_eq!(
            serde_json::from_str::<Json>(&event.data).unwrap(),
            json!(["bin", {"_placeholder": true, "num": 0},
                {"nested": {"_placeholder": true, "num": 1}}])
        );
        assert_eq!(
            event.attachments,
            [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4])]
        );
        assert_eq!(o, opts(&["room1"], &[]));

        let Op::Rooms {
            join,
            opts: o,
            rooms,
        } = read_op(&node_entry(2)).unwrap()
        else {
            panic!("a join")
        };
        assert!(join);
        assert_eq!(
            (o, rooms),
            (opts(&["room1"], &[]), vec!["room3".to_owned()])
        );
        let Op::Rooms { join, .. } = read_op(&node_entry(3)).unwrap() else {
            panic!("a leave")
        };
        assert!(!join);
        let Op::Disconnect { opts: o, close } = read_op(&node_entry(4)).unwrap() else {
            panic!("a disconnect")
        };
        assert_eq!((o, close), (opts(&[], &["room9"]), false));
    }

    #[test]
    fn writes_what_node_streams() {
        let text = EventData {
            data: r#"["text",1,"two",{"three":[3]}]"#.into(),
            attachments: Vec::new(),
        };
        let written = broadcast(
            "5dcc6ba546d8e045",
            "/",
            &text,
            &opts(&["room1"], &["room2"]),
        );
        assert_eq!(written.unwrap(), node_entry(0));

        let bin = EventData {
            data:
                r#"["bin",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]"#
                    .into(),
            attachments: vec![Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4])],
        };
        let written = broadcast("5dcc6ba546d8e045", "/", &bin, &opts(&["room1"], &[]));
        assert_eq!(written.unwrap(), node_entry(1), "byte for byte");

        let room3 = ["room3".to_owned()];
        let room1 = ["room1".to_owned()];
        assert_eq!(
            rooms(
                "5dcc6ba546d8e045",
                "/",
                true,
                &opts(&["room1"], &[]),
                &room3
            ),
            node_entry(2)
        );
        assert_eq!(
            rooms(
                "5dcc6ba546d8e045",
                "/",
                false,
                &opts(&["room3"], &[]),
                &room1
            ),
            node_entry(3)
        );
        assert_eq!(
            disconnect("5dcc6ba546d8e045", "/", &opts(&[], &["room9"]), false),
            node_entry(4)
        );
        assert_eq!(
            node_entry(4)
                .fields()
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>(),
            ["uid", "nsp", "type", "data"]
        );
    }

    #[test]
    fn sessions_as_node_stores_them() {
        let session = read_session(NODE_SESSION).unwrap();
        assert_eq!(session.pid, "XKvSJ5RT6RvpWxtFAAAD");
        assert_eq!(session.rooms, [session.sid.clone(), "room1".to_owned()]);
        assert_eq!(session.data, json!({"user": "alice"}));
        assert_eq!(write_session(&session).unwrap(), NODE_SESSION);
        assert_eq!(
            session_key(&session.pid),
            "sio:session:XKvSJ5RT6RvpWxtFAAAD"
        );
    }

    #[test]
    fn offsets_are_entry_ids() {
        assert!(is_offset("1796224687214-0"));
        for bad in ["", "1", "-1", "1-", "a-1", "1-1-1", "1796219084166-0x"] {
            assert!(!is_offset(bad), "{bad:?}");
        }
        assert_eq!(
            next_offset("1796224687214-9").as_deref(),
            Some("1796224687214-10")
        );
        assert_eq!(next_offset("x"), None);
    }

    #[test]
    fn entries_without_a_namespace_are_not_entries() {
        assert_eq!(Entry::from_fields([("uid", "u"), ("type", "3")]), None);
        assert!(matches!(
            read_op(&Entry {
                uid: "u".into(),
                nsp: "/".into(),
                kind: 2,
                data: None
            }),
            Ok(Op::Other(2))
        ));
    }
}

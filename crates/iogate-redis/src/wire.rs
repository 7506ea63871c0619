//! What travels through Redis, as `@socket.io/redis-adapter` 8.x and `@socket.io/redis-emitter`
//! write it: broadcasts in msgpack, requests and responses in JSON (msgpack for the
//! broadcast-with-ack ones). Formats only, no I/O.
//!
//! A broadcast is `[uid, {type: 2, data: ["event", ...args], nsp}, {rooms, except, flags}]`.
//! Its binary arguments are msgpack `bin` values in place; on this side of the adapter they are
//! JSON placeholders `{"_placeholder":true,"num":n}` plus a list of attachments
//! ([`EventData`]), so each direction swaps one for the other.

use bytes::Bytes;
use iogate_socketio::msgpack::{MissingAttachment, json_to_mp, mp_to_json, placeholder_num};
use iogate_socketio::{BroadcastOptions, EventData, SocketInfo};
use rmpv::Value as Mp;
use serde_json::{Value as Json, json};

/// The kinds of requests between nodes (`RequestType` of the Node adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RequestType {
    /// The ids of the selected sockets (old `allSockets`).
    Sockets = 0,
    /// The rooms of every socket.
    AllRooms = 1,
    /// Selected sockets join rooms.
    RemoteJoin = 2,
    /// Selected sockets leave rooms.
    RemoteLeave = 3,
    /// Selected sockets are disconnected.
    RemoteDisconnect = 4,
    /// The selected sockets, described (`fetchSockets`).
    RemoteFetch = 5,
    /// An event for the servers themselves (`serverSideEmit`).
    ServerSideEmit = 6,
    /// A broadcast whose clients are to acknowledge it.
    Broadcast = 7,
    /// How many clients a node sent a broadcast-with-ack to.
    BroadcastClientCount = 8,
    /// One client's acknowledgement of a broadcast-with-ack.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type of its number on the wire.
    pub fn from_u64(n: u64) -> Option<Self> {
        Some(match n {
            0 => Self::Sockets,
            1 => Self::AllRooms,
            2 => Self::RemoteJoin,
            3 => Self::RemoteLeave,
            4 => Self::RemoteDisconnect,
            5 => Self::RemoteFetch,
            6 => Self::ServerSideEmit,
            7 => Self::Broadcast,
            8 => Self::BroadcastClientCount,
            9 => Self::BroadcastAck,
            _ => return None,
        })
    }
}

/// A message that is not of the protocol.
#[derive(Debug, Clone, thiserror::Error)]
#[error("malformed cluster message: {0}")]
pub struct WireError(pub String);

pub(crate) fn bad(what: impl Into<String>) -> WireError {
    WireError(what.into())
}

/// The socket.io packet type of an event (`PacketType.EVENT`).
const EVENT: u64 = 2;
/// `BINARY_EVENT`: never sent by socket.io 4 through the adapter, accepted for old publishers.
const BINARY_EVENT: u64 = 5;

/// A message of this node that cannot be written fails the operation that would send it.
impl From<WireError> for iogate_socketio::AdapterError {
    fn from(e: WireError) -> Self {
        Self::Other(e.to_string())
    }
}

impl From<MissingAttachment> for WireError {
    fn from(e: MissingAttachment) -> Self {
        bad(e.to_string())
    }
}

/// Renumbers the placeholders of `data` from 0 in the order met, taking their attachments from
/// `all`: the attachments of one part of a message that may hold others elsewhere.
pub(crate) fn take_event(mut data: Json, all: &[Bytes]) -> Result<EventData, WireError> {
    fn walk(v: &mut Json, all: &[Bytes], out: &mut Vec<Bytes>) -> Result<(), WireError> {
        match v {
            Json::Array(items) => items.iter_mut().try_for_each(|i| walk(i, all, out)),
            Json::Object(map) => match placeholder_num(map) {
                Some(n) => {
                    let bin = all
                        .get(n)
                        .ok_or_else(|| bad(format!("placeholder {n} has no attachment")))?;
                    *v = json!({"_placeholder": true, "num": out.len()});
                    out.push(bin.clone());
                    Ok(())
                }
                None => map.values_mut().try_for_each(|i| walk(i, all, out)),
            },
            _ => Ok(()),
        }
    }
    if !data.is_array() {
        return Err(bad("event data is not an array"));
    }
    let mut attachments = Vec::new();
    walk(&mut data, all, &mut attachments)?;
    Ok(EventData {
        data: data.to_string().into(),
        attachments,
    })
}

/// A room name: socket.io rooms are usually text but may be any value (numbers, in practice).
fn room_name(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn rooms_of(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(room_name).collect())
        .unwrap_or_default()
}

/// `{rooms, except}` (and `flags.local`) of a message.
pub(crate) fn opts_of(v: Option<&Json>) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms_of(v.and_then(|o| o.get("rooms"))),
        except: rooms_of(v.and_then(|o| o.get("except"))),
        local: v
            .and_then(|o| o.pointer("/flags/local"))
            .and_then(Json::as_bool)
            .unwrap_or(false),
    }
}

// ---------------------------------------------------------------------------------------------
// Broadcasts
// ---------------------------------------------------------------------------------------------

/// The channel of a broadcast: `<prefix>#<nsp>#`, or `<prefix>#<nsp>#<room>#` when exactly one
/// room is targeted (so that Node nodes without that room skip decoding it).
pub fn broadcast_channel(prefix: &str, nsp: &str, opts: &BroadcastOptions) -> String {
    match opts.rooms.as_slice() {
        [room] => format!("{prefix}#{nsp}#{room}#"),
        _ => format!("{prefix}#{nsp}#"),
    }
}

/// A broadcast received from another node (or an emitter).
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// The uid of its sender (`emitter` for `@socket.io/redis-emitter`).
    pub uid: String,
    /// Its namespace.
    pub nsp: String,
    /// The event.
    pub event: EventData,
    /// Which sockets it is for; `local` from `flags.local`.
    pub opts: BroadcastOptions,
    /// The acknowledgement id of the packet, when it has one.
    pub id: Option<u64>,
}

/// Encodes a broadcast as the Node adapter publishes it.
pub fn encode_broadcast(
    uid: &str,
    nsp: &str,
    event: &EventData,
    opts: &BroadcastOptions,
) -> Result<Vec<u8>, WireError> {
    let data: Json = serde_json::from_str(&event.data).map_err(|e| bad(e.to_string()))?;
    let strings = |v: &[String]| Mp::Array(v.iter().map(|s| Mp::from(s.as_str())).collect());
    // Keys in the order Node writes them: notepack keeps the insertion order of the object.
    let packet = Mp::Map(vec![
        (Mp::from("type"), Mp::from(EVENT)),
        (Mp::from("data"), json_to_mp(&data, &event.attachments)?),
        (Mp::from("nsp"), Mp::from(nsp)),
    ]);
    let opts = Mp::Map(vec![
        (Mp::from("rooms"), strings(&opts.rooms)),
        (Mp::from("except"), strings(&opts.except)),
        (Mp::from("flags"), Mp::Map(Vec::new())),
    ]);
    let msg = Mp::Array(vec![Mp::from(uid), packet, opts]);
    let mut out = Vec::with_capacity(64 + event.data.len());
    rmpv::encode::write_value(&mut out, &msg).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

/// Decodes a published broadcast.
pub fn decode_broadcast(bytes: &[u8]) -> Result<Broadcast, WireError> {
    let mut attachments = Vec::new();
    let msg = mp_to_json(read_mp(bytes)?, &mut attachments);
    let Json::Array(mut parts) = msg else {
        return Err(bad("a broadcast is not an array"));
    };
    if parts.len() < 2 {
        return Err(bad("a broadcast has fewer than 2 parts"));
    }
    let opts = parts.get(2).cloned();
    let mut packet = parts.swap_remove(1);
    let uid = match &parts[0] {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (event, nsp, id) = take_packet(&mut packet, &attachments)?;
    Ok(Broadcast {
        uid,
        nsp,
        event,
        opts: opts_of(opts.as_ref()),
        id,
    })
}

/// The event, namespace and ack id of a packet `{type, data, nsp, id?}`.
fn take_packet(
    packet: &mut Json,
    attachments: &[Bytes],
) -> Result<(EventData, String, Option<u64>), WireError> {
    let kind = packet.get("type").and_then(Json::as_u64);
    if !matches!(kind, Some(EVENT | BINARY_EVENT)) {
        return Err(bad(format!("not an event packet: type {kind:?}")));
    }
    // Node's adapter takes a packet without `nsp` as the main namespace's.
    let nsp = packet
        .get("nsp")
        .and_then(Json::as_str)
        .unwrap_or("/")
        .to_owned();
    let id = packet.get("id").and_then(Json::as_u64);
    let data = packet
        .get_mut("data")
        .map(Json::take)
        .ok_or_else(|| bad("an event packet without data"))?;
    Ok((take_event(data, attachments)?, nsp, id))
}

pub(crate) fn read_mp(bytes: &[u8]) -> Result<Mp, WireError> {
    rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| bad(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Requests and responses
// ---------------------------------------------------------------------------------------------

/// A request or response body: JSON when it starts with `{`, msgpack otherwise (as the Node
/// adapter tells them apart). Binary values of msgpack come out as placeholders, with their
/// attachments.
fn decode_body(bytes: &[u8]) -> Result<(Json, Vec<Bytes>), WireError> {
    if bytes.first() == Some(&b'{') {
        let v = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        Ok((v, Vec::new()))
    } else {
        let mut attachments = Vec::new();
        let v = mp_to_json(read_mp(bytes)?, &mut attachments);
        Ok((v, attachments))
    }
}

/// What another node (or an emitter) asks of this one.
#[derive(Debug, Clone)]
pub enum Request {
    /// `SOCKETS`: the ids of the sockets in `rooms`.
    Sockets {
        /// Request id of the answer.
        request_id: String,
        /// The rooms (every socket when empty).
        rooms: Vec<String>,
    },
    /// `ALL_ROOMS`.
    AllRooms {
        /// Request id of the answer.
        request_id: String,
    },
    /// `REMOTE_JOIN` / `REMOTE_LEAVE`.
    Rooms {
        /// Join when true, leave when false.
        join: bool,
        /// The selected sockets.
        opts: BroadcastOptions,
        /// The rooms joined or left.
        rooms: Vec<String>,
        /// Set for the old one-socket form (`{sid, room}`), which is answered.
        request_id: Option<String>,
    },
    /// `REMOTE_DISCONNECT`.
    Disconnect {
        /// The selected sockets.
        opts: BroadcastOptions,
        /// Close their connection too.
        close: bool,
        /// Set for the old one-socket form (`{sid}`), which is answered.
        request_id: Option<String>,
    },
    /// `REMOTE_FETCH`.
    Fetch {
        /// Request id of the answer.
        request_id: String,
        /// The selected sockets.
        opts: BroadcastOptions,
    },
    /// `SERVER_SIDE_EMIT`: an event for the namespace's servers.
    ServerSideEmit {
        /// The event's arguments, name first.
        data: Json,
        /// Set when the sender waits for an answer.
        request_id: Option<String>,
    },
    /// `BROADCAST`: a broadcast whose clients are to acknowledge it.
    BroadcastWithAck {
        /// Request id of the answers.
        request_id: String,
        /// The event.
        event: EventData,
        /// The selected sockets.
        opts: BroadcastOptions,
    },
}

/// A request, with the uid of its sender (`None` for the emitter, which sends none).
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The sender's uid.
    pub uid: Option<String>,
    /// The request.
    pub request: Request,
}

/// Decodes a request; `Ok(None)` for a type that is not a request (a response, or unknown).
pub fn decode_request(bytes: &[u8]) -> Result<Option<Incoming>, WireError> {
    let (mut v, attachments) = decode_body(bytes)?;
    let uid = v.get("uid").and_then(Json::as_str).map(str::to_owned);
    let request_id = v.get("requestId").and_then(room_name); // uid2 ids are text; numbers are taken too
    let need_id = || {
        request_id
            .clone()
            .ok_or_else(|| bad("a request without requestId"))
    };
    let Some(kind) = v
        .get("type")
        .and_then(Json::as_u64)
        .and_then(RequestType::from_u64)
    else {
        return Ok(None);
    };
    // The old one-socket form of join/leave/disconnect: `{sid, room}` instead of `opts`.
    let one_socket = || BroadcastOptions {
        rooms: v.get("sid").and_then(room_name).into_iter().collect(),
        ..Default::default()
    };
    let has_opts = v.get("opts").is_some_and(Json::is_object);
    let request = match kind {
        RequestType::Sockets => Request::Sockets {
            request_id: need_id()?,
            rooms: rooms_of(v.get("rooms")),
        },
        RequestType::AllRooms => Request::AllRooms {
            request_id: need_id()?,
        },
        RequestType::RemoteJoin | RequestType::RemoteLeave if has_opts => Request::Rooms {
            join: kind == RequestType::RemoteJoin,
            opts: opts_of(v.get("opts")),
            rooms: rooms_of(v.get("rooms")),
            request_id: None,
        },
        RequestType::RemoteJoin | RequestType::RemoteLeave => Request::Rooms {
            join: kind == RequestType::RemoteJoin,
            opts: one_socket(),
            rooms: v.get("room").and_then(room_name).into_iter().collect(),
            request_id: request_id.clone(),
        },
        RequestType::RemoteDisconnect => Request::Disconnect {
            opts: if has_opts {
                opts_of(v.get("opts"))
            } else {
                one_socket()
            },
            close: v.get("close").and_then(Json::as_bool).unwrap_or(false),
            request_id: if has_opts { None } else { request_id.clone() },
        },
        RequestType::RemoteFetch => Request::Fetch {
            request_id: need_id()?,
            opts: opts_of(v.get("opts")),
        },
        RequestType::ServerSideEmit => Request::ServerSideEmit {
            data: v.get_mut("data").map(Json::take).unwrap_or(Json::Null),
            request_id: request_id.clone(),
        },
        RequestType::Broadcast => {
            let opts = opts_of(v.get("opts"));
            let mut packet = v
                .get_mut("packet")
                .map(Json::take)
                .ok_or_else(|| bad("a BROADCAST request without packet"))?;
            let (event, _, _) = take_packet(&mut packet, &attachments)?;
            Request::BroadcastWithAck {
                request_id: need_id()?,
                event,
                opts,
            }
        }
        RequestType::BroadcastClientCount | RequestType::BroadcastAck => return Ok(None),
    };
    Ok(Some(Incoming { uid, request }))
}

/// What another node answered to a request.
#[derive(Debug, Clone)]
pub struct Response {
    /// The request it answers.
    pub request_id: String,
    /// What it carries.
    pub body: ResponseBody,
}

/// The content of a [`Response`].
#[derive(Debug, Clone)]
pub enum ResponseBody {
    /// `sockets`: socket ids (to `SOCKETS`) or descriptions (to `REMOTE_FETCH`).
    Sockets(Vec<Json>),
    /// `rooms` (to `ALL_ROOMS`).
    Rooms(Vec<String>),
    /// `data`: one node's answer to a `SERVER_SIDE_EMIT`.
    ServerSideEmit(Json),
    /// Anything else (an acknowledgement of a one-socket request, a broadcast-with-ack answer).
    Other,
}

/// Decodes a response; `Ok(None)` when it names no request.
pub fn decode_response(bytes: &[u8]) -> Result<Option<Response>, WireError> {
    let (mut v, _) = decode_body(bytes)?;
    let Some(request_id) = v.get("requestId").and_then(room_name) else {
        return Ok(None);
    };
    let server_side =
        v.get("type").and_then(Json::as_u64) == Some(RequestType::ServerSideEmit as u64);
    let body = if server_side {
        ResponseBody::ServerSideEmit(v.get_mut("data").map(Json::take).unwrap_or(Json::Null))
    } else if let Some(Json::Array(sockets)) = v.get_mut("sockets").map(Json::take) {
        ResponseBody::Sockets(sockets)
    } else if let Some(rooms) = v.get("rooms").filter(|r| r.is_array()) {
        ResponseBody::Rooms(rooms_of(Some(rooms)))
    } else {
        ResponseBody::Other
    };
    Ok(Some(Response { request_id, body }))
}

/// A socket of a `REMOTE_FETCH` answer; `None` when it is not one.
pub fn socket_info(v: Json) -> Option<SocketInfo> {
    let Json::Object(mut map) = v else {
        return None;
    };
    let id = room_name(map.get("id")?)?;
    Some(SocketInfo {
        id,
        rooms: rooms_of(map.get("rooms")),
        data: map.remove("data").unwrap_or(Json::Null),
        handshake: map.remove("handshake").unwrap_or(Json::Null),
    })
}

fn opts_json(opts: &BroadcastOptions) -> Json {
    json!({"rooms": opts.rooms, "except": opts.except})
}

/// `SERVER_SIDE_EMIT` request: `args` is `[name, ...args]`; with `request_id`, every other
/// node answers.
pub fn server_side_emit_request(uid: &str, request_id: Option<&str>, args: &[Json]) -> String {
    let mut v = json!({"uid": uid, "type": RequestType::ServerSideEmit as u8, "data": args});
    if let Some(id) = request_id {
        v["requestId"] = id.into();
    }
    v.to_string()
}

/// One node's answer to a `SERVER_SIDE_EMIT`.
pub fn server_side_emit_response(request_id: &str, data: &Json) -> String {
    json!({"type": RequestType::ServerSideEmit as u8, "requestId": request_id, "data": data})
        .to_string()
}

/// `REMOTE_FETCH` request.
pub fn fetch_request(uid: &str, request_id: &str, opts: &BroadcastOptions) -> String {
    json!({"uid": uid, "requestId": request_id, "type": RequestType::RemoteFetch as u8, "opts": opts_json(opts)})
        .to_string()
}

/// `ALL_ROOMS` request.
pub fn all_rooms_request(uid: &str, request_id: &str) -> String {
    json!({"uid": uid, "requestId": request_id, "type": RequestType::AllRooms as u8}).to_string()
}

/// `REMOTE_JOIN` (or `REMOTE_LEAVE` when not `join`) request; not answered.
pub fn rooms_request(uid: &str, join: bool, opts: &BroadcastOptions, rooms: &[String]) -> String {
    let kind = if join {
        RequestType::RemoteJoin
    } else {
        RequestType::RemoteLeave
    };
    json!({"uid": uid, "type": kind as u8, "opts": opts_json(opts), "rooms": rooms}).to_string()
}

/// `REMOTE_DISCONNECT` request; not answered.
pub fn disconnect_request(uid: &str, opts: &BroadcastOptions, close: bool) -> String {
    json!({"uid": uid, "type": RequestType::RemoteDisconnect as u8, "opts": opts_json(opts), "close": close})
        .to_string()
}

/// Answer to `REMOTE_FETCH`.
pub fn fetch_response(request_id: &str, sockets: &[SocketInfo]) -> String {
    json!({"requestId": request_id, "sockets": sockets}).to_string()
}

/// Answer to `SOCKETS`.
pub fn sockets_response(request_id: &str, ids: &[String]) -> String {
    json!({"requestId": request_id, "sockets": ids}).to_string()
}

/// Answer to `ALL_ROOMS`.
pub fn all_rooms_response(request_id: &str, rooms: &[String]) -> String {
    json!({"requestId": request_id, "rooms": rooms}).to_string()
}

/// Answer to the one-socket forms of join, leave and disconnect.
pub fn done_response(request_id: &str) -> String {
    json!({"requestId": request_id}).to_string()
}

/// Answer to `BROADCAST`: how many clients this node sent it to, with an acknowledgement asked.
pub fn client_count_response(request_id: &str, count: usize) -> String {
    json!({"type": RequestType::BroadcastClientCount as u8, "requestId": request_id, "clientCount": count})
        .to_string()
}

#[cfg(test)]
mod tests {
    //! Fixtures: bytes published by Node (socket.io 4.8.4, `@socket.io/redis-adapter` 8.3.0,
    //! `@socket.io/redis-emitter` 5.1.0, notepack.io 3.0.1), captured from Redis with a pattern
    //! subscription, as hex. The Node code that published each is quoted above it.
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn json(event: &EventData) -> Json {
        serde_json::from_str(&event.data).unwrap()
    }

    fn opts(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
            local: false,
        }
    }

    /// The fields of a join or leave request: `(join, opts, rooms, request_id)`.
    fn rooms_fields(request: Request) -> (bool, BroadcastOptions, Vec<String>, Option<String>) {
        match request {
            Request::Rooms {
                join,
                opts,
                rooms,
                request_id,
            } => (join, opts, rooms, request_id),
            other => panic!("not a join or leave: {other:?}"),
        }
    }

    /// `io.to("room1").except("ex").emit("hello", {a: 1, b: [true, null]}, "x", 1.5, -3, 300, "é")`
    /// on channel `socket.io#/#room1#`.
    const TEXT: &str = "93a676585f4e693483a47479706502a46461746197a568656c6c6f82a16101a16292c3c0a178cb3ff8000000000000fdcd012ca2c3a9a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707491a26578a5666c61677380";
    /// `io.emit("bin", Buffer.from([1, 2, 3]), {nested: Buffer.from([4, 5])}, [Buffer.from([])])`
    const BINARY: &str = "93a676585f4e693483a47479706502a46461746194a362696ec40301020381a66e6573746564c402040591c400a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";
    /// `io.to(["r1", "r2"]).emit("date", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))`
    const DATE: &str = "93a676585f4e693483a47479706502a46461746192a464617465d7ffa1a5d60065937d25a36e7370a12f83a5726f6f6d7392a27231a27232a665786365707490a5666c61677380";
    /// Emitter: `emitter.to("room1").emit("from-emitter", 42, Buffer.from([9, 8]))`
    const EMITTER: &str = "93a7656d697474657283a47479706502a46461746193ac66726f6d2d656d69747465722ac4020908a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490";
    /// `io.socketsJoin("joined2")` on `socket.io-request#/#`.
    const JOIN: &str = "7b22756964223a2276585f4e6934222c2274797065223a322c226f707473223a7b22726f6f6d73223a5b5d2c22657863657074223a5b5d7d2c22726f6f6d73223a5b226a6f696e656432225d7d";
    /// Emitter: `emitter.socketsJoin("joined")` (no uid).
    const EMITTER_JOIN: &str = "7b2274797065223a322c226f707473223a7b22726f6f6d73223a5b5d2c22657863657074223a5b5d7d2c22726f6f6d73223a5b226a6f696e6564225d7d";
    /// `io.timeout(50).emit("with-ack", 7, cb)`: a BROADCAST request, in msgpack.
    const WITH_ACK: &str = "85a3756964a676585f4e6934a9726571756573744964a673535a61394aa47479706507a67061636b657483a47479706502a46461746192a8776974682d61636b07a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f757432";

    #[test]
    fn text_broadcast_from_node() {
        let msg = decode_broadcast(&hex(TEXT)).unwrap();
        assert_eq!(msg.uid, "vX_Ni4");
        assert_eq!(msg.nsp, "/");
        assert_eq!(msg.opts, opts(&["room1"], &["ex"]));
        assert_eq!(
            json(&msg.event),
            json!(["hello", {"a": 1, "b": [true, null]}, "x", 1.5, -3, 300, "é"])
        );
        assert!(msg.event.attachments.is_empty());
        // And written back byte for byte as Node writes it.
        let again = encode_broadcast("vX_Ni4", "/", &msg.event, &msg.opts).unwrap();
        assert_eq!(again, hex(TEXT));
    }

    #[test]
    fn binary_broadcast_from_node() {
        let msg = decode_broadcast(&hex(BINARY)).unwrap();
        assert_eq!(msg.opts, opts(&[], &[]));
        assert_eq!(
            json(&msg.event),
            json!(["bin", {"_placeholder": true, "num": 0},
                {"nested": {"_placeholder": true, "num": 1}}, [{"_placeholder": true, "num": 2}]])
        );
        assert_eq!(
            msg.event.attachments,
            vec![
                Bytes::from_static(&[1, 2, 3]),
                Bytes::from_static(&[4, 5]),
                Bytes::new()
            ]
        );
        let again = encode_broadcast("vX_Ni4", "/", &msg.event, &msg.opts).unwrap();
        assert_eq!(again, hex(BINARY));
    }

    #[test]
    fn placeholders_become_bins_in_their_order() {
        // Placeholders out of order in the text: each takes the attachment its `num` names.
        let event = EventData {
            data: r#"["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#.into(),
            attachments: vec![Bytes::from_static(b"zero"), Bytes::from_static(b"one")],
        };
        let bytes = encode_broadcast("me", "/chat", &event, &opts(&["a", "b"], &[])).unwrap();
        let back = decode_broadcast(&bytes).unwrap();
        assert_eq!(back.nsp, "/chat");
        assert_eq!(back.uid, "me");
        assert_eq!(back.opts, opts(&["a", "b"], &[]));
        assert_eq!(
            json(&back.event),
            json!(["e", {"_placeholder": true, "num": 0}, {"_placeholder": true, "num": 1}])
        );
        assert_eq!(
            back.event.attachments,
            vec![Bytes::from_static(b"one"), Bytes::from_static(b"zero")]
        );
        // A placeholder without its attachment is refused, not sent half-made.
        let broken = EventData {
            data: r#"["e",{"_placeholder":true,"num":3}]"#.into(),
            attachments: vec![],
        };
        assert!(encode_broadcast("me", "/", &broken, &opts(&[], &[])).is_err());
    }

    #[test]
    fn dates_become_their_iso_text() {
        let msg = decode_broadcast(&hex(DATE)).unwrap();
        assert_eq!(msg.opts, opts(&["r1", "r2"], &[]));
        assert_eq!(
            json(&msg.event),
            json!(["date", "2024-01-02T03:04:05.678Z"])
        );
    }

    #[test]
    fn emitter_broadcast() {
        let msg = decode_broadcast(&hex(EMITTER)).unwrap();
        assert_eq!(msg.uid, "emitter");
        assert_eq!(msg.opts, opts(&["room1"], &[]));
        assert_eq!(
            json(&msg.event),
            json!(["from-emitter", 42, {"_placeholder": true, "num": 0}])
        );
        assert_eq!(msg.event.attachments, vec![Bytes::from_static(&[9, 8])]);
    }

    #[test]
    fn join_requests() {
        let incoming = decode_request(&hex(JOIN)).unwrap().unwrap();
        assert_eq!(incoming.uid.as_deref(), Some("vX_Ni4"));
        assert_eq!(
            rooms_fields(incoming.request),
            (true, opts(&[], &[]), vec!["joined2".to_owned()], None)
        );
        // Ours is written as Node writes it.
        let ours = rooms_request("vX_Ni4", true, &opts(&[], &[]), &["joined2".into()]);
        assert_eq!(ours.as_bytes(), hex(JOIN));

        let incoming = decode_request(&hex(EMITTER_JOIN)).unwrap().unwrap();
        assert_eq!(incoming.uid, None);
        assert!(
            matches!(incoming.request, Request::Rooms { join: true, ref rooms, .. } if rooms == &["joined"])
        );
    }

    #[test]
    fn broadcast_with_ack_request_in_msgpack() {
        let incoming = decode_request(&hex(WITH_ACK)).unwrap().unwrap();
        assert_eq!(incoming.uid.as_deref(), Some("vX_Ni4"));
        let Request::BroadcastWithAck {
            request_id,
            event,
            opts: o,
        } = incoming.request
        else {
            panic!("not a broadcast: {incoming:?}");
        };
        assert_eq!(request_id, "sSZa9J");
        assert_eq!(json(&event), json!(["with-ack", 7]));
        assert_eq!(o, opts(&[], &[]));
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let o = opts(&["a"], &["b"]);
        let Request::Fetch {
            request_id,
            opts: got,
        } = decode_request(fetch_request("u", "r1", &o).as_bytes())
            .unwrap()
            .unwrap()
            .request
        else {
            panic!()
        };
        assert_eq!((request_id.as_str(), got), ("r1", o.clone()));
        let Request::Disconnect {
            opts: got,
            close,
            request_id,
        } = decode_request(disconnect_request("u", &o, true).as_bytes())
            .unwrap()
            .unwrap()
            .request
        else {
            panic!()
        };
        assert_eq!((got, close, request_id), (o, true, None));
        assert!(matches!(
            decode_request(all_rooms_request("u", "r2").as_bytes()).unwrap().unwrap().request,
            Request::AllRooms { ref request_id } if request_id == "r2"
        ));

        let info = SocketInfo {
            id: "s1".into(),
            rooms: vec!["s1".into(), "x".into()],
            data: json!({"k": 1}),
            handshake: json!({"headers": {}}),
        };
        let response =
            decode_response(fetch_response("r1", std::slice::from_ref(&info)).as_bytes())
                .unwrap()
                .unwrap();
        assert_eq!(response.request_id, "r1");
        let ResponseBody::Sockets(sockets) = response.body else {
            panic!()
        };
        assert_eq!(socket_info(sockets[0].clone()), Some(info));
        let response = decode_response(all_rooms_response("r2", &["x".into()]).as_bytes())
            .unwrap()
            .unwrap();
        assert!(matches!(response.body, ResponseBody::Rooms(ref r) if r == &["x"]));
        // Responses to a broadcast-with-ack are not requests.
        assert!(
            decode_request(client_count_response("r3", 0).as_bytes())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn one_socket_forms() {
        let incoming =
            decode_request(br#"{"uid":"n","requestId":"q","type":3,"sid":"s1","room":"x"}"#)
                .unwrap()
                .unwrap();
        assert_eq!(
            rooms_fields(incoming.request),
            (
                false,
                opts(&["s1"], &[]),
                vec!["x".to_owned()],
                Some("q".to_owned())
            )
        );
    }

    #[test]
    fn channels() {
        assert_eq!(
            broadcast_channel("socket.io", "/", &opts(&[], &[])),
            "socket.io#/#"
        );
        assert_eq!(
            broadcast_channel("p", "/a", &opts(&["r"], &["x"])),
            "p#/a#r#"
        );
        assert_eq!(
            broadcast_channel("p", "/a", &opts(&["r", "s"], &[])),
            "p#/a#"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"{not json",
            b"\x93\x01",
            b"\x92\xa1u\x80",
        ] {
            let _ = decode_broadcast(bytes);
            let _ = decode_request(bytes);
            let _ = decode_response(bytes);
        }
        assert!(decode_broadcast(b"\x92\xa1u\x80").is_err());
    }
}

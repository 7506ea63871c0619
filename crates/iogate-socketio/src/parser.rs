//! [`Parser`]: which of socket.io's two parsers the wire speaks, the one place every packet the
//! server sends is written through.

use iogate_engineio::Frame;
use rmpv::Value as Mp;

use crate::{msgpack, packet};

/// How packets are written on the wire: socket.io's default parser (text, with binary
/// attachments in messages of their own) or `socket.io-msgpack-parser` (each packet one binary
/// message). Both ends must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io's default parser.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`.
    Msgpack,
}

impl Parser {
    /// The server's answer to CONNECT, with the session's `pid` when its state can be
    /// recovered.
    pub fn connect(self, ns: &str, sid: &str, pid: Option<&str>) -> Frame {
        match self {
            Self::Json => packet::connect(ns, sid, pid),
            Self::Msgpack => {
                let mut body = vec![(Mp::from("sid"), Mp::from(sid))];
                if let Some(pid) = pid {
                    body.push((Mp::from("pid"), Mp::from(pid)));
                }
                msgpack::frame(0, ns, None, Some(Mp::Map(body)))
            }
        }
    }

    /// A refused CONNECT: `connect_error` on the client, with `message` and `data`.
    pub fn connect_error(self, ns: &str, message: &str, data: Option<&serde_json::Value>) -> Frame {
        match self {
            Self::Json => packet::connect_error(ns, message, data),
            Self::Msgpack => {
                let mut body = vec![(Mp::from("message"), Mp::from(message))];
                if let Some(data) = data.and_then(|d| msgpack::json_to_mp(d, &[]).ok()) {
                    body.push((Mp::from("data"), data));
                }
                msgpack::frame(4, ns, None, Some(Mp::Map(body)))
            }
        }
    }

    /// The server leaves the client's namespace.
    pub fn disconnect(self, ns: &str) -> Frame {
        match self {
            Self::Json => packet::disconnect(ns),
            Self::Msgpack => msgpack::frame(1, ns, None, None),
        }
    }

    /// An event or acknowledgement whose data (`[...]`, JSON with placeholders for
    /// `attachments`) is already encoded: its frames.
    pub fn data_frames(
        self,
        ns: &str,
        ack: bool,
        id: Option<i64>,
        data: &str,
        attachments: &[bytes::Bytes],
    ) -> Vec<Frame> {
        match self {
            Self::Json => packet::data_frames(ns, ack, id, data, attachments),
            Self::Msgpack => {
                let kind = if ack { 3 } else { 2 };
                vec![msgpack::frame(
                    kind,
                    ns,
                    id,
                    Some(msgpack::data(data, attachments)),
                )]
            }
        }
    }
}

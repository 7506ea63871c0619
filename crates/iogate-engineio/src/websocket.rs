//! The websocket transport (RFC 6455, with permessage-deflate from RFC 7692):
//! the HTTP upgrade handshake and one connection's framing and buffers.
//!
//! `frame` knows the bytes of a frame header, `deflate` the extension's
//! negotiation and compression; [`WsConn`] owns the socket and its buffers:
//! - the read buffer starts at [`Config::ws_read_buffer`] (1 KiB by default,
//!   so an idle connection stays small) and grows to hold one frame, capped at
//!   [`Config::max_payload`]; a frame larger than the initial size is handed
//!   out without a copy and the buffer starts afresh at the initial size;
//! - the write buffer holds the frames fed between two flushes and is written
//!   out once it passes [`WRITE_BATCH`] and on every flush; a flush that leaves
//!   it larger than [`WRITE_KEEP`] frees it, so a connection that once wrote a
//!   large batch does not keep that much memory;
//! - a fragmented message is assembled in its own buffer, capped at `max_payload`;
//! - with permessage-deflate, a decompressed message is capped at `max_payload`
//!   too: a small frame that inflates past it closes the connection with 1009
//!   ("message too big") before more is allocated.

mod deflate;
mod frame;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::packet::Frame;
use crate::str::Str;

use self::deflate::{Agreed, Deflater, InflateError};
use self::frame::{Header, OpCode};

/// Frames fed before a flush are written out once they pass this many bytes:
/// large enough to batch a burst of small packets into few syscalls, small
/// enough that a batch costs little memory.
const WRITE_BATCH: usize = 16 * 1024;

/// A write buffer with more capacity than this after a flush is freed rather
/// than kept for the next write: idle connections keep at most this much.
const WRITE_KEEP: usize = 1024;

/// The GUID of RFC 6455 §1.3, hashed with the client's key.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Close codes sent by the server (RFC 6455 §7.4.1).
mod code {
    /// A frame broke the protocol.
    pub(super) const PROTOCOL: u16 = 1002;
    /// A text message that is not UTF-8, or compressed data that does not inflate.
    pub(super) const INVALID_DATA: u16 = 1007;
    /// A message over `max_payload`.
    pub(super) const TOO_BIG: u16 = 1009;
}

/// The most the read buffer grows by ahead of the bytes that arrived.
const READ_GROWTH: usize = 64 * 1024;

/// Whether the request asks for a websocket upgrade.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let has = |name, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade")
}

/// What the handshake settled for the connection, handed to [`WsConn::accept`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Accepted {
    /// The permessage-deflate parameters, when an offer was accepted.
    deflate: Option<Agreed>,
}

/// The `101 Switching Protocols` response for a valid websocket request, or
/// `None` when the key or version is missing or wrong. It accepts the first
/// acceptable permessage-deflate offer when the config enables it.
pub(crate) fn accept_response<B: Default>(
    headers: &HeaderMap,
    config: &Config,
) -> Option<(Response<B>, Accepted)> {
    if headers.get(header::SEC_WEBSOCKET_VERSION)? != "13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID);
    let accept = base64::engine::general_purpose::STANDARD.encode(sha1.finalize());
    let mut res = Response::new(B::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).ok()?,
    );
    let mut accepted = Accepted::default();
    if let Some(deflate) = &config.per_message_deflate
        && let Some((agreed, value)) = deflate::negotiate(headers, deflate)
    {
        h.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
        accepted.deflate = Some(agreed);
    }
    Some((res, accepted))
}

/// What a read from the connection produced.
pub(crate) enum WsIn {
    /// A text message.
    Text(Str),
    /// A binary message.
    Binary(Bytes),
}

/// A failed read or write; the connection is unusable afterwards.
#[derive(Debug)]
pub(crate) enum WsError {
    /// The peer closed the connection (close frame or EOF).
    Closed,
    /// A message over `max_payload`, compressed or not.
    TooLarge,
    /// An I/O or protocol error.
    Other,
}

impl From<std::io::Error> for WsError {
    fn from(_: std::io::Error) -> Self {
        WsError::Other
    }
}

/// A data message whose first frames arrived and whose last has not.
struct Partial {
    /// Text or binary.
    opcode: OpCode,
    /// RSV1 was set on its first frame.
    compressed: bool,
    /// The payloads so far, unmasked.
    data: BytesMut,
}

/// One server-side websocket connection.
pub(crate) struct WsConn {
    io: TokioIo<hyper::upgrade::Upgraded>,
    /// Bytes read and not yet parsed.
    read: BytesMut,
    /// The size the read buffer starts at and returns to.
    read_size: usize,
    /// Encoded frames not yet written; `written` of them already are.
    write: Vec<u8>,
    written: usize,
    /// A fragmented message being assembled.
    partial: Option<Partial>,
    max_payload: usize,
    /// Present when permessage-deflate was agreed.
    deflate: Option<Deflater>,
    /// A close frame was queued: nothing may follow it.
    close_sent: bool,
}

impl WsConn {
    /// Completes the upgrade started by [`accept_response`].
    pub(crate) async fn accept(
        on_upgrade: OnUpgrade,
        config: &Config,
        accepted: Accepted,
    ) -> Result<WsConn, ()> {
        let upgraded = on_upgrade.await.map_err(|_| ())?;
        Ok(WsConn {
            io: TokioIo::new(upgraded),
            read: BytesMut::with_capacity(config.ws_read_buffer),
            read_size: config.ws_read_buffer.max(16),
            write: Vec::new(),
            written: 0,
            partial: None,
            max_payload: config.max_payload,
            deflate: accepted.deflate.map(Deflater::new),
            close_sent: false,
        })
    }

    /// The next data message; pings are answered and skipped.
    /// Cancel-safe: a partly read frame stays in the read buffer.
    pub(crate) async fn recv(&mut self) -> Result<WsIn, WsError> {
        loop {
            if let Some(message) = self.parse()? {
                return Ok(message);
            }
            if self.read.capacity() == self.read.len() {
                self.read.reserve(self.read_size);
            }
            if self.io.read_buf(&mut self.read).await? == 0 {
                return Err(WsError::Closed);
            }
        }
    }

    /// Consumes the complete frames at the front of the read buffer until one
    /// completes a message; `Ok(None)` when more bytes are needed.
    fn parse(&mut self) -> Result<Option<WsIn>, WsError> {
        loop {
            let header = match frame::parse_header(&self.read) {
                Ok(Some(header)) => header,
                Ok(None) => return Ok(None),
                Err(_) => return Err(self.fail(code::PROTOCOL, WsError::Other)),
            };
            let Some(key) = header.mask else {
                return Err(self.fail(code::PROTOCOL, WsError::Other));
            };
            let buffered = self.partial.as_ref().map_or(0, |p| p.data.len());
            if header.len > (self.max_payload - buffered) as u64 {
                return Err(self.fail(code::TOO_BIG, WsError::TooLarge));
            }
            let total = header.header_len + header.len as usize;
            if self.read.len() < total {
                // Grown with what arrives, not with what the header announces: a client
                // that announces a large frame and sends it slowly pins no more than it sent.
                self.read
                    .reserve((total - self.read.len()).min(READ_GROWTH));
                return Ok(None);
            }
            let mut payload = self.take_frame(header, total);
            frame::unmask(&mut payload, key);
            if let Some(message) = self.frame(header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// The payload of the frame of `total` bytes at the front of the read buffer.
    fn take_frame(&mut self, header: Header, total: usize) -> BytesMut {
        if total <= self.read_size {
            let payload = BytesMut::from(&self.read[header.header_len..total]);
            self.read.advance(total);
            return payload;
        }
        // A large frame keeps its allocation; the buffer starts afresh so it
        // does not keep the frame's size once the message is handled.
        let mut payload = self.read.split_to(total);
        payload.advance(header.header_len);
        let rest = std::mem::replace(&mut self.read, BytesMut::with_capacity(self.read_size));
        self.read.extend_from_slice(&rest);
        payload
    }

    /// Handles one frame; returns the message it completes, if any.
    fn frame(&mut self, header: Header, payload: BytesMut) -> Result<Option<WsIn>, WsError> {
        let bad = |conn: &mut WsConn| Err(conn.fail(code::PROTOCOL, WsError::Other));
        match header.opcode {
            _ if header.rsv1 && (self.deflate.is_none() || header.opcode.is_control()) => bad(self),
            OpCode::Ping => {
                if !self.close_sent {
                    self.queue(OpCode::Pong, false, &payload);
                    self.try_flush();
                }
                Ok(None)
            }
            OpCode::Pong => Ok(None),
            OpCode::Close => Err(self.closed_by_peer(&payload)),
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return bad(self);
                }
                if header.fin {
                    return self.message(header.opcode, header.rsv1, payload).map(Some);
                }
                self.partial = Some(Partial {
                    opcode: header.opcode,
                    compressed: header.rsv1,
                    data: payload,
                });
                Ok(None)
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut().filter(|_| !header.rsv1) else {
                    return bad(self);
                };
                partial.data.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let Partial {
                    opcode,
                    compressed,
                    data,
                } = self.partial.take().expect("checked above");
                self.message(opcode, compressed, data).map(Some)
            }
        }
    }

    /// A complete data message, decompressed and checked.
    fn message(
        &mut self,
        opcode: OpCode,
        compressed: bool,
        data: BytesMut,
    ) -> Result<WsIn, WsError> {
        let data = match (compressed, self.deflate.as_mut()) {
            (true, Some(deflater)) => match deflater.decompress(&data, self.max_payload) {
                Ok(data) => Bytes::from(data),
                Err(InflateError::TooLarge) => {
                    return Err(self.fail(code::TOO_BIG, WsError::TooLarge));
                }
                Err(InflateError::Corrupt) => {
                    return Err(self.fail(code::INVALID_DATA, WsError::Other));
                }
            },
            _ => data.freeze(),
        };
        match opcode {
            OpCode::Text => match Str::from_utf8(data) {
                Ok(text) => Ok(WsIn::Text(text)),
                Err(_) => Err(self.fail(code::INVALID_DATA, WsError::Other)),
            },
            _ => Ok(WsIn::Binary(data)),
        }
    }

    /// Answers the peer's close frame (echoing a valid code) and returns `Closed`.
    fn closed_by_peer(&mut self, payload: &[u8]) -> WsError {
        let reply = match payload {
            [] => None,
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
                    && std::str::from_utf8(reason).is_ok();
                Some(if valid { code } else { code::PROTOCOL })
            }
            [_] => Some(code::PROTOCOL),
        };
        if !self.close_sent {
            match reply {
                Some(code) => self.queue_close(code, ""),
                None => self.queue(OpCode::Close, false, &[]),
            }
            self.close_sent = true;
            self.try_flush();
        }
        WsError::Closed
    }

    /// Queues a close frame with `code` and returns `error`; the frame goes
    /// out now if the socket takes it, else with the next flush.
    fn fail(&mut self, code: u16, error: WsError) -> WsError {
        if !self.close_sent {
            let reason = if code == code::TOO_BIG {
                "message too big"
            } else {
                ""
            };
            self.queue_close(code, reason);
            self.close_sent = true;
            self.try_flush();
        }
        error
    }

    fn queue_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.queue(OpCode::Close, false, &payload);
    }

    /// Appends one unfragmented frame to the write buffer.
    fn queue(&mut self, opcode: OpCode, rsv1: bool, payload: &[u8]) {
        self.write.reserve(payload.len() + 10);
        frame::encode_header(&mut self.write, opcode, rsv1, payload.len());
        self.write.extend_from_slice(payload);
    }

    /// Writes what the socket takes without waiting; the rest goes with the next flush.
    fn try_flush(&mut self) {
        let _ = self.flush().now_or_never();
    }

    /// Queues one frame for writing; it may reach the socket only on [`WsConn::flush`].
    pub(crate) async fn feed(&mut self, frame: &Frame) -> Result<(), WsError> {
        let (opcode, payload) = match frame {
            Frame::Text(s) => (OpCode::Text, s.as_bytes()),
            Frame::Binary(b) => (OpCode::Binary, &b[..]),
        };
        match self.deflate.as_mut() {
            Some(deflater) if deflater.compresses(payload.len()) => {
                let compressed = deflater.compress(payload);
                self.queue(opcode, true, &compressed);
            }
            _ => self.queue(opcode, false, payload),
        }
        if self.write.len() - self.written >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes everything fed so far. Cancel-safe: what was not written stays queued.
    pub(crate) async fn flush(&mut self) -> Result<(), WsError> {
        while self.written < self.write.len() {
            let n = self.io.write(&self.write[self.written..]).await?;
            if n == 0 {
                return Err(WsError::Other);
            }
            self.written += n;
        }
        self.io.flush().await?;
        self.written = 0;
        if self.write.capacity() > WRITE_KEEP {
            self.write = Vec::new();
        } else {
            self.write.clear();
        }
        Ok(())
    }

    /// Sends a close frame (unless one was sent) and flushes it; the caller
    /// bounds it with a timeout.
    pub(crate) async fn close(&mut self) {
        if !self.close_sent {
            self.queue(OpCode::Close, false, &[]);
            self.close_sent = true;
        }
        if self.flush().await.is_ok() {
            let _ = self.io.shutdown().await;
        }
    }
}

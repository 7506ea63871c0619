//! The websocket transport: the HTTP upgrade handshake and one connection's
//! framing, behind a small interface so the library (tokio-tungstenite today)
//! can be swapped, e.g. for one with permessage-deflate.
//!
//! Buffers, all owned by [`WsConn`]:
//! - the read buffer starts at [`Config::ws_read_buffer`] (1 KiB by default,
//!   so an idle connection stays small) and grows up to one message, which is
//!   capped at [`Config::max_payload`];
//! - the write buffer batches the frames fed between two flushes; tungstenite
//!   writes it out once it passes [`WRITE_BATCH`] and on every flush.
//!   Limitation: tungstenite keeps that buffer's capacity after a flush, so a
//!   connection that once wrote a large batch keeps that much capacity.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Utf8Bytes};

use crate::config::Config;
use crate::packet::Frame;
use crate::str::Str;

/// Frames fed before a flush are written out once they pass this many bytes:
/// large enough to batch a burst of small packets into few syscalls, small
/// enough that a batch costs little memory.
const WRITE_BATCH: usize = 16 * 1024;

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

/// The `101 Switching Protocols` response for a valid websocket request, or
/// `None` when the key or version is missing or wrong.
pub(crate) fn accept_response<B: Default>(headers: &HeaderMap) -> Option<Response<B>> {
    if headers.get(header::SEC_WEBSOCKET_VERSION)? != "13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    let accept = derive_accept_key(key.as_bytes());
    let mut res = Response::new(B::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).ok()?,
    );
    Some(res)
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
    /// A message over `max_payload`.
    TooLarge,
    /// An I/O or protocol error.
    Other,
}

impl From<tungstenite::Error> for WsError {
    fn from(e: tungstenite::Error) -> Self {
        use tungstenite::Error as E;
        match e {
            E::ConnectionClosed | E::AlreadyClosed => WsError::Closed,
            E::Capacity(_) => WsError::TooLarge,
            E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                WsError::Closed
            }
            _ => WsError::Other,
        }
    }
}

/// One server-side websocket connection.
pub(crate) struct WsConn {
    stream: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
}

impl WsConn {
    /// Completes the upgrade started by [`accept_response`].
    pub(crate) async fn accept(on_upgrade: OnUpgrade, config: &Config) -> Result<WsConn, ()> {
        let upgraded = on_upgrade.await.map_err(|_| ())?;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(config.ws_read_buffer)
            .write_buffer_size(WRITE_BATCH)
            // Frames queued beyond the batch are already bounded by the
            // session's outgoing queue; this is only a backstop.
            .max_write_buffer_size(WRITE_BATCH + config.max_outgoing_bytes + 1024)
            .max_message_size(Some(config.max_payload))
            .max_frame_size(Some(config.max_payload));
        let stream =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config))
                .await;
        Ok(WsConn { stream })
    }

    /// The next data message; websocket pings are answered by the library and skipped.
    /// Cancel-safe: a partly read message stays in the read buffer.
    pub(crate) async fn recv(&mut self) -> Result<WsIn, WsError> {
        loop {
            match self.stream.next().await {
                None => return Err(WsError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(tungstenite::Message::Text(t))) => {
                    // tungstenite validated the UTF-8; `Str` validates again
                    // (no `unsafe` here), a linear pass over a bounded message.
                    let s = Str::from_utf8(Bytes::from(t)).map_err(|_| WsError::Other)?;
                    return Ok(WsIn::Text(s));
                }
                Some(Ok(tungstenite::Message::Binary(b))) => return Ok(WsIn::Binary(b)),
                Some(Ok(tungstenite::Message::Close(_))) => return Err(WsError::Closed),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Queues one frame for writing; it may reach the socket only on [`WsConn::flush`].
    pub(crate) async fn feed(&mut self, frame: &Frame) -> Result<(), WsError> {
        let msg = match frame {
            Frame::Text(s) => {
                let text = Utf8Bytes::try_from(s.as_bytes_shared()).map_err(|_| WsError::Other)?;
                tungstenite::Message::Text(text)
            }
            Frame::Binary(b) => tungstenite::Message::Binary(b.clone()),
        };
        self.stream.feed(msg).await.map_err(Into::into)
    }

    /// Writes everything fed so far.
    pub(crate) async fn flush(&mut self) -> Result<(), WsError> {
        self.stream.flush().await.map_err(Into::into)
    }

    /// Sends a close frame and flushes it; the caller bounds it with a timeout.
    pub(crate) async fn close(&mut self) {
        let _ = self.stream.close(None).await;
    }
}

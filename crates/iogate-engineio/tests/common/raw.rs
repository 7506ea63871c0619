//! A websocket client that works at the frame level: it sends any header byte
//! (RSV1, fragments, unmasked frames) and shows the raw frames the server
//! sends, so tests can look at RSV1 and compressed payloads. Compression is
//! done here with flate2, independently of the server's code.

use std::net::SocketAddr;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// FIN + text.
pub const TEXT: u8 = 0x81;
/// FIN + binary.
pub const BINARY: u8 = 0x82;
/// FIN + close.
pub const CLOSE: u8 = 0x88;
/// FIN + ping.
pub const PING: u8 = 0x89;
/// FIN + pong.
pub const PONG: u8 = 0x8A;
/// RSV1: the message is compressed.
pub const RSV1: u8 = 0x40;
/// The FIN bit.
pub const FIN: u8 = 0x80;

/// One frame as the server sent it.
#[derive(Debug)]
pub struct RawFrame {
    /// FIN, RSV1-3 and the opcode.
    pub first: u8,
    /// The payload (servers do not mask).
    pub payload: Vec<u8>,
}

impl RawFrame {
    pub fn rsv1(&self) -> bool {
        self.first & RSV1 != 0
    }

    pub fn opcode(&self) -> u8 {
        self.first & 0x0F
    }

    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode() == 0x8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

pub struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Opens `/engine.io/?EIO=4&transport=websocket` offering `extensions`; returns
/// the client and the server's `Sec-WebSocket-Extensions`, if any.
pub async fn connect(addr: SocketAddr, extensions: Option<&str>) -> (RawWs, Option<String>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let offer = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    let extensions = head
        .lines()
        .find_map(|l| l.strip_prefix("sec-websocket-extensions: "))
        .map(str::to_owned);
    buf.drain(..end);
    (RawWs { stream, buf }, extensions)
}

impl RawWs {
    /// Sends one masked frame with header byte `first`.
    pub async fn send(&mut self, first: u8, payload: &[u8]) {
        self.send_with_mask(first, payload, Some([0x12, 0x34, 0x56, 0x78]))
            .await
    }

    /// Sends one frame, masked or not.
    pub async fn send_with_mask(&mut self, first: u8, payload: &[u8], mask: Option<[u8; 4]>) {
        let mut out = vec![first];
        let bit = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => out.push(bit | n as u8),
            n @ 126..=0xFFFF => {
                out.push(bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        // The server may close before reading everything (a message too big).
        let _ = self.stream.write_all(&out).await;
    }

    /// The next frame, or `None` once the server closed the TCP connection.
    pub async fn recv(&mut self) -> Option<RawFrame> {
        tokio::time::timeout(Duration::from_secs(5), self.recv_inner())
            .await
            .expect("a frame or EOF within 5 s")
    }

    async fn recv_inner(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = vec![0; 64 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next text or binary frame, answering nothing and skipping pings.
    pub async fn data(&mut self) -> RawFrame {
        loop {
            let frame = self.recv().await.expect("a data frame");
            if matches!(frame.opcode(), 0x1 | 0x2) {
                return frame;
            }
            assert_ne!(frame.opcode(), 0x8, "closed: {:?}", frame.close_code());
        }
    }

    /// Reads until the server closes the TCP connection; returns the close frame seen, if any.
    pub async fn until_closed(&mut self) -> Option<RawFrame> {
        let mut close = None;
        while let Some(frame) = self.recv().await {
            if frame.opcode() == 0x8 {
                close = Some(frame);
            }
        }
        close
    }
}

/// A server frame at the start of `buf` and its length.
fn parse(buf: &[u8]) -> Option<(RawFrame, usize)> {
    let (first, second) = (*buf.first()?, *buf.get(1)?);
    assert_eq!(second & 0x80, 0, "server frames are not masked");
    let (len, at) = match second & 0x7F {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().unwrap()) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?.to_vec();
    Some((RawFrame { first, payload }, at + len))
}

/// A compressor as a client keeps it (context takeover unless reset).
pub fn compressor() -> Compress {
    Compress::new(Compression::default(), false)
}

/// A decompressor as a client keeps it.
pub fn decompressor() -> Decompress {
    Decompress::new(false)
}

/// Compresses one message the RFC 7692 way: sync flush, tail removed.
pub fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    let before = c.total_in();
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert_eq!((c.total_in() - before) as usize, data.len());
    assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]));
    out.truncate(out.len() - 4);
    out
}

/// Decompresses one message: the tail put back.
pub fn inflate(d: &mut Decompress, data: &[u8]) -> Result<Vec<u8>, flate2::DecompressError> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    let mut out = Vec::with_capacity(data.len() * 20 + 1024);
    let before = d.total_in();
    loop {
        d.decompress_vec(
            &input[(d.total_in() - before) as usize..],
            &mut out,
            FlushDecompress::Sync,
        )?;
        if (d.total_in() - before) as usize == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity());
    }
}

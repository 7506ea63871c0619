//! A keep-alive HTTP/1.1 client for one request shape: `POST` a JSON body, read the status and
//! skip the body (`Content-Length` or chunked).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One kept-alive connection.
pub struct Conn {
    tcp: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Ok(Self {
            tcp,
            addr,
            buf: Vec::with_capacity(1024),
        })
    }

    /// Sends `POST path` with a JSON `body` and the given extra header lines (each ending in
    /// `\r\n`); returns the response status.
    pub async fn post_json(
        &mut self,
        path: &str,
        headers: &str,
        body: &str,
    ) -> std::io::Result<u16> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{headers}\r\n{body}",
            self.addr,
            body.len()
        );
        self.tcp.write_all(req.as_bytes()).await?;
        self.read_response().await
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_response(&mut self) -> std::io::Result<u16> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad response");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        if let Some(len) = header("content-length") {
            let len: usize = len.parse().map_err(|_| bad())?;
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len);
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size_hex = size_text.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad())?;
                // The chunk, or for the last (empty) one no trailers, then CRLF.
                let whole = line_end + 2 + size + 2;
                while self.buf.len() < whole {
                    self.fill().await?;
                }
                self.buf.drain(..whole);
                if size == 0 {
                    break;
                }
            }
        }
        Ok(status)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

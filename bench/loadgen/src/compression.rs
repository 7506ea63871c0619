//! `compression`: what compression saves on the guide's payloads, on one server.
//!
//! - **Long-polling, on the wire.** A polling client of `/events` (with a JWT) is sent
//!   notifications through `POST /notifications/send`: one chat-sized message, a batch of 20,
//!   and one 10 KB JSON document. Each is fetched twice, once with `Accept-Encoding: gzip` and
//!   once without, and the HTTP bodies are counted as they arrived.
//! - **permessage-deflate, estimated.** No server here can negotiate it over websocket, so the
//!   same packets are compressed as RFC 7692 would: raw DEFLATE, sync flush, the trailing
//!   `00 00 ff ff` dropped; per message with no context takeover, and as a stream of 100 chat
//!   messages with context takeover (one window for the connection's life).
//!
//! Prints one JSON line.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use flate2::{Compress, Compression, FlushCompress};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Options of `compression`.
#[derive(Debug, Clone, Args)]
pub struct CompressionArgs {
    /// The server's address (`127.0.0.1:PORT`).
    #[arg(long)]
    pub addr: SocketAddr,
    /// The server's name in the report.
    #[arg(long, default_value = "server")]
    pub server: String,
    /// The secret the server verifies HS256 tokens with.
    #[arg(long)]
    pub jwt_secret: String,
    /// The API key, sent as `Authorization: Bearer <key>` (the reference needs none).
    #[arg(long)]
    pub api_key: Option<String>,
}

impl CompressionArgs {
    pub fn limit(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// An HTTP answer: its headers (lower-case names) and its body as received (de-chunked).
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as text, gunzipped when it came gzipped.
    fn text(&self) -> anyhow::Result<String> {
        if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            std::io::copy(&mut flate2::read::GzDecoder::new(&self.body[..]), &mut out)?;
            Ok(String::from_utf8(out)?)
        } else {
            Ok(String::from_utf8(self.body.clone())?)
        }
    }
}

/// One request on a connection of its own (`Connection: close`), read to the end.
async fn request(addr: SocketAddr, head: &str, body: &str) -> anyhow::Result<Answer> {
    let mut tcp = TcpStream::connect(addr).await?;
    let req = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let answer = Answer {
        head,
        body: Vec::new(),
    };
    if answer
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Ok(Answer { body, ..answer })
}

fn dechunk(mut raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow::anyhow!("bad chunk"))?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..line])?
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )?;
        if size == 0 {
            return Ok(out);
        }
        let start = line + 2;
        out.extend_from_slice(
            raw.get(start..start + size)
                .ok_or_else(|| anyhow::anyhow!("short chunk"))?,
        );
        raw = raw.get(start + size + 2..).unwrap_or(&[]);
    }
}

/// A long-polling session on `/events`.
struct Polling {
    addr: SocketAddr,
    sid: String,
}

impl Polling {
    async fn open(addr: SocketAddr, token: &str) -> anyhow::Result<Self> {
        let open = request(addr, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1", "").await?;
        let text = open.text()?;
        let handshake: Value = serde_json::from_str(text.trim_start_matches('0'))?;
        let sid = handshake["sid"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no sid in {text}"))?
            .to_owned();
        let polling = Self { addr, sid };
        polling
            .post(&format!("40/events,{}", json!({ "token": token })))
            .await?;
        let connected = polling.get(false).await?.text()?;
        anyhow::ensure!(
            connected.starts_with("40/events,{"),
            "not connected: {connected}"
        );
        Ok(polling)
    }

    fn path(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    async fn post(&self, body: &str) -> anyhow::Result<()> {
        let head = format!("POST {} HTTP/1.1\r\nContent-Type: text/plain", self.path());
        request(self.addr, &head, body).await?;
        Ok(())
    }

    async fn get(&self, gzip: bool) -> anyhow::Result<Answer> {
        let mut head = format!("GET {} HTTP/1.1", self.path());
        if gzip {
            head.push_str("\r\nAccept-Encoding: gzip");
        }
        request(self.addr, &head, "").await
    }
}

/// A chat message as the guide's clients write them.
fn chat(i: usize) -> String {
    let lines = [
        "Hello everyone!",
        "Is the deploy done yet?",
        "Yes, all green on staging; rolling out to production now.",
        "Great, thanks! I'll tell the support team.",
        "Lunch at 12:30?",
    ];
    format!("{} ({i})", lines[i % lines.len()])
}

/// A 10 KB JSON notification: a page of a user's activity feed.
fn document() -> Value {
    let items: Vec<Value> = (0..57)
        .map(|i| {
            let kind = ["comment", "mention", "like", "follow"][i % 4];
            json!({
                "id": format!("evt_{:08}", 31_337 + i),
                "type": kind,
                "actor": { "id": format!("user_{}", 1000 + i * 7), "name": format!("User {}", 1000 + i * 7) },
                "text": chat(i),
                "createdAt": format!("2026-11-26T10:{:02}:00Z", i % 60),
                "read": i % 3 == 0
            })
        })
        .collect();
    json!({ "kind": "activity", "page": 1, "items": items })
}

/// Bytes of `packets` sent one per message with permessage-deflate: per message with a fresh
/// window (no context takeover), and with one window for all (context takeover).
fn deflate_sizes(packets: &[String]) -> (usize, usize) {
    let one = |c: &mut Compress, p: &str| {
        let mut out = Vec::with_capacity(p.len() + 64);
        c.compress_vec(p.as_bytes(), &mut out, FlushCompress::Sync)
            .expect("deflate into a vector");
        // RFC 7692 7.2.1: the sync flush's empty block (00 00 ff ff) is not sent.
        out.len().saturating_sub(4)
    };
    let fresh: usize = packets
        .iter()
        .map(|p| one(&mut Compress::new(Compression::default(), false), p))
        .sum();
    let mut shared = Compress::new(Compression::default(), false);
    let kept: usize = packets.iter().map(|p| one(&mut shared, p)).sum();
    (fresh, kept)
}

/// Runs `compression`; returns its JSON line.
pub async fn run(a: CompressionArgs) -> anyhow::Result<Value> {
    let started = Instant::now();
    let user = "compression-user";
    let token = crate::conns::token(&a.jwt_secret, user)?;
    let polling = Polling::open(a.addr, &token).await?;
    let auth = a
        .api_key
        .as_ref()
        .map(|k| format!("\r\nAuthorization: Bearer {k}"))
        .unwrap_or_default();
    let notify = |message: Value| {
        let head =
            format!("POST /notifications/send HTTP/1.1\r\nContent-Type: application/json{auth}");
        let body = json!({ "userId": user, "message": message }).to_string();
        async move { request(a.addr, &head, &body).await }
    };

    let cases: [(&str, Vec<Value>); 3] = [
        ("1 chat message", vec![json!(chat(0))]),
        (
            "20 chat messages",
            (0..20).map(|i| json!(chat(i))).collect(),
        ),
        ("10 KB JSON notification", vec![document()]),
    ];
    let mut polling_rows = Vec::new();
    for (name, messages) in &cases {
        let mut sizes = Vec::new();
        let mut text = String::new();
        let mut encoding = None;
        for gzip in [false, true] {
            for m in messages {
                let answer = notify(m.clone()).await?;
                let status = answer.head.split(' ').nth(1).unwrap_or("");
                anyhow::ensure!(status.starts_with('2'), "notify answered {status}");
            }
            // Give the server a moment to queue every packet, so that one poll carries them.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let answer = polling.get(gzip).await?;
            text = answer.text()?;
            anyhow::ensure!(
                text.matches("notification").count() == messages.len(),
                "{name}: expected {} notifications in one poll, got {text:.200}",
                messages.len()
            );
            if gzip {
                encoding = answer.header("content-encoding").map(str::to_owned);
            }
            sizes.push(answer.body.len());
        }
        polling_rows.push(json!({
            "case": name,
            "plain_bytes": sizes[0],
            "gzip_bytes": sizes[1],
            "content_encoding": encoding,
            "saved_pct": 100.0 * (1.0 - sizes[1] as f64 / sizes[0] as f64),
            "payload_text_bytes": text.len(),
        }));
    }

    // The websocket frames the same deliveries would be: one socket.io packet each.
    let packet = |m: &Value| format!("42/events,{}", json!(["notification", m]));
    let chats: Vec<String> = (0..100).map(|i| packet(&json!(chat(i)))).collect();
    let doc = vec![packet(&document())];
    let mut ws_rows = Vec::new();
    for (name, packets) in [
        ("chat message (x100)", &chats),
        ("10 KB JSON notification", &doc),
    ] {
        let plain: usize = packets.iter().map(String::len).sum();
        let (fresh, kept) = deflate_sizes(packets);
        let n = packets.len() as f64;
        ws_rows.push(json!({
            "case": name,
            "plain_bytes_per_message": plain as f64 / n,
            "no_context_takeover_bytes_per_message": fresh as f64 / n,
            "context_takeover_bytes_per_message": kept as f64 / n,
            "saved_pct_no_context_takeover": 100.0 * (1.0 - fresh as f64 / plain as f64),
            "saved_pct_context_takeover": 100.0 * (1.0 - kept as f64 / plain as f64),
        }));
    }
    let _ = std::io::stdout().flush();
    Ok(json!({
        "scenario": "compression",
        "server": a.server,
        "polling": polling_rows,
        "websocket_permessage_deflate_estimate": ws_rows,
        "took_s": started.elapsed().as_secs_f64(),
    }))
}

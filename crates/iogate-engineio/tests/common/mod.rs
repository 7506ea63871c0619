//! Test helpers: a recording handler, a server on 127.0.0.1:0, a raw HTTP/1.1
//! client for polling and a websocket client.

#![allow(dead_code)]

pub mod raw;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iogate_engineio::{CloseReason, Config, Engine, Frame, Handler, Message, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Records every callback; echoes messages when `echo` is set.
#[derive(Default)]
pub struct Recorder {
    pub echo: bool,
    pub opened: Mutex<Vec<Arc<Session<()>>>>,
    pub messages: Mutex<Vec<Message>>,
    pub closed: Mutex<Vec<CloseReason>>,
}

impl Handler for Recorder {
    type Data = ();

    fn on_open(&self, session: &Arc<Session<()>>) {
        self.opened.lock().unwrap().push(session.clone());
    }

    fn on_message(&self, session: &Arc<Session<()>>, msg: Message) {
        self.messages.lock().unwrap().push(msg.clone());
        if self.echo {
            let frame = match msg {
                Message::Text(t) => Frame::message(&t),
                Message::Binary(b) => Frame::binary(b),
            };
            let _ = session.send(frame);
        }
    }

    fn on_close(&self, _session: &Arc<Session<()>>, reason: CloseReason) {
        self.closed.lock().unwrap().push(reason);
    }
}

impl Recorder {
    pub fn closes(&self) -> Vec<CloseReason> {
        self.closed.lock().unwrap().clone()
    }

    pub fn last_session(&self) -> Arc<Session<()>> {
        self.opened
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a session")
    }
}

/// A config with the given heartbeat, everything else default.
pub fn config(ping_interval_ms: u64, ping_timeout_ms: u64) -> Config {
    Config {
        ping_interval: Duration::from_millis(ping_interval_ms),
        ping_timeout: Duration::from_millis(ping_timeout_ms),
        ..Config::default()
    }
}

pub async fn serve(config: Config, echo: bool) -> (SocketAddr, Engine<Recorder>) {
    let engine = Engine::new(
        config,
        Recorder {
            echo,
            ..Recorder::default()
        },
    );
    let app = axum::Router::new().route_service("/engine.io/", engine.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (addr, engine)
}

/// A response as the client sees it.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Res {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`).
pub async fn http(addr: SocketAddr, method: &str, query: &str, body: &[u8]) -> Res {
    let head = format!(
        "{method} /engine.io/?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    raw_http(addr, head.as_bytes(), body).await
}

/// A POST whose body is chunked, so its size is not announced.
pub async fn post_chunked(addr: SocketAddr, sid: &str, body: &[u8]) -> Res {
    let head = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunked = Vec::new();
    for chunk in body.chunks(100) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    raw_http(addr, head.as_bytes(), &chunked).await
}

async fn raw_http(addr: SocketAddr, head: &[u8], body: &[u8]) -> Res {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    // The server may answer (413) and close before reading it all.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let headers = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = headers[9..12].parse().unwrap();
    assert!(
        !headers.to_ascii_lowercase().contains("transfer-encoding"),
        "responses have a known length"
    );
    Res {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

pub async fn get(addr: SocketAddr, sid: &str) -> Res {
    http(
        addr,
        "GET",
        &format!("EIO=4&transport=polling&sid={sid}"),
        b"",
    )
    .await
}

pub async fn post(addr: SocketAddr, sid: &str, body: &[u8]) -> Res {
    http(
        addr,
        "POST",
        &format!("EIO=4&transport=polling&sid={sid}"),
        body,
    )
    .await
}

/// A polling handshake; returns the sid and the OPEN packet's JSON.
pub async fn open_polling(addr: SocketAddr) -> (String, serde_json::Value) {
    let res = http(addr, "GET", "EIO=4&transport=polling", b"").await;
    assert_eq!(res.status, 200);
    let text = res.text();
    assert!(text.starts_with('0'), "{text}");
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    (open["sid"].as_str().unwrap().to_owned(), open)
}

pub async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}/engine.io/?{query}");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next text or binary message; `None` when the connection closes.
pub async fn ws_next(ws: &mut Ws) -> Option<tungstenite::Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a websocket message within 5 s")
        {
            Some(Ok(m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_)))) => {
                return Some(m);
            }
            Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(tungstenite::Message::Text(t)) => t.to_string(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

pub async fn ws_send(ws: &mut Ws, text: &str) {
    ws.send(tungstenite::Message::text(text)).await.unwrap();
}

/// Waits (up to 5 s) until `f` holds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

//! A small socket.io client over the websocket transport, speaking the protocol by hand, and a
//! helper that serves an [`App`] on `127.0.0.1:0`.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iogate::App;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub const WAIT: Duration = Duration::from_secs(5);

/// Serves `app` on a free loopback port; returns its address and the server handle.
pub async fn serve(app: App) -> (String, iogate::Server) {
    let gateways = app.build();
    let server = gateways.server();
    let router = gateways.into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(iogate::serve(listener, router, std::future::pending()));
    (addr, server)
}

/// What the server sent a test client.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// An event and its arguments.
    Event(String, Vec<Value>),
    /// An acknowledgement and its arguments.
    Ack(i64, Vec<Value>),
    /// The namespace refused the connection.
    ConnectError(Value),
    /// The server disconnected the client from the namespace.
    Disconnect,
}

pub struct TestClient {
    ns: String,
    sink: futures_util::stream::SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>,
    rx: mpsc::UnboundedReceiver<Received>,
    next_ack: i64,
    /// The engine.io session id.
    pub sid: String,
}

impl TestClient {
    /// Opens a websocket session and joins `ns` with `auth`; returns the refusal when the
    /// namespace refuses it.
    pub async fn connect(addr: &str, ns: &str, auth: Option<Value>) -> Result<Self, Value> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = connect_async(url).await.expect("websocket handshake");
        let (mut sink, mut stream) = ws.split();
        let open = match stream.next().await {
            Some(Ok(Message::Text(t))) => t.to_string(),
            other => panic!("expected the open packet, got {other:?}"),
        };
        let open: Value = serde_json::from_str(&open[1..]).unwrap();
        let sid = open["sid"].as_str().unwrap().to_owned();
        let prefix = if ns == "/" {
            String::new()
        } else {
            format!("{ns},")
        };
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        sink.send(Message::text(format!("40{prefix}{auth}")))
            .await
            .unwrap();

        let (tx, mut rx) = mpsc::unbounded_channel();
        let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<()>();
        let ns_owned = ns.to_owned();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let text = text.to_string();
                if text == "2" {
                    let _ = pong_tx.send(());
                    continue;
                }
                if let Some(p) = parse(&ns_owned, &text)
                    && tx.send(p).is_err()
                {
                    break;
                }
            }
        });
        let mut client = Self {
            ns: ns.to_owned(),
            sink,
            rx: mpsc::unbounded_channel().1,
            next_ack: 0,
            sid,
        };
        // Wait for CONNECT or CONNECT_ERROR, answering pings meanwhile.
        let first = tokio::time::timeout(WAIT, async {
            loop {
                tokio::select! {
                    Some(()) = pong_rx.recv() => { let _ = client.sink.send(Message::text("3")).await; }
                    p = rx.recv() => return p,
                }
            }
        })
        .await
        .expect("no answer to CONNECT");
        client.rx = rx;
        match first {
            Some(Received::Event(e, _)) if e == "\u{0}connect" => Ok(client),
            Some(Received::ConnectError(v)) => Err(v),
            other => panic!("unexpected answer to CONNECT: {other:?}"),
        }
    }

    fn header(&self, kind: &str) -> String {
        if self.ns == "/" {
            kind.to_owned()
        } else {
            format!("{kind}{},", self.ns)
        }
    }

    /// Emits `event` with `args`, asking for no acknowledgement.
    pub async fn emit(&mut self, event: &str, args: &[Value]) {
        let mut packet = vec![Value::from(event)];
        packet.extend_from_slice(args);
        let text = format!("{}{}", self.header("42"), Value::Array(packet));
        self.sink.send(Message::text(text)).await.unwrap();
    }

    /// Emits `event` with `args` and an acknowledgement id; returns the id.
    pub async fn emit_ack(&mut self, event: &str, args: &[Value]) -> i64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let mut packet = vec![Value::from(event)];
        packet.extend_from_slice(args);
        let text = format!("{}{id}{}", self.header("42"), Value::Array(packet));
        self.sink.send(Message::text(text)).await.unwrap();
        id
    }

    /// Sends a raw engine.io text frame.
    pub async fn send_raw(&mut self, text: &str) {
        self.sink
            .send(Message::text(text.to_owned()))
            .await
            .unwrap();
    }

    /// The next thing the server sent, or `None` after `WAIT`.
    pub async fn next(&mut self) -> Option<Received> {
        self.next_within(WAIT).await
    }

    /// The next thing the server sent within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Option<Received> {
        tokio::time::timeout(d, self.rx.recv()).await.ok().flatten()
    }

    /// Waits for the acknowledgement `id`, skipping events.
    pub async fn ack(&mut self, id: i64) -> Vec<Value> {
        loop {
            match self.next().await {
                Some(Received::Ack(got, args)) if got == id => return args,
                Some(_) => continue,
                None => panic!("no acknowledgement {id}"),
            }
        }
    }

    /// Waits for `event`, skipping anything else; returns its arguments.
    pub async fn event(&mut self, event: &str) -> Vec<Value> {
        loop {
            match self.next().await {
                Some(Received::Event(e, args)) if e == event => return args,
                Some(_) => continue,
                None => panic!("no {event:?} event"),
            }
        }
    }

    /// Emits with an acknowledgement and waits for it.
    pub async fn call(&mut self, event: &str, args: &[Value]) -> Vec<Value> {
        let id = self.emit_ack(event, args).await;
        self.ack(id).await
    }

    /// Asserts that nothing arrives for `d`.
    pub async fn assert_silent(&mut self, d: Duration) {
        if let Some(p) = self.next_within(d).await {
            panic!("expected nothing, got {p:?}");
        }
    }
}

fn parse(ns: &str, text: &str) -> Option<Received> {
    let body = text.strip_prefix('4')?;
    let kind = body.chars().next()?;
    let mut rest = &body[1..];
    if ns != "/" {
        rest = rest.strip_prefix(ns)?.strip_prefix(',')?;
    }
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let id = rest[..digits].parse::<i64>().ok();
    let json: Value = serde_json::from_str(&rest[digits..]).unwrap_or(Value::Null);
    match kind {
        '0' => Some(Received::Event("\u{0}connect".into(), vec![json])),
        '1' => Some(Received::Disconnect),
        '2' => {
            let mut items = json.as_array()?.clone();
            let name = items.remove(0).as_str()?.to_owned();
            Some(Received::Event(name, items))
        }
        '3' => Some(Received::Ack(id?, json.as_array()?.clone())),
        '4' => Some(Received::ConnectError(json)),
        _ => None,
    }
}

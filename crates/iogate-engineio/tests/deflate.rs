//! permessage-deflate (RFC 7692) over real sockets: the negotiation, messages
//! compressed both ways through the echo handler, the threshold, context
//! takeover, and a decompression bomb. The client is `common::raw`, which
//! compresses with its own flate2 and shows the raw frames.

mod common;

use std::time::Duration;

use common::raw::{self, BINARY, FIN, RSV1, TEXT};
use common::{eventually, serve};
use iogate_engineio::{CloseReason, Config, Deflate};

/// What Node's `ws` (socket.io-client in Node) and Chromium offer.
const BROWSER_OFFER: &str = "permessage-deflate; client_max_window_bits";

fn config(deflate: Option<Deflate>) -> Config {
    Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        per_message_deflate: deflate,
        ..Config::default()
    }
}

fn takeover() -> Deflate {
    Deflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        ..Deflate::default()
    }
}

/// A JSON-ish Engine.IO MESSAGE of about `len` bytes that compresses well.
fn big_message(len: usize) -> Vec<u8> {
    let mut text = b"4[\"events\",[".to_vec();
    let mut i = 0;
    while text.len() < len {
        text.extend_from_slice(format!("{{\"id\":{i},\"name\":\"user-{i}\"}},").as_bytes());
        i += 1;
    }
    text.extend_from_slice(b"0]]");
    text
}

/// Connects, checks the OPEN packet is there and uncompressed.
async fn open(addr: std::net::SocketAddr, offer: Option<&str>) -> (raw::RawWs, Option<String>) {
    let (mut ws, extensions) = raw::connect(addr, offer).await;
    let open = ws.data().await;
    assert!(open.payload.starts_with(b"0{"), "{open:?}");
    assert!(!open.rsv1(), "a short packet is not compressed");
    (ws, extensions)
}

#[tokio::test]
async fn nothing_is_negotiated_when_off_or_not_offered() {
    let (addr, _engine) = serve(config(None), true).await;
    let (_, extensions) = open(addr, Some(BROWSER_OFFER)).await;
    assert_eq!(extensions, None, "off by default");

    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    let (_, extensions) = open(addr, None).await;
    assert_eq!(extensions, None, "no offer");
    let (_, extensions) = open(addr, Some("x-webkit-deflate-frame")).await;
    assert_eq!(extensions, None, "another extension");
}

#[tokio::test]
async fn a_browser_offer_is_accepted_without_context_takeover() {
    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    let (_, extensions) = open(addr, Some(BROWSER_OFFER)).await;
    assert_eq!(
        extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let (_, extensions) = open(addr, Some("permessage-deflate; server_max_window_bits=10")).await;
    assert_eq!(
        extensions.as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"
        )
    );
}

#[tokio::test]
async fn bad_parameters_decline_the_offer_not_the_connection() {
    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    for bad in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=yes",
        "permessage-deflate; mystery",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
    ] {
        let (mut ws, extensions) = open(addr, Some(bad)).await;
        assert_eq!(extensions, None, "{bad}");
        // Uncompressed messages still work on that connection...
        ws.send(TEXT, b"4hello").await;
        assert_eq!(ws.data().await.payload, b"4hello");
        // ...and a compressed one is a protocol error there.
        ws.send(TEXT | RSV1, &raw::deflate(&mut raw::compressor(), b"4x"))
            .await;
        assert_eq!(
            ws.until_closed().await.and_then(|f| f.close_code()),
            Some(1002)
        );
    }
    // A bad offer followed by a good one: the good one is taken.
    let (_, extensions) = open(
        addr,
        Some("permessage-deflate; server_max_window_bits=99, permessage-deflate"),
    )
    .await;
    assert!(extensions.unwrap().starts_with("permessage-deflate"));
}

#[tokio::test]
async fn a_large_message_is_compressed_both_ways() {
    let (addr, engine) = serve(config(Some(Deflate::default())), true).await;
    let (mut ws, extensions) = open(addr, Some(BROWSER_OFFER)).await;
    assert!(extensions.is_some());
    let message = big_message(64 * 1024);
    let compressed = raw::deflate(&mut raw::compressor(), &message);
    assert!(compressed.len() < message.len() / 4);
    ws.send(TEXT | RSV1, &compressed).await;

    let echo = ws.data().await;
    assert!(echo.rsv1(), "the echo is compressed");
    assert_eq!(echo.opcode(), 0x1);
    assert!(
        echo.payload.len() < message.len() / 4,
        "{}",
        echo.payload.len()
    );
    assert_eq!(
        raw::inflate(&mut raw::decompressor(), &echo.payload).unwrap(),
        message
    );

    // The handler saw the decompressed text.
    let seen = engine.handler().messages.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(matches!(&seen[0], iogate_engineio::Message::Text(t) if t.len() == message.len() - 1));

    // Binary too, and a compressed message split in fragments (RSV1 on the first only).
    let binary: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    let compressed = raw::deflate(&mut raw::compressor(), &binary);
    let (a, b) = compressed.split_at(compressed.len() / 2);
    ws.send(0x02 | RSV1, a).await;
    ws.send(FIN, b).await;
    let echo = ws.data().await;
    assert!(echo.rsv1());
    assert_eq!(echo.opcode(), 0x2);
    assert_eq!(
        raw::inflate(&mut raw::decompressor(), &echo.payload).unwrap(),
        binary
    );
}

#[tokio::test]
async fn messages_under_the_threshold_are_not_compressed() {
    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    let (mut ws, _) = open(addr, Some(BROWSER_OFFER)).await;
    let short = big_message(1000);
    ws.send(TEXT, &short).await;
    let echo = ws.data().await;
    assert!(!echo.rsv1());
    assert_eq!(echo.payload, short);
    // The client may still compress a short one.
    ws.send(TEXT | RSV1, &raw::deflate(&mut raw::compressor(), b"4hi"))
        .await;
    let echo = ws.data().await;
    assert!(!echo.rsv1());
    assert_eq!(echo.payload, b"4hi");
    // At the threshold it is.
    ws.send(BINARY, &[7; 1024]).await;
    assert!(ws.data().await.rsv1());
}

#[tokio::test]
async fn without_context_takeover_each_message_stands_alone() {
    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    let (mut ws, _) = open(addr, Some(BROWSER_OFFER)).await;
    let message = big_message(8 * 1024);
    let mut sizes = Vec::new();
    for _ in 0..3 {
        // The client honours client_no_context_takeover: a fresh compressor each time.
        ws.send(TEXT | RSV1, &raw::deflate(&mut raw::compressor(), &message))
            .await;
        let echo = ws.data().await;
        // A fresh decompressor reads every echo: none refers to an earlier one.
        assert_eq!(
            raw::inflate(&mut raw::decompressor(), &echo.payload).unwrap(),
            message
        );
        sizes.push(echo.payload.len());
    }
    assert_eq!(sizes[0], sizes[2]);
}

#[tokio::test]
async fn with_context_takeover_messages_share_a_window_both_ways() {
    let (addr, _engine) = serve(config(Some(takeover())), true).await;
    let (mut ws, extensions) = open(addr, Some(BROWSER_OFFER)).await;
    assert_eq!(extensions.as_deref(), Some("permessage-deflate"));
    let message = big_message(8 * 1024);
    let (mut compress, mut decompress) = (raw::compressor(), raw::decompressor());
    let mut sizes = Vec::new();
    for _ in 0..3 {
        // The server's decompressor keeps the client's window...
        let compressed = raw::deflate(&mut compress, &message);
        sizes.push(compressed.len());
        ws.send(TEXT | RSV1, &compressed).await;
        // ...and its compressor keeps its own: the client decompresses in one context.
        let echo = ws.data().await;
        sizes.push(echo.payload.len());
        assert_eq!(
            raw::inflate(&mut decompress, &echo.payload).unwrap(),
            message
        );
    }
    // Repeats refer back to the first message and shrink well below it, both
    // ways (sizes alternate client, server).
    assert!(sizes[0] > 1000 && sizes[1] > 1000, "{sizes:?}");
    for (i, &n) in sizes.iter().enumerate().skip(2) {
        assert!(n < sizes[i % 2] / 2, "{sizes:?}");
    }
}

#[tokio::test]
async fn a_decompression_bomb_closes_with_message_too_big() {
    let (addr, engine) = serve(
        Config {
            max_payload: 100_000,
            ..config(Some(Deflate::default()))
        },
        true,
    )
    .await;
    let (mut ws, _) = open(addr, Some(BROWSER_OFFER)).await;
    // 10 MB of zeros deflate to about 10 KB: well under max_payload on the wire.
    let mut text = vec![b'0'; 10_000_000];
    text[0] = b'4';
    let bomb = raw::deflate(&mut raw::compressor(), &text);
    assert!(bomb.len() < 100_000);
    ws.send(TEXT | RSV1, &bomb).await;
    let close = ws.until_closed().await.expect("a close frame");
    assert_eq!(close.close_code(), Some(1009));
    assert_eq!(&close.payload[2..], b"message too big");
    let recorder = engine.handler();
    eventually("the session closes", || {
        recorder.closes() == [CloseReason::TransportError]
    })
    .await;
    assert!(recorder.messages.lock().unwrap().is_empty());

    // Just under the limit is fine.
    let (mut ws, _) = open(addr, Some(BROWSER_OFFER)).await;
    let mut fine = b"4".to_vec();
    fine.extend_from_slice(&[b'0'; 99_999]);
    ws.send(TEXT | RSV1, &raw::deflate(&mut raw::compressor(), &fine))
        .await;
    let echo = ws.data().await;
    assert_eq!(
        raw::inflate(&mut raw::decompressor(), &echo.payload).unwrap(),
        fine
    );
}

#[tokio::test]
async fn corrupt_compressed_data_closes_with_1007() {
    let (addr, _engine) = serve(config(Some(Deflate::default())), true).await;
    let (mut ws, _) = open(addr, Some(BROWSER_OFFER)).await;
    ws.send(TEXT | RSV1, &[0xFF, 0xFF, 0xFF, 0xFF]).await;
    assert_eq!(
        ws.until_closed().await.and_then(|f| f.close_code()),
        Some(1007)
    );
}

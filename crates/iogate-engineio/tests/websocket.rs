//! The websocket framing (RFC 6455) over real sockets, frame by frame:
//! fragments, control frames, the close handshake and the errors that close a
//! connection, with the close code each one sends.

mod common;

use std::time::Duration;

use common::raw::{self, BINARY, CLOSE, FIN, PING, PONG, TEXT};
use common::{eventually, serve};
use iogate_engineio::{CloseReason, Config};

fn config() -> Config {
    Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        max_payload: 10_000,
        ..Config::default()
    }
}

async fn open(addr: std::net::SocketAddr) -> raw::RawWs {
    let (mut ws, extensions) = raw::connect(addr, None).await;
    assert_eq!(extensions, None);
    assert!(ws.data().await.payload.starts_with(b"0{"));
    ws
}

#[tokio::test]
async fn fragments_with_a_ping_between_them_make_one_message() {
    let (addr, _engine) = serve(config(), true).await;
    let mut ws = open(addr).await;
    ws.send(0x01, b"4hel").await;
    ws.send(PING, b"are you there").await;
    let pong = ws.recv().await.unwrap();
    assert_eq!(
        (pong.first, pong.payload.as_slice()),
        (PONG, &b"are you there"[..])
    );
    ws.send(0x00, b"lo ").await;
    ws.send(FIN, "wörld".as_bytes()).await;
    assert_eq!(ws.data().await.payload, "4hello wörld".as_bytes());
    // Binary, in one frame and of every length form.
    for len in [0, 125, 126, 9_000] {
        let data = vec![0xAB; len];
        ws.send(BINARY, &data).await;
        let echo = ws.data().await;
        assert_eq!((echo.first, echo.payload), (BINARY, data));
    }
}

#[tokio::test]
async fn a_close_frame_is_answered_with_its_code() {
    let (addr, engine) = serve(config(), true).await;
    let mut ws = open(addr).await;
    ws.send(CLOSE, &[0x0F, 0xA0, b'b', b'y', b'e']).await; // 4000
    let close = ws.until_closed().await.expect("a close frame");
    assert_eq!(close.close_code(), Some(4000));
    eventually("on_close", || {
        engine.handler().closes() == [CloseReason::TransportClose]
    })
    .await;

    let mut ws = open(addr).await;
    ws.send(CLOSE, &[]).await;
    let close = ws.until_closed().await.expect("a close frame");
    assert!(close.payload.is_empty());
}

/// Sends `frames` on a fresh connection; returns the close code the server sent.
async fn close_code_after(frames: &[(u8, &[u8])]) -> Option<u16> {
    let (addr, _engine) = serve(config(), true).await;
    let mut ws = open(addr).await;
    for (first, payload) in frames {
        ws.send(*first, payload).await;
    }
    ws.until_closed().await.and_then(|f| f.close_code())
}

#[tokio::test]
async fn protocol_errors_close_with_1002() {
    for frames in [
        &[(0xC1, &b"4x"[..])][..],       // RSV1 without permessage-deflate
        &[(0xA1, b"4x")],                // RSV2
        &[(0x83, b"")],                  // reserved opcode
        &[(FIN, b"4x")],                 // continuation with nothing to continue
        &[(0x01, b"4x"), (TEXT, b"4y")], // a new message inside a fragmented one
        &[(0x09, b"")],                  // fragmented ping
        &[(CLOSE, b"\x03")],             // close with a one-byte payload
        &[(CLOSE, b"\x03\xEC")],         // close code 1004, reserved
    ] {
        assert_eq!(close_code_after(frames).await, Some(1002), "{frames:?}");
    }
    // An unmasked client frame.
    let (addr, _engine) = serve(config(), true).await;
    let mut ws = open(addr).await;
    ws.send_with_mask(TEXT, b"4x", None).await;
    assert_eq!(
        ws.until_closed().await.and_then(|f| f.close_code()),
        Some(1002)
    );
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    assert_eq!(close_code_after(&[(TEXT, b"4\xFF\xFE")]).await, Some(1007));
    // Split inside a character is fine; the message as a whole is checked.
    let (addr, _engine) = serve(config(), true).await;
    let mut ws = open(addr).await;
    let text = "4é".as_bytes();
    ws.send(0x01, &text[..2]).await;
    ws.send(FIN, &text[2..]).await;
    assert_eq!(ws.data().await.payload, text);
}

#[tokio::test]
async fn a_message_over_max_payload_closes_with_1009() {
    let big = vec![b'a'; 10_001];
    assert_eq!(close_code_after(&[(TEXT, &big)]).await, Some(1009));
    // In fragments each under the limit, but not together.
    let half = vec![b'a'; 6_000];
    assert_eq!(
        close_code_after(&[(0x01, &half), (FIN, &half)]).await,
        Some(1009)
    );
}

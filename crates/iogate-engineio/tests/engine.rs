//! End-to-end behaviour over real sockets: what a client notices.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::SinkExt;
use iogate_engineio::{CloseReason, Config, Frame, Message, SendError, Transports};
use tokio_tungstenite::tungstenite;

#[tokio::test]
async fn polling_handshake_has_every_field() {
    let (addr, engine) = serve(config(300, 200), false).await;
    let res = http(addr, "GET", "EIO=4&transport=polling", b"").await;
    assert_eq!(res.status, 200);
    assert!(
        res.headers
            .to_ascii_lowercase()
            .contains("content-type: text/plain; charset=utf-8"),
        "{}",
        res.headers
    );
    let text = res.text();
    assert!(text.starts_with('0'));
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap();
    assert_eq!(sid.len(), 20);
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(open["pingTimeout"], 200);
    assert_eq!(open["maxPayload"], 1_000_000);
    assert_eq!(engine.session_count(), 1);
    let session = engine.handler().last_session();
    assert_eq!(session.sid(), sid);
    assert_eq!(session.peer().map(|p| p.ip()), Some(addr.ip()));
    assert_eq!(session.head().uri.query(), Some("EIO=4&transport=polling"));
    assert!(session.head().headers.contains_key("host"));
    // Two handshakes, two different sids.
    let (other, _) = open_polling(addr).await;
    assert_ne!(other, sid);
}

#[tokio::test]
async fn websocket_handshake_offers_no_upgrade() {
    let (addr, _engine) = serve(config(300, 200), false).await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    let open = ws_text(&mut ws).await;
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["sid"].as_str().unwrap().len(), 20);

    // Polling only when websocket is disabled.
    let (addr, _engine) = serve(
        Config {
            transports: Transports {
                polling: true,
                websocket: false,
            },
            ..Config::default()
        },
        false,
    )
    .await;
    let (_, open) = open_polling(addr).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
}

#[tokio::test]
async fn polling_batches_frames_and_encodes_binary_as_base64() {
    let (addr, engine) = serve(config(10_000, 5_000), true).await;
    let (sid, _) = open_polling(addr).await;
    let res = post(addr, &sid, b"4hello\x1e4world\x1ebAQIDBA==").await;
    assert_eq!((res.status, res.text().as_str()), (200, "ok"));
    assert_eq!(
        *engine.handler().messages.lock().unwrap(),
        vec![
            Message::Text("hello".into()),
            Message::Text("world".into()),
            Message::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ]
    );
    // The three echoes come back in one response.
    let res = get(addr, &sid).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "4hello\x1e4world\x1ebAQIDBA==");
    assert!(engine.bytes_in() > 0 && engine.packets_in() >= 3);
    assert!(engine.packets_out() >= 4, "OPEN and three echoes");
}

#[tokio::test]
async fn a_waiting_poll_returns_when_a_frame_is_sent() {
    let (addr, engine) = serve(config(10_000, 5_000), false).await;
    let (sid, _) = open_polling(addr).await;
    let poll = tokio::spawn(async move { get(addr, &sid).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!poll.is_finished(), "a poll with nothing to send waits");
    let session = engine.handler().last_session();
    session.send(Frame::message("late")).unwrap();
    let res = poll.await.unwrap();
    assert_eq!(res.text(), "4late");
}

#[tokio::test]
async fn websocket_echoes_text_and_binary() {
    let (addr, engine) = serve(config(10_000, 5_000), true).await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    ws_send(&mut ws, "4héllo").await;
    assert_eq!(ws_text(&mut ws).await, "4héllo");
    ws.send(tungstenite::Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    match ws_next(&mut ws).await {
        Some(tungstenite::Message::Binary(b)) => assert_eq!(&b[..], &[1, 2, 3]),
        other => panic!("expected binary, got {other:?}"),
    }
    assert_eq!(
        engine.handler().last_session().transport(),
        iogate_engineio::TransportKind::Websocket
    );
    // An unparseable packet closes the session.
    ws_send(&mut ws, "abc").await;
    assert!(ws_next(&mut ws).await.is_none());
    eventually("on_close", || !engine.handler().closes().is_empty()).await;
    assert_eq!(engine.handler().closes(), vec![CloseReason::ParseError]);
    assert_eq!(engine.session_count(), 0);
}

#[tokio::test]
async fn upgrade_moves_the_session_to_websocket() {
    let (addr, engine) = serve(config(10_000, 5_000), true).await;
    let (sid, _) = open_polling(addr).await;
    let session = engine.handler().last_session();

    // A poll is waiting when the upgrade starts.
    let sid2 = sid.clone();
    let poll = tokio::spawn(async move { get(addr, &sid2).await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    // The waiting poll is released with NOOP.
    let res = tokio::time::timeout(Duration::from_secs(2), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((res.status, res.text().as_str()), (200, "6"));

    // Frames sent during the upgrade wait for the websocket.
    session.send(Frame::message("during")).unwrap();
    ws_send(&mut ws, "5").await;
    assert_eq!(ws_text(&mut ws).await, "4during");
    assert_eq!(
        session.transport(),
        iogate_engineio::TransportKind::Websocket
    );

    ws_send(&mut ws, "4after").await;
    assert_eq!(ws_text(&mut ws).await, "4after");
    // Polling with that sid is refused now.
    let res = get(addr, &sid).await;
    assert_eq!(res.status, 400);
    assert_eq!(engine.session_count(), 1);
    // ... and so is a second websocket with that sid.
    let mut ws2 = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    assert!(ws_next(&mut ws2).await.is_none());
    ws_send(&mut ws, "4still").await;
    assert_eq!(ws_text(&mut ws).await, "4still");
}

#[tokio::test]
async fn an_upgrade_without_5_times_out_and_polling_goes_on() {
    let (addr, engine) = serve(
        Config {
            upgrade_timeout: Duration::from_millis(200),
            ..config(10_000, 5_000)
        },
        true,
    )
    .await;
    let (sid, _) = open_polling(addr).await;
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    assert!(
        ws_next(&mut ws).await.is_none(),
        "closed after upgrade_timeout"
    );
    assert_eq!(post(addr, &sid, b"4poll").await.status, 200);
    assert_eq!(get(addr, &sid).await.text(), "4poll");
    assert_eq!(engine.session_count(), 1);
}

#[tokio::test]
async fn first_ping_comes_one_interval_after_the_handshake() {
    let (addr, engine) = serve(config(300, 1_000), false).await;
    let start = Instant::now();
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    assert_eq!(ws_text(&mut ws).await, "2");
    let first = start.elapsed();
    assert!(
        first >= Duration::from_millis(290),
        "first ping after {first:?}"
    );
    assert!(
        first < Duration::from_millis(900),
        "first ping after {first:?}"
    );
    // Answered, so the next one comes one interval after the PONG.
    ws_send(&mut ws, "3").await;
    let pong_at = Instant::now();
    assert_eq!(ws_text(&mut ws).await, "2");
    assert!(pong_at.elapsed() >= Duration::from_millis(290));
    ws_send(&mut ws, "3").await;
    assert!(engine.handler().closes().is_empty());

    // Polling: a poll right after the handshake gets the PING only after the interval.
    let (sid, _) = open_polling(addr).await;
    let start = Instant::now();
    assert_eq!(get(addr, &sid).await.text(), "2");
    assert!(start.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_missing_pong_closes_with_ping_timeout() {
    let (addr, engine) = serve(config(100, 100), false).await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    assert_eq!(ws_text(&mut ws).await, "2");
    // Messages do not count as liveness in v4, only PONG does.
    ws_send(&mut ws, "4not a pong").await;
    assert!(ws_next(&mut ws).await.is_none(), "closed by the server");
    eventually("on_close", || !engine.handler().closes().is_empty()).await;
    assert_eq!(engine.handler().closes(), vec![CloseReason::PingTimeout]);

    // Polling: the session disappears once the PONG is late.
    let (sid, _) = open_polling(addr).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(get(addr, &sid).await.status, 400);
    eventually("both closed", || engine.session_count() == 0).await;
    assert_eq!(
        engine.handler().closes(),
        vec![CloseReason::PingTimeout, CloseReason::PingTimeout]
    );
}

#[tokio::test]
async fn max_payload_is_enforced_on_both_transports() {
    let (addr, engine) = serve(
        Config {
            max_payload: 1000,
            ..config(10_000, 5_000)
        },
        true,
    )
    .await;
    // Websocket: a message of max_payload passes, one byte more closes.
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    let fits = format!("4{}", "a".repeat(999));
    ws_send(&mut ws, &fits).await;
    assert_eq!(ws_text(&mut ws).await, fits);
    ws_send(&mut ws, &format!("4{}", "a".repeat(1000))).await;
    assert!(ws_next(&mut ws).await.is_none());
    eventually("ws closed", || engine.handler().closes().len() == 1).await;
    assert_eq!(engine.handler().closes(), vec![CloseReason::TransportError]);

    // Polling: a body over max_payload gets 413 and ends the session.
    let (sid, _) = open_polling(addr).await;
    assert_eq!(post(addr, &sid, fits.as_bytes()).await.status, 200);
    let res = post(addr, &sid, format!("4{}", "a".repeat(1000)).as_bytes()).await;
    assert_eq!(res.status, 413);
    assert_eq!(get(addr, &sid).await.status, 400);
    eventually("both closed", || engine.session_count() == 0).await;

    // A chunked body announces no size: the limit applies while reading.
    let (sid, _) = open_polling(addr).await;
    assert_eq!(post_chunked(addr, &sid, fits.as_bytes()).await.status, 200);
    let res = post_chunked(addr, &sid, format!("4{}", "a".repeat(1000)).as_bytes()).await;
    assert_eq!(res.status, 413);
    assert_eq!(get(addr, &sid).await.status, 400);
}

#[tokio::test]
async fn bad_requests_get_node_error_codes() {
    let (addr, _engine) = serve(config(10_000, 5_000), false).await;
    let check = |res: Res, status: u16, code: u64, message: &str| {
        assert_eq!(res.status, status, "{res:?}");
        assert_eq!(
            res.json(),
            serde_json::json!({ "code": code, "message": message })
        );
    };
    check(
        http(addr, "GET", "EIO=4&transport=carrier-pigeon", b"").await,
        400,
        0,
        "Transport unknown",
    );
    check(
        http(addr, "GET", "EIO=4", b"").await,
        400,
        0,
        "Transport unknown",
    );
    check(
        get(addr, "AAAAAAAAAAAAAAAAAAAA").await,
        400,
        1,
        "Session ID unknown",
    );
    check(
        http(addr, "POST", "EIO=4&transport=polling", b"").await,
        400,
        2,
        "Bad handshake method",
    );
    check(
        http(addr, "GET", "transport=polling", b"").await,
        400,
        5,
        "Unsupported protocol version",
    );
    check(
        http(addr, "GET", "EIO=3&transport=polling", b"").await,
        400,
        5,
        "Unsupported protocol version",
    );
    // A websocket handshake without the upgrade headers.
    check(
        http(addr, "GET", "EIO=4&transport=websocket", b"").await,
        400,
        3,
        "Bad request",
    );
    // A polling sid used with the websocket transport, without upgrading.
    let (sid, _) = open_polling(addr).await;
    check(
        http(
            addr,
            "GET",
            &format!("EIO=4&transport=websocket&sid={sid}"),
            b"",
        )
        .await,
        400,
        3,
        "Bad request",
    );
}

#[tokio::test]
async fn a_second_concurrent_poll_closes_the_session() {
    let (addr, engine) = serve(config(10_000, 5_000), false).await;
    let (sid, _) = open_polling(addr).await;
    let sid2 = sid.clone();
    let first = tokio::spawn(async move { get(addr, &sid2).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(addr, &sid).await.status, 400);
    assert_eq!(first.await.unwrap().text(), "1");
    assert_eq!(get(addr, &sid).await.status, 400);
    eventually("closed", || engine.session_count() == 0).await;
    assert_eq!(engine.handler().closes(), vec![CloseReason::TransportError]);
}

#[tokio::test]
async fn a_session_that_does_not_read_is_closed_when_its_queue_is_full() {
    let (addr, engine) = serve(
        Config {
            max_outgoing_bytes: 64 * 1024,
            ..config(10_000, 5_000)
        },
        false,
    )
    .await;
    // Polling: nobody polls, so the queue fills at once.
    let (_sid, _) = open_polling(addr).await;
    let session = engine.handler().last_session();
    let frame = Frame::message(&"x".repeat(1023));
    let mut sent = 0;
    let err = loop {
        match session.send(frame.clone()) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, SendError::Full);
    assert!(sent <= 64, "bounded at 64 KiB, sent {sent} KiB");
    assert_eq!(session.send(frame.clone()), Err(SendError::Closed));
    eventually("polling closed", || engine.session_count() == 0).await;
    assert_eq!(engine.handler().closes(), vec![CloseReason::OutgoingFull]);

    // Websocket: the client never reads; once the socket buffers are full
    // the queue fills too.
    let ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    eventually("ws open", || engine.session_count() == 1).await;
    let session = engine.handler().last_session();
    let big = Frame::message(&"y".repeat(32 * 1024));
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        match session.send(big.clone()) {
            Ok(()) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => break e,
        }
        assert!(Instant::now() < deadline, "the queue never filled");
    };
    assert_eq!(err, SendError::Full);
    eventually("ws closed", || engine.session_count() == 0).await;
    assert_eq!(
        engine.handler().closes(),
        vec![CloseReason::OutgoingFull, CloseReason::OutgoingFull]
    );
    drop(ws);
}

#[tokio::test]
async fn sessions_are_forgotten_after_they_close() {
    let (addr, engine) = serve(config(10_000, 5_000), false).await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    let (sid, _) = open_polling(addr).await;
    assert_eq!(engine.session_count(), 2);

    ws_send(&mut ws, "1").await;
    assert!(ws_next(&mut ws).await.is_none());
    // A client CLOSE while a poll waits ends the poll with NOOP.
    let sid2 = sid.clone();
    let poll = tokio::spawn(async move { get(addr, &sid2).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(post(addr, &sid, b"1").await.text(), "ok");
    assert_eq!(poll.await.unwrap().text(), "6");

    eventually("all closed", || engine.session_count() == 0).await;
    assert_eq!(
        engine.handler().closes(),
        vec![CloseReason::TransportClose, CloseReason::TransportClose]
    );
    // Only the handler's own list still holds them.
    for s in engine.handler().opened.lock().unwrap().iter() {
        assert_eq!(
            std::sync::Arc::strong_count(s),
            1,
            "nothing else keeps a session"
        );
    }
}

#[tokio::test]
async fn server_close_delivers_queued_frames_then_close() {
    let (addr, engine) = serve(config(10_000, 5_000), false).await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    let session = engine.handler().last_session();
    session.send(Frame::message("last words")).unwrap();
    session.close(CloseReason::ServerClose);
    session.close(CloseReason::ServerClose);
    assert!(session.is_closed());
    assert_eq!(ws_text(&mut ws).await, "4last words");
    assert!(ws_next(&mut ws).await.is_none());

    let (sid, _) = open_polling(addr).await;
    let session = engine.handler().last_session();
    session.send(Frame::message("bye")).unwrap();
    session.close(CloseReason::ServerClose);
    assert_eq!(get(addr, &sid).await.text(), "4bye\x1e1");
    eventually("closed", || engine.session_count() == 0).await;
    assert_eq!(
        engine.handler().closes(),
        vec![CloseReason::ServerClose, CloseReason::ServerClose]
    );
}

#[tokio::test]
async fn engine_close_runs_every_on_close_once() {
    let (addr, engine) = serve(
        Config {
            write_timeout: Duration::from_millis(300),
            ..config(10_000, 5_000)
        },
        false,
    )
    .await;
    let mut ws = ws_connect(addr, "EIO=4&transport=websocket").await;
    assert!(ws_text(&mut ws).await.starts_with('0'));
    let (sid, _) = open_polling(addr).await;
    let _idle = open_polling(addr).await;
    // One polling session has a poll waiting, the other has none (it is
    // given up after write_timeout).
    let poll = tokio::spawn(async move { get(addr, &sid).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(engine.session_count(), 3);

    tokio::time::timeout(Duration::from_secs(5), engine.close())
        .await
        .expect("close completes");
    assert_eq!(engine.session_count(), 0);
    assert_eq!(
        engine.handler().closes(),
        vec![CloseReason::ServerShutdown; 3]
    );
    assert_eq!(poll.await.unwrap().text(), "1");
    assert!(ws_next(&mut ws).await.is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(engine.handler().closes().len(), 3, "exactly once each");
}

//! Every limit and refusal, as a client sees it: real server on 127.0.0.1:0, real sockets,
//! driven with `iogate::testing`.

use std::time::{Duration, Instant};

use iogate::auth::{JwtAuth, REFRESH_EVENT, TOKEN_EXPIRED_EVENT};
use iogate::testing::{Args, ClientError, ConnectError, Disconnect, TestClient, TestServer};
use iogate::{App, Client, Cors, Data, Gateway, Limits, Options};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn echo_app(limits: Limits) -> TestServer {
    let gateway = Gateway::new("/")
        .middleware(async |client: Client| {
            if let Some(user) = client.auth()["user"].as_str() {
                client.set_user(user)?;
            }
            Ok::<_, iogate::RoomError>(())
        })
        .room_policy(|_client, room| !room.starts_with("staff-"))
        .subscribe_message("echo", async |Data(v): Data<Value>| v)
        .subscribe_message("join", async |Data(room): Data<String>, client: Client| {
            client.join(room).map(|()| "joined")
        });
    TestServer::start(
        App::new()
            .options(Options::default().limits(limits))
            .gateway(gateway),
    )
    .await
}

/// The payload of the next `exception` event.
async fn exception(c: &mut TestClient) -> Result<Value, ClientError> {
    Ok(c.wait_for("exception").await?.data().clone())
}

/// The message of a refused connection, whose refusal is `{"message": ..}` and no more.
fn refusal(connected: Result<TestClient, ConnectError>) -> String {
    match connected {
        Err(ConnectError::Refused {
            message,
            data: None,
        }) => message,
        other => panic!("expected a refusal without data, got {other:?}"),
    }
}

/// Whether the server closed the client's connection, and sent it no event before.
async fn closed_without_a_word(c: &mut TestClient) -> bool {
    matches!(
        c.next_event().await,
        Err(ClientError::Closed(Disconnect::TransportClose))
    )
}

#[tokio::test]
async fn the_event_rate_limit_refuses_then_disconnects_abusers() -> anyhow::Result<()> {
    let server = echo_app(
        Limits::default()
            .events_per_second(1)
            .event_burst(3)
            .abuse_refusals(6),
    )
    .await;
    let mut c = TestClient::connect(&server, "/").await?;
    let mut asked = Vec::new();
    for i in 0..5 {
        asked.push(c.emit_args_with_ack_id("echo", Args::new().arg(i)).await?);
    }
    let mut refused = 0;
    while let Some(event) = c.next_event_within(Duration::from_millis(300)).await? {
        assert_eq!(
            (event.event.as_str(), event.args),
            (
                "exception",
                vec![json!({"status": "error", "message": "Too many requests"})]
            )
        );
        refused += 1;
    }
    let mut acks = 0;
    for id in asked {
        if c.ack_within(id, Duration::ZERO).await?.is_some() {
            acks += 1;
        }
    }
    assert_eq!((acks, refused), (3, 2));
    // Going on past the limit ends the connection.
    for i in 0..10 {
        match c.emit("echo", i).await {
            Ok(()) => {}
            // Disconnected before the last ones.
            Err(ClientError::Closed(_)) => break,
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(
        c.wait_for_disconnect().await?,
        Disconnect::ServerNamespace,
        "the abusive client was not disconnected"
    );
    Ok(())
}

#[tokio::test]
async fn oversized_names_deep_nesting_and_malformed_events_get_a_clear_exception()
-> anyhow::Result<()> {
    let server = echo_app(Limits::default().max_event_name_len(16).max_json_depth(8)).await;
    let mut c = TestClient::connect(&server, "/").await?;
    c.emit("e".repeat(17).as_str(), 1).await?;
    assert_eq!(exception(&mut c).await?["message"], "Event name too long");
    let deep = serde_json::from_str::<Value>(&format!("{}1{}", "[".repeat(9), "]".repeat(9)))?;
    c.emit_args_with_ack_id("echo", Args::new().arg(deep))
        .await?;
    assert_eq!(
        exception(&mut c).await?["message"],
        "Message nested too deeply"
    );
    // The client is still served.
    assert_eq!(
        c.emit_args_with_ack("echo", Args::new().arg("ok")).await?,
        Args::new().arg("ok")
    );

    // A packet the protocol cannot parse (no event name) gets the protocol's own refusal: that
    // connection is closed, and only that one.
    for bad in [r#"42{"not":"an array"}"#, r#"42[1,2]"#, "42[", "4x"] {
        let mut bad_client = TestClient::connect(&server, "/").await?;
        bad_client.send_raw(bad).await?;
        assert!(
            closed_without_a_word(&mut bad_client).await,
            "{bad}: the connection is closed"
        );
    }
    assert_eq!(
        c.emit_args_with_ack("echo", Args::new().arg("still ok"))
            .await?,
        Args::new().arg("still ok")
    );
    Ok(())
}

#[tokio::test]
async fn an_oversized_packet_ends_only_that_connection() -> anyhow::Result<()> {
    let gateway = Gateway::new("/").subscribe_message("echo", async |Data(v): Data<Value>| v);
    let server = TestServer::start(
        App::new()
            .options(Options::default().max_payload(1_000))
            .gateway(gateway),
    )
    .await;
    let mut big = TestClient::connect(&server, "/").await?;
    let mut other = TestClient::connect(&server, "/").await?;
    big.emit("echo", "x".repeat(2_000)).await?;
    assert!(
        closed_without_a_word(&mut big).await,
        "the oversized sender's connection is closed"
    );
    assert_eq!(
        other.emit_args_with_ack("echo", Args::new().arg(1)).await?,
        Args::new().arg(1)
    );
    Ok(())
}

#[tokio::test]
async fn handshakes_are_limited_per_ip_per_server_and_per_user() -> anyhow::Result<()> {
    let server = echo_app(
        Limits::default()
            .connection_burst_per_ip(3)
            .connections_per_ip_per_second(1),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TestClient::connect(&server, "/").await?);
    }
    assert_eq!(
        refusal(TestClient::connect(&server, "/").await),
        "Too many connections"
    );

    let server = echo_app(Limits::default().max_clients(2)).await;
    let _a = TestClient::connect(&server, "/").await?;
    let _b = TestClient::connect(&server, "/").await?;
    assert_eq!(
        refusal(TestClient::connect(&server, "/").await),
        "Server is full"
    );

    let server = echo_app(Limits::default().max_clients_per_user(2)).await;
    let alice = || TestClient::connect(&server, "/").auth(json!({"user": "alice"}));
    let _a1 = alice().await?;
    let mut a2 = alice().await?;
    assert_eq!(refusal(alice().await), "Too many connections for this user");
    assert!(
        TestClient::connect(&server, "/")
            .auth(json!({"user": "bob"}))
            .await
            .is_ok()
    );
    // A client that leaves frees its place.
    a2.send_raw("41").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(alice().await.is_ok());
    Ok(())
}

#[tokio::test]
async fn rooms_are_limited_per_client_per_room_by_name_and_by_policy() -> anyhow::Result<()> {
    let server = echo_app(
        Limits::default()
            .max_rooms_per_client(2)
            .max_clients_per_room(1)
            .max_room_name_len(8),
    )
    .await;
    let mut a = TestClient::connect(&server, "/").await?;
    let mut b = TestClient::connect(&server, "/").await?;
    let joined = Args::new().arg("joined");
    assert_eq!(
        a.emit_args_with_ack("join", Args::new().arg("one")).await?,
        joined
    );
    assert_eq!(
        a.emit_args_with_ack("join", Args::new().arg("one")).await?,
        joined,
        "joining again is fine"
    );
    assert_eq!(
        a.emit_args_with_ack("join", Args::new().arg("two")).await?,
        joined
    );
    a.emit_args_with_ack_id("join", Args::new().arg("three"))
        .await?;
    assert_eq!(exception(&mut a).await?["message"], "Too many rooms");
    b.emit_args_with_ack_id("join", Args::new().arg("one"))
        .await?;
    assert_eq!(exception(&mut b).await?["message"], "Room is full");
    b.emit_args_with_ack_id("join", Args::new().arg("much-too-long"))
        .await?;
    assert_eq!(exception(&mut b).await?["message"], "Room name too long");
    b.emit_args_with_ack_id("join", Args::new().arg("staff-x"))
        .await?;
    assert_eq!(
        exception(&mut b).await?["message"],
        "Not allowed to join this room"
    );
    b.emit_args_with_ack_id("join", Args::new().arg("$client:x"))
        .await?;
    assert_eq!(
        exception(&mut b).await?["message"],
        "Room names starting with '$' are reserved"
    );
    Ok(())
}

/// Sends a raw HTTP request and returns the status code.
async fn http_status(addr: &str, request: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 512];
    let n = stream.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn with_allowed_origins_other_origins_are_refused_on_polling_and_websocket() {
    let cors = Cors::Origins {
        origins: vec!["https://app.example".into()],
        credentials: true,
    };
    let gateway = Gateway::new("/").subscribe_message("echo", async |Data(v): Data<Value>| v);
    let server = TestServer::start(
        App::new()
            .options(Options::default().cors(cors))
            .gateway(gateway),
    )
    .await;
    let addr = server.addr.to_string();
    let polling = |origin: &str| {
        format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        )
    };
    assert_eq!(
        http_status(&addr, &polling("https://evil.example")).await,
        403
    );
    assert_eq!(
        http_status(&addr, &polling("https://app.example")).await,
        200
    );
    let upgrade = |origin: &str| {
        format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    assert_eq!(
        http_status(&addr, &upgrade("https://evil.example")).await,
        403
    );
    assert_eq!(
        http_status(&addr, &upgrade("https://app.example")).await,
        101
    );
    // Clients that send no Origin (not browsers) are not concerned.
    assert!(TestClient::connect(&server, "/").await.is_ok());
}

fn token(secret: &[u8], claims: Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

#[tokio::test]
async fn an_expiring_token_ends_the_connection_unless_refreshed() -> anyhow::Result<()> {
    let jwt = JwtAuth::hs256(b"a secret for the expiry test, 32+ bytes");
    let gateway = Gateway::new("/events")
        .middleware(jwt.middleware())
        .subscribe_message(REFRESH_EVENT, jwt.refresh_handler())
        .subscribe_message("echo", async |Data(v): Data<Value>| v);
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let now = jsonwebtoken::get_current_timestamp();
    let secret = b"a secret for the expiry test, 32+ bytes";
    let soon = token(secret, json!({"sub": "alice", "exp": now + 2}));

    let mut expiring = TestClient::connect(&server, "/events")
        .auth(json!({"token": soon}))
        .timeout(Duration::from_secs(6))
        .await?;
    let mut refreshed = TestClient::connect(&server, "/events")
        .auth(json!({"token": soon}))
        .await?;
    let later = token(secret, json!({"sub": "alice", "exp": now + 60}));
    assert_eq!(
        refreshed
            .emit_args_with_ack(REFRESH_EVENT, Args::new().arg(json!({"token": later})))
            .await?,
        Args::new().arg(json!({"exp": now + 60}))
    );
    let bob = token(secret, json!({"sub": "bob", "exp": now + 60}));
    refreshed
        .emit_args_with_ack_id(REFRESH_EVENT, Args::new().arg(bob))
        .await?;
    assert_eq!(
        exception(&mut refreshed).await?["message"],
        "Unauthorized: the token is for another user"
    );

    // The expiring client is told, then disconnected, and gets nothing else.
    let expired = expiring.next_event().await?;
    assert_eq!(
        (expired.event.as_str(), expired.args),
        (
            TOKEN_EXPIRED_EVENT,
            vec![json!({"message": "Token expired"})]
        )
    );
    match expiring.next_event().await {
        Err(ClientError::Closed(Disconnect::ServerNamespace)) => {}
        other => panic!("expected the server's disconnection, got {other:?}"),
    }
    // The refreshed client is still connected and served.
    assert_eq!(
        refreshed
            .emit_args_with_ack("echo", Args::new().arg(1))
            .await?,
        Args::new().arg(1)
    );
    Ok(())
}

/// Counts the `blob` events that arrive before the acknowledgement `id`; the acknowledgement is
/// `None` when nothing arrived for 20 seconds. Events are read as they come, so that the test's
/// own memory stays flat.
async fn blobs_until_ack(
    reader: &mut TestClient,
    id: i64,
) -> anyhow::Result<(usize, Option<Args>)> {
    let mut blobs = 0;
    let mut last = Instant::now();
    loop {
        match reader.next_event_within(Duration::from_millis(100)).await? {
            Some(event) => {
                assert_eq!(event.event, "blob", "{event:?}");
                blobs += 1;
                last = Instant::now();
            }
            // The acknowledgement comes after the events of its flood.
            None => {
                if let Some(ack) = reader.ack_within(id, Duration::ZERO).await? {
                    return Ok((blobs, Some(ack)));
                }
                if last.elapsed() > Duration::from_secs(20) {
                    return Ok((blobs, None));
                }
            }
        }
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_and_memory_stays_bounded() -> anyhow::Result<()> {
    use futures_util::{SinkExt, StreamExt};
    let gateway = Gateway::new("/")
        .subscribe_message("join", async |Data(room): Data<String>, client: Client| {
            client.join(room).map(|()| "joined")
        })
        .subscribe_message("flood", async |ns: iogate::Namespace| {
            let blob = "x".repeat(10_000);
            for _ in 0..2_000 {
                ns.to("room").emit("blob", &blob).await?;
                // Lets the writers run, as a real workload would.
                tokio::task::yield_now().await;
            }
            Ok::<_, iogate::BroadcastError>("done")
        });
    // A short heartbeat, so that the stalled client, which answers no ping, is closed quickly.
    let options = Options::default()
        .max_outgoing_packets(128)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300));
    let server = TestServer::start(App::new().options(options).gateway(gateway)).await;

    // The stalled client: joins, then never reads again. A raw websocket, since the test
    // client reads (and answers pings) in the background.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        server.addr
    ))
    .await?;
    ws.next().await.unwrap()?;
    ws.send(tokio_tungstenite::tungstenite::Message::text("40"))
        .await?;
    ws.next().await.unwrap()?;
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"420["join","room"]"#,
    ))
    .await?;
    ws.next().await.unwrap()?;

    let mut reader = TestClient::connect(&server, "/").await?;
    assert_eq!(
        reader
            .emit_args_with_ack("join", Args::new().arg("room"))
            .await?,
        Args::new().arg("joined")
    );
    let before = rss_kib();
    let id = reader.emit_args_with_ack_id("flood", Args::new()).await?;
    let (blobs, done) = blobs_until_ack(&mut reader, id).await?;
    let done = done.unwrap_or_else(|| panic!("the flood stalled after {blobs} messages"));
    assert_eq!(done, Args::new().arg("done"));
    let after = rss_kib();
    println!(
        "server + test RSS: {before} KiB before the flood, {after} KiB after 2,000 x 10 KB broadcasts"
    );
    assert!(
        blobs >= 2_000,
        "the reading client got every message ({blobs})"
    );
    // Cut off at once: its connection is closed and it left the room.
    assert_eq!(
        server.server.of("/").to("room").count().await?,
        1,
        "the stalled client left the room"
    );
    // It gets nothing more: a second flood goes to the reader alone, and memory stays flat.
    let id = reader.emit_args_with_ack_id("flood", Args::new()).await?;
    blobs_until_ack(&mut reader, id).await?;
    let end = rss_kib();
    println!("{end} KiB after a second flood");
    assert!(
        end < before + 64 * 1024,
        "memory grew by {} KiB",
        end - before
    );
    drop(ws);
    Ok(())
}

#[tokio::test]
async fn refusals_before_a_handler_go_through_the_gateways_exception_filter() -> anyhow::Result<()>
{
    // The guide's filter: every error as an `error` event, with what kind of error it was.
    let gateway = Gateway::new("/")
        .filter(|e: &iogate::Exception, cx: &iogate::Context| {
            let refused = e.downcast_ref::<iogate::Refusal>().is_some();
            let _ = cx.client().emit(
                "error",
                &json!({ "message": e.to_client().to_string(), "refused": refused, "event": cx.event() }),
            );
        })
        .subscribe_message("echo", async |Data(v): Data<Value>| v);
    let server = TestServer::start(
        App::new()
            .options(
                Options::default().limits(
                    Limits::default()
                        .max_event_name_len(16)
                        .max_json_depth(8)
                        .events_per_second(1)
                        .event_burst(2),
                ),
            )
            .gateway(gateway),
    )
    .await;
    let mut c = TestClient::connect(&server, "/").await?;
    c.emit("e".repeat(17).as_str(), 1).await?;
    assert_eq!(
        c.wait_for("error").await?.data().clone(),
        json!({"message": "Event name too long", "refused": true, "event": ""})
    );
    // Past the burst: refused by the rate limit, through the same filter; no `exception`.
    for _ in 0..3 {
        c.emit("echo", 1).await?;
    }
    let mut refusals = 0;
    while let Some(event) = c.next_event_within(Duration::from_millis(300)).await? {
        assert_eq!(
            (event.event.as_str(), event.args),
            (
                "error",
                vec![json!({"message": "Too many requests", "refused": true, "event": ""})]
            ),
            "every refusal through the gateway's filter, and nothing else"
        );
        refusals += 1;
    }
    assert!(refusals >= 1, "the rate limit refused nothing");
    Ok(())
}

/// One thread, as a server pinned to one core: the writers of a room's readers run only when
/// the task reading a burst lets them.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_bigger_than_the_outgoing_bound_reaches_a_rooms_readers() -> anyhow::Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    const MESSAGES: usize = 40;
    let gateway = Gateway::new("/")
        .subscribe_message("join", async |Data(room): Data<String>, client: Client| {
            client.join(room).map(|()| "joined")
        })
        .subscribe_message(
            "shout",
            async |Data(text): Data<String>, ns: iogate::Namespace| {
                ns.to("room").emit("msg", &text).await
            },
        );
    // 40 x 16 KiB arrive in one write: five times what one reader may have queued.
    let options = Options::default().max_outgoing_bytes(128 * 1024);
    let server = TestServer::start(App::new().options(options).gateway(gateway)).await;
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut reader = TestClient::connect(&server, "/").await?;
        assert_eq!(
            reader
                .emit_args_with_ack("join", Args::new().arg("room"))
                .await?,
            Args::new().arg("joined")
        );
        readers.push(reader);
    }

    let (mut publisher, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        server.addr
    ))
    .await?;
    publisher.next().await.unwrap()?;
    publisher.send(Message::text("40")).await?;
    publisher.next().await.unwrap()?;
    let text = "x".repeat(16 * 1024);
    for _ in 0..MESSAGES {
        publisher
            .feed(Message::text(format!(r#"42["shout","{text}"]"#)))
            .await?;
    }
    publisher.flush().await?;

    for reader in &mut readers {
        for i in 0..MESSAGES {
            let event = reader.next_event().await.map_err(|e| {
                anyhow::anyhow!("the reader got {i} of {MESSAGES} messages, then {e:?}")
            })?;
            assert_eq!(event.event, "msg");
        }
        assert_eq!(reader.disconnected(), None, "a reading client was cut off");
    }
    Ok(())
}

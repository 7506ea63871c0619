//! `iogate::testing` against gateways defined here: each part of the kit, over real sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iogate::testing::{Args, ClientError, ConnectError, Disconnect, TestClient, TestServer};
use iogate::{
    Ack, App, Binary, Client, Data, DisconnectReason, Gateway, Options, Server, WsException,
    WsResponse,
};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(200);

/// The gateway of the NestJS guide's Testing section.
fn events_gateway() -> Gateway {
    Gateway::new("/")
        .subscribe_message("message", async |Data(_): Data<String>| "Message received")
        .subscribe_message("events", async |Data(data): Data<Value>| data)
        .subscribe_message("respond", async |Data(data): Data<Value>| {
            WsResponse::new("response", data)
        })
}

#[tokio::test]
async fn the_guides_test_emits_with_an_ack_and_receives_emitted_events() -> anyhow::Result<()> {
    let server = TestServer::start(App::new().gateway(events_gateway())).await;
    let mut client = TestClient::connect(&server, "/").await?;

    assert_eq!(
        client.emit_with_ack("message", "test message").await?,
        "Message received"
    );
    assert_eq!(
        client
            .emit_with_ack("events", json!({"a": [1, "é"]}))
            .await?,
        json!({"a": [1, "é"]})
    );
    client.emit("respond", json!({"x": 1})).await?;
    let response = client.wait_for("response").await?;
    assert_eq!(response.data(), &json!({"x": 1}));
    assert_eq!(response.data_as::<Value>()?, json!({"x": 1}));
    assert!(client.next_event_within(QUIET).await?.is_none());

    assert!(!client.id().is_empty());
    assert_eq!(client.namespace(), "/");
    client.close().await;
    server.close().await;
    Ok(())
}

#[tokio::test]
async fn the_handshake_carries_auth_headers_and_query_and_refusals_are_connect_errors()
-> anyhow::Result<()> {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let gateway = Gateway::new("/chat").middleware(move |client: Client| {
        let log = log.clone();
        async move {
            let header = client
                .headers()
                .get("x-device")
                .and_then(|v| v.to_str().ok());
            log.lock().unwrap().push(format!(
                "{:?} {:?}",
                header,
                client
                    .query()
                    .and_then(|q| q.split('&').find(|p| p.starts_with("room=")))
            ));
            match client.auth()["token"].as_str() {
                Some("secret") => Ok(()),
                _ => Err(WsException::new("Authentication error")),
            }
        }
    });
    let server = TestServer::start(App::new().gateway(gateway)).await;

    let client = TestClient::connect(&server, "/chat")
        .auth(json!({"token": "secret"}))
        .header("X-Device", "phone")
        .query("room", "a b")
        .await?;
    assert_eq!(client.namespace(), "/chat");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![r#"Some("phone") Some("room=a%20b")"#]
    );

    match server.connect("chat").auth(json!({"token": "guess"})).await {
        Err(ConnectError::Refused { message, data }) => {
            assert_eq!(message, "Authentication error");
            assert_eq!(data, None);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match TestClient::connect(&server, "/nowhere").await {
        Err(ConnectError::Refused { message, .. }) => assert_eq!(message, "Invalid namespace"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn connecting_fails_clearly_without_a_server_or_a_websocket_transport() {
    let server = TestServer::start(
        App::new()
            .options(Options::default().transports(iogate::Transports::PollingOnly))
            .gateway(events_gateway()),
    )
    .await;
    let refused = TestClient::connect(&server, "/").await;
    assert!(
        matches!(&refused, Err(ConnectError::Transport(m)) if m.contains("HTTP 400")),
        "{refused:?}"
    );

    let addr = server.addr;
    server.close().await;
    let gone = TestClient::connect_to(addr, "/").await;
    assert!(matches!(gone, Err(ConnectError::Transport(_))), "{gone:?}");
}

#[tokio::test]
async fn waits_time_out_and_events_received_meanwhile_are_kept_in_order() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("chatty", async |client: Client| {
            client.emit("first", &1)?;
            client.emit("second", &2)?;
            Ok::<_, iogate::EmitError>("done")
        })
        .subscribe_message("mute", async || ());
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = server
        .connect("/")
        .timeout(Duration::from_millis(300))
        .await?;
    assert_eq!(client.timeout(), Duration::from_millis(300));

    // The acknowledgement comes after two events, which wait for the test.
    assert_eq!(client.emit_with_ack("chatty", ()).await?, "done");
    assert_eq!(client.wait_for("second").await?.data(), &json!(2));
    assert_eq!(client.next_event().await?.event, "first");
    client.emit("chatty", ()).await?;
    assert_eq!(client.next_event().await?.event, "first");
    assert_eq!(client.next_event().await?.event, "second");
    assert!(client.next_event_within(QUIET).await?.is_none());

    match client.emit_with_ack("mute", ()).await {
        Err(ClientError::Timeout { waiting_for, after }) => {
            assert_eq!(waiting_for, "acknowledgement of `mute` (id 1)");
            assert_eq!(after, Duration::from_millis(300));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    client.set_timeout(QUIET);
    let missing = client.wait_for("never").await.unwrap_err();
    assert_eq!(missing.to_string(), "no event `never` within 200ms");
    assert!(matches!(
        client.wait_for_disconnect().await,
        Err(ClientError::Timeout { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn acknowledgements_can_be_asked_for_now_and_read_later() -> anyhow::Result<()> {
    let server = TestServer::start(App::new().gateway(events_gateway())).await;
    let mut client = TestClient::connect(&server, "/").await?;

    let first = client
        .emit_args_with_ack_id("events", Args::new().arg(1))
        .await?;
    let respond = client
        .emit_args_with_ack_id("respond", Args::new().arg("r"))
        .await?;
    let second = client
        .emit_args_with_ack_id("events", Args::new().arg(2))
        .await?;
    assert_ne!(first, second);

    // Read in any order, each once; the event that came meanwhile is kept.
    assert_eq!(client.wait_for_ack(second).await?, Args::new().arg(2));
    assert_eq!(
        client.ack_within(first, Duration::ZERO).await?,
        Some(Args::new().arg(1))
    );
    assert_eq!(client.ack_within(first, Duration::ZERO).await?, None);
    assert_eq!(client.next_event().await?.data(), "r");
    // A WsResponse is no acknowledgement.
    assert_eq!(client.ack_within(respond, QUIET).await?, None);

    // The id of a raw frame's request.
    client.send_raw(r#"4299["events","raw"]"#).await?;
    assert_eq!(client.wait_for_ack(99).await?, Args::new().arg("raw"));

    client.set_timeout(QUIET);
    match client.wait_for_ack(respond).await {
        Err(ClientError::Timeout { waiting_for, .. }) => {
            assert_eq!(waiting_for, format!("acknowledgement (id {respond})"));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    client.close().await;
    assert!(matches!(
        client.ack_within(respond, QUIET).await,
        Err(ClientError::Closed(Disconnect::TransportClose))
    ));
    assert!(matches!(
        client.emit_args_with_ack_id("events", Args::new()).await,
        Err(ClientError::Closed(Disconnect::TransportClose))
    ));
    Ok(())
}

#[tokio::test]
async fn several_arguments_and_binary_attachments_travel_both_ways() -> anyhow::Result<()> {
    let gateway = Gateway::new("/files")
        .subscribe_message("body", async |Data(body): Data<Value>| body)
        .subscribe_message("size", async |Binary(files): Binary| {
            files.iter().map(|f| f.len()).collect::<Vec<_>>()
        })
        .subscribe_message("echo", async |Binary(mut files): Binary| {
            Ack(files.pop().unwrap_or_default())
        })
        .subscribe_message("push", async |client: Client| {
            client.emit(
                "file",
                &(json!({"name": "a.bin"}), Bytes::from_static(b"\x00\x01")),
            )
        });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = TestClient::connect(&server, "/files").await?;

    // Several arguments reach the handler as one array.
    let args = Args::new().arg(1).arg("two").arg(json!({"three": 3}));
    let ack = client.emit_args_with_ack("body", args).await?;
    assert_eq!(ack.values, vec![json!([1, "two", {"three": 3}])]);
    assert!(ack.binaries.is_empty());

    let files = Args::new()
        .binary(vec![1u8, 2, 3])
        .arg(json!({"nested": {"_placeholder": true, "num": 1}}))
        .attachment(Bytes::from_static(b"four"));
    assert_eq!(
        client.emit_args_with_ack("size", files).await?.data(),
        &json!([3, 4])
    );

    // An acknowledgement with a binary: its placeholder, and the bytes.
    let ack = client
        .emit_args_with_ack("echo", Args::new().binary(&b"\xff\xfe"[..]))
        .await?;
    assert_eq!(ack.values, vec![json!({"_placeholder": true, "num": 0})]);
    assert_eq!(ack.binaries, vec![Bytes::from_static(b"\xff\xfe")]);

    client.emit_args("push", Args::new()).await?;
    let file = client.wait_for("file").await?;
    assert_eq!(
        file.args,
        vec![
            json!({"name": "a.bin"}),
            json!({"_placeholder": true, "num": 0})
        ]
    );
    assert_eq!(file.binaries, vec![Bytes::from_static(b"\x00\x01")]);
    Ok(())
}

#[tokio::test]
async fn a_server_namespace_disconnect_is_told_from_a_transport_close() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("kick", async |client: Client| client.disconnect())
        .subscribe_message("events", async |Data(data): Data<Value>| data);
    let refusing = Gateway::new("/closed")
        .handle_connection(async |_client: Client| Err::<(), _>(WsException::new("go away")));
    let options = Options::default()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100));
    let server = TestServer::start(
        App::new()
            .options(options)
            .gateway(gateway)
            .gateway(refusing),
    )
    .await;

    // The gateway disconnects the client: `io server disconnect`.
    let mut client = TestClient::connect(&server, "/").await?;
    client.emit("kick", ()).await?;
    assert_eq!(
        client.wait_for_disconnect().await?,
        Disconnect::ServerNamespace
    );
    assert_eq!(client.disconnected(), Some(&Disconnect::ServerNamespace));
    match client.emit("events", 1).await {
        Err(ClientError::Closed(Disconnect::ServerNamespace)) => {}
        other => panic!("expected Closed, got {other:?}"),
    }

    // A failed handle_connection hook: connected, then disconnected by the server.
    let mut client = TestClient::connect(&server, "/closed").await?;
    assert_eq!(
        client.wait_for_disconnect().await?,
        Disconnect::ServerNamespace
    );

    // The server closes the connection (here: no pong in time): `transport close`.
    let mut client = TestClient::connect(&server, "/").await?;
    client.answer_pings(false);
    assert_eq!(
        client.wait_for_disconnect().await?,
        Disconnect::TransportClose
    );
    assert_eq!(Disconnect::TransportClose.as_str(), "transport close");

    assert!(matches!(
        client.emit_with_ack("events", 1).await,
        Err(ClientError::Closed(Disconnect::TransportClose))
    ));
    Ok(())
}

#[tokio::test]
async fn pings_are_answered_so_the_client_stays_connected() -> anyhow::Result<()> {
    let options = Options::default()
        .ping_interval(Duration::from_millis(50))
        .ping_timeout(Duration::from_millis(50));
    let server = TestServer::start(App::new().options(options).gateway(events_gateway())).await;
    let mut client = TestClient::connect(&server, "/").await?;
    assert_eq!(client.handshake().ping_interval, Duration::from_millis(50));
    assert_eq!(client.handshake().ping_timeout, Duration::from_millis(50));
    assert_eq!(client.handshake().max_payload, 1_000_000);

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(client.pings() >= 4, "{} pings", client.pings());
    assert_eq!(client.disconnected(), None);
    assert_eq!(client.emit_with_ack("events", 1).await?, 1);
    Ok(())
}

#[tokio::test]
async fn the_gateway_sees_why_the_client_left() -> anyhow::Result<()> {
    let reasons = Arc::new(Mutex::new(Vec::<DisconnectReason>::new()));
    let log = reasons.clone();
    let gateway = Gateway::new("/").handle_disconnect(move |_client: Client, reason| {
        let log = log.clone();
        async move { log.lock().unwrap().push(reason) }
    });
    let server = TestServer::start(App::new().gateway(gateway)).await;

    let mut leaving = TestClient::connect(&server, "/").await?;
    leaving.disconnect().await;
    assert_eq!(leaving.disconnected(), Some(&Disconnect::ClientNamespace));
    let mut closing = TestClient::connect(&server, "/").await?;
    closing.close().await;
    let dropped = TestClient::connect(&server, "/").await?;
    drop(dropped);

    tokio::time::sleep(QUIET).await;
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![
            DisconnectReason::ClientNamespaceDisconnect,
            DisconnectReason::TransportClose,
            DisconnectReason::TransportClose,
        ]
    );
    Ok(())
}

#[tokio::test]
async fn raw_frames_reach_the_server_as_sent() -> anyhow::Result<()> {
    let server = TestServer::start(App::new().gateway(events_gateway())).await;
    let mut client = TestClient::connect(&server, "/").await?;
    client.send_raw(r#"427["events",1,2]"#).await?;
    client
        .send_raw(r#"451-8["events",{"_placeholder":true,"num":0}]"#)
        .await?;
    client.send_raw_binary(vec![9u8]).await?;
    // Acknowledgement ids the test chose are answered all the same: wait for the event form.
    client.send_raw(r#"42["respond","raw"]"#).await?;
    assert_eq!(client.wait_for("response").await?.data(), "raw");
    // An unknown packet type ends the connection.
    client.send_raw("4x").await?;
    assert_eq!(
        client.wait_for_disconnect().await?,
        Disconnect::TransportClose
    );
    Ok(())
}

#[tokio::test]
async fn the_server_handle_and_rest_routes_of_a_whole_app_are_reachable() -> anyhow::Result<()> {
    let gateways = App::new().gateway(events_gateway()).build();
    let server = gateways.server();
    let routes = axum::Router::new().route(
        "/broadcast",
        axum::routing::post(
            async |axum::extract::State(server): axum::extract::State<Server>, body: String| {
                let _ = server.of("/").emit("news", &body).await;
                (
                    http::StatusCode::CREATED,
                    axum::Json(json!({"success": true})),
                )
            },
        )
        .with_state(server.clone()),
    );
    let app = TestServer::start_router(server, gateways.into_router(routes)).await;
    assert!(app.url().starts_with("http://127.0.0.1:"));

    let mut a = TestClient::connect(&app, "/").await?;
    let mut b = TestClient::connect(&app, "/").await?;
    assert_eq!(app.server.of("/").count().await?, 2);

    let response = app
        .request(http::Request::post("/broadcast").body("hello".to_owned())?)
        .await?;
    assert_eq!(response.status, http::StatusCode::CREATED);
    assert_eq!(response.json()?, json!({"success": true}));
    assert_eq!(a.wait_for("news").await?.data(), "hello");
    assert_eq!(b.wait_for("news").await?.data(), "hello");

    let missing = app
        .request(http::Request::get("/nothing").body(String::new())?)
        .await?;
    assert_eq!(missing.status, http::StatusCode::NOT_FOUND);

    // Closing the server closes every client's connection.
    app.close().await;
    assert_eq!(a.wait_for_disconnect().await?, Disconnect::TransportClose);
    Ok(())
}

//! `Client::emit_with_ack`: the server asks a client for an acknowledgement and waits for it.
//! Spoken by hand over a raw websocket, to see the packets exactly.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iogate::client::AckError;
use iogate::{App, Client, Gateway};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_server_gets_the_clients_acknowledgement_or_a_timeout() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let gateway = Gateway::new("/").handle_connection(move |client: Client| {
        let tx = tx.clone();
        async move {
            tokio::spawn(async move {
                let answered = client
                    .emit_with_ack("question", &json!({"q": 1}), Duration::from_secs(2))
                    .await;
                let ignored = client
                    .emit_with_ack("question", &json!({"q": 2}), Duration::from_millis(200))
                    .await;
                let _ = tx.send((answered.ok(), matches!(ignored, Err(AckError::Timeout))));
            });
        }
    });
    let gateways = App::new().gateway(gateway).build();
    let router = gateways.into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(iogate::serve(listener, router, std::future::pending()));

    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    ws.next().await.unwrap().unwrap(); // open
    ws.send(Message::text("40")).await.unwrap();
    let mut answered_first = false;
    while let Some(Ok(Message::Text(frame))) = ws.next().await {
        let frame = frame.to_string();
        if let Some(rest) = frame.strip_prefix("42") {
            // `42<id>["question",{...}]`: answer the first question only.
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            assert!(
                !id.is_empty(),
                "the server asked for an acknowledgement: {frame}"
            );
            if !answered_first {
                ws.send(Message::text(format!("43{id}[\"answer\"]")))
                    .await
                    .unwrap();
                answered_first = true;
            } else {
                break;
            }
        }
    }
    let (answered, timed_out) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered, Some(json!("answer")));
    assert!(timed_out, "an unanswered request ends in a timeout");
}

/// A socket.io client emits as soon as it sees CONNECT (from its `connect` listener); the
/// event must not be lost while the server is still starting the client's dispatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_right_after_connect_is_handled() {
    let gateway = Gateway::new("/")
        .handle_connection(async |_client: Client| {
            tokio::time::sleep(Duration::from_millis(5)).await
        })
        .subscribe_message(
            "echo",
            async |iogate::Data(v): iogate::Data<serde_json::Value>| v,
        );
    let gateways = App::new().gateway(gateway).build();
    let router = gateways.into_router(axum::Router::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(iogate::serve(listener, router, std::future::pending()));
    for i in 0..40 {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.next().await.unwrap().unwrap(); // open
        ws.send(Message::text("40")).await.unwrap();
        // CONNECT (after engine.io's first ping, perhaps), then the event at once.
        loop {
            let frame = ws.next().await.unwrap().unwrap().to_string();
            if frame.starts_with("40") {
                break;
            }
        }
        ws.send(Message::text(format!("421[\"echo\",{i}]")))
            .await
            .unwrap();
        let ack = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let frame = ws.next().await.unwrap().unwrap().to_string();
                if frame.starts_with("431") {
                    return frame;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("connection {i}: the event sent right after CONNECT was lost"));
        assert_eq!(ack, format!("431[{i}]"));
    }
}

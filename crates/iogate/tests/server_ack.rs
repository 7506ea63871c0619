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

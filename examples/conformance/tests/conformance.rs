//! What the protocol suite checks of the app, through `iogate::testing`.

use std::time::Duration;

use bytes::Bytes;
use iogate::testing::{Args, TestClient, TestServer};
use serde_json::json;

#[tokio::test]
async fn the_handshake_announces_the_suites_heartbeat_and_payload_limit() -> anyhow::Result<()> {
    let server = TestServer::start(example_conformance::app()).await;
    let client = TestClient::connect(&server, "/").await?;
    let handshake = client.handshake();
    assert_eq!(handshake.ping_interval, Duration::from_millis(300));
    assert_eq!(handshake.ping_timeout, Duration::from_millis(200));
    assert_eq!(handshake.max_payload, 1_000_000);
    Ok(())
}

#[tokio::test]
async fn both_namespaces_greet_with_the_handshake_auth() -> anyhow::Result<()> {
    let server = TestServer::start(example_conformance::app()).await;
    for namespace in ["/", "/custom"] {
        let mut client = TestClient::connect(&server, namespace).await?;
        assert_eq!(client.next_event().await?.args, vec![json!({})]);
        let mut client = TestClient::connect(&server, namespace)
            .auth(json!({"token": "123"}))
            .await?;
        let auth = client.next_event().await?;
        assert_eq!(
            (auth.event.as_str(), auth.args),
            ("auth", vec![json!({"token": "123"})])
        );
    }
    Ok(())
}

#[tokio::test]
async fn messages_come_back_with_the_same_arguments_and_attachments() -> anyhow::Result<()> {
    let server = TestServer::start(example_conformance::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;
    client.wait_for("auth").await?;

    let args = Args::new().arg(1).arg("2").arg(json!({"3": [true]}));
    client.emit_args("message", args.clone()).await?;
    let back = client.wait_for("message-back").await?;
    assert_eq!(back.args, args.values);

    let files = Args::new().binary(vec![1u8, 2, 3]).binary(vec![4u8, 5, 6]);
    client.emit_args("message", files.clone()).await?;
    let back = client.wait_for("message-back").await?;
    assert_eq!((back.args, back.binaries), (files.values, files.binaries));
    Ok(())
}

#[tokio::test]
async fn acknowledgements_carry_the_same_arguments_and_attachments() -> anyhow::Result<()> {
    let server = TestServer::start(example_conformance::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    let args = Args::new().arg(1).arg("2").arg(json!({"3": [false]}));
    assert_eq!(
        client
            .emit_args_with_ack("message-with-ack", args.clone())
            .await?,
        args
    );

    let files = Args::new()
        .binary(Bytes::from_static(&[1, 2, 3]))
        .arg(json!({"nested": [{"_placeholder": true, "num": 1}]}))
        .attachment(Bytes::from_static(&[4, 5, 6]));
    assert_eq!(
        client
            .emit_args_with_ack("message-with-ack", files.clone())
            .await?,
        files
    );

    assert_eq!(
        client
            .emit_args_with_ack("message-with-ack", Args::new())
            .await?,
        Args::new()
    );
    Ok(())
}

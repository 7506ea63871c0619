//! What the client sees of failed handlers, through `iogate::testing`.

use iogate::testing::{TestClient, TestServer};
use serde_json::json;

#[tokio::test]
async fn the_default_filter_sends_nestjs_exception_event() -> anyhow::Result<()> {
    let server = TestServer::start(example_exception_filters::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    client.emit("fail", json!({"x": 1})).await?;
    assert_eq!(
        client.wait_for("exception").await?.data(),
        &json!({"status": "error", "message": "Something went wrong", "cause": {"pattern": "fail", "data": {"x": 1}}})
    );
    client.emit("object", ()).await?;
    assert_eq!(
        client.wait_for("exception").await?.data(),
        &json!({"code": "E_QUOTA", "message": "Quota exceeded"})
    );
    client.emit("internal", ()).await?;
    let internal = client.wait_for("exception").await?;
    assert_eq!(internal.data()["message"], "Internal server error");
    assert!(!internal.data().to_string().contains("database"));
    Ok(())
}

#[tokio::test]
async fn a_handler_filter_emits_error_with_the_request_id() -> anyhow::Result<()> {
    let server = TestServer::start(example_exception_filters::app()).await;
    let mut client = TestClient::connect(&server, "/").await?;

    assert_eq!(
        client
            .emit_with_ack("createMessage", json!({"text": "hi"}))
            .await?,
        json!({"text": "hi"})
    );
    client.emit("createMessage", json!({"rid": 7})).await?;
    let error = client.wait_for("error").await?;
    assert_eq!(error.data()["rid"], 7);
    assert_eq!(error.data()["message"], "text is required");
    assert!(error.data()["id"].is_string());
    Ok(())
}

#[tokio::test]
async fn a_gateway_filter_covers_its_handlers_unless_one_has_its_own() -> anyhow::Result<()> {
    let server = TestServer::start(example_exception_filters::app()).await;
    let mut client = TestClient::connect(&server, "/strict").await?;

    client.emit("fail", ()).await?;
    assert_eq!(client.wait_for("error").await?.data()["code"], 42);
    client.emit("logged", json!({"rid": "r1"})).await?;
    let error = client.wait_for("error").await?;
    assert_eq!(
        (&error.data()["rid"], &error.data()["message"]),
        (&json!("r1"), &json!("logged, then reported"))
    );
    client.emit("base", ()).await?;
    assert_eq!(
        client.wait_for("exception").await?.data()["message"],
        "as NestJS sends it"
    );
    Ok(())
}

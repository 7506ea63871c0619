//! [`Args`] over real sockets: the arguments a handler sees, exactly as the client sent them,
//! and several arguments with binary attachments sent back by every way out.

use bytes::Bytes;
use iogate::testing::{Args, TestClient, TestServer};
use iogate::{Ack, App, Client, Data, Gateway, HandlerExt, Namespace, WsException, WsResponse};
use serde::Deserialize;
use serde_json::{Value, json};

/// What a handler saw: the argument count, the values, and the attachments' sizes.
fn seen(args: &Args) -> Value {
    json!({
        "count": args.len(),
        "values": args.values,
        "sizes": args.binaries.iter().map(Bytes::len).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn a_handler_sees_the_arguments_exactly_as_sent() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("args", async |args: Args| Ack(seen(&args)))
        .subscribe_message("body", async |Data(body): Data<Value>| body);
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = TestClient::connect(&server, "/").await?;

    // `emit('e', [1, 2])` and `emit('e', 1, 2)` are one body to Data, two lists to Args.
    let one_list = Args::new().arg(json!([1, 2]));
    let two = Args::new().arg(1).arg(2);
    for sent in [&one_list, &two] {
        let body = client.emit_args_with_ack("body", sent.clone()).await?;
        assert_eq!(body.data(), &json!([1, 2]));
    }
    let ack = client.emit_args_with_ack("args", one_list).await?;
    assert_eq!(
        ack.data(),
        &json!({"count": 1, "values": [[1, 2]], "sizes": []})
    );
    let ack = client.emit_args_with_ack("args", two).await?;
    assert_eq!(
        ack.data(),
        &json!({"count": 2, "values": [1, 2], "sizes": []})
    );
    let ack = client.emit_args_with_ack("args", Args::new()).await?;
    assert_eq!(ack.data(), &json!({"count": 0, "values": [], "sizes": []}));

    // Binary arguments, and an attachment nested in an argument, with their placeholders.
    let files = Args::new()
        .arg(json!({"name": "a.bin", "thumb": {"_placeholder": true, "num": 1}}))
        .binary(vec![0u8; 3])
        .attachment(vec![0u8; 5]);
    let ack = client.emit_args_with_ack("args", files).await?;
    assert_eq!(
        ack.data(),
        &json!({
            "count": 2,
            "values": [
                {"name": "a.bin", "thumb": {"_placeholder": true, "num": 1}},
                {"_placeholder": true, "num": 0}
            ],
            "sizes": [3, 5]
        })
    );
    Ok(())
}

#[tokio::test]
async fn decoded_arguments_and_binary_ones_reach_the_handler_and_mistakes_the_client()
-> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Upload {
        name: String,
    }
    let gateway = Gateway::new("/").subscribe_message("upload", async |args: Args| {
        let (upload, _file): (Upload, Value) = args.decode()?;
        let file = args
            .binary_at(1)
            .ok_or_else(|| WsException::new("the second argument must be a file"))?;
        Ok::<_, WsException>(Ack(json!({"name": upload.name, "size": file.len()})))
    });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = TestClient::connect(&server, "/").await?;

    let upload = Args::new()
        .arg(json!({"name": "a.png"}))
        .binary(vec![1u8, 2, 3, 4]);
    assert_eq!(
        client.emit_args_with_ack("upload", upload).await?.data(),
        &json!({"name": "a.png", "size": 4})
    );

    // Too few arguments, and a second one that is not a file.
    client
        .emit_args("upload", Args::new().arg(json!({"name": "a.png"})))
        .await?;
    let refused = client.wait_for("exception").await?;
    assert!(
        refused.data()["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid message body: invalid length 1"),
        "{refused:?}"
    );
    client
        .emit_args(
            "upload",
            Args::new().arg(json!({"name": "a.png"})).arg("not a file"),
        )
        .await?;
    let refused = client.wait_for("exception").await?;
    assert_eq!(
        refused.data()["message"],
        "the second argument must be a file"
    );
    Ok(())
}

#[tokio::test]
async fn after_a_pipe_the_arguments_are_its_body() -> anyhow::Result<()> {
    let unchanged = |body: Option<Value>| Ok::<_, WsException>(body);
    let first_only = |body: Option<Value>| {
        Ok::<_, WsException>(match body {
            Some(Value::Array(mut items)) if !items.is_empty() => Some(items.remove(0)),
            other => other,
        })
    };
    let gateway = Gateway::new("/")
        .subscribe_message("unchanged", (async |args: Args| args).pipe(unchanged))
        .subscribe_message("first", (async |args: Args| args).pipe(first_only));
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = TestClient::connect(&server, "/").await?;

    for sent in [
        Args::new().arg(1).arg(2),
        Args::new().arg(json!([1, 2])),
        Args::new().arg(1),
        Args::new(),
    ] {
        assert_eq!(
            client.emit_args_with_ack("unchanged", sent.clone()).await?,
            sent
        );
    }
    assert_eq!(
        client
            .emit_args_with_ack("first", Args::new().arg(1).arg(2))
            .await?,
        Args::new().arg(1)
    );
    Ok(())
}

#[tokio::test]
async fn several_arguments_and_attachments_go_out_by_ack_response_emit_and_broadcast()
-> anyhow::Result<()> {
    let reply = || {
        Args::new()
            .arg("report")
            .binary(Bytes::from_static(b"\x00\xff"))
            .arg(json!({"preview": {"_placeholder": true, "num": 1}}))
            .attachment(Bytes::from_static(b"png"))
    };
    let gateway = Gateway::new("/")
        .subscribe_message("echo", async |args: Args| args)
        .subscribe_message("ack", move || async move { Ack(reply()) })
        .subscribe_message("respond", move || async move {
            WsResponse::new("report", reply())
        })
        .subscribe_message("emit", move |client: Client| async move {
            client.emit("report", &reply())
        })
        .subscribe_message("broadcast", move |ns: Namespace| async move {
            ns.emit("report", &reply()).await
        });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut client = TestClient::connect(&server, "/").await?;
    let mut other = TestClient::connect(&server, "/").await?;

    // An acknowledgement with the arguments as they came: none, one list, several, binaries.
    for sent in [
        Args::new(),
        Args::new().arg(json!([1, 2])),
        Args::new().arg(1).arg("two").arg(Value::Null),
        reply(),
    ] {
        assert_eq!(client.emit_args_with_ack("echo", sent.clone()).await?, sent);
    }
    assert_eq!(
        client.emit_args_with_ack("ack", Args::new()).await?,
        reply()
    );

    let expected = reply();
    for way in ["respond", "emit"] {
        client.emit_args(way, Args::new()).await?;
        let event = client.wait_for("report").await?;
        assert_eq!(
            (event.args, event.binaries),
            (expected.values.clone(), expected.binaries.clone()),
            "{way}"
        );
    }
    client.emit_args("broadcast", Args::new()).await?;
    for receiver in [&mut client, &mut other] {
        let event = receiver.wait_for("report").await?;
        assert_eq!(
            (event.args, event.binaries),
            (expected.values.clone(), expected.binaries.clone())
        );
    }
    Ok(())
}

//! The framework's contract, over real sockets: gateways defined here, served on 127.0.0.1:0
//! and driven with `iogate::testing`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iogate::testing::{Args, ClientError, ConnectError, Disconnect, TestClient, TestServer};
use iogate::{
    Ack, App, BaseExceptionFilter, Client, Context, Data, DisconnectReason, Exception, Extension,
    ForwardedHeader, Gateway, HandlerExt, Namespace, Options, Server, State, TrustedProxies,
    WsException, WsResponse,
};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn returned_values_become_acks_responses_emits_and_unit_nothing() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("echo", async |Data(v): Data<Value>| v)
        .subscribe_message("respond", async |Data(v): Data<Value>| {
            WsResponse::new("reply", v)
        })
        .subscribe_message("nothing", async || ())
        .subscribe_message("none", async || None::<String>)
        .subscribe_message("struct", async || Ack(json!({"ok": true})));
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;

    let text = json!({"a": [1, "é🌍"]});
    assert_eq!(
        c.emit_args_with_ack("echo", Args::new().arg(&text)).await?,
        Args::new().arg(&text)
    );
    // Several arguments reach the handler as one array, as in NestJS.
    assert_eq!(
        c.emit_args_with_ack("echo", Args::new().arg(1).arg(2))
            .await?,
        Args::new().arg(json!([1, 2]))
    );
    assert_eq!(
        c.emit_args_with_ack("struct", Args::new()).await?,
        Args::new().arg(json!({"ok": true}))
    );

    // A WsResponse is emitted, and no acknowledgement is sent.
    let respond = c
        .emit_args_with_ack_id("respond", Args::new().arg("x"))
        .await?;
    let reply = c.next_event().await?;
    assert_eq!(
        (reply.event.as_str(), reply.args),
        ("reply", vec![json!("x")])
    );
    assert_eq!(c.ack_within(respond, QUIET).await?, None);
    assert!(c.next_event_within(Duration::ZERO).await?.is_none());

    // A plain value without an ack request, (), None and null send nothing.
    c.emit("echo", 1).await?;
    let asked = [
        c.emit_args_with_ack_id("echo", Args::new().arg(Value::Null))
            .await?,
        c.emit_args_with_ack_id("echo", Args::new()).await?,
        c.emit_args_with_ack_id("nothing", Args::new()).await?,
        c.emit_args_with_ack_id("none", Args::new()).await?,
    ];
    assert!(c.next_event_within(QUIET).await?.is_none());
    for id in asked {
        assert_eq!(c.ack_within(id, Duration::ZERO).await?, None, "ack {id}");
    }
    Ok(())
}

/// As socket.io throws on `emit("connect")`: a client would take a reserved name for the
/// protocol's own event, so iogate sends nothing and says why.
#[tokio::test]
async fn reserved_event_names_are_refused_and_nothing_is_sent() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("emit", async |client: Client| {
            client.emit("connect", &1).unwrap_err().to_string()
        })
        .subscribe_message("respond", async || WsResponse::new("disconnect", 1));
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;

    assert_eq!(
        c.emit_with_ack("emit", ()).await?,
        json!("\"connect\" is a reserved event name")
    );
    let respond = c.emit_args_with_ack_id("respond", Args::new()).await?;
    assert_eq!(c.ack_within(respond, QUIET).await?, None);
    let ns = server.server.of("/");
    for event in iogate::client::RESERVED_EVENTS {
        let refused = ns.emit(event, &1).await.unwrap_err();
        assert!(
            matches!(&refused, iogate::BroadcastError::Reserved(e) if e == event),
            "{refused}"
        );
    }
    assert!(ns.server_side_emit("newListener", &1).await.is_err());
    // Nothing reached the client, which is still connected and served.
    assert!(c.next_event_within(QUIET).await?.is_none());
    assert_eq!(
        c.emit_with_ack("emit", ()).await?,
        json!("\"connect\" is a reserved event name")
    );
    Ok(())
}

#[tokio::test]
async fn errors_reach_the_client_in_nestjs_exception_envelope() -> anyhow::Result<()> {
    let gateway = Gateway::new("/")
        .subscribe_message("ws", async || -> Result<(), WsException> {
            Err(WsException::new("nope"))
        })
        .subscribe_message("object", async || -> Result<(), WsException> {
            Err(WsException::object(json!({"code": 42})))
        })
        .subscribe_message("internal", async || -> Result<(), Exception> {
            Err(std::io::Error::other("database password is hunter2").into())
        })
        .subscribe_message("typed", async |Data(n): Data<u32>| n);
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;

    c.emit_args_with_ack_id("ws", Args::new().arg(json!({"x": 1})))
        .await?;
    assert_eq!(
        c.wait_for("exception").await?.args,
        vec![
            json!({"status": "error", "message": "nope", "cause": {"pattern": "ws", "data": {"x": 1}}})
        ]
    );
    c.emit_args("object", Args::new()).await?;
    assert_eq!(
        c.wait_for("exception").await?.args,
        vec![json!({"code": 42})]
    );
    c.emit_args("internal", Args::new()).await?;
    let e = c.wait_for("exception").await?;
    assert_eq!(e.data()["message"], "Internal server error");
    assert!(!e.data().to_string().contains("hunter2"));
    // No argument: `cause` has no `data`, as NestJS (undefined is not serialised).
    assert_eq!(e.data()["cause"], json!({"pattern": "internal"}));

    c.emit_args_with_ack_id("typed", Args::new().arg("seven"))
        .await?;
    let e = c.wait_for("exception").await?;
    assert_eq!(
        e.data()["message"],
        "Invalid message body: invalid type: string \"seven\", expected u32"
    );
    assert_eq!(e.data()["cause"]["pattern"], "typed");
    // The failed event got no acknowledgement, and the client is still served.
    assert_eq!(
        c.emit_args_with_ack("typed", Args::new().arg(7)).await?,
        Args::new().arg(7)
    );
    Ok(())
}

#[tokio::test]
async fn guards_refuse_with_forbidden_resource_and_pipes_transform_or_refuse() -> anyhow::Result<()>
{
    let deny = |_: &Context| false;
    let double = |body: Option<Value>| -> Result<Option<Value>, WsException> {
        match body.and_then(|b| b.as_i64()) {
            Some(n) => Ok(Some(json!(n * 2))),
            None => Err(WsException::new("a number, please")),
        }
    };
    let open = Gateway::new("/")
        .subscribe_message("guarded", (async || "secret").guard(deny))
        .subscribe_message("double", (async |Data(n): Data<i64>| n).pipe(double));
    let closed = Gateway::new("/closed")
        .guard(deny)
        .subscribe_message("anything", async || "secret");
    let server = TestServer::start(App::new().gateway(open).gateway(closed)).await;

    let mut c = TestClient::connect(&server, "/").await?;
    c.emit_args_with_ack_id("guarded", Args::new()).await?;
    assert_eq!(
        c.wait_for("exception").await?.data(),
        &json!({"status": "error", "message": "Forbidden resource", "cause": {"pattern": "guarded"}})
    );
    assert_eq!(
        c.emit_args_with_ack("double", Args::new().arg(21)).await?,
        Args::new().arg(42)
    );
    c.emit_args_with_ack_id("double", Args::new().arg("x"))
        .await?;
    assert_eq!(
        c.wait_for("exception").await?.data()["message"],
        "a number, please"
    );

    let mut c = TestClient::connect(&server, "/closed").await?;
    c.emit_args_with_ack_id("anything", Args::new()).await?;
    assert_eq!(
        c.wait_for("exception").await?.data()["message"],
        "Forbidden resource"
    );
    Ok(())
}

#[tokio::test]
async fn a_handler_filter_replaces_the_gateway_filter() -> anyhow::Result<()> {
    let to_error = |e: &Exception, cx: &Context| {
        let _ = cx.client().emit(
            "error",
            &json!({"id": cx.client().id(), "message": e.to_client().to_string()}),
        );
    };
    let gateway_filter = |e: &Exception, cx: &Context| {
        let _ = cx
            .client()
            .emit("gatewayError", &BaseExceptionFilter::payload(e, cx));
    };
    let fail = async || -> Result<(), WsException> { Err(WsException::new("bad")) };
    let gateway = Gateway::new("/")
        .filter(gateway_filter)
        .subscribe_message("own", fail.filter(to_error))
        .subscribe_message("shared", fail);
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;

    c.emit_args("own", Args::new()).await?;
    let error = c.next_event().await?;
    assert_eq!(error.event, "error");
    assert_eq!(error.data()["message"], "bad");
    assert_eq!(error.data()["id"].as_str().unwrap().len(), 20);
    c.emit_args("shared", Args::new()).await?;
    assert_eq!(c.wait_for("gatewayError").await?.data()["message"], "bad");
    Ok(())
}

#[tokio::test]
async fn middleware_refuses_with_connect_error_and_hooks_run_in_order() -> anyhow::Result<()> {
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let gateway = Gateway::new("/private")
        .middleware(async |client: Client| {
            match client.auth().get("pass").and_then(Value::as_str) {
                Some("open sesame") => {
                    client.insert(String::from("checked"));
                    Ok(())
                }
                _ => Err(WsException::new("Authentication error")),
            }
        })
        .handle_connection(move |client: Client| {
            let log = l1.clone();
            async move {
                // Slow on purpose: the first event must still wait for it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                log.lock()
                    .unwrap()
                    .push(format!("connected {}", client.get::<String>().unwrap()));
            }
        })
        .handle_disconnect(move |client: Client, reason: DisconnectReason| {
            let log = l2.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("left {reason} rooms={:?}", client.rooms()));
            }
        })
        .subscribe_message("join", async |client: Client| client.join("lobby"))
        .subscribe_message("hello", move || {
            let log = l3.clone();
            async move { log.lock().unwrap().push("hello".into()) }
        });
    let server = TestServer::start(App::new().gateway(gateway)).await;

    let refused = TestClient::connect(&server, "/private")
        .auth(json!({"pass": "nope"}))
        .await;
    match refused {
        Err(ConnectError::Refused { message, data }) => {
            assert_eq!((message.as_str(), data), ("Authentication error", None));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    let mut c = TestClient::connect(&server, "/private")
        .auth(json!({"pass": "open sesame"}))
        .await?;
    c.emit_args("hello", Args::new()).await?;
    c.emit_args("join", Args::new()).await?;
    c.send_raw("41/private,").await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "connected checked",
            "hello",
            "left client namespace disconnect rooms=[\"lobby\"]"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_clients_events_are_handled_in_the_order_it_sent_them() -> anyhow::Result<()> {
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let s = seen.clone();
    let gateway = Gateway::new("/").subscribe_message("seq", move |Data(n): Data<u64>| {
        let seen = s.clone();
        async move {
            // Uneven work: without per-client ordering, later events would overtake.
            if n % 7 == 0 {
                tokio::task::yield_now().await;
            }
            seen.lock().unwrap().push(n);
            n
        }
    });
    let server = TestServer::start(
        App::new()
            .options(
                iogate::Options::default().limits(
                    iogate::Limits::default()
                        .max_pending_events(10_000)
                        .event_burst(10_000),
                ),
            )
            .gateway(gateway),
    )
    .await;
    let mut c = TestClient::connect(&server, "/").await?;
    const N: u64 = 5_000;
    let mut asked = Vec::new();
    for n in 0..N {
        asked.push(c.emit_args_with_ack_id("seq", Args::new().arg(n)).await?);
    }
    for (n, id) in (0..N).zip(asked) {
        assert_eq!(c.wait_for_ack(id).await?, Args::new().arg(n));
    }
    assert_eq!(*seen.lock().unwrap(), (0..N).collect::<Vec<_>>());
    Ok(())
}

/// An async guard that sleeps longer on earlier events: were events not queued per client, the
/// later ones would pass their guard first and overtake.
#[tokio::test]
async fn a_guard_that_awaits_keeps_a_clients_events_in_order_and_can_refuse() -> anyhow::Result<()>
{
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let s = seen.clone();
    let slow_lookup = iogate::guard::from_fn(|cx: Context| async move {
        let n = cx.body_as::<u64>().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(5 * (10 - n.min(10)))).await;
        // The permission service refuses 13.
        n != 13
    });
    let handler = move |Data(n): Data<u64>| {
        let seen = s.clone();
        async move {
            seen.lock().unwrap().push(n);
            n
        }
    };
    let gateway = Gateway::new("/").subscribe_message("seq", handler.guard(slow_lookup));
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;
    let mut asked = Vec::new();
    for n in 0..15u64 {
        asked.push(c.emit_args_with_ack_id("seq", Args::new().arg(n)).await?);
    }
    for (n, id) in (0..15u64).zip(asked) {
        if n == 13 {
            let refused = c.wait_for("exception").await?;
            assert_eq!(refused.data()["message"], "Forbidden resource");
            assert_eq!(c.ack_within(id, QUIET).await?, None);
        } else {
            assert_eq!(c.wait_for_ack(id).await?, Args::new().arg(n));
        }
    }
    let expected: Vec<u64> = (0..15).filter(|n| *n != 13).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    Ok(())
}

#[tokio::test]
async fn the_server_handle_reaches_rooms_users_and_clients_by_public_id() -> anyhow::Result<()> {
    let gateway = Gateway::new("/events")
        .middleware(async |client: Client| {
            let user = client.auth()["user"].as_str().unwrap_or("anon").to_owned();
            client.set_user(user).map_err(Exception::from)
        })
        .subscribe_message("whoami", async |client: Client| client.id().to_owned())
        .subscribe_message("join", async |Data(room): Data<String>, client: Client| {
            client.join(room)
        })
        .subscribe_message(
            "shout",
            async |Data(text): Data<String>, client: Client, ns: Namespace| {
                ns.to("lobby")
                    .except_client(client.id())
                    .emit("shout", &text)
                    .await
            },
        );
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let connect = |user: &str| TestClient::connect(&server, "/events").auth(json!({"user": user}));
    let mut alice1 = connect("alice").await?;
    let mut alice2 = connect("alice").await?;
    let mut bob = connect("bob").await?;

    let whoami = bob.emit_args_with_ack("whoami", Args::new()).await?;
    let bob_id = whoami.data().as_str().unwrap().to_owned();
    assert_ne!(
        bob_id,
        bob.handshake().sid,
        "the public id is not the session id"
    );

    let events = server.server.of("/events");
    assert_eq!(events.count().await?, 3);
    assert!(events.client_ids().contains(&bob_id));

    events
        .to_user("alice")
        .emit("notification", &json!({"text": "hi"}))
        .await?;
    assert_eq!(
        alice1.wait_for("notification").await?.args,
        vec![json!({"text": "hi"})]
    );
    assert_eq!(
        alice2.wait_for("notification").await?.args,
        vec![json!({"text": "hi"})]
    );
    events.to_client(&bob_id).emit("direct", "only bob").await?;
    assert_eq!(bob.wait_for("direct").await?.args, vec![json!("only bob")]);
    assert!(bob.next_event_within(QUIET).await?.is_none());
    assert!(alice1.next_event_within(Duration::ZERO).await?.is_none());

    // Server-side joins, then a broadcast that leaves out the sender.
    events.to_user("alice").join("lobby").await?;
    bob.emit("join", "lobby").await?;
    tokio::time::sleep(QUIET).await;
    assert_eq!(events.rooms().await?, vec!["lobby".to_owned()]);
    bob.emit("shout", "hey").await?;
    assert_eq!(alice1.wait_for("shout").await?.args, vec![json!("hey")]);
    assert_eq!(alice2.wait_for("shout").await?.args, vec![json!("hey")]);
    assert!(bob.next_event_within(QUIET).await?.is_none());

    // Clients cannot join iogate's own rooms.
    bob.emit_args_with_ack_id("join", Args::new().arg("$user:alice"))
        .await?;
    assert_eq!(
        bob.wait_for("exception").await?.data()["message"],
        "Room names starting with '$' are reserved"
    );

    events.to_user("alice").disconnect().await?;
    match alice1.next_event().await {
        Err(ClientError::Closed(Disconnect::ServerNamespace)) => {}
        other => panic!("expected the server's disconnection, got {other:?}"),
    }
    assert_eq!(events.count().await?, 1);
    Ok(())
}

#[tokio::test]
async fn state_and_extensions_are_extracted_and_a_missing_extension_is_forbidden()
-> anyhow::Result<()> {
    #[derive(Clone)]
    struct Greeting(&'static str);
    let gateway = Gateway::new("/")
        .subscribe_message("greet", async |State(g): State<Greeting>| g.0)
        .subscribe_message("login", async |client: Client| client.insert(42u32))
        .subscribe_message("me", async |Extension(n): Extension<u32>| n)
        .subscribe_message("server", async |server: Server| {
            server.state::<Greeting>().is_some()
        });
    let server = TestServer::start(App::new().state(Greeting("hello")).gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;
    assert_eq!(
        c.emit_args_with_ack("greet", Args::new()).await?,
        Args::new().arg("hello")
    );
    c.emit_args_with_ack_id("me", Args::new()).await?;
    assert_eq!(
        c.wait_for("exception").await?.data()["message"],
        "Forbidden resource"
    );
    c.emit_args("login", Args::new()).await?;
    assert_eq!(
        c.emit_args_with_ack("me", Args::new()).await?,
        Args::new().arg(42)
    );
    assert_eq!(
        c.emit_args_with_ack("server", Args::new()).await?,
        Args::new().arg(true)
    );
    Ok(())
}

#[tokio::test]
async fn gateways_can_share_a_namespace_and_after_init_gets_the_server() -> anyhow::Result<()> {
    let inited = Arc::new(Mutex::new(false));
    let flag = inited.clone();
    let a = Gateway::new("/shared")
        .after_init(move |_server: Server| *flag.lock().unwrap() = true)
        .subscribe_message("a", async || "from a");
    let b = Gateway::new("/shared").subscribe_message("b", async || "from b");
    let server = TestServer::start(App::new().gateway(a).gateway(b)).await;
    assert!(*inited.lock().unwrap());
    let mut c = TestClient::connect(&server, "/shared").await?;
    assert_eq!(
        c.emit_args_with_ack("a", Args::new()).await?,
        Args::new().arg("from a")
    );
    assert_eq!(
        c.emit_args_with_ack("b", Args::new()).await?,
        Args::new().arg("from b")
    );
    Ok(())
}

#[test]
#[should_panic(expected = "two handlers for the event \"a\"")]
fn two_handlers_for_one_event_of_one_namespace_is_a_startup_error() {
    let _ = App::new()
        .gateway(Gateway::new("/").subscribe_message("a", async || ()))
        .gateway(Gateway::new("/").subscribe_message("a", async || ()))
        .build();
}

#[tokio::test]
async fn too_many_pending_events_are_refused_and_the_client_kept() -> anyhow::Result<()> {
    let gateway = Gateway::new("/").subscribe_message("slow", async |Data(n): Data<u32>| {
        tokio::time::sleep(Duration::from_millis(if n == 0 { 300 } else { 0 })).await;
        n
    });
    let server = TestServer::start(
        App::new()
            .options(iogate::Options::default().max_pending_events(4))
            .gateway(gateway),
    )
    .await;
    let mut c = TestClient::connect(&server, "/").await?;
    let mut asked = Vec::new();
    for n in 0..10 {
        asked.push(c.emit_args_with_ack_id("slow", Args::new().arg(n)).await?);
    }
    // Read until a second passes without anything new: refusals come as events, and the
    // acknowledgements are kept meanwhile.
    let mut refusals = 0;
    while let Some(event) = c.next_event_within(Duration::from_secs(1)).await? {
        assert_eq!(event.event, "exception", "{event:?}");
        assert_eq!(event.data()["message"], "Too many requests");
        refusals += 1;
    }
    let mut acks = Vec::new();
    for id in asked {
        if let Some(ack) = c.ack_within(id, Duration::ZERO).await? {
            acks.push(ack.data().as_u64().unwrap());
        }
    }
    assert_eq!(acks.len() + refusals, 10);
    assert!(refusals >= 1, "the queue limit refused nothing");
    assert_eq!(acks[0], 0);
    assert_eq!(
        c.emit_args_with_ack("slow", Args::new().arg(9)).await?,
        Args::new().arg(9)
    );
    Ok(())
}

#[tokio::test]
async fn closing_the_server_finishes_running_handlers_then_runs_the_disconnect_hooks()
-> anyhow::Result<()> {
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let gateway = Gateway::new("/")
        .subscribe_message("slow", move || {
            let log = l1.clone();
            async move {
                log.lock().unwrap().push("slow started".into());
                tokio::time::sleep(Duration::from_millis(300)).await;
                log.lock().unwrap().push("slow done".into());
                "done"
            }
        })
        .handle_disconnect(move |_: Client, reason: DisconnectReason| {
            let log = l2.clone();
            async move { log.lock().unwrap().push(format!("left: {reason}")) }
        });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut busy = TestClient::connect(&server, "/").await?;
    let mut idle = TestClient::connect(&server, "/").await?;
    let asked = busy.emit_args_with_ack_id("slow", Args::new()).await?;
    while !log.lock().unwrap().contains(&"slow started".to_owned()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let handle = server.server.clone();
    let closing = tokio::spawn(async move { handle.close().await });
    // Events sent once the server is closing are dropped: no handler starts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    idle.emit_args("slow", Args::new()).await?;
    tokio::time::timeout(Duration::from_secs(3), closing).await??;

    // The running handler finished and its acknowledgement went out before the connection
    // closed; then each client's disconnect hook ran, once.
    assert_eq!(
        busy.ack_within(asked, Duration::from_secs(1)).await?,
        Some(Args::new().arg("done"))
    );
    assert_eq!(
        busy.wait_for_disconnect().await?,
        Disconnect::TransportClose
    );
    assert_eq!(
        idle.wait_for_disconnect().await?,
        Disconnect::TransportClose
    );
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "slow started",
            "slow done",
            "left: server shutting down",
            "left: server shutting down"
        ]
    );
    let late = TestClient::connect(&server, "/").await;
    assert!(late.is_err(), "a closed server accepted a client: {late:?}");
    Ok(())
}

/// Long-polls `sid` until a response names `needle`; returns that response.
async fn poll_until(
    server: &TestServer,
    sid: &str,
    gzip: bool,
    needle: &str,
) -> anyhow::Result<iogate::testing::TestResponse> {
    for _ in 0..10 {
        let mut get = http::Request::get(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
        if gzip {
            get = get.header("accept-encoding", "gzip");
        }
        let response = server.request(get.body(String::new())?).await?;
        let gzipped = response.headers.get("content-encoding").is_some();
        let text = if gzipped {
            use std::io::Read as _;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&response.bytes[..]).read_to_string(&mut text)?;
            text
        } else {
            response.body.clone()
        };
        if text.contains(needle) {
            return Ok(response);
        }
    }
    anyhow::bail!("no polling response with {needle}")
}

#[tokio::test]
async fn long_polling_responses_over_the_threshold_are_gzipped_for_clients_that_accept_it()
-> anyhow::Result<()> {
    let big = "x".repeat(4000);
    let gateway = Gateway::new("/").subscribe_message("big", move |client: Client| {
        let big = big.clone();
        async move { client.emit("big", &big) }
    });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let open = server
        .request(http::Request::get("/socket.io/?EIO=4&transport=polling").body(String::new())?)
        .await?;
    // The handshake is below the threshold: sent as is.
    assert!(open.headers.get("content-encoding").is_none());
    let sid = open
        .body
        .split('"')
        .nth(3)
        .expect("a session id")
        .to_owned();
    let post = |body: &str| {
        http::Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .body(body.to_owned())
    };
    server.request(post("40")?).await?;
    poll_until(&server, &sid, false, "40").await?;

    server.request(post(r#"42["big"]"#)?).await?;
    let gzipped = poll_until(&server, &sid, true, "xxxx").await?;
    assert_eq!(gzipped.headers.get("content-encoding").unwrap(), "gzip");
    assert!(gzipped.bytes.len() < 200, "{} bytes", gzipped.bytes.len());

    server.request(post(r#"42["big"]"#)?).await?;
    let plain = poll_until(&server, &sid, false, "xxxx").await?;
    assert!(plain.headers.get("content-encoding").is_none());
    assert!(plain.body.len() > 4000);
    Ok(())
}

#[tokio::test]
async fn a_handler_or_guard_that_panics_costs_the_client_one_internal_error_not_its_connection()
-> anyhow::Result<()> {
    let disconnects = Arc::new(Mutex::new(0));
    let seen = disconnects.clone();
    let gateway = Gateway::new("/")
        .subscribe_message("boom", async |Data(v): Data<Value>| -> Value {
            panic!("the handler broke on {v}")
        })
        .subscribe_message(
            "guarded",
            (async || "unreachable").guard(|_: &Context| -> bool { panic!("the guard broke") }),
        )
        .subscribe_message("echo", async |Data(v): Data<Value>| v)
        .handle_disconnect(move |_: Client, _: DisconnectReason| {
            let seen = seen.clone();
            async move {
                *seen.lock().unwrap() += 1;
                panic!("the disconnect hook broke");
            }
        });
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut c = TestClient::connect(&server, "/").await?;

    for event in ["boom", "guarded"] {
        c.emit_args_with_ack_id(event, Args::new().arg(1)).await?;
        let e = c.wait_for("exception").await?;
        assert_eq!(e.data()["message"], "Internal server error", "{event}");
        assert!(!e.data().to_string().contains("broke"), "{event}");
        // The same client is still connected and served, in order.
        assert_eq!(
            c.emit_args_with_ack("echo", Args::new().arg(event)).await?,
            Args::new().arg(event)
        );
    }
    // A panicking disconnect hook still lets the client leave the namespace.
    c.close().await;
    let started = std::time::Instant::now();
    while server.server.of("/").count().await? > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the client never left"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*disconnects.lock().unwrap(), 1);
    Ok(())
}

#[tokio::test]
async fn a_client_address_is_its_own_unless_a_trusted_proxy_names_another() -> anyhow::Result<()> {
    let gateway = || {
        Gateway::new("/").subscribe_message("whoami", async |client: Client| {
            client.address().map(|ip| ip.to_string())
        })
    };
    let whoami = async |server: &TestServer| -> anyhow::Result<Args> {
        let mut c = TestClient::connect(server, "/")
            .header("x-forwarded-for", "203.0.113.50, 198.51.100.7")
            .await?;
        Ok(c.emit_args_with_ack("whoami", Args::new()).await?)
    };
    // No proxy trusted (the default): whatever the client claims, its own address.
    let server = TestServer::start(App::new().gateway(gateway())).await;
    assert_eq!(whoami(&server).await?, Args::new().arg("127.0.0.1"));
    // The loopback trusted as a proxy: the rightmost hop it names.
    let proxies = TrustedProxies::parse(["127.0.0.1"], ForwardedHeader::XForwardedFor)
        .map_err(anyhow::Error::msg)?;
    let app = App::new()
        .options(Options::default().trusted_proxies(proxies))
        .gateway(gateway());
    let server = TestServer::start(app).await;
    assert_eq!(whoami(&server).await?, Args::new().arg("198.51.100.7"));
    Ok(())
}

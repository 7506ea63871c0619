//! The framework's contract, over real sockets: gateways defined here, served on 127.0.0.1:0.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Received, TestClient, serve};
use iogate::{
    Ack, App, BaseExceptionFilter, Client, Context, Data, DisconnectReason, Exception, Extension,
    Gateway, HandlerExt, Namespace, Server, State, WsException, WsResponse,
};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

async fn connect(addr: &str, ns: &str) -> TestClient {
    TestClient::connect(addr, ns, None)
        .await
        .expect("connected")
}

#[tokio::test]
async fn returned_values_become_acks_responses_emits_and_unit_nothing() {
    let gateway = Gateway::new("/")
        .subscribe_message("echo", async |Data(v): Data<Value>| v)
        .subscribe_message("respond", async |Data(v): Data<Value>| {
            WsResponse::new("reply", v)
        })
        .subscribe_message("nothing", async || ())
        .subscribe_message("none", async || None::<String>)
        .subscribe_message("struct", async || Ack(json!({"ok": true})));
    let (addr, _) = serve(App::new().gateway(gateway)).await;
    let mut c = connect(&addr, "/").await;

    assert_eq!(
        c.call("echo", &[json!({"a": [1, "é🌍"]})]).await,
        vec![json!({"a": [1, "é🌍"]})]
    );
    // Several arguments reach the handler as one array, as in NestJS.
    assert_eq!(
        c.call("echo", &[json!(1), json!(2)]).await,
        vec![json!([1, 2])]
    );
    assert_eq!(c.call("struct", &[]).await, vec![json!({"ok": true})]);

    // A WsResponse is emitted, and no acknowledgement is sent.
    c.emit_ack("respond", &[json!("x")]).await;
    assert_eq!(
        c.next().await,
        Some(Received::Event("reply".into(), vec![json!("x")]))
    );
    c.assert_silent(QUIET).await;

    // A plain value without an ack request, (), None and null send nothing.
    c.emit("echo", &[json!(1)]).await;
    c.emit_ack("echo", &[json!(null)]).await;
    c.emit_ack("echo", &[]).await;
    c.emit_ack("nothing", &[]).await;
    c.emit_ack("none", &[]).await;
    c.assert_silent(QUIET).await;
}

#[tokio::test]
async fn errors_reach_the_client_in_nestjs_exception_envelope() {
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
    let (addr, _) = serve(App::new().gateway(gateway)).await;
    let mut c = connect(&addr, "/").await;

    c.emit_ack("ws", &[json!({"x": 1})]).await;
    assert_eq!(
        c.event("exception").await,
        vec![
            json!({"status": "error", "message": "nope", "cause": {"pattern": "ws", "data": {"x": 1}}})
        ]
    );
    c.emit("object", &[]).await;
    assert_eq!(c.event("exception").await, vec![json!({"code": 42})]);
    c.emit("internal", &[]).await;
    let e = c.event("exception").await;
    assert_eq!(e[0]["message"], "Internal server error");
    assert!(!e[0].to_string().contains("hunter2"));
    // No argument: `cause` has no `data`, as NestJS (undefined is not serialised).
    assert_eq!(e[0]["cause"], json!({"pattern": "internal"}));

    c.emit_ack("typed", &[json!("seven")]).await;
    let e = c.event("exception").await;
    assert_eq!(
        e[0]["message"],
        "Invalid message body: invalid type: string \"seven\", expected u32"
    );
    assert_eq!(e[0]["cause"]["pattern"], "typed");
    // The failed event got no acknowledgement, and the client is still served.
    assert_eq!(c.call("typed", &[json!(7)]).await, vec![json!(7)]);
}

#[tokio::test]
async fn guards_refuse_with_forbidden_resource_and_pipes_transform_or_refuse() {
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
    let (addr, _) = serve(App::new().gateway(open).gateway(closed)).await;

    let mut c = connect(&addr, "/").await;
    c.emit_ack("guarded", &[]).await;
    let e = c.event("exception").await;
    assert_eq!(
        e[0],
        json!({"status": "error", "message": "Forbidden resource", "cause": {"pattern": "guarded"}})
    );
    assert_eq!(c.call("double", &[json!(21)]).await, vec![json!(42)]);
    c.emit_ack("double", &[json!("x")]).await;
    assert_eq!(c.event("exception").await[0]["message"], "a number, please");

    let mut c = connect(&addr, "/closed").await;
    c.emit_ack("anything", &[]).await;
    assert_eq!(
        c.event("exception").await[0]["message"],
        "Forbidden resource"
    );
}

#[tokio::test]
async fn a_handler_filter_replaces_the_gateway_filter() {
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
    let (addr, _) = serve(App::new().gateway(gateway)).await;
    let mut c = connect(&addr, "/").await;

    c.emit("own", &[]).await;
    let Some(Received::Event(name, args)) = c.next().await else {
        panic!()
    };
    assert_eq!(name, "error");
    assert_eq!(args[0]["message"], "bad");
    assert_eq!(args[0]["id"].as_str().unwrap().len(), 20);
    c.emit("shared", &[]).await;
    assert_eq!(c.event("gatewayError").await[0]["message"], "bad");
}

#[tokio::test]
async fn middleware_refuses_with_connect_error_and_hooks_run_in_order() {
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
    let (addr, _) = serve(App::new().gateway(gateway)).await;

    let refused = TestClient::connect(&addr, "/private", Some(json!({"pass": "nope"}))).await;
    assert_eq!(
        refused.err().unwrap(),
        json!({"message": "Authentication error"})
    );

    let mut c = TestClient::connect(&addr, "/private", Some(json!({"pass": "open sesame"})))
        .await
        .unwrap();
    c.emit("hello", &[]).await;
    c.emit("join", &[]).await;
    c.send_raw("41/private,").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "connected checked",
            "hello",
            "left client namespace disconnect rooms=[\"lobby\"]"
        ]
    );
}

#[tokio::test]
async fn a_clients_events_are_handled_in_the_order_it_sent_them() {
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
    let (addr, _) = serve(
        App::new()
            .options(iogate::Options::default().max_pending_events(10_000))
            .gateway(gateway),
    )
    .await;
    let mut c = connect(&addr, "/").await;
    const N: u64 = 5_000;
    for n in 0..N {
        c.emit_ack("seq", &[json!(n)]).await;
    }
    for n in 0..N {
        assert_eq!(c.ack(n as i64).await, vec![json!(n)]);
    }
    assert_eq!(*seen.lock().unwrap(), (0..N).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_server_handle_reaches_rooms_users_and_clients_by_public_id() {
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
    let (addr, server) = serve(App::new().gateway(gateway)).await;
    let auth = |u: &str| Some(json!({"user": u}));
    let mut alice1 = TestClient::connect(&addr, "/events", auth("alice"))
        .await
        .unwrap();
    let mut alice2 = TestClient::connect(&addr, "/events", auth("alice"))
        .await
        .unwrap();
    let mut bob = TestClient::connect(&addr, "/events", auth("bob"))
        .await
        .unwrap();

    let bob_id = bob.call("whoami", &[]).await[0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(bob_id, bob.sid, "the public id is not the session id");

    let events = server.of("/events");
    assert_eq!(events.count().await.unwrap(), 3);
    assert!(events.client_ids().contains(&bob_id));

    events
        .to_user("alice")
        .emit("notification", &json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(
        alice1.event("notification").await,
        vec![json!({"text": "hi"})]
    );
    assert_eq!(
        alice2.event("notification").await,
        vec![json!({"text": "hi"})]
    );
    events
        .to_client(&bob_id)
        .emit("direct", "only bob")
        .await
        .unwrap();
    assert_eq!(bob.event("direct").await, vec![json!("only bob")]);
    bob.assert_silent(QUIET).await;
    alice1.assert_silent(Duration::ZERO).await;

    // Server-side joins, then a broadcast that leaves out the sender.
    events.to_user("alice").join("lobby").await.unwrap();
    bob.emit("join", &[json!("lobby")]).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(events.rooms().await.unwrap(), vec!["lobby".to_owned()]);
    bob.emit("shout", &[json!("hey")]).await;
    assert_eq!(alice1.event("shout").await, vec![json!("hey")]);
    assert_eq!(alice2.event("shout").await, vec![json!("hey")]);
    bob.assert_silent(QUIET).await;

    // Clients cannot join iogate's own rooms.
    bob.emit_ack("join", &[json!(format!("$user:alice"))]).await;
    assert_eq!(
        bob.event("exception").await[0]["message"],
        "Room names starting with '$' are reserved"
    );

    events.to_user("alice").disconnect().await.unwrap();
    assert_eq!(alice1.next().await, Some(Received::Disconnect));
    assert_eq!(events.count().await.unwrap(), 1);
}

#[tokio::test]
async fn state_and_extensions_are_extracted_and_a_missing_extension_is_forbidden() {
    #[derive(Clone)]
    struct Greeting(&'static str);
    let gateway = Gateway::new("/")
        .subscribe_message("greet", async |State(g): State<Greeting>| g.0)
        .subscribe_message("login", async |client: Client| client.insert(42u32))
        .subscribe_message("me", async |Extension(n): Extension<u32>| n)
        .subscribe_message("server", async |server: Server| {
            server.state::<Greeting>().is_some()
        });
    let (addr, _) = serve(App::new().state(Greeting("hello")).gateway(gateway)).await;
    let mut c = connect(&addr, "/").await;
    assert_eq!(c.call("greet", &[]).await, vec![json!("hello")]);
    c.emit_ack("me", &[]).await;
    assert_eq!(
        c.event("exception").await[0]["message"],
        "Forbidden resource"
    );
    c.emit("login", &[]).await;
    assert_eq!(c.call("me", &[]).await, vec![json!(42)]);
    assert_eq!(c.call("server", &[]).await, vec![json!(true)]);
}

#[tokio::test]
async fn gateways_can_share_a_namespace_and_after_init_gets_the_server() {
    let inited = Arc::new(Mutex::new(false));
    let flag = inited.clone();
    let a = Gateway::new("/shared")
        .after_init(move |_server: Server| *flag.lock().unwrap() = true)
        .subscribe_message("a", async || "from a");
    let b = Gateway::new("/shared").subscribe_message("b", async || "from b");
    let (addr, _) = serve(App::new().gateway(a).gateway(b)).await;
    assert!(*inited.lock().unwrap());
    let mut c = connect(&addr, "/shared").await;
    assert_eq!(c.call("a", &[]).await, vec![json!("from a")]);
    assert_eq!(c.call("b", &[]).await, vec![json!("from b")]);
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
async fn too_many_pending_events_are_refused_and_the_client_kept() {
    let gateway = Gateway::new("/").subscribe_message("slow", async |Data(n): Data<u32>| {
        tokio::time::sleep(Duration::from_millis(if n == 0 { 300 } else { 0 })).await;
        n
    });
    let (addr, _) = serve(
        App::new()
            .options(iogate::Options::default().max_pending_events(4))
            .gateway(gateway),
    )
    .await;
    let mut c = connect(&addr, "/").await;
    for n in 0..10 {
        c.emit_ack("slow", &[json!(n)]).await;
    }
    let mut acks = Vec::new();
    let mut refusals = 0;
    while let Some(p) = c.next_within(Duration::from_secs(1)).await {
        match p {
            Received::Ack(_, args) => acks.push(args[0].as_u64().unwrap()),
            Received::Event(e, args) if e == "exception" => {
                assert_eq!(args[0]["message"], "Too many requests");
                refusals += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acks.len() + refusals, 10);
    assert!(refusals >= 1, "the queue limit refused nothing");
    assert_eq!(acks[0], 0);
    assert_eq!(c.call("slow", &[json!(9)]).await, vec![json!(9)]);
}

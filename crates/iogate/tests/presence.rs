//! Presence through the framework: `ns.presence(room)` on one node and across two nodes over a
//! redis-server of the test's own, `user_online` / `user_offline` for the gateways that ask,
//! once per user however many tabs, and the webhook, signed and retried, against a real HTTP
//! receiver.

#[path = "../../iogate-redis/tests/common/redis_server.rs"]
mod redis_server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iogate::cluster::Redis;
use iogate::testing::{TestClient, TestServer};
use iogate::webhook::{self, Webhook};
use iogate::{App, Client, Data, Exception, Gateway, Presence, WsException};
use redis_server::RedisServer;
use serde_json::{Value, json};

/// `/chat`: the handshake's `auth.user` is the client's user; `join` and `leave` a room. With
/// presence events unless `quiet`. `/plain`: the same without presence events.
fn app(quiet: bool) -> App {
    let chat = |ns: &str| {
        Gateway::new(ns)
            .middleware(async |client: Client| {
                if let Some(user) = client.auth()["user"].as_str() {
                    client
                        .set_user(user)
                        .map_err(|e| WsException::new(e.to_string()))?;
                }
                Ok::<_, WsException>(())
            })
            .subscribe_message("join", async |client: Client, Data(room): Data<String>| {
                client.join(room)?;
                Ok::<_, Exception>(true)
            })
            .subscribe_message("leave", async |client: Client, Data(room): Data<String>| {
                client.leave(room)?;
                Ok::<_, Exception>(true)
            })
    };
    let events = if quiet {
        chat("/chat")
    } else {
        chat("/chat").presence_events()
    };
    App::new().gateway(events).gateway(chat("/plain"))
}

async fn client(server: &TestServer, ns: &str, user: &str) -> TestClient {
    TestClient::connect(server, ns)
        .auth(json!({ "user": user }))
        .await
        .expect("connects")
}

async fn join(c: &mut TestClient, room: &str) {
    assert_eq!(c.emit_with_ack("join", room).await.unwrap(), json!(true));
}

/// `(user, clients)` of a presence.
fn who(p: &Presence) -> Vec<(String, Vec<String>)> {
    p.users
        .iter()
        .map(|u| (u.user.clone(), u.clients.clone()))
        .collect()
}

/// Asserts that `c` gets no event for 300 ms: a transition told once is not told again.
async fn quiet(c: &mut TestClient) {
    let next = c
        .next_event_within(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(next.is_none(), "an unexpected event: {next:?}");
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Waits until `check` holds for the presence of `room`, up to 5 s.
async fn presence_until(
    server: &TestServer,
    ns: &str,
    room: &str,
    check: impl Fn(&Presence) -> bool,
) -> Presence {
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let p = server.server.of(ns).presence(room).await.unwrap();
        if check(&p) || tokio::time::Instant::now() > until {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn one_node_counts_a_user_once_and_tells_the_room_when_it_comes_and_goes() {
    let server = TestServer::start(app(false)).await;
    let ns = server.server.of("/chat");
    let mut bob = client(&server, "/chat", "bob").await;
    join(&mut bob, "lobby").await;
    assert_eq!(
        bob.wait_for("user_online").await.unwrap().data(),
        &json!({"room": "lobby", "user": "bob"})
    );
    let mut tab1 = client(&server, "/chat", "alice").await;
    let mut tab2 = client(&server, "/chat", "alice").await;
    // A client without a user does not count.
    let mut anonymous = TestClient::connect(&server, "/chat").await.unwrap();
    join(&mut tab1, "lobby").await;
    join(&mut tab2, "lobby").await;
    join(&mut anonymous, "lobby").await;

    // Joins made before the call are in the answer.
    let p = ns.presence("lobby").await.unwrap();
    assert_eq!(p.room, "lobby");
    assert_eq!(
        who(&p),
        [
            (
                "alice".into(),
                sorted(vec![tab1.id().into(), tab2.id().into()])
            ),
            ("bob".into(), vec![bob.id().to_owned()])
        ]
    );
    assert_eq!(
        serde_json::to_value(&p).unwrap()["users"][1],
        json!({"user": "bob", "clients": [bob.id()]})
    );
    // Alice came online once, for both tabs.
    assert_eq!(
        bob.wait_for("user_online").await.unwrap().data(),
        &json!({"room": "lobby", "user": "alice"})
    );
    quiet(&mut bob).await;

    // One tab leaves: still online. The other disconnects: offline, once.
    assert_eq!(
        tab1.emit_with_ack("leave", "lobby").await.unwrap(),
        json!(true)
    );
    tab2.close().await;
    assert_eq!(
        bob.wait_for("user_offline").await.unwrap().data(),
        &json!({"room": "lobby", "user": "alice"})
    );
    quiet(&mut bob).await;
    let p = ns.presence("lobby").await.unwrap();
    assert_eq!(who(&p), [("bob".into(), vec![bob.id().to_owned()])]);

    // Rooms of another namespace are others; its gateway asked for no events.
    let mut plain = client(&server, "/plain", "carol").await;
    join(&mut plain, "lobby").await;
    let p = server.server.of("/plain").presence("lobby").await.unwrap();
    assert_eq!(who(&p), [("carol".into(), vec![plain.id().to_owned()])]);
    quiet(&mut plain).await;
    // A namespace no gateway serves.
    assert!(server.server.of("/nope").presence("lobby").await.is_err());
}

/// A node of a cluster with a short heartbeat.
async fn node(redis: &RedisServer, app: App) -> TestServer {
    let gateways = app
        .presence_heartbeat(Duration::from_millis(200), Duration::from_secs(1))
        .build_redis(Redis::new(redis.url()))
        .await
        .expect("joins the cluster");
    let server = gateways.server();
    TestServer::start_router(server, gateways.into_router(axum::Router::new())).await
}

#[tokio::test]
async fn across_two_nodes_a_user_with_tabs_on_both_is_online_once() {
    let redis = RedisServer::start().await;
    let a = node(&redis, app(false)).await;
    let b = node(&redis, app(false)).await;
    let mut watcher = client(&b, "/chat", "watcher").await;
    join(&mut watcher, "hall").await;
    watcher.wait_for("user_online").await.unwrap();

    let mut on_a = client(&a, "/chat", "alice").await;
    let mut on_b = client(&b, "/chat", "alice").await;
    join(&mut on_a, "hall").await;
    join(&mut on_b, "hall").await;
    let want = sorted(vec![on_a.id().into(), on_b.id().into()]);
    for node in [&a, &b] {
        let p = presence_until(node, "/chat", "hall", |p| {
            p.users
                .iter()
                .any(|u| u.user == "alice" && u.clients == want)
        })
        .await;
        assert_eq!(p.users.len(), 2, "{p:?}");
    }
    assert_eq!(
        watcher.wait_for("user_online").await.unwrap().data(),
        &json!({"room": "hall", "user": "alice"})
    );
    assert!(
        watcher
            .next_event_within(Duration::from_millis(500))
            .await
            .unwrap()
            .is_none(),
        "alice came online twice"
    );

    // Node a closes: its tab leaves at once; alice is still online through node b.
    a.close().await;
    let p = presence_until(&b, "/chat", "hall", |p| {
        p.users
            .iter()
            .any(|u| u.user == "alice" && u.clients.len() == 1)
    })
    .await;
    assert!(
        p.users
            .iter()
            .any(|u| u.user == "alice" && u.clients == [on_b.id()])
    );
    quiet(&mut watcher).await;
    on_b.close().await;
    assert_eq!(
        watcher.wait_for("user_offline").await.unwrap().data(),
        &json!({"room": "hall", "user": "alice"})
    );
}

/// What the test's webhook receiver got: each request's headers and body.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>);

/// An HTTP receiver on 127.0.0.1:0 that records every request and answers 500 to the first
/// one, 200 to the others.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let recorded = received.clone();
    let route = axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
        let recorded = recorded.clone();
        async move {
            let mut all = recorded.0.lock().unwrap();
            all.push((headers, body));
            if all.len() == 1 {
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    let router = axum::Router::new().route("/hooks", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hooks"), received)
}

#[tokio::test]
async fn the_webhook_gets_every_transition_signed_and_retried_under_the_same_id() {
    const SECRET: &str = "a-webhook-secret";
    let (url, received) = receiver().await;
    let hook = Webhook::new(&url, SECRET)
        .unwrap()
        .backoff(Duration::from_millis(50), Duration::from_millis(200));
    let server = TestServer::start(app(true).presence_webhook(hook)).await;
    let mut c = client(&server, "/chat", "dana").await;
    join(&mut c, "desk").await;
    c.close().await;

    // room_occupied, user_online, user_offline, room_vacated, the first one twice.
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while received.0.lock().unwrap().len() < 5 {
        assert!(tokio::time::Instant::now() < until, "webhooks missing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = received.0.lock().unwrap().clone();
    let mut bodies = Vec::new();
    for (headers, body) in &got {
        let header = |name: &str| headers[name].to_str().unwrap().to_owned();
        assert!(
            webhook::verify(
                SECRET.as_bytes(),
                &header(webhook::TIMESTAMP_HEADER),
                body.as_bytes(),
                &header(webhook::SIGNATURE_HEADER)
            ),
            "a bad signature on {body}"
        );
        assert!(!webhook::verify(
            b"another-secret",
            &header(webhook::TIMESTAMP_HEADER),
            body.as_bytes(),
            &header(webhook::SIGNATURE_HEADER)
        ));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(header(webhook::EVENT_ID_HEADER), body["id"]);
        assert_eq!(headers["content-type"], "application/json");
        bodies.push(body);
    }
    // The first event was refused with a 500, and came again with the same id.
    assert_eq!(bodies[0], bodies[1]);
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<(String, Value, Value)> = bodies
        .iter()
        .filter(|b| seen.insert(b["id"].as_str().unwrap().to_owned()))
        .map(|b| {
            (
                b["type"].as_str().unwrap().to_owned(),
                b["room"].clone(),
                b["user"].clone(),
            )
        })
        .collect();
    assert_eq!(
        distinct,
        [
            ("room_occupied".into(), json!("desk"), Value::Null),
            ("user_online".into(), json!("desk"), json!("dana")),
            ("user_offline".into(), json!("desk"), json!("dana")),
            ("room_vacated".into(), json!("desk"), Value::Null),
        ]
    );
    for b in &bodies {
        assert_eq!(b["namespace"], "/chat");
        assert!(b["time"].as_str().unwrap().ends_with('Z'));
    }
}

//! Connection state recovery, as the framework shows it: a client whose connection broke comes
//! back with its session's pid and last offset, and its hooks see `Client::recovered()`, its
//! id, rooms and data carried over, and its middlewares skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use iogate::testing::{TestClient, TestServer};
use iogate::{App, Client, Gateway, Options, Recovery, WsException};
use serde_json::{Value, json};

#[derive(Clone)]
struct Tag(&'static str);

/// The last argument of the client's next `event`: its offset.
async fn offset_of(client: &mut TestClient, event: &str) -> String {
    let got = client.wait_for(event).await.unwrap();
    got.args.last().and_then(Value::as_str).unwrap().to_owned()
}

fn app(recovery: Option<Recovery>, middleware_runs: Arc<AtomicUsize>) -> App {
    let gateway = Gateway::new("/")
        .middleware(move |client: Client| {
            middleware_runs.fetch_add(1, Ordering::SeqCst);
            async move {
                client.insert(Tag("set by the middleware"));
                Ok::<_, WsException>(())
            }
        })
        .handle_connection(|client: Client| async move {
            let tag = client.get::<Tag>().map(|t| t.0);
            let _ = client.emit(
                "welcome",
                &json!({ "recovered": client.recovered(), "tag": tag, "rooms": client.rooms() }),
            );
            if !client.recovered() {
                let _ = client.join("lobby");
            }
        });
    let options = match recovery {
        Some(r) => Options::default().connection_state_recovery(r),
        None => Options::default(),
    };
    App::new().options(options).gateway(gateway)
}

#[tokio::test]
async fn a_broken_connection_comes_back_with_its_id_rooms_data_and_missed_events() {
    let runs = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(app(Some(Recovery::default()), runs.clone())).await;
    let mut first = server.connect("/").await.unwrap();
    let pid = first.pid().expect("a pid in CONNECT").to_owned();
    let welcome = first.wait_for("welcome").await.unwrap();
    assert_eq!(welcome.data()["recovered"], false);
    let offset = welcome
        .args
        .last()
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let id = first.id().to_owned();
    first.close().await;

    // Missed while away: a room broadcast.
    let ns = server.server.of("/");
    ns.to("lobby").emit("news", &1).await.unwrap();

    let mut back = server
        .connect("/")
        .auth(json!({ "pid": pid, "offset": offset }))
        .await
        .unwrap();
    assert_eq!(back.id(), id);
    let missed = back.wait_for("news").await.unwrap();
    assert_eq!(missed.data(), &json!(1));
    let welcome = back.wait_for("welcome").await.unwrap();
    assert_eq!(welcome.data()["recovered"], true);
    assert_eq!(welcome.data()["tag"], "set by the middleware");
    assert_eq!(welcome.data()["rooms"], json!(["lobby"]));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the middleware was skipped");
}

#[tokio::test]
async fn without_recovery_there_is_no_pid_no_offset_and_no_session() {
    let runs = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(app(None, runs.clone())).await;
    let mut first = server.connect("/").await.unwrap();
    assert_eq!(first.pid(), None);
    let welcome = first.wait_for("welcome").await.unwrap();
    assert_eq!(welcome.args.len(), 1, "no offset: {:?}", welcome.args);
    let id = first.id().to_owned();
    first.close().await;
    let mut back = server
        .connect("/")
        .auth(json!({ "pid": "p", "offset": "1-0" }))
        .await
        .unwrap();
    assert_ne!(back.id(), id);
    assert_eq!(
        back.wait_for("welcome").await.unwrap().data()["recovered"],
        false
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_client_that_leaves_on_purpose_is_not_recovered() {
    let runs = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(app(Some(Recovery::default()), runs.clone())).await;
    let mut first = server.connect("/").await.unwrap();
    let pid = first.pid().unwrap().to_owned();
    let offset = offset_of(&mut first, "welcome").await;
    first.disconnect().await;
    let mut back = server
        .connect("/")
        .auth(json!({ "pid": pid, "offset": offset }))
        .await
        .unwrap();
    assert_eq!(
        back.wait_for("welcome").await.unwrap().data()["recovered"],
        false
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "a new client passes the middlewares"
    );
}

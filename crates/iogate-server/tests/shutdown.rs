//! Graceful shutdown, in process: `serve` on 127.0.0.1:0 with a shutdown future of the test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iogate::testing::TestClient;
use iogate::{App, Gateway};
use iogate_server::{Running, Service, Stopped, serve};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A gateway whose `slow` handler sleeps `work`, then sets `done` and acknowledges `"done"`.
fn slow_gateway(running: &Running, work: Duration, done: Arc<AtomicBool>) -> Gateway {
    Gateway::new("/").subscribe_message(
        "slow",
        running.track(move || {
            let done = done.clone();
            async move {
                tokio::time::sleep(work).await;
                done.store(true, Ordering::SeqCst);
                "done"
            }
        }),
    )
}

/// A served app and the means to stop it.
struct Served {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<Stopped>>,
}

async fn start(gateway: Gateway, running: Running, grace: Duration) -> Served {
    let service = Service::from_gateways(App::new().gateway(gateway).build(), running);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(serve(service, listener, shutdown, grace));
    Served {
        addr,
        stop,
        serving,
    }
}

/// Waits until `running` counts a handler.
async fn until_running(running: &Running) {
    let started = Instant::now();
    while running.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the handler did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_handler_finishes_and_its_ack_is_delivered_before_the_clients_are_told() {
    let done = Arc::new(AtomicBool::new(false));
    let running = Running::default();
    let gateway = slow_gateway(&running, Duration::from_millis(400), done.clone());
    let server = start(gateway, running.clone(), Duration::from_secs(5)).await;
    let mut client = TestClient::connect_to(server.addr, "/").await.unwrap();
    let ack = tokio::spawn(async move {
        let ack = client.emit_with_ack("slow", json!(null)).await;
        (ack, client)
    });
    until_running(&running).await;

    let asked = Instant::now();
    server.stop.send(()).unwrap();
    assert_eq!(server.serving.await.unwrap().unwrap(), Stopped::Clean);
    assert!(
        done.load(Ordering::SeqCst),
        "serve returned before the handler finished"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "took {:?}",
        asked.elapsed()
    );
    let (ack, mut client) = ack.await.unwrap();
    assert_eq!(ack.unwrap(), json!("done"));
    client.wait_for_disconnect().await.unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_after_the_timeout() {
    let done = Arc::new(AtomicBool::new(false));
    let running = Running::default();
    let gateway = slow_gateway(&running, Duration::from_secs(30), done.clone());
    let server = start(gateway, running.clone(), Duration::from_millis(300)).await;
    let mut client = TestClient::connect_to(server.addr, "/").await.unwrap();
    client.emit("slow", json!(null)).await.unwrap();
    until_running(&running).await;

    let asked = Instant::now();
    server.stop.send(()).unwrap();
    let stopped = server.serving.await.unwrap().unwrap();
    assert_eq!(stopped, Stopped::TimedOut { handlers: 1 });
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "took {:?}",
        asked.elapsed()
    );
    assert!(!done.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_stops_at_once() {
    let running = Running::default();
    let server = start(Gateway::new("/"), running, Duration::from_secs(5)).await;
    let mut client = TestClient::connect_to(server.addr, "/").await.unwrap();
    let asked = Instant::now();
    server.stop.send(()).unwrap();
    assert_eq!(server.serving.await.unwrap().unwrap(), Stopped::Clean);
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "took {:?}",
        asked.elapsed()
    );
    client.wait_for_disconnect().await.unwrap();
}

//! Graceful shutdown, in process: `serve` on 127.0.0.1:0 with a shutdown future of the test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iogate::testing::TestClient;
use iogate::{App, Gateway};
use iogate_server::{Service, Stopped, serve};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Whether the slow handler started and finished.
#[derive(Clone, Default)]
struct Progress {
    started: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

/// A gateway whose `slow` handler sleeps `work`, then acknowledges `"done"`.
fn slow_gateway(work: Duration, progress: &Progress) -> Gateway {
    let progress = progress.clone();
    Gateway::new("/").subscribe_message("slow", move || {
        let progress = progress.clone();
        async move {
            progress.started.store(true, Ordering::SeqCst);
            tokio::time::sleep(work).await;
            progress.done.store(true, Ordering::SeqCst);
            "done"
        }
    })
}

/// A served app and the means to stop it.
struct Served {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<Stopped>>,
}

async fn start(gateway: Gateway, grace: Duration) -> Served {
    let service = Service::from_gateways(App::new().gateway(gateway).build());
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

/// Waits until the slow handler started.
async fn until_started(progress: &Progress) {
    let started = Instant::now();
    while !progress.started.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the handler did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_handler_finishes_and_its_ack_is_delivered_before_the_clients_are_told() {
    let progress = Progress::default();
    let gateway = slow_gateway(Duration::from_millis(400), &progress);
    let server = start(gateway, Duration::from_secs(5)).await;
    let mut client = TestClient::connect_to(server.addr, "/").await.unwrap();
    let ack = tokio::spawn(async move {
        let ack = client.emit_with_ack("slow", json!(null)).await;
        (ack, client)
    });
    until_started(&progress).await;

    let asked = Instant::now();
    server.stop.send(()).unwrap();
    assert_eq!(server.serving.await.unwrap().unwrap(), Stopped::Clean);
    assert!(
        progress.done.load(Ordering::SeqCst),
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
    let progress = Progress::default();
    let gateway = slow_gateway(Duration::from_secs(30), &progress);
    let server = start(gateway, Duration::from_millis(300)).await;
    let mut client = TestClient::connect_to(server.addr, "/").await.unwrap();
    client.emit("slow", json!(null)).await.unwrap();
    until_started(&progress).await;

    let asked = Instant::now();
    server.stop.send(()).unwrap();
    let stopped = server.serving.await.unwrap().unwrap();
    assert_eq!(stopped, Stopped::TimedOut);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "took {:?}",
        asked.elapsed()
    );
    assert!(!progress.done.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_stops_at_once() {
    let server = start(Gateway::new("/"), Duration::from_secs(5)).await;
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

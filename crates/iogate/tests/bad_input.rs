//! Bad input on the inbound path: a committed corpus of hostile frames sent over real
//! websockets. Nothing may panic, and every other client carries on. (The properties over
//! packet splitting and decoding are unit tests in `src/context.rs`.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iogate::testing::{Args, TestClient, TestServer};
use iogate::{App, Data, Gateway};
use serde_json::Value;

static PANICS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_frame_is_refused_cleanly_and_others_carry_on() -> anyhow::Result<()> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let gateway = Gateway::new("/")
        .subscribe_message("echo", async |Data(v): Data<Value>| v)
        .subscribe_message("typed", async |Data(n): Data<u8>| n);
    let server = TestServer::start(App::new().gateway(gateway)).await;
    let mut healthy = TestClient::connect(&server, "/").await?;
    let corpus = include_str!("corpus/packets.txt");
    for (i, frame) in corpus.lines().enumerate() {
        let mut hostile = TestClient::connect(&server, "/").await?;
        hostile.send_raw(frame).await?;
        // Whatever it gets (an exception, nothing, a closed connection) it gets quickly.
        let _ = hostile.next_event_within(Duration::from_millis(50)).await;
        assert_eq!(
            healthy
                .emit_args_with_ack("echo", Args::new().arg(i))
                .await?,
            Args::new().arg(i),
            "after frame {i}: {frame:.60}"
        );
    }
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a frame made the server panic"
    );
    Ok(())
}

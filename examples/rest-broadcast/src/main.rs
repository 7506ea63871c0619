//! The guide's "broadcast from REST" section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-rest-broadcast
//! ```
//!
//! Connect with `io("http://127.0.0.1:3000/events", { auth: { userId: "alice" } })`, then:
//! `curl -X POST localhost:3000/notifications/send -H 'content-type: application/json'
//! -d '{"userId":"alice","message":"hi"}'`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let (_server, router) = example_rest_broadcast::app();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "example-rest-broadcast listening on http://{}",
        listener.local_addr()?
    );
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

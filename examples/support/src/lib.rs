//! What every example's `main` does alike, so that each `main.rs` shows only what its example
//! teaches: logs at `info` (or as `RUST_LOG` says), the port from `$PORT` (3000 by default),
//! and serving on loopback until Ctrl-C.

use std::net::SocketAddr;

/// Starts logging, once: `RUST_LOG`'s filter, `info` without it.
pub fn logs() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Serves `router` on `127.0.0.1:$PORT` until Ctrl-C, after printing
/// `<name> listening on http://<address>`.
pub async fn serve(name: &str, router: axum::Router) -> anyhow::Result<()> {
    logs();
    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("{name} listening on http://{}", listener.local_addr()?);
    iogate::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

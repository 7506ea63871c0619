//! The `iogate` binary: loads the configuration, handles signals, and calls
//! [`iogate_server::app`] and [`iogate_server::serve`].

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use iogate_server::config::{self, Command, Effective, redact_url};
use iogate_server::{Config, Secrets, Stopped};

fn main() {
    let code = match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iogate: {e:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn run() -> anyhow::Result<i32> {
    let (command, effective) = config::load()?;
    match command {
        Some(Command::Token { sub, email, ttl }) => {
            let secret = effective.config.jwt_secret.context(
                "jwt_secret (JWT_SECRET) must be set to sign a token the server will accept",
            )?;
            println!(
                "{}",
                iogate_server::sign_token(&secret, &sub, email.as_deref(), ttl)?
            );
            Ok(0)
        }
        Some(Command::Config) => {
            print!("{}", effective.render());
            Ok(0)
        }
        Some(Command::Codegen { target, out }) => codegen(&target, out.as_deref()),
        None => serve(effective),
    }
}

/// `iogate codegen ts|asyncapi [--out PATH]`.
fn codegen(target: &str, out: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let contract = iogate_server::contract();
    if target == "asyncapi" {
        let doc = serde_json::to_string_pretty(&iogate_server::asyncapi_of(&contract))?;
        match out {
            Some(path) => std::fs::write(path, doc + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?,
            None => println!("{doc}"),
        }
        return Ok(0);
    }
    let files = contract.typescript();
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot make {}", dir.display()))?;
            for (name, text) in &files {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        None => {
            for (name, text) in &files {
                println!("// ---- {name}\n{text}");
            }
        }
    }
    Ok(0)
}

fn serve(effective: Effective) -> anyhow::Result<i32> {
    let config = effective.config;
    init_logs(&config);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // Signals are caught from here on, before the listening line tells anyone to send one.
        let first_signal = signals()?;
        let secrets = Secrets::resolve(&config);
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        if let Some(url) = &config.redis_url {
            tracing::info!(redis = %redact_url(url), "joining the cluster");
        }
        let service = iogate_server::app(&config, &secrets).await?;
        println!("iogate listening on http://{local}");
        print_generated(&config, &secrets)?;
        if config.demo {
            println!("demo page: http://{local}/demo (development only)");
        }
        let grace = Duration::from_secs(config.shutdown_timeout);
        match iogate_server::serve(service, listener, first_signal, grace).await? {
            Stopped::Clean => {
                tracing::info!("stopped");
                Ok(0)
            }
            Stopped::TimedOut => {
                tracing::warn!(
                    timeout_s = grace.as_secs(),
                    "shutdown timed out: stopping with work left"
                );
                Ok(1)
            }
        }
    })
}

/// Tells the operator the secrets made for this run.
fn print_generated(config: &Config, secrets: &Secrets) -> anyhow::Result<()> {
    if config.jwt_secret.is_none() {
        let token = iogate_server::sign_token(&secrets.jwt_secret, "dev-user", None, 24 * 3600)?;
        println!("JWT_SECRET is not set: a random secret was made for this run.");
        println!("  a development token for user 'dev-user' (valid 24 h):\n  {token}");
        println!(
            "  set JWT_SECRET and run `iogate token --sub <user>` to make tokens that outlive the process"
        );
    }
    if config.api_key.is_empty() {
        println!(
            "API_KEY is not set: the REST API key for this run is {}",
            secrets.api_keys[0]
        );
    }
    Ok(())
}

fn init_logs(config: &Config) {
    use tracing_subscriber::EnvFilter;
    // Validated with the rest of the configuration.
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Catches SIGINT and SIGTERM. The future completes on the first; a second exits the process
/// at once, with the shell's code for that signal (130 for SIGINT, 143 for SIGTERM).
#[cfg(unix)]
fn signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = first,
            "signal received: shutting down (a second signal stops at once)"
        );
        let _ = first_tx.send(());
        let (name, code) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 143),
            _ = int.recv() => ("SIGINT", 130),
        };
        eprintln!("iogate: second signal ({name}): exiting now");
        let _ = std::io::stderr().flush();
        std::process::exit(code);
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

/// Catches Ctrl-C; a second exits at once.
#[cfg(not(unix))]
fn signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = first_tx.send(());
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

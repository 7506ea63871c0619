//! The `iogate` binary: parses the configuration and calls [`iogate_server::run`].

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use iogate_server::config::{Cli, Command, random_secret};
use iogate_server::{Config, Secrets};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Err(e) = cli.config.validate() {
        anyhow::bail!("invalid configuration: {e}");
    }
    match cli.command {
        Some(Command::Token { sub, email, ttl }) => {
            let secret = cli
                .config
                .jwt_secret
                .context("JWT_SECRET must be set to sign a token the server will accept")?;
            println!("{}", sign(&secret, &sub, email.as_deref(), ttl)?);
            Ok(())
        }
        None => serve(cli.config),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    init_logs(config.log_json);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let generated_secret = config.jwt_secret.is_none();
        let secrets = Secrets {
            jwt_secret: config.jwt_secret.clone().unwrap_or_else(random_secret),
            api_keys: if config.api_key.is_empty() {
                vec![random_secret()]
            } else {
                config.api_key.clone()
            },
        };
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("iogate listening on http://{local}");
        if generated_secret {
            let token = sign(&secrets.jwt_secret, "dev-user", None, 24 * 3600)?;
            println!("JWT_SECRET is not set: a random secret was made for this run.");
            println!("  a development token for user 'dev-user' (valid 24 h):\n  {token}");
            println!("  set JWT_SECRET and run `iogate token --sub <user>` to make tokens that outlive the process");
        }
        if config.api_key.is_empty() {
            println!("API_KEY is not set: the REST API key for this run is {}", secrets.api_keys[0]);
        }
        iogate_server::run(config, secrets, listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn sign(secret: &str, sub: &str, email: Option<&str>, ttl: u64) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({ "sub": sub, "iat": now, "exp": now + ttl });
    if let Some(email) = email {
        claims["email"] = email.into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &key,
    )?)
}

fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

//! The server's configuration: flags, each with an environment variable, and safe defaults.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand};

/// iogate: a Socket.IO gateway server, the NestJS WebSockets guide's app done in Rust.
#[derive(Debug, Parser)]
#[command(name = "iogate", version, about)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's settings.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints a signed JWT for a user, to connect to `/events` and `/chat` (uses JWT_SECRET).
    Token {
        /// The user id (`sub`).
        #[arg(long, default_value = "dev-user")]
        sub: String,
        /// An `email` claim.
        #[arg(long)]
        email: Option<String>,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

/// The server's settings.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// The port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The HS256 secret of client JWTs. When unset, a random one is made at start (tokens then
    /// last as long as the process) and a development token is printed.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The key the REST API takes as `Authorization: Bearer <key>`. Several may be given,
    /// comma-separated, to rotate keys. When unset, a random one is made and printed.
    #[arg(long, env = "API_KEY", hide_env_values = true, value_delimiter = ',')]
    pub api_key: Vec<String>,
    /// The origins browsers may connect from, comma-separated; `*` for any (without
    /// credentials).
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub allowed_origins: Vec<String>,
    /// The largest packet a client may send, in bytes (socket.io's maxHttpBufferSize).
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: u64,
    /// Print logs as JSON lines.
    #[arg(long, env = "LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    /// The smallest secret length accepted: HS256 keys shorter than its output are weak.
    pub const MIN_SECRET_LEN: usize = 32;

    /// Checks what clap cannot: the secret's length, the keys' shapes.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = &self.jwt_secret
            && s.len() < Self::MIN_SECRET_LEN
        {
            return Err(format!(
                "JWT_SECRET: must be at least {} bytes long (got {})",
                Self::MIN_SECRET_LEN,
                s.len()
            ));
        }
        if self.api_key.iter().any(|k| k.len() < 16) {
            return Err("API_KEY: each key must be at least 16 characters long".into());
        }
        Ok(())
    }
}

/// A random secret, 256 bits, as URL-safe text.
pub fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

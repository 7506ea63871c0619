//! The server's configuration: a TOML file, environment variables and flags, over defaults.
//!
//! Every setting has a key in the file (`port`), an environment variable (`PORT`) and a flag
//! (`--port`). When a setting is given in several places, the flag wins over the environment
//! variable, which wins over the file, which wins over the default. The file is read only when
//! `--config <path>` or `IOGATE_CONFIG` names it.
//!
//! clap parses the flags and environment variables (so `iogate --help` lists every setting
//! with its variable and default), [`load`] overlays the file on whatever clap took from its
//! defaults, and [`Config::validate`] checks what types cannot say. Every error names the
//! setting and where its value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::{Deserialize, Serialize};

/// iogate: a Socket.IO gateway server, the NestJS WebSockets guide's app done in Rust.
///
/// Settings come from flags, then environment variables, then the config file, then defaults.
#[derive(Debug, Parser)]
#[command(name = "iogate", version, about, long_about = None)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A TOML file of settings (keys as below, in snake_case: `port = 3000`). Flags and
    /// environment variables override it.
    #[arg(
        long = "config",
        env = "IOGATE_CONFIG",
        value_name = "FILE",
        global = true
    )]
    pub config_file: Option<PathBuf>,
    /// The server's settings.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints a signed JWT for a user, to connect to `/events` and `/chat` (uses jwt_secret).
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
    /// Prints the effective configuration (secrets masked) with where each value came from,
    /// after checking it.
    Config,
    /// Writes what the gateways' declared events make: TypeScript types for socket.io-client
    /// (`ts`, one file per namespace) or an AsyncAPI 3.0 document (`asyncapi`).
    Codegen {
        /// `ts` or `asyncapi`.
        #[arg(value_parser = ["ts", "asyncapi"])]
        target: String,
        /// Where to write: a folder for `ts` (made if missing), a file for `asyncapi`; unset,
        /// to standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// The server's own defaults; the framework's (limits, queues, recovery) are
/// [`iogate::defaults`].
pub mod defaults {
    /// `port`.
    pub const PORT: u16 = 3000;
    /// `host`.
    pub const HOST: &str = "127.0.0.1";
    /// `allowed_origins`.
    pub const ALLOWED_ORIGINS: &str = "*";
    /// `redis_startup_timeout`, in seconds.
    pub const REDIS_STARTUP_TIMEOUT: u64 = 30;
    /// `shutdown_timeout`, in seconds.
    pub const SHUTDOWN_TIMEOUT: u64 = 10;
    /// `log`.
    pub const LOG: &str = "info";
    /// `parser`.
    pub const PARSER: &str = "json";
    /// `redis_adapter`.
    pub const REDIS_ADAPTER: &str = "pubsub";
    /// `forwarded_header`.
    pub const FORWARDED_HEADER: &str = "x-forwarded-for";
    /// `admin_ui_mode`.
    pub const ADMIN_UI_MODE: &str = "production";
    /// `jwt_leeway`.
    pub const JWT_LEEWAY: u64 = 0;
    /// `jwt_algorithm`.
    pub const JWT_ALGORITHM: &str = "HS256";
}

/// The server's settings, once flags, environment and file are merged.
///
/// Each setting is declared here once: its doc comment is its help (and the meaning in
/// `docs/configuration.md`'s table), its `#[arg]` names its flag, variable and default, and its
/// type (with the `serde` attribute of the few that take another shape in a file) says how the
/// file gives it. [`settings`], [`Config::default`], `iogate config` and the docs' table are
/// derived from it.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = defaults::PORT, global = true)]
    pub port: u16,
    /// Address to listen on (`0.0.0.0` or `::` for every interface)
    #[arg(long, env = "HOST", default_value = defaults::HOST, global = true)]
    #[serde(deserialize_with = "from_file::address")]
    pub host: IpAddr,
    /// The HS256 secret of client JWTs, at least 32 bytes. Unset: a random one is made at
    /// each start (tokens then last as long as the process) and a development token is
    /// printed.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// The key(s) the REST API takes as `Authorization: Bearer <key>`, each at least 16
    /// characters; several, comma-separated, to rotate keys. Unset: a random one is made and
    /// printed at start.
    #[arg(
        long,
        env = "API_KEY",
        hide_env_values = true,
        value_delimiter = ',',
        global = true
    )]
    #[serde(deserialize_with = "from_file::list")]
    pub api_key: Vec<String>,
    /// CORS origins browsers may connect from (`https://app.example.com`, no trailing slash), a
    /// comma list or a TOML array; `*` for any origin, without credentials.
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = defaults::ALLOWED_ORIGINS,
        global = true
    )]
    #[serde(deserialize_with = "from_file::list")]
    pub allowed_origins: Vec<String>,
    /// The reverse proxies in front of iogate: addresses or ranges, a comma list or a TOML array
    /// (`10.0.0.0/8,192.168.1.10`). A connection from one of them counts as coming from the client
    /// its forwarding header names, the rightmost hop that is not one of them: the per-IP limit
    /// counts that address, and the logs show it. Unset: no header is believed, and every client
    /// behind a proxy shares the proxy's address (and its per-IP limit). See
    /// [security.md](security.md#behind-a-proxy)
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    #[serde(deserialize_with = "from_file::list")]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies name the client in: `x-forwarded-for` (nginx, HAProxy, cloud
    /// load balancers) or `forwarded` (RFC 7239). Only that one is read: a proxy that passes the
    /// other through from the client cannot be used to forge an address.
    #[arg(long, env = "FORWARDED_HEADER", default_value = defaults::FORWARDED_HEADER, value_parser = ["x-forwarded-for", "forwarded"], global = true)]
    pub forwarded_header: String,
    /// The largest packet a client may send, in bytes (socket.io's maxHttpBufferSize).
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = iogate::defaults::MAX_PAYLOAD, global = true)]
    pub max_payload: u64,
    /// Redis to cluster over (`redis://[:password@]host:port`); unset: a single node. With
    /// `redis_adapter = "sharded"`, a Redis Cluster's seed nodes, comma-separated
    /// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`). Its password is masked wherever iogate
    /// prints it. See [scaling.md](scaling.md)
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
    /// How long to keep trying to reach Redis at start, in seconds, before exiting with an
    /// error.
    #[arg(
        long,
        env = "REDIS_STARTUP_TIMEOUT",
        default_value_t = defaults::REDIS_STARTUP_TIMEOUT,
        value_name = "SECONDS",
        global = true
    )]
    pub redis_startup_timeout: u64,
    /// Which of socket.io's Redis adapters the nodes speak: `pubsub` (`@socket.io/redis-adapter`,
    /// emitters can publish to it) , `streams` (`@socket.io/redis-streams-adapter`: a dropped
    /// client is recovered on any node; its stream keeps about `recovery_max_packets` entries) or
    /// `sharded` (`@socket.io/redis-adapter`'s `createShardedAdapter`, on a Redis Cluster: sharded
    /// pub/sub, a room's broadcasts reach only the nodes with members in it). Every node of a
    /// cluster, Node's too, uses the same one. See [scaling.md](scaling.md#which-adapter)
    #[arg(long, env = "REDIS_ADAPTER", default_value = defaults::REDIS_ADAPTER, value_parser = ["pubsub", "streams", "sharded"], global = true)]
    pub redis_adapter: String,
    /// On SIGTERM or SIGINT, how long to wait, in seconds, for clients to be disconnected,
    /// running handlers to finish and HTTP requests to be answered before exiting anyway. A
    /// second signal exits at once.
    #[arg(
        long,
        env = "SHUTDOWN_TIMEOUT",
        default_value_t = defaults::SHUTDOWN_TIMEOUT,
        value_name = "SECONDS",
        global = true
    )]
    pub shutdown_timeout: u64,
    /// The log filter, in RUST_LOG's syntax (`info`, `iogate=debug,info`). Connections and
    /// disconnections are logged at `info`, REST requests at `info`, nothing per message.
    #[arg(long, env = "RUST_LOG", default_value = defaults::LOG, value_name = "FILTER", global = true)]
    pub log: String,
    /// Print logs as JSON lines.
    #[arg(long, env = "LOG_JSON", value_parser = BoolishValueParser::new(), global = true)]
    pub log_json: bool,
    /// Serve Prometheus metrics at `/metrics`.
    #[arg(
        long,
        env = "METRICS",
        default_value_t = true,
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new(),
        value_name = "BOOL",
        global = true
    )]
    pub metrics: bool,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <key>` (at least
    /// 16 characters). Unset: `/metrics` is open.
    #[arg(long, env = "METRICS_KEY", hide_env_values = true, global = true)]
    pub metrics_key: Option<String>,
    /// An `http://` URL that receives presence's transitions (`user_online`, `user_offline`,
    /// `room_occupied`, `room_vacated`) as signed JSON POSTs, retried with backoff, each with an id
    /// to drop copies of; in a cluster each transition is posted by one node. Needs
    /// `presence_webhook_secret`. See [presence.md](presence.md#webhooks)
    #[arg(long, env = "PRESENCE_WEBHOOK_URL", value_name = "URL", global = true)]
    pub presence_webhook_url: Option<String>,
    /// The key of the webhook's HMAC-SHA256 signature (`X-Iogate-Signature: sha256=<hex of
    /// HMAC("<timestamp>.<body>")>`), at least 16 characters.
    #[arg(
        long,
        env = "PRESENCE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub presence_webhook_secret: Option<String>,
    /// A folder whose files are served over HTTP at `/` (e.g. a front-end's build, or the
    /// socket.io client bundle for the demo page). Unset: no files are served.
    #[arg(long, env = "STATIC_DIR", value_name = "DIR", global = true)]
    pub static_dir: Option<PathBuf>,
    /// Serve socket.io's Admin UI on the `/admin` namespace: its dashboard (admin.socket.io, or
    /// `@socket.io/admin-ui`'s `ui/dist` served with `static_dir`) watches this server, and
    /// unless `admin_ui_readonly` acts on its clients. Needs `admin_ui_username` and
    /// `admin_ui_password_hash`, or `admin_ui_no_auth`.
    #[arg(long, env = "ADMIN_UI", value_parser = BoolishValueParser::new(), global = true)]
    pub admin_ui: bool,
    /// The Admin UI's user name.
    #[arg(long, env = "ADMIN_UI_USERNAME", global = true)]
    pub admin_ui_username: Option<String>,
    /// The bcrypt hash of its password (`$2b$10$...`), as `@socket.io/admin-ui`'s server side takes
    /// it; a plain password is refused.
    #[arg(
        long,
        env = "ADMIN_UI_PASSWORD_HASH",
        hide_env_values = true,
        global = true
    )]
    pub admin_ui_password_hash: Option<String>,
    /// The Admin UI only watches: it may not emit, move clients between rooms or disconnect them.
    #[arg(long, env = "ADMIN_UI_READONLY", value_parser = BoolishValueParser::new(), global = true)]
    pub admin_ui_readonly: bool,
    /// What the Admin UI is sent: `production` (figures only) or `development` (every client,
    /// room change and event, contents included).
    #[arg(long, env = "ADMIN_UI_MODE", default_value = defaults::ADMIN_UI_MODE, value_parser = ["production", "development"], global = true)]
    pub admin_ui_mode: String,
    /// Lets anyone who reaches `/admin` into the Admin UI, without a password: only where the
    /// network keeps everyone else out.
    #[arg(long, env = "ADMIN_UI_NO_AUTH", value_parser = BoolishValueParser::new(), global = true)]
    pub admin_ui_no_auth: bool,
    /// DEVELOPMENT ONLY: serve the demo chat page at `/demo` and `POST /demo/token`, which
    /// signs a token for any user name it is given. Never enable it where others can reach it.
    #[arg(long, env = "DEMO", value_parser = BoolishValueParser::new(), global = true)]
    pub demo: bool,
    /// Gzip or deflate long-polling responses of 1 KiB and more for clients that accept it
    /// (socket.io's `httpCompression`); `false` sends them as they are.
    #[arg(long, env = "HTTP_COMPRESSION", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value_t = true, global = true)]
    pub http_compression: bool,
    /// Sustained events per second per client (token bucket); over it the client gets `exception` `Too many requests`.
    #[arg(long, env = "EVENTS_PER_SECOND", default_value_t = iogate::defaults::EVENTS_PER_SECOND, global = true)]
    pub events_per_second: u32,
    /// Events a client may send at once above the sustained rate.
    #[arg(long, env = "EVENT_BURST", default_value_t = iogate::defaults::EVENT_BURST, global = true)]
    pub event_burst: u32,
    /// Events of one client that may wait for their handler.
    #[arg(long, env = "MAX_PENDING_EVENTS", default_value_t = iogate::defaults::MAX_PENDING_EVENTS, global = true)]
    pub max_pending_events: usize,
    /// Packets that may wait to be written to one client; a client that falls further behind is cut off.
    #[arg(long, env = "MAX_OUTGOING_PACKETS", default_value_t = iogate::defaults::MAX_OUTGOING_PACKETS, global = true)]
    pub max_outgoing_packets: usize,
    /// Bytes that may wait to be written to one client; a client that stops reading is cut off before its queue passes this.
    #[arg(long, env = "MAX_OUTGOING_BYTES", default_value_t = iogate::defaults::MAX_OUTGOING_BYTES, global = true)]
    pub max_outgoing_bytes: usize,
    /// Seconds a write to a WebSocket client may take; a client whose TCP window stays shut longer
    /// is cut off.
    #[arg(long, env = "WRITE_TIMEOUT", default_value_t = iogate::defaults::WRITE_TIMEOUT_SECS, global = true)]
    pub write_timeout: u64,
    /// Compress WebSocket messages of 1 KiB and more with permessage-deflate for clients that offer
    /// it (socket.io's `perMessageDeflate`); each message on its own, so idle clients cost no more
    /// memory (see [benchmarks](benchmarks.md#compression))
    #[arg(long, env = "PER_MESSAGE_DEFLATE", value_parser = BoolishValueParser::new(), global = true)]
    pub per_message_deflate: bool,
    /// How packets are written: `json` (socket.io's default parser) or `msgpack`
    /// (`socket.io-msgpack-parser`: clients pass `parser` to `io()`); a client with the other
    /// parser gets `connect_error` saying which the server uses.
    #[arg(long, env = "PARSER", default_value = defaults::PARSER, value_parser = ["json", "msgpack"], global = true)]
    pub parser: String,
    /// A client whose connection broke and that comes back within `max_disconnection_duration`
    /// keeps its id, rooms and data, and gets the events it missed, in order (socket.io's
    /// `connectionStateRecovery`); every event sent without an ack then carries an offset as its
    /// last argument (see [operations](operations.md#connection-state-recovery))
    #[arg(long, env = "CONNECTION_STATE_RECOVERY", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value_t = true, global = true)]
    pub connection_state_recovery: bool,
    /// Seconds a broken connection's session and the events it misses are kept.
    #[arg(long, env = "MAX_DISCONNECTION_DURATION", default_value_t = iogate::defaults::MAX_DISCONNECTION_DURATION_SECS, global = true)]
    pub max_disconnection_duration: u64,
    /// A recovered client skips the connection middlewares, unless the JWT it authenticated with
    /// expired meanwhile (then they all check the token it comes back with)
    #[arg(long, env = "SKIP_MIDDLEWARES", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value_t = iogate::defaults::SKIP_MIDDLEWARES, global = true)]
    pub skip_middlewares: bool,
    /// Most sessions kept for recovery at once; past it, the oldest is forgotten.
    #[arg(long, env = "RECOVERY_MAX_SESSIONS", default_value_t = iogate::defaults::RECOVERY_MAX_SESSIONS, global = true)]
    pub recovery_max_sessions: usize,
    /// Events kept for replay; a client that missed one already dropped connects as a new client.
    #[arg(long, env = "RECOVERY_MAX_PACKETS", default_value_t = iogate::defaults::RECOVERY_MAX_PACKETS, global = true)]
    pub recovery_max_packets: usize,
    /// Most bytes of events kept for replay.
    #[arg(long, env = "RECOVERY_MAX_BYTES", default_value_t = iogate::defaults::RECOVERY_MAX_BYTES, global = true)]
    pub recovery_max_bytes: usize,
    /// Bytes a WebSocket connection reads at a time; each client holds a buffer this big (raise it
    /// when clients mostly send large messages)
    #[arg(long, env = "WS_READ_BUFFER_SIZE", default_value_t = iogate::defaults::WS_READ_BUFFER_SIZE, global = true)]
    pub ws_read_buffer_size: usize,
    /// Longest event name, in bytes.
    #[arg(long, env = "MAX_EVENT_NAME_LEN", default_value_t = iogate::defaults::MAX_EVENT_NAME_LEN, global = true)]
    pub max_event_name_len: usize,
    /// Deepest JSON nesting of a message's arguments.
    #[arg(long, env = "MAX_JSON_DEPTH", default_value_t = iogate::defaults::MAX_JSON_DEPTH, global = true)]
    pub max_json_depth: usize,
    /// New connections per second from one IP address (sustained).
    #[arg(long, env = "CONNECTIONS_PER_IP_PER_SECOND", default_value_t = iogate::defaults::CONNECTIONS_PER_IP_PER_SECOND, global = true)]
    pub connections_per_ip_per_second: u32,
    /// New connections one IP address may open at once.
    #[arg(long, env = "CONNECTION_BURST_PER_IP", default_value_t = iogate::defaults::CONNECTION_BURST_PER_IP, global = true)]
    pub connection_burst_per_ip: u32,
    /// Clients connected to this server (all namespaces).
    #[arg(long, env = "MAX_CLIENTS", default_value_t = iogate::defaults::MAX_CLIENTS, global = true)]
    pub max_clients: usize,
    /// Clients of one user (`sub`) on this server.
    #[arg(long, env = "MAX_CLIENTS_PER_USER", default_value_t = iogate::defaults::MAX_CLIENTS_PER_USER, global = true)]
    pub max_clients_per_user: usize,
    /// Rooms one client may be in.
    #[arg(long, env = "MAX_ROOMS_PER_CLIENT", default_value_t = iogate::defaults::MAX_ROOMS_PER_CLIENT, global = true)]
    pub max_rooms_per_client: usize,
    /// Clients of one room on this node.
    #[arg(long, env = "MAX_CLIENTS_PER_ROOM", default_value_t = iogate::defaults::MAX_CLIENTS_PER_ROOM, global = true)]
    pub max_clients_per_room: usize,
    /// Longest room name, in bytes.
    #[arg(long, env = "MAX_ROOM_NAME_LEN", default_value_t = iogate::defaults::MAX_ROOM_NAME_LEN, global = true)]
    pub max_room_name_len: usize,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY", default_value_t = defaults::JWT_LEEWAY, global = true)]
    pub jwt_leeway: u64,
    /// The JWT algorithm accepted: HS256, HS384, HS512 (with `jwt_secret`), or RS256, RS384, RS512, ES256, ES384, EdDSA (with `jwt_public_key_file`). Only this one is accepted.
    #[arg(long, env = "JWT_ALGORITHM", default_value = defaults::JWT_ALGORITHM, global = true)]
    pub jwt_algorithm: String,
    /// A PEM public key file, for the RS*, ES* and EdDSA algorithms.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<String>,
    /// A JSON Web Key Set file: tokens are checked against the key their `kid` names, each with its own `alg` (overrides `jwt_algorithm`).
    #[arg(long, env = "JWT_JWKS_FILE", global = true)]
    pub jwt_jwks_file: Option<String>,
    /// When set, tokens must carry this `iss`.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
}

impl Default for Config {
    /// Every setting at its default, as `#[arg]` declares it (the environment is not read).
    fn default() -> Self {
        let cmd = Config::augment_args(clap::Command::new("iogate")).mut_args(|a| a.env(None));
        let matches = cmd.get_matches_from(["iogate"]);
        Config::from_arg_matches(&matches).expect("every setting has a default or is optional")
    }
}

/// One setting, as [`Config`]'s declaration says it.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The key in the config file, e.g. `port`; the flag is the key with `-` for `_`.
    pub key: String,
    /// The environment variable.
    pub env: String,
    /// Whether its value is a secret (its environment value is hidden from `--help`):
    /// `iogate config` masks it, or only the password of a URL.
    pub secret: bool,
    /// Its default, as `--help` shows it; `None` when unset by default.
    pub default: Option<String>,
    /// What it means: its doc comment.
    pub help: String,
}

/// Every setting, in the order they are declared (and `iogate config` prints them).
pub fn settings() -> &'static [Setting] {
    static SETTINGS: LazyLock<Vec<Setting>> = LazyLock::new(|| {
        let cmd = Config::augment_args(clap::Command::new("iogate"));
        cmd.get_arguments()
            .filter_map(|arg| {
                let env = arg.get_env()?.to_str()?.to_owned();
                let default = arg.get_default_values();
                Some(Setting {
                    key: arg.get_id().to_string(),
                    env,
                    secret: arg.is_hide_env_values_set(),
                    default: (!default.is_empty()).then(|| {
                        default
                            .iter()
                            .map(|v| v.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                    help: arg
                        .get_long_help()
                        .or(arg.get_help())
                        .map(|h| h.to_string())
                        .unwrap_or_default(),
                })
            })
            .collect()
    });
    &SETTINGS
}

/// The table of every setting in `docs/configuration.md`, made from their declaration: a test
/// keeps the document equal to it.
pub fn docs_table() -> String {
    let mut out = String::from(
        "| key | flag | environment | default | meaning |\n|---|---|---|---|---|\n\
         | — | `--config` | `IOGATE_CONFIG` | none | the TOML file to read |\n",
    );
    for s in settings() {
        let default = match &s.default {
            Some(d) => format!("`{d}`"),
            None => "none".to_owned(),
        };
        let secret = if s.secret { " **secret**" } else { "" };
        let help = s.help.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!(
            "| `{key}` | `--{flag}` | `{env}` | {default} | {help}{secret} |\n",
            key = s.key,
            flag = s.key.replace('_', "-"),
            env = s.env,
        ));
    }
    out
}

fn setting(key: &str) -> Option<&'static Setting> {
    settings().iter().find(|s| s.key == key)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nobody set it.
    Default,
    /// The config file.
    File(PathBuf),
    /// Its environment variable.
    Env(String),
    /// Its flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::Flag => f.write_str("flag"),
        }
    }
}

/// A setting with an unusable value: which, why, and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's key.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// Where the value came from, when known.
    pub source: Option<Source>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)?;
        match &self.source {
            Some(Source::Default) | None => Ok(()),
            Some(Source::Flag) => write!(f, " (from --{})", self.key.replace('_', "-")),
            Some(source) => write!(f, " (from {source})"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The config file could not be read.
    #[error("cannot read the config file {path}: {error}", path = .0.display(), error = .1)]
    Read(PathBuf, std::io::Error),
    /// The config file is not valid TOML.
    #[error("the config file {path} is not valid TOML: {error}", path = .0.display(), error = .1)]
    Syntax(PathBuf, String),
    /// A setting is wrong.
    #[error("invalid configuration: {0}")]
    Invalid(ConfigError),
}

/// The configuration in effect, and where each value came from.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The merged settings.
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    sources: BTreeMap<String, Source>,
}

impl Effective {
    /// Where the value of `key` came from.
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// The effective configuration as TOML, a comment after each value telling where it came
    /// from; secrets masked. Valid as a config file once the masked secrets are filled in.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# iogate's effective configuration: flags > environment > config file > defaults.\n\
             # Secrets are masked; unset settings are commented out.\n",
        );
        if let Some(file) = &self.file {
            out.push_str(&format!("# config file: {}\n", file.display()));
        }
        let values = self.config.values();
        for setting in settings() {
            let source = self.source(&setting.key);
            let line = match values.get(&setting.key) {
                Some(value) => {
                    let value = if setting.secret {
                        mask(value)
                    } else {
                        value.clone()
                    };
                    format!("{} = {}", setting.key, value)
                }
                None => format!("# {} = (unset){}", setting.key, unset_meaning(&setting.key)),
            };
            out.push_str(&format!("{line:<48} # {source}\n"));
        }
        out
    }
}

/// What an unset optional setting means.
fn unset_meaning(key: &str) -> &'static str {
    match key {
        "jwt_secret" => ": a random secret at each start",
        "api_key" => ": a random key at each start",
        "trusted_proxies" => ": no proxy, forwarding headers ignored",
        "redis_url" => ": a single node",
        "metrics_key" => ": /metrics is open",
        "presence_webhook_url" | "presence_webhook_secret" => ": no presence webhook",
        "admin_ui_username" | "admin_ui_password_hash" => ": no Admin UI login",
        "static_dir" => ": no files served",
        "jwt_public_key_file" => ": HMAC with jwt_secret",
        "jwt_jwks_file" => ": no JWKS",
        "jwt_issuer" | "jwt_audience" => ": not checked",
        _ => "",
    }
}

/// A JSON value as TOML: `None` for null or an empty list (unset); integers past TOML's
/// range clamped.
fn toml_of(value: serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    use toml::Value as T;
    Some(match value {
        J::Null => return None,
        J::Bool(b) => T::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => T::Integer(i),
            None if n.is_u64() => T::Integer(i64::MAX),
            None => T::Float(n.as_f64().unwrap_or_default()),
        },
        J::String(s) => T::String(s),
        J::Array(items) if items.is_empty() => return None,
        J::Array(items) => T::Array(items.into_iter().filter_map(toml_of).collect()),
        J::Object(fields) => T::Table(
            fields
                .into_iter()
                .filter_map(|(k, v)| Some((k, toml_of(v)?)))
                .collect(),
        ),
    })
}

/// `"********"` for a set secret, element-wise for a list; a URL keeps all but its password.
fn mask(value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::Array(items) => toml::Value::Array(items.iter().map(mask).collect()),
        toml::Value::String(url) if url.contains("://") => toml::Value::String(redact_url(url)),
        _ => toml::Value::String("********".into()),
    }
}

/// `url` with its password, if any, replaced by `********`, for logs and `iogate config`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:********")
            } else {
                // `redis://password@host` is how some write a password-only URL.
                "********".to_owned()
            };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Parses the command line and environment, reads the config file they name, and validates
/// the result.
///
/// # Errors
/// Exits the process (as clap does) for a malformed flag or environment variable, or `--help`;
/// returns a [`LoadError`] for an unreadable file or an invalid setting.
pub fn load() -> Result<(Option<Command>, Effective), LoadError> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::command().try_get_matches_from(&args) {
        Ok(matches) => load_from_matches(matches),
        Err(e) => {
            let from_env = env_culprit(&e, &args);
            let _ = e.print();
            if let Some(var) = from_env {
                eprintln!("(that value came from the environment variable {var})");
            }
            std::process::exit(e.exit_code());
        }
    }
}

/// The environment variable behind a malformed value, when no flag gave it: clap names only
/// the flag.
fn env_culprit(e: &clap::Error, args: &[std::ffi::OsString]) -> Option<&'static str> {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split_whitespace().next()?;
    let given = args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    });
    if given {
        return None;
    }
    let key = flag.strip_prefix("--")?.replace('-', "_");
    setting(&key).map(|s| s.env.as_str())
}

/// [`load`] for the given arguments (the environment is still read).
pub fn load_from<I, T>(args: I) -> Result<(Option<Command>, Effective), LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    load_from_matches(Cli::command().get_matches_from(args))
}

fn load_from_matches(matches: ArgMatches) -> Result<(Option<Command>, Effective), LoadError> {
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Global arguments given after a subcommand are recorded in the subcommand's matches.
    let sub = matches.subcommand().map(|(_, m)| m);
    let source_of = |key: &str| -> Option<ValueSource> {
        let top = matches.value_source(key);
        let inner = sub.and_then(|m| m.value_source(key));
        [top, inner].into_iter().flatten().max()
    };
    let mut sources = BTreeMap::new();
    for setting in settings() {
        let source = match source_of(&setting.key) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(setting.env.clone()),
            _ => Source::Default,
        };
        sources.insert(setting.key.clone(), source);
    }
    let mut config = cli.config;
    if let Some(path) = &cli.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read(path.clone(), e))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| LoadError::Syntax(path.clone(), e.to_string()))?;
        let file = Source::File(path.clone());
        let mut merged = config.values();
        for (key, value) in table {
            let Some(setting) = setting(&key) else {
                return Err(LoadError::Invalid(ConfigError {
                    problem: format!(
                        "unknown setting in {} (known: {})",
                        path.display(),
                        known_keys()
                    ),
                    key,
                    source: None,
                }));
            };
            // Each value is checked alone, so the error names its key; one that a flag or
            // variable overrides is checked too: the file is wrong.
            Config::from_values(toml::Table::from_iter([(key.clone(), value.clone())])).map_err(
                |problem| {
                    LoadError::Invalid(ConfigError {
                        key: key.clone(),
                        problem,
                        source: Some(file.clone()),
                    })
                },
            )?;
            if sources[&key] == Source::Default {
                merged.insert(key.clone(), value);
                sources.insert(key, file.clone());
            }
            if setting.secret {
                warn_if_readable(path, &setting.key);
            }
        }
        config = Config::from_values(merged).map_err(|problem| {
            LoadError::Invalid(ConfigError {
                key: "config".into(),
                problem,
                source: Some(file),
            })
        })?;
    }
    let effective = Effective {
        config,
        file: cli.config_file,
        sources,
    };
    effective.config.validate().map_err(|mut e| {
        e.source = Some(effective.source(&e.key));
        LoadError::Invalid(e)
    })?;
    Ok((cli.command, effective))
}

fn known_keys() -> String {
    settings()
        .iter()
        .map(|s| s.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Warns once per file that holds a secret and that other users may read.
fn warn_if_readable(path: &Path, key: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o004 != 0
        {
            eprintln!(
                "iogate: warning: {} holds {key} and every user of this machine may read it (chmod 600 it)",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, key);
}

/// How a file gives the settings whose type alone does not say it.
mod from_file {
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer};

    /// A list: a TOML array of strings, or one string of comma-separated items as in the
    /// environment.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum List {
            One(String),
            Many(Vec<String>),
        }
        match List::deserialize(d) {
            Ok(List::One(s)) => Ok(s.split(',').map(str::to_owned).collect()),
            Ok(List::Many(v)) => Ok(v),
            Err(_) => Err(serde::de::Error::custom(
                "expected a string or an array of strings",
            )),
        }
    }

    /// An IP address, said as a string.
    pub fn address<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an IP address (e.g. \"127.0.0.1\", \"0.0.0.0\", \"::\")"
            ))
        })
    }
}

impl Config {
    /// The smallest secret length accepted: HS256 keys shorter than its output are weak.
    pub const MIN_SECRET_LEN: usize = 32;
    /// The smallest API or metrics key accepted.
    pub const MIN_KEY_LEN: usize = 16;

    /// The Admin UI's settings, when it is on.
    pub fn admin(&self) -> Result<Option<iogate::admin::AdminUi>, String> {
        use iogate::admin::{AdminMode, AdminUi};
        if !self.admin_ui {
            return Ok(None);
        }
        let admin = match (&self.admin_ui_username, &self.admin_ui_password_hash) {
            _ if self.admin_ui_no_auth => AdminUi::without_auth(),
            (Some(user), Some(hash)) => {
                AdminUi::basic_auth(user, hash).map_err(|e| e.to_string())?
            }
            _ => {
                return Err("needs admin_ui_username and admin_ui_password_hash \
                            (or admin_ui_no_auth = true, where no one else can reach /admin)"
                    .to_owned());
            }
        };
        let mode = match self.admin_ui_mode.as_str() {
            "development" => AdminMode::Development,
            _ => AdminMode::Production,
        };
        Ok(Some(admin.readonly(self.admin_ui_readonly).mode(mode)))
    }

    /// The trusted proxies, and the header they write.
    pub fn proxies(&self) -> Result<iogate::TrustedProxies, String> {
        let header = match self.forwarded_header.as_str() {
            "forwarded" => iogate::ForwardedHeader::Forwarded,
            _ => iogate::ForwardedHeader::XForwardedFor,
        };
        iogate::TrustedProxies::parse(&self.trusted_proxies, header)
    }

    /// The presence webhook the settings describe, if any.
    pub fn presence_webhook(&self) -> Result<Option<iogate::webhook::Webhook>, String> {
        let Some(url) = &self.presence_webhook_url else {
            return Ok(None);
        };
        let secret = match &self.presence_webhook_secret {
            None => return Err("needs presence_webhook_secret to sign the events".into()),
            Some(s) if s.len() < Self::MIN_KEY_LEN => {
                return Err(format!(
                    "presence_webhook_secret must be at least {} characters long (got {})",
                    Self::MIN_KEY_LEN,
                    s.len()
                ));
            }
            Some(s) => s,
        };
        iogate::webhook::Webhook::new(url, secret)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The settings that `values` gives, the others at their default; the problem, in
    /// serde's words, when a value is not of its setting's type.
    fn from_values(values: toml::Table) -> Result<Self, String> {
        Config::deserialize(values).map_err(|e| e.message().to_owned())
    }

    /// Every set setting's value, as a config file writes it (unset optional settings and
    /// empty lists left out).
    fn values(&self) -> toml::Table {
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) else {
            return toml::Table::new();
        };
        fields
            .into_iter()
            .filter_map(|(key, value)| Some((key, toml_of(value)?)))
            .collect()
    }

    /// Checks what types cannot: lengths of secrets, shapes of origins and URLs, the log
    /// filter, the static folder. The error names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, problem: String| ConfigError {
            key: key.to_owned(),
            problem,
            source: None,
        };
        if !["json", "msgpack"].contains(&self.parser.as_str()) {
            return Err(fail(
                "parser",
                format!("must be json or msgpack (got {:?})", self.parser),
            ));
        }
        self.proxies().map_err(|p| fail("trusted_proxies", p))?;
        self.admin().map_err(|p| fail("admin_ui", p))?;
        self.presence_webhook()
            .map_err(|p| fail("presence_webhook_url", p))?;
        if !["x-forwarded-for", "forwarded"].contains(&self.forwarded_header.as_str()) {
            return Err(fail(
                "forwarded_header",
                format!(
                    "must be x-forwarded-for or forwarded (got {:?})",
                    self.forwarded_header
                ),
            ));
        }
        if !["pubsub", "streams", "sharded"].contains(&self.redis_adapter.as_str()) {
            return Err(fail(
                "redis_adapter",
                format!(
                    "must be pubsub, streams or sharded (got {:?})",
                    self.redis_adapter
                ),
            ));
        }
        if let Some(s) = &self.jwt_secret
            && s.len() < Self::MIN_SECRET_LEN
        {
            return Err(fail(
                "jwt_secret",
                format!(
                    "must be at least {} bytes long (got {})",
                    Self::MIN_SECRET_LEN,
                    s.len()
                ),
            ));
        }
        if let Some(k) = self.api_key.iter().find(|k| k.len() < Self::MIN_KEY_LEN) {
            return Err(fail(
                "api_key",
                format!(
                    "each key must be at least {} characters long (one has {})",
                    Self::MIN_KEY_LEN,
                    k.len()
                ),
            ));
        }
        if let Some(k) = &self.metrics_key
            && k.len() < Self::MIN_KEY_LEN
        {
            return Err(fail(
                "metrics_key",
                format!(
                    "must be at least {} characters long (got {})",
                    Self::MIN_KEY_LEN,
                    k.len()
                ),
            ));
        }
        if self.allowed_origins.is_empty() {
            return Err(fail(
                "allowed_origins",
                "must not be empty: use \"*\" for any origin".into(),
            ));
        }
        for origin in &self.allowed_origins {
            check_origin(origin).map_err(|p| fail("allowed_origins", p))?;
        }
        if self.max_payload == 0 {
            return Err(fail("max_payload", "must be at least 1 byte".into()));
        }
        if let Some(url) = &self.redis_url
            && !url
                .split(',')
                .all(|u| u.trim().starts_with("redis://") || u.trim().starts_with("rediss://"))
        {
            return Err(fail(
                "redis_url",
                format!(
                    "{:?} is not a Redis URL: expected redis://host:port or rediss://host:port",
                    redact_url(url)
                ),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(fail(
                "log",
                format!("{:?} is not a log filter: {e}", self.log),
            ));
        }
        if let Some(dir) = &self.static_dir
            && !dir.is_dir()
        {
            return Err(fail(
                "static_dir",
                format!("{} is not a folder", dir.display()),
            ));
        }
        Ok(())
    }
}

/// An allowed origin is `*` or `scheme://host[:port]`, with nothing after: browsers send
/// exactly that, so `https://app.example.com/` would never match.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return Err(format!(
            "{origin:?} is not an origin: expected scheme://host[:port], e.g. https://app.example.com"
        ));
    };
    if scheme.is_empty()
        || host.is_empty()
        || host.contains('/')
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{origin:?} is not an origin: expected scheme://host[:port] with no path (browsers send no trailing slash)"
        ));
    }
    Ok(())
}

/// A random secret, 256 bits, as hex text.
pub fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config file in the temporary folder, removed on drop.
    struct TempFile(PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file(text: &str) -> TempFile {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "iogate-config-test-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    fn load_args(args: &[&str]) -> Result<Effective, LoadError> {
        load_from(std::iter::once("iogate").chain(args.iter().copied())).map(|(_, e)| e)
    }

    #[test]
    fn every_setting_has_its_flag_and_variable_and_reads_back_from_a_file() {
        let cmd = Cli::command();
        for setting in settings() {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == setting.key.as_str())
                .unwrap_or_else(|| panic!("no argument {}", setting.key));
            assert_eq!(arg.get_long(), Some(&*setting.key.replace('_', "-")));
            assert!(!setting.env.is_empty() && !setting.help.is_empty());
        }
        let args = cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some_and(|l| l != "config"))
            .count();
        assert_eq!(args, settings().len(), "a setting without a variable");
        // Every setting, set, is written out and read back by the file's rules.
        let config = Config {
            jwt_secret: Some("x".into()),
            api_key: vec!["k".into()],
            trusted_proxies: vec!["10.0.0.0/8".into()],
            redis_url: Some("redis://h".into()),
            metrics_key: Some("m".into()),
            presence_webhook_url: Some("http://h/hooks".into()),
            presence_webhook_secret: Some("s".into()),
            admin_ui_username: Some("admin".into()),
            admin_ui_password_hash: Some("h".into()),
            static_dir: Some(".".into()),
            jwt_public_key_file: Some("k.pem".into()),
            jwt_jwks_file: Some("jwks.json".into()),
            jwt_issuer: Some("i".into()),
            jwt_audience: Some("a".into()),
            port: 4321,
            ..Config::default()
        };
        let values = config.values();
        for setting in settings() {
            assert!(values.contains_key(&setting.key), "{}", setting.key);
        }
        let back = Config::from_values(values.clone()).unwrap();
        assert_eq!(back.values(), values);
        assert_eq!(back.port, 4321);
    }

    /// `docs/configuration.md`'s table is [`docs_table`]; `IOGATE_WRITE_DOCS=1 cargo test -p
    /// iogate-server docs_table` writes it there after a setting changed.
    #[test]
    fn docs_table_is_made_from_the_declarations() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- settings: begin -->\n", "<!-- settings: end -->");
        let start = doc.find(begin).expect("the table's begin marker") + begin.len();
        let stop = doc.find(end).expect("the table's end marker");
        let table = docs_table();
        if doc[start..stop] != table && std::env::var_os("IOGATE_WRITE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
            return;
        }
        assert!(
            doc[start..stop] == table,
            "docs/configuration.md's table is out of date: IOGATE_WRITE_DOCS=1 cargo test -p iogate-server docs_table"
        );
    }

    #[test]
    fn defaults_are_the_declared_ones_whatever_the_environment() {
        let config = Config::default();
        assert_eq!(config.port, defaults::PORT);
        assert_eq!(config.allowed_origins, [defaults::ALLOWED_ORIGINS]);
        assert!(config.metrics && config.connection_state_recovery && !config.demo);
        assert_eq!(config.jwt_secret, None);
        let port = settings().iter().find(|s| s.key == "port").unwrap();
        assert_eq!(port.default.as_deref(), Some("3000"));
        assert!(
            settings()
                .iter()
                .find(|s| s.key == "jwt_secret")
                .unwrap()
                .secret
        );
    }

    #[test]
    fn the_admin_ui_needs_credentials_unless_told_otherwise() {
        let on = |user: Option<&str>, hash: Option<&str>, no_auth: bool| Config {
            admin_ui: true,
            admin_ui_username: user.map(str::to_owned),
            admin_ui_password_hash: hash.map(str::to_owned),
            admin_ui_no_auth: no_auth,
            ..Config::default()
        };
        let err = on(None, None, false).validate().unwrap_err().to_string();
        assert!(
            err.starts_with("admin_ui: needs admin_ui_username"),
            "{err}"
        );
        let err = on(Some("a"), Some("plain"), false)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("bcrypt hash"), "{err}");
        let hash = "$2b$04$Q6x3VYnhPTPhzx3bTt6Q6eyjBQ33Rmc1X0MTY7ybP0ZpuKK1cTnIW";
        assert!(on(Some("a"), Some(hash), false).validate().is_ok());
        assert!(on(None, None, true).validate().is_ok());
        assert!(Config::default().validate().is_ok(), "off needs nothing");
    }

    #[test]
    fn trusted_proxies_must_be_addresses_or_ranges() {
        let config = |proxies: &[&str]| Config {
            trusted_proxies: proxies.iter().map(|p| p.to_string()).collect(),
            ..Config::default()
        };
        assert!(
            config(&["10.0.0.0/8", "192.168.1.10", "fd00::/8"])
                .validate()
                .is_ok()
        );
        let err = config(&["proxy.internal"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("trusted_proxies: \"proxy.internal\" is not an address"),
            "{err}"
        );
    }

    #[test]
    fn the_file_sets_what_flags_leave_to_defaults() {
        let f =
            file("port = 4000\nmax_payload = 2048\nallowed_origins = [\"https://a.example\"]\n");
        let path = f.0.to_str().unwrap();
        let e = load_args(&["--config", path, "--max-payload", "99"]).unwrap();
        assert_eq!(e.config.port, 4000);
        assert_eq!(e.source("port"), Source::File(f.0.clone()));
        assert_eq!(e.config.max_payload, 99, "a flag wins over the file");
        assert_eq!(e.source("max_payload"), Source::Flag);
        assert_eq!(e.config.allowed_origins, ["https://a.example"]);
        // Global flags are accepted after a subcommand too.
        let (cmd, e) = load_from(["iogate", "config", "--config", path, "--port", "5"]).unwrap();
        assert!(matches!(cmd, Some(Command::Config)));
        assert_eq!((e.config.port, e.source("port")), (5, Source::Flag));
    }

    #[test]
    fn file_errors_name_the_key() {
        let refusal = |text: &str| {
            let f = file(text);
            load_args(&["--config", f.0.to_str().unwrap()])
                .unwrap_err()
                .to_string()
        };
        let err = refusal("port = \"eighty\"\n");
        assert!(err.starts_with("invalid configuration: port: "), "{err}");
        assert!(
            err.contains("expected u16") && err.contains("(from file "),
            "{err}"
        );

        let err = refusal("prot = 80\n");
        assert!(
            err.starts_with("invalid configuration: prot: unknown setting"),
            "{err}"
        );

        let err = refusal("jwt_secret = \"short\"\n");
        assert!(
            err.contains("jwt_secret: must be at least 32 bytes long (got 5) (from file"),
            "{err}"
        );

        let err = refusal("port = \n");
        assert!(
            err.contains("is not valid TOML") && err.contains("line 1"),
            "{err}"
        );

        let err = load_args(&["--config", "/nonexistent/iogate.toml"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read the config file /nonexistent/iogate.toml"),
            "{err}"
        );
    }

    #[test]
    fn validation_names_the_setting_and_the_problem() {
        let check = |c: Config| c.validate().unwrap_err().to_string();
        assert_eq!(
            check(Config {
                api_key: vec!["short".into()],
                ..Config::default()
            }),
            "api_key: each key must be at least 16 characters long (one has 5)"
        );
        assert!(
            check(Config {
                allowed_origins: vec!["https://a.example/".into()],
                ..Config::default()
            })
            .starts_with("allowed_origins: \"https://a.example/\" is not an origin")
        );
        assert!(
            check(Config {
                redis_url: Some("http://h".into()),
                ..Config::default()
            })
            .starts_with("redis_url: ")
        );
        assert!(
            check(Config {
                log: "info,a=loud".into(),
                ..Config::default()
            })
            .starts_with("log: ")
        );
        assert!(
            check(Config {
                static_dir: Some("/nonexistent".into()),
                ..Config::default()
            })
            .starts_with("static_dir: ")
        );
        assert_eq!(
            check(Config {
                presence_webhook_url: Some("http://127.0.0.1:9/hooks".into()),
                ..Config::default()
            }),
            "presence_webhook_url: needs presence_webhook_secret to sign the events"
        );
        assert!(
            check(Config {
                presence_webhook_url: Some("https://hooks.example/".into()),
                presence_webhook_secret: Some("a-webhook-secret-16+".into()),
                ..Config::default()
            })
            .starts_with("presence_webhook_url: the webhook URL must be http://")
        );
        assert!(
            Config {
                presence_webhook_url: Some("http://127.0.0.1:9/hooks".into()),
                presence_webhook_secret: Some("a-webhook-secret-16+".into()),
                ..Config::default()
            }
            .validate()
            .is_ok()
        );
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn render_masks_secrets_and_passwords() {
        let f = file(
            "jwt_secret = \"0123456789abcdef0123456789abcdef\"\napi_key = \"key-one-0123456789,key-two-0123456789\"\nredis_url = \"redis://:hunter2hunter2@db:6379/0\"\n",
        );
        let e = load_args(&["--config", f.0.to_str().unwrap()]).unwrap();
        let text = e.render();
        assert!(
            !text.contains("0123456789abcdef")
                && !text.contains("key-one")
                && !text.contains("hunter2"),
            "{text}"
        );
        assert!(
            text.contains(r#"api_key = ["********", "********"]"#),
            "{text}"
        );
        assert!(
            text.contains(r#"redis_url = "redis://:********@db:6379/0""#),
            "{text}"
        );
        assert!(
            text.contains("# metrics_key = (unset): /metrics is open"),
            "{text}"
        );
        // What it prints is a config file again.
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["port"].as_integer(), Some(3000));
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("redis://u:p@h:1/2"), "redis://u:********@h:1/2");
        assert_eq!(redact_url("rediss://secret@h"), "rediss://********@h");
    }
}

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

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::Deserialize;

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

/// The defaults, shared by clap's help and [`Config::default`].
pub mod defaults {
    /// `port`.
    pub const PORT: u16 = 3000;
    /// `host`.
    pub const HOST: &str = "127.0.0.1";
    /// `allowed_origins`.
    pub const ALLOWED_ORIGINS: &str = "*";
    /// `max_payload`, socket.io's `maxHttpBufferSize` default.
    pub const MAX_PAYLOAD: u64 = 1_000_000;
    /// `redis_startup_timeout`, in seconds.
    pub const REDIS_STARTUP_TIMEOUT: u64 = 30;
    /// `shutdown_timeout`, in seconds.
    pub const SHUTDOWN_TIMEOUT: u64 = 10;
    /// `log`.
    pub const LOG: &str = "info";
    /// `events_per_second`.
    pub const EVENTS_PER_SECOND: u32 = 1000;
    /// `event_burst`.
    pub const EVENT_BURST: u32 = 4096;
    /// `max_pending_events`.
    pub const MAX_PENDING_EVENTS: usize = 4096;
    /// `max_outgoing_packets`.
    pub const MAX_OUTGOING_PACKETS: usize = 4096;
    /// `max_outgoing_bytes`.
    pub const MAX_OUTGOING_BYTES: usize = 1 << 20;
    /// `write_timeout`, in seconds.
    pub const WRITE_TIMEOUT: u64 = 10;
    /// `ws_read_buffer_size`.
    pub const WS_READ_BUFFER_SIZE: usize = 1024;
    /// `parser`.
    pub const PARSER: &str = "json";
    /// `redis_adapter`.
    pub const REDIS_ADAPTER: &str = "pubsub";
    /// `forwarded_header`.
    pub const FORWARDED_HEADER: &str = "x-forwarded-for";
    /// `admin_ui_mode`.
    pub const ADMIN_UI_MODE: &str = "production";
    /// `max_disconnection_duration`, in seconds.
    pub const MAX_DISCONNECTION_DURATION: u64 = 120;
    /// `recovery_max_sessions`.
    pub const RECOVERY_MAX_SESSIONS: usize = 10_000;
    /// `recovery_max_packets`.
    pub const RECOVERY_MAX_PACKETS: usize = 10_000;
    /// `recovery_max_bytes`.
    pub const RECOVERY_MAX_BYTES: usize = 16 << 20;
    /// `max_event_name_len`.
    pub const MAX_EVENT_NAME_LEN: usize = 128;
    /// `max_json_depth`.
    pub const MAX_JSON_DEPTH: usize = 32;
    /// `connections_per_ip_per_second`.
    pub const CONNECTIONS_PER_IP_PER_SECOND: u32 = 20;
    /// `connection_burst_per_ip`.
    pub const CONNECTION_BURST_PER_IP: u32 = 50;
    /// `max_clients`.
    pub const MAX_CLIENTS: usize = 100000;
    /// `max_clients_per_user`.
    pub const MAX_CLIENTS_PER_USER: usize = 32;
    /// `max_rooms_per_client`.
    pub const MAX_ROOMS_PER_CLIENT: usize = 128;
    /// `max_clients_per_room`.
    pub const MAX_CLIENTS_PER_ROOM: usize = 10000;
    /// `max_room_name_len`.
    pub const MAX_ROOM_NAME_LEN: usize = 128;
    /// `jwt_leeway`.
    pub const JWT_LEEWAY: u64 = 0;
    /// `jwt_algorithm`.
    pub const JWT_ALGORITHM: &str = "HS256";
}

/// The server's settings, once flags, environment and file are merged.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// The port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = defaults::PORT, global = true)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, env = "HOST", default_value = defaults::HOST, global = true)]
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
    pub api_key: Vec<String>,
    /// The origins browsers may connect from, comma-separated (`https://app.example.com`);
    /// `*` for any (without credentials).
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = defaults::ALLOWED_ORIGINS,
        global = true
    )]
    pub allowed_origins: Vec<String>,
    /// The reverse proxies in front of iogate, comma-separated addresses or ranges
    /// (`10.0.0.0/8,192.168.1.10`): a connection from one of them counts as coming from the
    /// client its forwarding header names (the rightmost hop that is not one of them), for the
    /// per-IP limit and the logs. Unset: no header is believed, and every client behind a proxy
    /// shares the proxy's address.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies name the client in: `x-forwarded-for` or `forwarded`
    /// (RFC 7239).
    #[arg(long, env = "FORWARDED_HEADER", default_value = defaults::FORWARDED_HEADER, value_parser = ["x-forwarded-for", "forwarded"], global = true)]
    pub forwarded_header: String,
    /// The largest packet a client may send, in bytes (socket.io's maxHttpBufferSize).
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = defaults::MAX_PAYLOAD, global = true)]
    pub max_payload: u64,
    /// Redis to cluster over (`redis://[:password@]host:port`): every iogate process given the
    /// same Redis behaves as one server. Unset: a single node, no Redis needed. With
    /// `redis_adapter = "sharded"`, the seed nodes of a Redis Cluster, comma-separated.
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
    /// which `@socket.io/redis-emitter` can publish to) or `streams`
    /// (`@socket.io/redis-streams-adapter`: a client whose connection broke is recovered on any
    /// node) or `sharded` (`@socket.io/redis-adapter`'s sharded adapter, on a Redis Cluster).
    /// Every node of a cluster, Node's too, must use the same one.
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
    /// `room_occupied`, `room_vacated`) as signed JSON POSTs, retried until taken. Needs
    /// `presence_webhook_secret`. Unset: no webhook.
    #[arg(long, env = "PRESENCE_WEBHOOK_URL", value_name = "URL", global = true)]
    pub presence_webhook_url: Option<String>,
    /// The key of the webhook's HMAC-SHA256 signatures (`X-Iogate-Signature`), at least 16
    /// characters.
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
    /// The bcrypt hash of the Admin UI's password (`$2b$10$...`), as the UI's Node server
    /// side takes it.
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
    #[arg(long, env = "EVENTS_PER_SECOND", default_value_t = defaults::EVENTS_PER_SECOND, global = true)]
    pub events_per_second: u32,
    /// Events a client may send at once above the sustained rate.
    #[arg(long, env = "EVENT_BURST", default_value_t = defaults::EVENT_BURST, global = true)]
    pub event_burst: u32,
    /// Events of one client that may wait for their handler.
    #[arg(long, env = "MAX_PENDING_EVENTS", default_value_t = defaults::MAX_PENDING_EVENTS, global = true)]
    pub max_pending_events: usize,
    /// Packets that may wait to be written to one client; a client that falls further behind is cut off.
    #[arg(long, env = "MAX_OUTGOING_PACKETS", default_value_t = defaults::MAX_OUTGOING_PACKETS, global = true)]
    pub max_outgoing_packets: usize,
    /// Bytes that may wait to be written to one client; a client that stops reading is cut off before its queue passes this.
    #[arg(long, env = "MAX_OUTGOING_BYTES", default_value_t = defaults::MAX_OUTGOING_BYTES, global = true)]
    pub max_outgoing_bytes: usize,
    /// Seconds a write to a WebSocket client may take before the connection is cut off.
    #[arg(long, env = "WRITE_TIMEOUT", default_value_t = defaults::WRITE_TIMEOUT, global = true)]
    pub write_timeout: u64,
    /// Compress WebSocket messages of 1 KiB and more with permessage-deflate for clients that
    /// offer it (socket.io's `perMessageDeflate`, off by default as there).
    #[arg(long, env = "PER_MESSAGE_DEFLATE", value_parser = BoolishValueParser::new(), global = true)]
    pub per_message_deflate: bool,
    /// How packets are written: `json` (socket.io's default parser) or `msgpack`
    /// (`socket.io-msgpack-parser`); clients must use the same one.
    #[arg(long, env = "PARSER", default_value = defaults::PARSER, value_parser = ["json", "msgpack"], global = true)]
    pub parser: String,
    /// Connection state recovery (socket.io's `connectionStateRecovery`): a client whose
    /// connection broke and that comes back in time keeps its id, rooms and data, and gets
    /// the events it missed; every event sent without an ack carries an offset as its last
    /// argument.
    #[arg(long, env = "CONNECTION_STATE_RECOVERY", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value_t = true, global = true)]
    pub connection_state_recovery: bool,
    /// Seconds a broken connection's session and the events it misses are kept.
    #[arg(long, env = "MAX_DISCONNECTION_DURATION", default_value_t = defaults::MAX_DISCONNECTION_DURATION, global = true)]
    pub max_disconnection_duration: u64,
    /// Whether a recovered client skips the connection middlewares (its JWT is checked all the same).
    #[arg(long, env = "SKIP_MIDDLEWARES", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, default_value_t = true, global = true)]
    pub skip_middlewares: bool,
    /// Most sessions kept for recovery at once; past it, the oldest is forgotten.
    #[arg(long, env = "RECOVERY_MAX_SESSIONS", default_value_t = defaults::RECOVERY_MAX_SESSIONS, global = true)]
    pub recovery_max_sessions: usize,
    /// Most events kept for replay.
    #[arg(long, env = "RECOVERY_MAX_PACKETS", default_value_t = defaults::RECOVERY_MAX_PACKETS, global = true)]
    pub recovery_max_packets: usize,
    /// Most bytes of events kept for replay.
    #[arg(long, env = "RECOVERY_MAX_BYTES", default_value_t = defaults::RECOVERY_MAX_BYTES, global = true)]
    pub recovery_max_bytes: usize,
    /// Bytes a WebSocket connection reads at a time; every client holds a buffer this big.
    #[arg(long, env = "WS_READ_BUFFER_SIZE", default_value_t = defaults::WS_READ_BUFFER_SIZE, global = true)]
    pub ws_read_buffer_size: usize,
    /// Longest event name, in bytes.
    #[arg(long, env = "MAX_EVENT_NAME_LEN", default_value_t = defaults::MAX_EVENT_NAME_LEN, global = true)]
    pub max_event_name_len: usize,
    /// Deepest JSON nesting of a message's arguments.
    #[arg(long, env = "MAX_JSON_DEPTH", default_value_t = defaults::MAX_JSON_DEPTH, global = true)]
    pub max_json_depth: usize,
    /// New connections per second from one IP address (sustained).
    #[arg(long, env = "CONNECTIONS_PER_IP_PER_SECOND", default_value_t = defaults::CONNECTIONS_PER_IP_PER_SECOND, global = true)]
    pub connections_per_ip_per_second: u32,
    /// New connections one IP address may open at once.
    #[arg(long, env = "CONNECTION_BURST_PER_IP", default_value_t = defaults::CONNECTION_BURST_PER_IP, global = true)]
    pub connection_burst_per_ip: u32,
    /// Clients connected to this server (all namespaces).
    #[arg(long, env = "MAX_CLIENTS", default_value_t = defaults::MAX_CLIENTS, global = true)]
    pub max_clients: usize,
    /// Clients of one user (`sub`) on this server.
    #[arg(long, env = "MAX_CLIENTS_PER_USER", default_value_t = defaults::MAX_CLIENTS_PER_USER, global = true)]
    pub max_clients_per_user: usize,
    /// Rooms one client may be in.
    #[arg(long, env = "MAX_ROOMS_PER_CLIENT", default_value_t = defaults::MAX_ROOMS_PER_CLIENT, global = true)]
    pub max_rooms_per_client: usize,
    /// Clients of one room on this node.
    #[arg(long, env = "MAX_CLIENTS_PER_ROOM", default_value_t = defaults::MAX_CLIENTS_PER_ROOM, global = true)]
    pub max_clients_per_room: usize,
    /// Longest room name, in bytes.
    #[arg(long, env = "MAX_ROOM_NAME_LEN", default_value_t = defaults::MAX_ROOM_NAME_LEN, global = true)]
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
    fn default() -> Self {
        Self {
            port: defaults::PORT,
            host: defaults::HOST.parse().expect("a valid address"),
            jwt_secret: None,
            api_key: Vec::new(),
            allowed_origins: vec![defaults::ALLOWED_ORIGINS.to_owned()],
            trusted_proxies: Vec::new(),
            forwarded_header: defaults::FORWARDED_HEADER.to_owned(),
            max_payload: defaults::MAX_PAYLOAD,
            redis_url: None,
            redis_startup_timeout: defaults::REDIS_STARTUP_TIMEOUT,
            redis_adapter: defaults::REDIS_ADAPTER.to_owned(),
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
            log: defaults::LOG.to_owned(),
            log_json: false,
            metrics: true,
            metrics_key: None,
            presence_webhook_url: None,
            presence_webhook_secret: None,
            admin_ui: false,
            admin_ui_username: None,
            admin_ui_password_hash: None,
            admin_ui_readonly: false,
            admin_ui_mode: defaults::ADMIN_UI_MODE.to_owned(),
            admin_ui_no_auth: false,
            static_dir: None,
            demo: false,
            http_compression: true,
            events_per_second: defaults::EVENTS_PER_SECOND,
            event_burst: defaults::EVENT_BURST,
            max_pending_events: defaults::MAX_PENDING_EVENTS,
            max_outgoing_packets: defaults::MAX_OUTGOING_PACKETS,
            max_outgoing_bytes: defaults::MAX_OUTGOING_BYTES,
            write_timeout: defaults::WRITE_TIMEOUT,
            per_message_deflate: false,
            parser: defaults::PARSER.to_owned(),
            connection_state_recovery: true,
            max_disconnection_duration: defaults::MAX_DISCONNECTION_DURATION,
            skip_middlewares: true,
            recovery_max_sessions: defaults::RECOVERY_MAX_SESSIONS,
            recovery_max_packets: defaults::RECOVERY_MAX_PACKETS,
            recovery_max_bytes: defaults::RECOVERY_MAX_BYTES,
            ws_read_buffer_size: defaults::WS_READ_BUFFER_SIZE,
            max_event_name_len: defaults::MAX_EVENT_NAME_LEN,
            max_json_depth: defaults::MAX_JSON_DEPTH,
            connections_per_ip_per_second: defaults::CONNECTIONS_PER_IP_PER_SECOND,
            connection_burst_per_ip: defaults::CONNECTION_BURST_PER_IP,
            max_clients: defaults::MAX_CLIENTS,
            max_clients_per_user: defaults::MAX_CLIENTS_PER_USER,
            max_rooms_per_client: defaults::MAX_ROOMS_PER_CLIENT,
            max_clients_per_room: defaults::MAX_CLIENTS_PER_ROOM,
            max_room_name_len: defaults::MAX_ROOM_NAME_LEN,
            jwt_leeway: defaults::JWT_LEEWAY,
            jwt_algorithm: defaults::JWT_ALGORITHM.to_owned(),
            jwt_public_key_file: None,
            jwt_jwks_file: None,
            jwt_issuer: None,
            jwt_audience: None,
        }
    }
}

/// One setting: its key in the file (and clap's argument id), its environment variable, and
/// whether its value is a secret.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The key in the config file, e.g. `port`; the flag is the key with `-` for `_`.
    pub key: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// Whether `iogate config` masks it.
    pub secret: bool,
}

/// Every setting, in the order `iogate config` prints them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "port",
        env: "PORT",
        secret: false,
    },
    Setting {
        key: "host",
        env: "HOST",
        secret: false,
    },
    Setting {
        key: "jwt_secret",
        env: "JWT_SECRET",
        secret: true,
    },
    Setting {
        key: "api_key",
        env: "API_KEY",
        secret: true,
    },
    Setting {
        key: "allowed_origins",
        env: "ALLOWED_ORIGINS",
        secret: false,
    },
    Setting {
        key: "trusted_proxies",
        env: "TRUSTED_PROXIES",
        secret: false,
    },
    Setting {
        key: "forwarded_header",
        env: "FORWARDED_HEADER",
        secret: false,
    },
    Setting {
        key: "max_payload",
        env: "MAX_PAYLOAD",
        secret: false,
    },
    Setting {
        key: "redis_url",
        env: "REDIS_URL",
        secret: false,
    },
    Setting {
        key: "redis_startup_timeout",
        env: "REDIS_STARTUP_TIMEOUT",
        secret: false,
    },
    Setting {
        key: "redis_adapter",
        env: "REDIS_ADAPTER",
        secret: false,
    },
    Setting {
        key: "shutdown_timeout",
        env: "SHUTDOWN_TIMEOUT",
        secret: false,
    },
    Setting {
        key: "log",
        env: "RUST_LOG",
        secret: false,
    },
    Setting {
        key: "log_json",
        env: "LOG_JSON",
        secret: false,
    },
    Setting {
        key: "metrics",
        env: "METRICS",
        secret: false,
    },
    Setting {
        key: "metrics_key",
        env: "METRICS_KEY",
        secret: true,
    },
    Setting {
        key: "presence_webhook_url",
        env: "PRESENCE_WEBHOOK_URL",
        secret: false,
    },
    Setting {
        key: "presence_webhook_secret",
        env: "PRESENCE_WEBHOOK_SECRET",
        secret: true,
    },
    Setting {
        key: "static_dir",
        env: "STATIC_DIR",
        secret: false,
    },
    Setting {
        key: "admin_ui",
        env: "ADMIN_UI",
        secret: false,
    },
    Setting {
        key: "admin_ui_username",
        env: "ADMIN_UI_USERNAME",
        secret: false,
    },
    Setting {
        key: "admin_ui_password_hash",
        env: "ADMIN_UI_PASSWORD_HASH",
        secret: true,
    },
    Setting {
        key: "admin_ui_readonly",
        env: "ADMIN_UI_READONLY",
        secret: false,
    },
    Setting {
        key: "admin_ui_mode",
        env: "ADMIN_UI_MODE",
        secret: false,
    },
    Setting {
        key: "admin_ui_no_auth",
        env: "ADMIN_UI_NO_AUTH",
        secret: false,
    },
    Setting {
        key: "demo",
        env: "DEMO",
        secret: false,
    },
    Setting {
        key: "http_compression",
        env: "HTTP_COMPRESSION",
        secret: false,
    },
    Setting {
        key: "events_per_second",
        env: "EVENTS_PER_SECOND",
        secret: false,
    },
    Setting {
        key: "event_burst",
        env: "EVENT_BURST",
        secret: false,
    },
    Setting {
        key: "max_pending_events",
        env: "MAX_PENDING_EVENTS",
        secret: false,
    },
    Setting {
        key: "max_outgoing_packets",
        env: "MAX_OUTGOING_PACKETS",
        secret: false,
    },
    Setting {
        key: "max_outgoing_bytes",
        env: "MAX_OUTGOING_BYTES",
        secret: false,
    },
    Setting {
        key: "write_timeout",
        env: "WRITE_TIMEOUT",
        secret: false,
    },
    Setting {
        key: "per_message_deflate",
        env: "PER_MESSAGE_DEFLATE",
        secret: false,
    },
    Setting {
        key: "parser",
        env: "PARSER",
        secret: false,
    },
    Setting {
        key: "connection_state_recovery",
        env: "CONNECTION_STATE_RECOVERY",
        secret: false,
    },
    Setting {
        key: "max_disconnection_duration",
        env: "MAX_DISCONNECTION_DURATION",
        secret: false,
    },
    Setting {
        key: "skip_middlewares",
        env: "SKIP_MIDDLEWARES",
        secret: false,
    },
    Setting {
        key: "recovery_max_sessions",
        env: "RECOVERY_MAX_SESSIONS",
        secret: false,
    },
    Setting {
        key: "recovery_max_packets",
        env: "RECOVERY_MAX_PACKETS",
        secret: false,
    },
    Setting {
        key: "recovery_max_bytes",
        env: "RECOVERY_MAX_BYTES",
        secret: false,
    },
    Setting {
        key: "ws_read_buffer_size",
        env: "WS_READ_BUFFER_SIZE",
        secret: false,
    },
    Setting {
        key: "max_event_name_len",
        env: "MAX_EVENT_NAME_LEN",
        secret: false,
    },
    Setting {
        key: "max_json_depth",
        env: "MAX_JSON_DEPTH",
        secret: false,
    },
    Setting {
        key: "connections_per_ip_per_second",
        env: "CONNECTIONS_PER_IP_PER_SECOND",
        secret: false,
    },
    Setting {
        key: "connection_burst_per_ip",
        env: "CONNECTION_BURST_PER_IP",
        secret: false,
    },
    Setting {
        key: "max_clients",
        env: "MAX_CLIENTS",
        secret: false,
    },
    Setting {
        key: "max_clients_per_user",
        env: "MAX_CLIENTS_PER_USER",
        secret: false,
    },
    Setting {
        key: "max_rooms_per_client",
        env: "MAX_ROOMS_PER_CLIENT",
        secret: false,
    },
    Setting {
        key: "max_clients_per_room",
        env: "MAX_CLIENTS_PER_ROOM",
        secret: false,
    },
    Setting {
        key: "max_room_name_len",
        env: "MAX_ROOM_NAME_LEN",
        secret: false,
    },
    Setting {
        key: "jwt_leeway",
        env: "JWT_LEEWAY",
        secret: false,
    },
    Setting {
        key: "jwt_algorithm",
        env: "JWT_ALGORITHM",
        secret: false,
    },
    Setting {
        key: "jwt_public_key_file",
        env: "JWT_PUBLIC_KEY_FILE",
        secret: false,
    },
    Setting {
        key: "jwt_jwks_file",
        env: "JWT_JWKS_FILE",
        secret: false,
    },
    Setting {
        key: "jwt_issuer",
        env: "JWT_ISSUER",
        secret: false,
    },
    Setting {
        key: "jwt_audience",
        env: "JWT_AUDIENCE",
        secret: false,
    },
];

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nobody set it.
    Default,
    /// The config file.
    File(PathBuf),
    /// Its environment variable.
    Env(&'static str),
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
    sources: BTreeMap<&'static str, Source>,
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
        for setting in SETTINGS {
            let source = self.source(setting.key);
            let line = match self.config.value(setting.key) {
                Some(value) => {
                    let value = if setting.secret { mask(&value) } else { value };
                    let value = if setting.key == "redis_url" {
                        value
                            .as_str()
                            .map(|u| toml::Value::String(redact_url(u)))
                            .unwrap_or(value)
                    } else {
                        value
                    };
                    format!("{} = {}", setting.key, value)
                }
                None => format!("# {} = (unset){}", setting.key, unset_meaning(setting.key)),
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

/// `"********"` for a set secret, element-wise for a list.
fn mask(value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::Array(items) => toml::Value::Array(items.iter().map(mask).collect()),
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
    SETTINGS.iter().find(|s| s.key == key).map(|s| s.env)
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
    for setting in SETTINGS {
        let source = match source_of(setting.key) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(setting.env),
            _ => Source::Default,
        };
        sources.insert(setting.key, source);
    }
    let mut config = cli.config;
    if let Some(path) = &cli.config_file {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read(path.clone(), e))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| LoadError::Syntax(path.clone(), e.to_string()))?;
        for (key, value) in table {
            let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
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
            let file = Source::File(path.clone());
            // A value that a flag or variable overrides is still checked: the file is wrong.
            let overridden = sources[setting.key] != Source::Default;
            let mut scratch = Config::default();
            let target = if overridden {
                &mut scratch
            } else {
                &mut config
            };
            target.set(setting.key, value).map_err(|problem| {
                LoadError::Invalid(ConfigError {
                    key: setting.key.to_owned(),
                    problem,
                    source: Some(file.clone()),
                })
            })?;
            if !overridden {
                sources.insert(setting.key, file);
            }
            if setting.secret {
                warn_if_readable(path, setting.key);
            }
        }
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
    SETTINGS
        .iter()
        .map(|s| s.key)
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

/// A list setting in the file: a TOML array, or one comma-separated string as in the
/// environment.
#[derive(Deserialize)]
#[serde(untagged)]
enum List {
    One(String),
    Many(Vec<String>),
}

impl List {
    fn into_vec(self) -> Vec<String> {
        match self {
            List::One(s) => s.split(',').map(str::to_owned).collect(),
            List::Many(v) => v,
        }
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

    /// Sets `key` from a TOML value of the config file.
    fn set(&mut self, key: &str, value: toml::Value) -> Result<(), String> {
        fn get<T: for<'de> Deserialize<'de>>(value: toml::Value) -> Result<T, String> {
            value
                .try_into()
                .map_err(|e: toml::de::Error| e.message().to_owned())
        }
        match key {
            "port" => self.port = get(value)?,
            "host" => {
                let text: String = get(value)?;
                self.host = text.parse().map_err(|_| {
                    format!(
                        "{text:?} is not an IP address (e.g. \"127.0.0.1\", \"0.0.0.0\", \"::\")"
                    )
                })?;
            }
            "jwt_secret" => self.jwt_secret = Some(get(value)?),
            "api_key" => {
                self.api_key = get::<List>(value)
                    .map_err(|_| "expected a string or an array of strings".to_owned())?
                    .into_vec()
            }
            "allowed_origins" => {
                self.allowed_origins = get::<List>(value)
                    .map_err(|_| "expected a string or an array of strings".to_owned())?
                    .into_vec();
            }
            "trusted_proxies" => {
                self.trusted_proxies = get::<List>(value)
                    .map_err(|_| "expected a string or an array of strings".to_owned())?
                    .into_vec();
            }
            "forwarded_header" => self.forwarded_header = get(value)?,
            "max_payload" => self.max_payload = get(value)?,
            "redis_url" => self.redis_url = Some(get(value)?),
            "redis_startup_timeout" => self.redis_startup_timeout = get(value)?,
            "shutdown_timeout" => self.shutdown_timeout = get(value)?,
            "log" => self.log = get(value)?,
            "log_json" => self.log_json = get(value)?,
            "metrics" => self.metrics = get(value)?,
            "metrics_key" => self.metrics_key = Some(get(value)?),
            "presence_webhook_url" => self.presence_webhook_url = Some(get(value)?),
            "presence_webhook_secret" => self.presence_webhook_secret = Some(get(value)?),
            "static_dir" => self.static_dir = Some(get(value)?),
            "admin_ui" => self.admin_ui = get(value)?,
            "admin_ui_username" => self.admin_ui_username = Some(get(value)?),
            "admin_ui_password_hash" => self.admin_ui_password_hash = Some(get(value)?),
            "admin_ui_readonly" => self.admin_ui_readonly = get(value)?,
            "admin_ui_mode" => self.admin_ui_mode = get(value)?,
            "admin_ui_no_auth" => self.admin_ui_no_auth = get(value)?,
            "demo" => self.demo = get(value)?,
            "http_compression" => self.http_compression = get(value)?,
            "events_per_second" => self.events_per_second = get(value)?,
            "event_burst" => self.event_burst = get(value)?,
            "max_pending_events" => self.max_pending_events = get(value)?,
            "max_outgoing_packets" => self.max_outgoing_packets = get(value)?,
            "max_outgoing_bytes" => self.max_outgoing_bytes = get(value)?,
            "write_timeout" => self.write_timeout = get(value)?,
            "per_message_deflate" => self.per_message_deflate = get(value)?,
            "parser" => self.parser = get(value)?,
            "redis_adapter" => self.redis_adapter = get(value)?,
            "connection_state_recovery" => self.connection_state_recovery = get(value)?,
            "max_disconnection_duration" => self.max_disconnection_duration = get(value)?,
            "skip_middlewares" => self.skip_middlewares = get(value)?,
            "recovery_max_sessions" => self.recovery_max_sessions = get(value)?,
            "recovery_max_packets" => self.recovery_max_packets = get(value)?,
            "recovery_max_bytes" => self.recovery_max_bytes = get(value)?,
            "ws_read_buffer_size" => self.ws_read_buffer_size = get(value)?,
            "max_event_name_len" => self.max_event_name_len = get(value)?,
            "max_json_depth" => self.max_json_depth = get(value)?,
            "connections_per_ip_per_second" => self.connections_per_ip_per_second = get(value)?,
            "connection_burst_per_ip" => self.connection_burst_per_ip = get(value)?,
            "max_clients" => self.max_clients = get(value)?,
            "max_clients_per_user" => self.max_clients_per_user = get(value)?,
            "max_rooms_per_client" => self.max_rooms_per_client = get(value)?,
            "max_clients_per_room" => self.max_clients_per_room = get(value)?,
            "max_room_name_len" => self.max_room_name_len = get(value)?,
            "jwt_leeway" => self.jwt_leeway = get(value)?,
            "jwt_algorithm" => self.jwt_algorithm = get(value)?,
            "jwt_public_key_file" => self.jwt_public_key_file = Some(get(value)?),
            "jwt_jwks_file" => self.jwt_jwks_file = Some(get(value)?),
            "jwt_issuer" => self.jwt_issuer = Some(get(value)?),
            "jwt_audience" => self.jwt_audience = Some(get(value)?),
            _ => unreachable!("every key of SETTINGS is handled"),
        }
        Ok(())
    }

    /// The value of `key` as TOML, `None` when unset.
    fn value(&self, key: &str) -> Option<toml::Value> {
        use toml::Value as V;
        let list = |v: &[String]| V::Array(v.iter().cloned().map(V::String).collect());
        Some(match key {
            "port" => V::Integer(self.port.into()),
            "host" => V::String(self.host.to_string()),
            "jwt_secret" => V::String(self.jwt_secret.clone()?),
            "api_key" if self.api_key.is_empty() => return None,
            "api_key" => list(&self.api_key),
            "allowed_origins" => list(&self.allowed_origins),
            "trusted_proxies" if self.trusted_proxies.is_empty() => return None,
            "trusted_proxies" => list(&self.trusted_proxies),
            "forwarded_header" => V::String(self.forwarded_header.clone()),
            "max_payload" => V::Integer(i64::try_from(self.max_payload).unwrap_or(i64::MAX)),
            "redis_url" => V::String(self.redis_url.clone()?),
            "redis_startup_timeout" => {
                V::Integer(i64::try_from(self.redis_startup_timeout).unwrap_or(i64::MAX))
            }
            "shutdown_timeout" => {
                V::Integer(i64::try_from(self.shutdown_timeout).unwrap_or(i64::MAX))
            }
            "log" => V::String(self.log.clone()),
            "log_json" => V::Boolean(self.log_json),
            "metrics" => V::Boolean(self.metrics),
            "metrics_key" => V::String(self.metrics_key.clone()?),
            "presence_webhook_url" => V::String(self.presence_webhook_url.clone()?),
            "presence_webhook_secret" => V::String(self.presence_webhook_secret.clone()?),
            "static_dir" => V::String(self.static_dir.as_ref()?.display().to_string()),
            "admin_ui" => V::Boolean(self.admin_ui),
            "admin_ui_username" => V::String(self.admin_ui_username.clone()?),
            "admin_ui_password_hash" => V::String(self.admin_ui_password_hash.clone()?),
            "admin_ui_readonly" => V::Boolean(self.admin_ui_readonly),
            "admin_ui_mode" => V::String(self.admin_ui_mode.clone()),
            "admin_ui_no_auth" => V::Boolean(self.admin_ui_no_auth),
            "demo" => V::Boolean(self.demo),
            "http_compression" => V::Boolean(self.http_compression),
            "events_per_second" => V::Integer(i64::from(self.events_per_second)),
            "event_burst" => V::Integer(i64::from(self.event_burst)),
            "max_pending_events" => {
                V::Integer(i64::try_from(self.max_pending_events).unwrap_or(i64::MAX))
            }
            "max_outgoing_bytes" => {
                V::Integer(i64::try_from(self.max_outgoing_bytes).unwrap_or(i64::MAX))
            }
            "write_timeout" => V::Integer(i64::try_from(self.write_timeout).unwrap_or(i64::MAX)),
            "per_message_deflate" => V::Boolean(self.per_message_deflate),
            "max_outgoing_packets" => {
                V::Integer(i64::try_from(self.max_outgoing_packets).unwrap_or(i64::MAX))
            }
            "parser" => V::String(self.parser.clone()),
            "redis_adapter" => V::String(self.redis_adapter.clone()),
            "connection_state_recovery" => V::Boolean(self.connection_state_recovery),
            "skip_middlewares" => V::Boolean(self.skip_middlewares),
            "max_disconnection_duration" => {
                V::Integer(i64::try_from(self.max_disconnection_duration).unwrap_or(i64::MAX))
            }
            "recovery_max_sessions" => {
                V::Integer(i64::try_from(self.recovery_max_sessions).unwrap_or(i64::MAX))
            }
            "recovery_max_packets" => {
                V::Integer(i64::try_from(self.recovery_max_packets).unwrap_or(i64::MAX))
            }
            "recovery_max_bytes" => {
                V::Integer(i64::try_from(self.recovery_max_bytes).unwrap_or(i64::MAX))
            }
            "ws_read_buffer_size" => {
                V::Integer(i64::try_from(self.ws_read_buffer_size).unwrap_or(i64::MAX))
            }
            "max_event_name_len" => {
                V::Integer(i64::try_from(self.max_event_name_len).unwrap_or(i64::MAX))
            }
            "max_json_depth" => V::Integer(i64::try_from(self.max_json_depth).unwrap_or(i64::MAX)),
            "connections_per_ip_per_second" => {
                V::Integer(i64::from(self.connections_per_ip_per_second))
            }
            "connection_burst_per_ip" => V::Integer(i64::from(self.connection_burst_per_ip)),
            "max_clients" => V::Integer(i64::try_from(self.max_clients).unwrap_or(i64::MAX)),
            "max_clients_per_user" => {
                V::Integer(i64::try_from(self.max_clients_per_user).unwrap_or(i64::MAX))
            }
            "max_rooms_per_client" => {
                V::Integer(i64::try_from(self.max_rooms_per_client).unwrap_or(i64::MAX))
            }
            "max_clients_per_room" => {
                V::Integer(i64::try_from(self.max_clients_per_room).unwrap_or(i64::MAX))
            }
            "max_room_name_len" => {
                V::Integer(i64::try_from(self.max_room_name_len).unwrap_or(i64::MAX))
            }
            "jwt_leeway" => V::Integer(i64::try_from(self.jwt_leeway).unwrap_or(i64::MAX)),
            "jwt_algorithm" => V::String(self.jwt_algorithm.clone()),
            "jwt_public_key_file" => V::String(self.jwt_public_key_file.clone()?),
            "jwt_jwks_file" => V::String(self.jwt_jwks_file.clone()?),
            "jwt_issuer" => V::String(self.jwt_issuer.clone()?),
            "jwt_audience" => V::String(self.jwt_audience.clone()?),
            _ => return None,
        })
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
    fn every_setting_has_its_flag_and_variable() {
        let cmd = Cli::command();
        for setting in SETTINGS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == setting.key)
                .unwrap_or_else(|| panic!("no argument {}", setting.key));
            assert_eq!(arg.get_long(), Some(&*setting.key.replace('_', "-")));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(setting.env));
        }
        let args = cmd
            .get_arguments()
            .filter(|a| a.get_long().is_some_and(|l| l != "config"))
            .count();
        assert_eq!(args, SETTINGS.len(), "a flag is missing from SETTINGS");
        // Every key of SETTINGS can be read back.
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
            ..Config::default()
        };
        for setting in SETTINGS {
            assert!(config.value(setting.key).is_some(), "{}", setting.key);
        }
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
        let f = file("port = \"eighty\"\n");
        let err = load_args(&["--config", f.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid configuration: port: "), "{err}");
        assert!(
            err.contains("expected u16") && err.contains("(from file "),
            "{err}"
        );

        let f = file("prot = 80\n");
        let err = load_args(&["--config", f.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid configuration: prot: unknown setting"),
            "{err}"
        );

        let f = file("jwt_secret = \"short\"\n");
        let err = load_args(&["--config", f.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("jwt_secret: must be at least 32 bytes long (got 5) (from file"),
            "{err}"
        );

        let f = file("port = \n");
        let err = load_args(&["--config", f.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
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

//! The guide's custom adapter (`CustomSocketAdapter extends IoAdapter`): the server options
//! NestJS sets in `createIOServer`, which iogate takes as [`Options`].
//!
//! ```ts
//! createIOServer(port: number, options?: ServerOptions) {
//!   return super.createIOServer(port, {
//!     ...options,
//!     cors: { origin: process.env.ALLOWED_ORIGINS?.split(',') || '*', credentials: true },
//!     pingTimeout: 60000,
//!     pingInterval: 25000,
//!   });
//! }
//! ```
//!
//! [`Cors::from_list`] reads the list the same way: empty or `*` allows any origin (without
//! credentials, which browsers refuse with `*`), otherwise only those origins, with
//! credentials. The policy covers the socket.io endpoint and the REST routes next to it.

use std::time::Duration;

use iogate::{App, Cors, Data, Gateway, Options};
use serde_json::Value;

/// The adapter's options, for the origins in `allowed_origins`.
pub fn options(allowed_origins: &[String]) -> Options {
    Options::default()
        .cors(Cors::from_list(allowed_origins))
        .ping_timeout(Duration::from_secs(60))
        .ping_interval(Duration::from_secs(25))
}

/// The app: a gateway served with those options.
pub fn app(allowed_origins: &[String]) -> App {
    App::new()
        .options(options(allowed_origins))
        .gateway(Gateway::new("/").subscribe_message("events", async |Data(v): Data<Value>| v))
}

/// `ALLOWED_ORIGINS` as a list: comma-separated, blanks ignored.
pub fn origins_from_env(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect()
}

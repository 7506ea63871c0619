//! `iogate-loadgen`: the load generator of iogate's benchmarks.
//!
//! It speaks Engine.IO v4 / Socket.IO v5 over the websocket transport itself (tokio and
//! tokio-tungstenite, no Socket.IO client library), on one thread (a current_thread runtime),
//! so that it fits on one core and its own CPU use tells whether it, not the server, was the
//! limit. Each scenario is bounded in time and prints one JSON line:
//!
//! - `echo`: clients in a closed loop emit `events` with an ack; acks/s, latency, errors.
//! - `fanout`: clients join one room, a publisher sends `messageToRoom` at a paced rate;
//!   deliveries/s, delivery latency, deliveries lost after a drain.
//! - `conns`: open and hold clients (on `/events` with a JWT with `--jwt`); connects/s,
//!   handshake latency, the server's RSS per client.
//! - `notify`: `POST /notifications/send` throughput and delivery latency to the user.
//! - `soak`: clients held in rooms under a paced publisher while others connect and leave
//!   (a share of them with bad tokens) for minutes; the server's RSS, deliveries/s and delivery
//!   latency per interval, deliveries lost, refusals.
//! - `stall`: a client that stops reading in a room flooded with large messages; the server's
//!   RSS growth, whether and when it cut that client off, what the reading clients lost.
//! - `compression`: the bytes gzip saves on long-polling responses, and what permessage-deflate
//!   would save over websocket, on the guide's payloads.
//!
//! `table` turns the JSON lines of many runs into the markdown table of `docs/benchmarks.md`;
//! `free-port` prints a free loopback port, for servers that cannot bind port 0 and say which.

mod common;
mod compression;
mod conns;
mod echo;
mod fanout;
mod hist;
mod http;
mod notify;
mod sio;
mod soak;
mod stall;
mod sys;
mod table;

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::common::Report;

/// The load generator of iogate's benchmarks.
#[derive(Debug, Parser)]
#[command(name = "iogate-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Seconds after which the run is abandoned whatever it is doing (default: the scenario's
    /// own bound, from its durations and timeouts).
    #[arg(long, global = true)]
    deadline: Option<f64>,
    /// The clients' parser: `json` (socket.io's default) or `msgpack`
    /// (`socket.io-msgpack-parser`; the server must speak it too).
    #[arg(long, global = true, default_value = "json", value_parser = ["json", "msgpack"])]
    parser: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Clients in a closed loop emitting `events` with an ack.
    Echo(echo::EchoArgs),
    /// One publisher, a room of subscribers.
    Fanout(fanout::FanoutArgs),
    /// Open and hold clients; memory per client.
    Conns(conns::ConnsArgs),
    /// REST notifications to connected users.
    Notify(notify::NotifyArgs),
    /// Minutes of rooms, a paced publisher and connect churn; the server's memory over time.
    Soak(soak::SoakArgs),
    /// A client that stops reading in a flooded room; what it costs the server.
    Stall(stall::StallArgs),
    /// Bytes saved by compressing long-polling responses, and what permessage-deflate would
    /// save, on the guide's payloads.
    Compression(compression::CompressionArgs),
    /// The markdown table of JSON lines (files, or standard input), and the series of the
    /// runs that have one (the soak's).
    Table {
        /// Files of JSON lines.
        files: Vec<PathBuf>,
        /// Also list, under the table, the runs that had errors or losses.
        #[arg(long)]
        notes: bool,
    },
    /// Prints a free TCP port on 127.0.0.1.
    FreePort,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    sio::use_msgpack(cli.parser == "msgpack");
    let limit = match &cli.command {
        Command::Echo(a) => a.limit(),
        Command::Fanout(a) => a.limit(),
        Command::Conns(a) => a.limit(),
        Command::Notify(a) => a.limit(),
        Command::Soak(a) => a.limit(),
        Command::Stall(a) => a.limit(),
        Command::Compression(a) => a.limit(),
        Command::Table { files, notes } => return table(files, *notes),
        Command::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            return Ok(());
        }
    };
    let limit = cli.deadline.map(Duration::from_secs_f64).unwrap_or(limit);
    watchdog(limit);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    if let Command::Compression(a) = cli.command {
        let line = local.block_on(&runtime, compression::run(a))?;
        println!("{line}");
        return Ok(());
    }
    let report: Report = local.block_on(&runtime, async move {
        match cli.command {
            Command::Echo(a) => Ok(echo::run(a).await),
            Command::Fanout(a) => Ok(fanout::run(a).await),
            Command::Conns(a) => conns::run(a).await,
            Command::Notify(a) => notify::run(a).await,
            Command::Soak(a) => soak::run(a).await,
            Command::Stall(a) => stall::run(a).await,
            Command::Table { .. } | Command::FreePort | Command::Compression(_) => {
                unreachable!("handled above")
            }
        }
    })?;
    println!("{}", report.into_json());
    // The clients are still open: leave without waiting for thousands of tasks to wind down.
    std::process::exit(0);
}

/// Ends the process, with a JSON line saying why, if the run outlives `limit`.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        println!(
            "{}",
            serde_json::json!({ "error": format!("deadline of {:.0} s passed", limit.as_secs_f64()) })
        );
        eprintln!("iogate-loadgen: deadline passed, giving up");
        std::process::exit(3);
    });
}

fn table(files: &[PathBuf], notes: bool) -> anyhow::Result<()> {
    let mut input = String::new();
    if files.is_empty() {
        std::io::stdin().read_to_string(&mut input)?;
    }
    for f in files {
        input.push_str(&std::fs::read_to_string(f)?);
        input.push('\n');
    }
    print!("{}", table::render(&input));
    print!("{}", table::series(&input));
    if notes {
        let n = table::notes(&input);
        if !n.is_empty() {
            println!("\n{n}");
        }
    }
    Ok(())
}

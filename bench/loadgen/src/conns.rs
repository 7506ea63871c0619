//! `conns`: open N clients, at most `--connect-concurrency` at once, on `/` or (`--jwt`) on
//! `/events` with a token each; hold them; report connects/s, handshake latency and the
//! server's resident memory per client.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::common::{Gate, Report, Settled, SharedErrors, Stage, Target, per_sec};
use crate::hist::Hist;
use crate::sio::{self, Packet};
use crate::sys::{CpuMeter, rss_kib};

/// Options of `conns`.
#[derive(Debug, Clone, Args)]
pub struct ConnsArgs {
    #[command(flatten)]
    pub target: Target,
    /// Clients to open.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Connect to `/events` with an HS256 JWT (`auth: {token}`, a distinct `sub` per client)
    /// signed with this secret.
    #[arg(long)]
    pub jwt: Option<String>,
    /// Seconds to wait after the last connect before reading the server's memory.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// Seconds to hold the clients open after that.
    #[arg(long, default_value_t = 1.0)]
    pub hold: f64,
}

impl ConnsArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        self.target.setup_limit(self.clients) * 2
            + Duration::from_secs_f64(self.settle + self.hold + 10.0)
    }
}

#[derive(Default)]
struct Stats {
    hist: RefCell<Hist>,
    dropped: Cell<u64>,
}

/// Signs `{sub, iat, exp}` with HS256.
pub fn token(secret: &str, sub: &str) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims =
        json!({ "sub": sub, "email": format!("{sub}@bench.local"), "iat": now, "exp": now + 3600 });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// Runs `conns`; returns its report.
pub async fn run(a: ConnsArgs) -> anyhow::Result<Report> {
    let auths: Vec<Option<String>> = match &a.jwt {
        Some(secret) => (0..a.clients)
            .map(|i| {
                Ok(Some(
                    json!({ "token": token(secret, &format!("user{i}"))? }).to_string(),
                ))
            })
            .collect::<anyhow::Result<_>>()?,
        None => vec![None; a.clients],
    };
    let ns = if a.jwt.is_some() { "/events" } else { "/" };
    let gate = Gate::new();
    let settled = Rc::new(Settled::default());
    let stats = Rc::new(Stats::default());
    let errors: SharedErrors = Rc::default();
    let sem = Rc::new(tokio::sync::Semaphore::new(
        a.target.connect_concurrency.max(1),
    ));
    let a = Rc::new(a);

    let rss_before = a.target.server_pid.and_then(rss_kib);
    let meter = CpuMeter::start(a.target.server_pid);
    let t0 = Instant::now();
    for (i, auth) in auths.into_iter().enumerate() {
        tokio::task::spawn_local(client(
            i,
            a.clone(),
            ns,
            auth,
            gate.clone(),
            sem.clone(),
            settled.clone(),
            stats.clone(),
            errors.clone(),
        ));
    }
    settled
        .wait(a.clients, a.target.setup_limit(a.clients) * 2)
        .await;
    let connect_time = t0.elapsed();
    let cpu = meter.stop();
    gate.set(Stage::Measure);
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let rss_after = a.target.server_pid.and_then(rss_kib);
    tokio::time::sleep(Duration::from_secs_f64(a.hold)).await;
    gate.set(Stage::Done);

    let ok = settled.ok.get() as u64;
    let per_client = match (rss_before, rss_after) {
        (Some(b), Some(af)) if ok > 0 => Some((af as f64 - b as f64) / ok as f64),
        _ => None,
    };
    let h = stats.hist.borrow();
    let mut r = Report::new(
        "conns",
        format!(
            "conns {} clients{}",
            a.clients,
            if a.jwt.is_some() { ", JWT /events" } else { "" }
        ),
        &a.target,
    );
    r.param("clients", a.clients)
        .param("namespace", ns)
        .param("concurrency", a.target.connect_concurrency)
        .metric("connects/s", Some(per_sec(ok, connect_time)))
        .metric("handshake p50 ms", h.quantile_ms(0.5))
        .metric("handshake p99 ms", h.quantile_ms(0.99))
        .metric("RSS KiB/client", per_client)
        .metric("errors", Some(errors.borrow().total() as f64))
        .field("connected", ok)
        .field("dropped_while_held", stats.dropped.get())
        .field("connect_s", connect_time.as_secs_f64())
        .field("rss_before_kib", rss_before)
        .field("rss_after_kib", rss_after)
        .cpu(cpu)
        .errors(&errors.borrow());
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
async fn client(
    i: usize,
    a: Rc<ConnsArgs>,
    ns: &'static str,
    auth: Option<String>,
    gate: Gate,
    sem: Rc<tokio::sync::Semaphore>,
    settled: Rc<Settled>,
    stats: Rc<Stats>,
    errors: SharedErrors,
) {
    let permit = sem.acquire().await;
    let started = Instant::now();
    let ws = sio::connect(
        a.target.route(i),
        ns,
        auth.as_deref(),
        a.target.connect_limit(),
    )
    .await;
    let took = started.elapsed();
    drop(permit);
    drop(auth);
    let mut ws = match ws {
        Ok(ws) => {
            stats.hist.borrow_mut().record(took);
            settled.ok.set(settled.ok.get() + 1);
            ws
        }
        Err(e) => {
            settled.failed.set(settled.failed.get() + 1);
            errors.borrow_mut().add("connect", e);
            return;
        }
    };
    // Hold: answer pings until the run ends (the runtime drops this task then).
    while let Ok(t) = sio::recv(&mut ws).await {
        match sio::parse(&t) {
            Packet::Ping if sio::send(&mut ws, "3").await.is_err() => break,
            Packet::Close | Packet::Disconnect { .. } => break,
            _ => {}
        }
    }
    if gate.get() < Stage::Done {
        stats.dropped.set(stats.dropped.get() + 1);
        errors
            .borrow_mut()
            .add("dropped", "the server closed a held client");
    }
}

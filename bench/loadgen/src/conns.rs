//! `conns`: open N clients, at most `--connect-concurrency` at once, on `/` or (`--jwt`) on
//! `/events` with a token each; hold them; report connects/s, handshake latency and the
//! server's resident memory per client.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::common::{Crowd, Report, Stage, Target, per_sec};
use crate::hist::Hist;
use crate::sio;
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
    let crowd = Crowd::new(&a.target);
    let stats = Rc::new(Stats::default());
    let a = Rc::new(a);

    let rss_before = a.target.server_pid.and_then(rss_kib);
    let meter = CpuMeter::start(a.target.server_pid);
    let t0 = Instant::now();
    for (i, auth) in auths.into_iter().enumerate() {
        tokio::task::spawn_local(client(i, a.clone(), ns, auth, crowd.clone(), stats.clone()));
    }
    crowd
        .settled
        .wait(a.clients, a.target.setup_limit(a.clients) * 2)
        .await;
    let connect_time = t0.elapsed();
    let cpu = meter.stop();
    crowd.gate.set(Stage::Measure);
    tokio::time::sleep(Duration::from_secs_f64(a.settle)).await;
    let rss_after = a.target.server_pid.and_then(rss_kib);
    tokio::time::sleep(Duration::from_secs_f64(a.hold)).await;
    crowd.gate.set(Stage::Done);

    let ok = crowd.settled.ok.get() as u64;
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
        .metric("errors", Some(crowd.errors.borrow().total() as f64))
        .field("connected", ok)
        .field("dropped_while_held", stats.dropped.get())
        .field("connect_s", connect_time.as_secs_f64())
        .field("rss_before_kib", rss_before)
        .field("rss_after_kib", rss_after)
        .cpu(cpu)
        .errors(&crowd.errors.borrow());
    Ok(r)
}

async fn client(
    i: usize,
    a: Rc<ConnsArgs>,
    ns: &'static str,
    auth: Option<String>,
    crowd: Crowd,
    stats: Rc<Stats>,
) {
    let permit = crowd.slots.acquire().await;
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
    if ws.is_ok() {
        stats.hist.borrow_mut().record(took);
    }
    let Some(mut ws) = crowd.settle(ws, "connect") else {
        return;
    };
    // Hold: answer pings until the run ends (the runtime drops this task then).
    while sio::next(&mut ws).await.is_ok() {}
    if crowd.gate.get() < Stage::Done {
        stats.dropped.set(stats.dropped.get() + 1);
        crowd
            .errors
            .borrow_mut()
            .add("dropped", "the server closed a held client");
    }
}

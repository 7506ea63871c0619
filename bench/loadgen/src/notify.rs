//! `notify`: users connected to `/events` with a JWT each; `--http-conns` keep-alive
//! connections `POST /notifications/send` in a closed loop, round robin over the users, each
//! notification carrying its send time; reports requests/s, the POST's latency, the delivery's
//! latency to the user's socket, and notifications lost after a drain.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::common::{
    Crowd, Gate, Report, SharedErrors, Stage, Target, Timing, drain, micros_since, per_sec,
};
use crate::conns::token;
use crate::hist::Hist;
use crate::http;
use crate::sio;

/// Options of `notify`.
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Users, each with one client on `/events`.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// HTTP connections posting in a closed loop.
    #[arg(long, default_value_t = 16)]
    pub http_conns: usize,
    /// The HS256 secret the server checks `/events` tokens with.
    #[arg(long)]
    pub jwt_secret: String,
    /// The API key, sent as `Authorization: Bearer <key>` (the reference needs none).
    #[arg(long)]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub timing: Timing,
    /// Seconds one POST may take.
    #[arg(long, default_value_t = 5.0)]
    pub request_timeout: f64,
    /// Seconds without a new delivery after which the drain stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain_quiet: f64,
    /// Seconds the drain may last at most.
    #[arg(long, default_value_t = 15.0)]
    pub drain_max: f64,
}

impl NotifyArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        self.target.setup_limit(self.users)
            + Duration::from_secs_f64(
                self.timing.warmup
                    + self.timing.duration
                    + self.request_timeout
                    + self.drain_max
                    + 10.0,
            )
    }
}

#[derive(Default)]
struct Stats {
    next_seq: Cell<u64>,
    first_measured: Cell<u64>,
    last_measured: Cell<u64>,
    posted: Cell<u64>,
    posts_in_window: Cell<u64>,
    delivered: Cell<u64>,
    post_hist: RefCell<Hist>,
    delivery_hist: RefCell<Hist>,
}

/// Runs `notify`; returns its report.
pub async fn run(a: NotifyArgs) -> anyhow::Result<Report> {
    let base = Instant::now();
    let crowd = Crowd::new(&a.target);
    let stats = Rc::new(Stats::default());
    stats.last_measured.set(u64::MAX);
    let mut auths = Vec::with_capacity(a.users);
    for i in 0..a.users {
        auths.push(json!({ "token": token(&a.jwt_secret, &format!("user{i}"))? }).to_string());
    }
    let a = Rc::new(a);
    for (i, auth) in auths.into_iter().enumerate() {
        tokio::task::spawn_local(user(i, a.clone(), auth, base, crowd.clone(), stats.clone()));
    }
    crowd
        .settled
        .wait(a.users, a.target.setup_limit(a.users))
        .await;

    let mut posters = Vec::new();
    for _ in 0..a.http_conns {
        posters.push(tokio::task::spawn_local(poster(
            a.clone(),
            base,
            crowd.gate.clone(),
            stats.clone(),
            crowd.errors.clone(),
        )));
    }
    // The notifications measured are those numbered while the gate is at `Measure`.
    let mark = |stage| match stage {
        Stage::Measure => stats.first_measured.set(stats.next_seq.get()),
        Stage::Done => stats.last_measured.set(stats.next_seq.get()),
        _ => {}
    };
    let (window, cpu) = a.timing.run(&crowd.gate, a.target.server_pid, mark).await;
    let finish = Duration::from_secs_f64(a.request_timeout + 1.0);
    let _ = tokio::time::timeout(finish, futures_util::future::join_all(posters)).await;
    let drained = drain(
        || stats.delivered.get(),
        stats.posted.get(),
        Duration::from_secs_f64(a.drain_quiet),
        Duration::from_secs_f64(a.drain_max),
    )
    .await;

    let lost = stats.posted.get().saturating_sub(stats.delivered.get());
    let ph = stats.post_hist.borrow();
    let dh = stats.delivery_hist.borrow();
    let mut r = Report::new(
        "notify",
        format!("notify {} users, {} HTTP conns", a.users, a.http_conns),
        &a.target,
    );
    r.param("users", a.users)
        .param("http_conns", a.http_conns)
        .param("duration_s", a.timing.duration)
        .param("connected", crowd.settled.ok.get())
        .metric(
            "requests/s",
            Some(per_sec(stats.posts_in_window.get(), window)),
        )
        .metric("POST p50 ms", ph.quantile_ms(0.5))
        .metric("POST p99 ms", ph.quantile_ms(0.99))
        .metric("delivery p50 ms", dh.quantile_ms(0.5))
        .metric("delivery p99 ms", dh.quantile_ms(0.99))
        .metric("lost", Some(lost as f64))
        .metric("errors", Some(crowd.errors.borrow().total() as f64))
        .field("posted", stats.posted.get())
        .field("delivered", stats.delivered.get())
        .field("drained", drained.as_str())
        .field("window_s", window.as_secs_f64())
        .cpu(cpu)
        .errors(&crowd.errors.borrow());
    Ok(r)
}

async fn user(
    i: usize,
    a: Rc<NotifyArgs>,
    auth: String,
    base: Instant,
    crowd: Crowd,
    stats: Rc<Stats>,
) {
    let permit = crowd.slots.acquire().await;
    let ws = sio::connect(
        a.target.route(i),
        "/events",
        Some(&auth),
        a.target.connect_limit(),
    )
    .await;
    drop(permit);
    let Some(mut ws) = crowd.settle(ws, "connect") else {
        return;
    };
    let e = sio::events(&mut ws, |data| {
        if !data.starts_with("[\"notification\"") {
            return;
        }
        let Some((seq, stamp)) = sio::stamp(data) else {
            return;
        };
        stats.delivered.set(stats.delivered.get() + 1);
        if (stats.first_measured.get()..stats.last_measured.get()).contains(&seq) {
            let latency = micros_since(base).saturating_sub(stamp);
            stats.delivery_hist.borrow_mut().record_us(latency);
        }
    })
    .await;
    crowd.errors.borrow_mut().add("disconnect", e);
}

async fn poster(
    a: Rc<NotifyArgs>,
    base: Instant,
    gate: Gate,
    stats: Rc<Stats>,
    errors: SharedErrors,
) {
    let headers = match &a.api_key {
        Some(k) => format!("Authorization: Bearer {k}\r\n"),
        None => String::new(),
    };
    let mut conn = match http::Conn::open(a.target.addr).await {
        Ok(c) => c,
        Err(e) => {
            errors.borrow_mut().add("http connect", e);
            return;
        }
    };
    let limit = Duration::from_secs_f64(a.request_timeout);
    while gate.get() < Stage::Done {
        let seq = stats.next_seq.get();
        stats.next_seq.set(seq + 1);
        let user = seq % a.users.max(1) as u64;
        let body = format!(
            "{{\"userId\":\"user{user}\",\"message\":\"{seq}:{}\"}}",
            micros_since(base)
        );
        let sent = Instant::now();
        let status = tokio::time::timeout(
            limit,
            conn.post_json("/notifications/send", &headers, &body),
        )
        .await;
        match status {
            Ok(Ok(201)) => {
                stats.posted.set(stats.posted.get() + 1);
                if gate.get() == Stage::Measure {
                    stats.post_hist.borrow_mut().record(sent.elapsed());
                    stats.posts_in_window.set(stats.posts_in_window.get() + 1);
                }
            }
            Ok(Ok(other)) => errors
                .borrow_mut()
                .add("http status", format_args!("{other}")),
            Ok(Err(e)) => {
                errors.borrow_mut().add("http", e);
                return;
            }
            Err(_) => {
                errors
                    .borrow_mut()
                    .add("http timeout", format_args!("request {seq}"));
                return;
            }
        }
    }
}

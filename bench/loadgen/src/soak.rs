//! `soak`: minutes of steady load with connections coming and going, to see the server's
//! memory stay flat and nothing get lost.
//!
//! - **Held clients**: N clients on `/` (where the rooms are: `joinRoom`, `messageToRoom`),
//!   client `i` in room `soak<i mod rooms>`, held for the whole run.
//! - **Publishers**: a few clients on `/` (each takes an equal share of the rooms, so none of
//!   them nears the server's per-client event rate) send `messageToRoom` at a paced rate, so
//!   that the rooms' members get `--deliveries` messages per second in all. Each message
//!   carries its room's sequence number and its send time: a member sees a gap in its room's
//!   sequence at once (the "lost so far" of the series), and after a drain the deliveries lost
//!   are counted exactly (Σ over rooms of messages sent × members − deliveries).
//! - **Churn**: `--churn` new clients per second on `/events`, the JWT namespace, each with a
//!   token of its own (`sub` distinct); a share of them (`--bad-share`) with a token signed by
//!   another secret, which the server must refuse (`connect_error`). An accepted client stays
//!   `--churn-hold` seconds and closes. A refused bad token is expected; a refused good token,
//!   an accepted bad one or any other failure is an error.
//!
//! Every `--interval` seconds the run records the server's RSS, deliveries/s, the delivery
//! latency's p50 and p99 in that interval, the churn's counts, the losses seen so far and both
//! processes' CPU. The report's totals are over the run after `--warmup`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

use crate::common::{
    Crowd, Drained, Gate, Report, SharedErrors, Stage, Target, drain, micros_since, per_sec,
};
use crate::conns::token;
use crate::fanout::{Joins, join_room};
use crate::hist::Hist;
use crate::sio;
use crate::sys::{CpuMeter, CpuUse, rss_kib};

/// The secret bad tokens are signed with: not the server's, so their signature fails.
const BAD_SECRET: &str = "not-the-server-secret-0123456789abcdef";

/// Messages per second one publisher sends at most when their number is left to the run.
const PER_PUBLISHER: f64 = 250.0;

/// The RSS spread after warm-up, in percent, within which memory counts as flat.
const FLAT_PCT: f64 = 5.0;

/// Options of `soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub target: Target,
    /// Clients held for the whole run, in rooms on `/`.
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// Rooms they are spread over (client `i` in room `i mod rooms`).
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Deliveries per second in all: the publishers send this over the room size messages
    /// per second, spread evenly over the rooms.
    #[arg(long, default_value_t = 100_000.0)]
    pub deliveries: f64,
    /// Publishing clients, each sending to an equal share of the rooms (default: one per
    /// 250 msg/s, well under iogate's default of 1,000 events/s per client).
    #[arg(long)]
    pub publishers: Option<usize>,
    /// New connections per second on `/events` (0: no churn).
    #[arg(long, default_value_t = 500.0)]
    pub churn: f64,
    /// Share of the churn's connections that carry a bad token.
    #[arg(long, default_value_t = 0.1)]
    pub bad_share: f64,
    /// Seconds an accepted churn client stays before it closes.
    #[arg(long, default_value_t = 1.0)]
    pub churn_hold: f64,
    /// Churn connections being opened at once at most; one due past it is skipped (an error).
    #[arg(long, default_value_t = 2000)]
    pub churn_inflight: usize,
    /// The HS256 secret good tokens are signed with (the server's `JWT_SECRET`).
    #[arg(long)]
    pub jwt_secret: String,
    /// Seconds of load, warm-up included.
    #[arg(long, default_value_t = 300.0)]
    pub duration: f64,
    /// Seconds at the start left out of the totals and of the RSS spread.
    #[arg(long, default_value_t = 30.0)]
    pub warmup: f64,
    /// Seconds between two points of the series.
    #[arg(long, default_value_t = 10.0)]
    pub interval: f64,
    /// Seconds one held client may wait for its `joinedRoom`.
    #[arg(long, default_value_t = 20.0)]
    pub join_timeout: f64,
    /// Seconds the joins may take in all, with the `userJoined` broadcasts they cause.
    #[arg(long, default_value_t = 120.0)]
    pub join_settle_max: f64,
    /// Seconds without a new delivery after which the final drain stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain_quiet: f64,
    /// Seconds the final drain may last at most.
    #[arg(long, default_value_t = 30.0)]
    pub drain_max: f64,
}

impl SoakArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        self.target.setup_limit(self.clients) * 2
            + Duration::from_secs_f64(
                self.join_settle_max * 2.0 + self.duration + self.drain_max + 30.0,
            )
    }

    /// Messages per second to each room.
    fn per_room_rate(&self) -> f64 {
        self.deliveries / self.clients.max(1) as f64
    }

    /// How many publishers there are.
    fn publishers(&self) -> usize {
        let messages = self.per_room_rate() * self.rooms as f64;
        let auto = (messages / PER_PUBLISHER).ceil() as usize;
        self.publishers.unwrap_or(auto).clamp(1, self.rooms.max(1))
    }
}

/// What happened in the current interval.
#[derive(Default)]
struct Interval {
    delivered: u64,
    hist: Hist,
    ok: u64,
    refused: u64,
    /// The churn's handshakes, to the namespace's CONNECT or `connect_error`.
    handshakes: Hist,
}

/// What the clients count, shared on one thread.
#[derive(Default)]
struct Stats {
    /// The held clients' joins; a join after they are fixed is not counted.
    joins: Joins,
    /// Set at the end of the warm-up: the totals count from then on.
    measuring: Cell<bool>,
    delivered: Cell<u64>,
    /// Messages a member found missing from its room's sequence.
    gaps: Cell<u64>,
    /// Messages that came after a later one (filling a gap counted before).
    late: Cell<u64>,
    /// Held clients the server closed.
    dropped: Cell<u64>,
    churn_ok: Cell<u64>,
    churn_refused: Cell<u64>,
    churn_held: Cell<u64>,
    churn_inflight: Cell<usize>,
    hist: RefCell<Hist>,
    now: RefCell<Interval>,
}

/// The run's rooms: members and messages sent, per room.
struct Rooms {
    members: Vec<Cell<u64>>,
    sent: Vec<Cell<u64>>,
}

impl Rooms {
    fn new(n: usize) -> Self {
        Self {
            members: (0..n).map(|_| Cell::new(0)).collect(),
            sent: (0..n).map(|_| Cell::new(0)).collect(),
        }
    }

    /// Deliveries owed so far: messages sent × members, over the rooms.
    fn expected(&self) -> u64 {
        self.members
            .iter()
            .zip(&self.sent)
            .map(|(m, s)| m.get() * s.get())
            .sum()
    }
}

fn room_name(r: usize) -> String {
    format!("soak{r}")
}

/// Whether churn connection `j` carries a bad token: `share` of them, spread evenly.
fn is_bad(j: u64, share: f64) -> bool {
    ((j + 1) as f64 * share).floor() > (j as f64 * share).floor()
}

/// Runs `soak`; returns its report.
pub async fn run(a: SoakArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        a.rooms > 0 && a.clients >= a.rooms,
        "need clients ≥ rooms > 0"
    );
    anyhow::ensure!(
        a.interval > 0.0 && a.duration > 0.0,
        "need a duration and an interval"
    );
    let base = Instant::now();
    let crowd = Crowd::new(&a.target);
    let stats = Rc::new(Stats::default());
    let rooms = Rc::new(Rooms::new(a.rooms));
    let a = Rc::new(a);

    let setup_started = Instant::now();
    for i in 0..a.clients {
        tokio::task::spawn_local(member(
            i,
            a.clone(),
            base,
            crowd.clone(),
            stats.clone(),
            rooms.clone(),
        ));
    }
    let joined = stats
        .joins
        .close(&crowd, &a.target, a.clients, a.join_settle_max)
        .await;
    let joins_expected: u64 = rooms
        .members
        .iter()
        .map(|m| m.get() * (m.get() + 1) / 2)
        .sum();
    stats.joins.settle(joins_expected, a.join_settle_max).await;
    let setup = setup_started.elapsed();
    eprintln!(
        "soak: {joined} of {} clients in {} rooms after {:.1} s",
        a.clients,
        a.rooms,
        setup.as_secs_f64()
    );

    let mut publishers = Vec::new();
    let n_pub = a.publishers();
    for p in 0..n_pub {
        match a.target.connect_publisher().await {
            Ok(ws) => publishers.push((p, ws)),
            Err(e) => crowd.errors.borrow_mut().add("publisher connect", e),
        }
    }

    crowd.gate.set(Stage::Warmup);
    let t0 = tokio::time::Instant::now();
    for (p, ws) in publishers {
        tokio::task::spawn_local(publish(
            ws,
            p,
            n_pub,
            a.clone(),
            base,
            crowd.gate.clone(),
            rooms.clone(),
            crowd.errors.clone(),
        ));
    }
    if a.churn > 0.0 {
        tokio::task::spawn_local(churn(
            a.clone(),
            crowd.gate.clone(),
            stats.clone(),
            crowd.errors.clone(),
        ));
    }

    // The series: one point per interval; the totals' CPU from the end of the warm-up.
    let mut series: Vec<Value> = Vec::new();
    let mut meter = CpuMeter::start(a.target.server_pid);
    let mut total_meter: Option<CpuMeter> = None;
    let mut delivered_measured = 0u64;
    let mut span_measured = Duration::ZERO;
    let mut errors_before = 0;
    let mut last = t0;
    let mut k = 1u64;
    let warm_end = a.warmup.min(a.duration);
    loop {
        let t_end = (k as f64 * a.interval).min(a.duration);
        // The totals start at the warm-up's end, within an interval or at its end.
        if total_meter.is_none() && warm_end <= t_end {
            tokio::time::sleep_until(t0 + Duration::from_secs_f64(warm_end)).await;
            stats.measuring.set(true);
            total_meter = Some(CpuMeter::start(a.target.server_pid));
        }
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(t_end)).await;
        let now = tokio::time::Instant::now();
        let span = now - last;
        last = now;
        let cpu = meter.stop();
        meter = CpuMeter::start(a.target.server_pid);
        let i = std::mem::take(&mut *stats.now.borrow_mut());
        let errs = crowd.errors.borrow().total();
        let rss = a.target.server_pid.and_then(rss_kib);
        let clients = joined.saturating_sub(stats.dropped.get()) + stats.churn_held.get();
        let warmup = t_end <= warm_end && warm_end > 0.0;
        if !warmup {
            delivered_measured += i.delivered;
            span_measured += span;
        }
        let point = json!({
            "t_s": t_end,
            "warmup": warmup,
            "rss_kib": rss,
            "deliveries_per_s": per_sec(i.delivered, span),
            "p50_ms": i.hist.quantile_ms(0.5),
            "p99_ms": i.hist.quantile_ms(0.99),
            "connects_ok": i.ok,
            "refused": i.refused,
            "handshake_p99_ms": i.handshakes.quantile_ms(0.99),
            "errors": errs - errors_before,
            "lost_so_far": stats.gaps.get().saturating_sub(stats.late.get()),
            "clients": clients,
            "gen_cpu_pct": cpu.own_pct,
            "server_cpu_pct": cpu.server_pct,
        });
        errors_before = errs;
        eprintln!("soak: {point}");
        series.push(point);
        if t_end >= a.duration {
            break;
        }
        k += 1;
    }
    crowd.gate.set(Stage::Done);
    let cpu = total_meter.map(|m| m.stop());

    let expected = rooms.expected();
    let drained = drain(
        || stats.delivered.get(),
        expected,
        Duration::from_secs_f64(a.drain_quiet),
        Duration::from_secs_f64(a.drain_max),
    )
    .await;
    let sent: u64 = rooms.sent.iter().map(Cell::get).sum();
    Ok(report(
        &a,
        &stats,
        &crowd.errors,
        Outcome {
            series,
            setup,
            joined,
            sent,
            expected,
            drained,
            delivered_measured,
            span_measured,
            cpu,
        },
    ))
}

struct Outcome {
    series: Vec<Value>,
    setup: Duration,
    joined: u64,
    sent: u64,
    expected: u64,
    drained: Drained,
    /// Deliveries in the points after the warm-up, and the time those points span.
    delivered_measured: u64,
    span_measured: Duration,
    cpu: Option<CpuUse>,
}

fn report(a: &SoakArgs, stats: &Stats, errors: &SharedErrors, o: Outcome) -> Report {
    let after: Vec<&Value> = o.series.iter().filter(|p| p["warmup"] == false).collect();
    let rss: Vec<f64> = after.iter().filter_map(|p| p["rss_kib"].as_f64()).collect();
    let rss_min = rss.iter().copied().reduce(f64::min);
    let rss_max = rss.iter().copied().reduce(f64::max);
    let spread = match (rss_min, rss_max) {
        (Some(lo), Some(hi)) if lo > 0.0 => Some((hi - lo) / lo * 100.0),
        _ => None,
    };
    let worst_p99 = after
        .iter()
        .filter_map(|p| p["p99_ms"].as_f64())
        .reduce(f64::max);
    let delivered = stats.delivered.get();
    let lost = o.expected.saturating_sub(delivered);
    let churn_s = a.duration;
    let h = stats.hist.borrow();
    let mib = |k: Option<f64>| k.map(|k| k / 1024.0);
    let mut r = Report::new(
        "soak",
        format!(
            "soak {} clients, {} deliveries/s, {} connects/s",
            a.clients, a.deliveries, a.churn
        ),
        &a.target,
    );
    r.param("clients", a.clients)
        .param("rooms", a.rooms)
        .param("room_size", a.clients / a.rooms)
        .param("deliveries", a.deliveries)
        .param("messages_per_s", a.per_room_rate() * a.rooms as f64)
        .param("publishers", a.publishers())
        .param("churn", a.churn)
        .param("bad_share", a.bad_share)
        .param("churn_hold_s", a.churn_hold)
        .param("duration_s", a.duration)
        .param("warmup_s", a.warmup)
        .param("interval_s", a.interval)
        .metric(
            "deliveries/s",
            (o.span_measured > Duration::ZERO)
                .then(|| per_sec(o.delivered_measured, o.span_measured)),
        )
        .metric("p50 ms", h.quantile_ms(0.5))
        .metric("p99 ms", h.quantile_ms(0.99))
        .metric("worst interval p99 ms", worst_p99)
        .metric("RSS min MiB", mib(rss_min))
        .metric("RSS max MiB", mib(rss_max))
        .metric("RSS spread %", spread)
        .metric(
            "connects/s",
            Some(per_sec(
                stats.churn_ok.get(),
                Duration::from_secs_f64(churn_s),
            )),
        )
        .metric("refused", Some(stats.churn_refused.get() as f64))
        .metric("lost", Some(lost as f64))
        .metric("errors", Some(errors.borrow().total() as f64))
        .field("rss_flat", spread.map(|s| s <= FLAT_PCT))
        .field("joined", o.joined)
        .field("setup_s", o.setup.as_secs_f64())
        .deliveries(o.sent, o.expected, delivered, Some(o.drained))
        .field("gaps", stats.gaps.get())
        .field("late", stats.late.get())
        .field("dropped", stats.dropped.get())
        .field("connects_ok", stats.churn_ok.get())
        .field("max_ms", h.max_ms())
        .field("series", Value::Array(o.series))
        .errors(&errors.borrow());
    if let Some(cpu) = o.cpu {
        r.cpu(cpu);
    }
    r
}

/// A held client: joins its room, then counts, times and checks the sequence of every
/// `message` until the run ends.
async fn member(
    i: usize,
    a: Rc<SoakArgs>,
    base: Instant,
    crowd: Crowd,
    stats: Rc<Stats>,
    rooms: Rc<Rooms>,
) {
    let room = i % a.rooms;
    let permit = crowd.slots.acquire().await;
    let joined = async {
        let mut ws = sio::connect(a.target.route(i), "/", None, a.target.connect_limit()).await?;
        let limit = Duration::from_secs_f64(a.join_timeout);
        join_room(&mut ws, &room_name(room), limit, &stats.joins.user_joined).await?;
        Ok::<_, sio::Error>(ws)
    }
    .await;
    drop(permit);
    let Some(mut ws) = stats.joins.admit(&crowd, joined) else {
        return;
    };
    rooms.members[room].set(rooms.members[room].get() + 1);
    let mut next = 0u64;
    let e = sio::events(&mut ws, |data| {
        if data.starts_with("[\"message\"") {
            let Some((seq, stamp)) = sio::stamp(data) else {
                return;
            };
            if seq >= next {
                stats.gaps.set(stats.gaps.get() + (seq - next));
                next = seq + 1;
            } else {
                stats.late.set(stats.late.get() + 1);
            }
            stats.delivered.set(stats.delivered.get() + 1);
            let latency = micros_since(base).saturating_sub(stamp);
            let mut now = stats.now.borrow_mut();
            now.delivered += 1;
            now.hist.record_us(latency);
            if stats.measuring.get() {
                stats.hist.borrow_mut().record_us(latency);
            }
        } else if data.starts_with("[\"userJoined\"") {
            stats.joins.count_user_joined();
        }
    })
    .await;
    if crowd.gate.get() < Stage::Done {
        stats.dropped.set(stats.dropped.get() + 1);
        crowd.errors.borrow_mut().add("dropped", e);
    }
}

/// Publisher `p` of `n`: sends to rooms `p`, `p + n`, ... in turn, at their share of the
/// rate, until the run ends; then answers pings.
#[allow(clippy::too_many_arguments)]
async fn publish(
    mut ws: sio::Ws,
    p: usize,
    n: usize,
    a: Rc<SoakArgs>,
    base: Instant,
    gate: Gate,
    rooms: Rc<Rooms>,
    errors: SharedErrors,
) {
    let mine: Vec<(usize, String)> = (p..a.rooms)
        .step_by(n)
        .map(|r| (r, serde_json::to_string(&room_name(r)).unwrap_or_default()))
        .collect();
    let rate = a.per_room_rate() * mine.len() as f64;
    if mine.is_empty() || rate <= 0.0 {
        return;
    }
    let start = tokio::time::Instant::now();
    let mut k: u64 = 0;
    while gate.get() < Stage::Done {
        let due = (start.elapsed().as_secs_f64() * rate) as u64 + 1;
        while k < due {
            let (r, name) = &mine[(k % mine.len() as u64) as usize];
            let seq = rooms.sent[*r].get();
            let data = format!(
                "{{\"room\":{name},\"message\":\"{seq}:{}\"}}",
                micros_since(base)
            );
            if let Err(e) = sio::feed(&mut ws, sio::event(None, "messageToRoom", &data)).await {
                errors.borrow_mut().add("publisher", e);
                return;
            }
            rooms.sent[*r].set(seq + 1);
            k += 1;
        }
        if let Err(e) = sio::flush(&mut ws).await {
            errors.borrow_mut().add("publisher", e);
            return;
        }
        let next = start + Duration::from_secs_f64(k as f64 / rate);
        if let Err(e) = sio::publisher_pause(&mut ws, next).await {
            errors.borrow_mut().add("publisher", e);
            return;
        }
    }
    sio::answer_pings(&mut ws).await;
}

/// Starts `a.churn` connections per second until the run ends.
async fn churn(a: Rc<SoakArgs>, gate: Gate, stats: Rc<Stats>, errors: SharedErrors) {
    let start = tokio::time::Instant::now();
    let mut j: u64 = 0;
    while gate.get() < Stage::Done {
        let due = (start.elapsed().as_secs_f64() * a.churn) as u64 + 1;
        while j < due {
            if stats.churn_inflight.get() >= a.churn_inflight {
                errors.borrow_mut().add(
                    "churn behind",
                    format!("{} connections already opening", a.churn_inflight),
                );
            } else {
                tokio::task::spawn_local(churner(j, a.clone(), stats.clone(), errors.clone()));
            }
            j += 1;
        }
        tokio::time::sleep_until(start + Duration::from_secs_f64(j as f64 / a.churn)).await;
    }
}

/// One churn connection: good or bad token, accepted or refused, as it should be or not.
async fn churner(j: u64, a: Rc<SoakArgs>, stats: Rc<Stats>, errors: SharedErrors) {
    let bad = is_bad(j, a.bad_share);
    let sub = format!("churn{j}");
    let signed = token(if bad { BAD_SECRET } else { &a.jwt_secret }, &sub);
    let auth = match signed {
        Ok(t) => json!({ "token": t }).to_string(),
        Err(e) => {
            errors.borrow_mut().add("token", e);
            return;
        }
    };
    stats.churn_inflight.set(stats.churn_inflight.get() + 1);
    let route = a.target.route(a.clients + j as usize);
    let started = Instant::now();
    let connected = sio::connect(route, "/events", Some(&auth), a.target.connect_limit()).await;
    stats.churn_inflight.set(stats.churn_inflight.get() - 1);
    if matches!(connected, Ok(_) | Err(sio::Error::Refused(_))) {
        stats.now.borrow_mut().handshakes.record(started.elapsed());
    }
    match (bad, connected) {
        (false, Ok(mut ws)) => {
            stats.churn_ok.set(stats.churn_ok.get() + 1);
            stats.now.borrow_mut().ok += 1;
            stats.churn_held.set(stats.churn_held.get() + 1);
            let hold = Duration::from_secs_f64(a.churn_hold);
            // Hold: the server sends nothing to these clients but a ping now and then.
            let _ = tokio::time::timeout(hold, sio::answer_pings(&mut ws)).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
            stats.churn_held.set(stats.churn_held.get() - 1);
        }
        (true, Err(sio::Error::Refused(_))) => {
            stats.churn_refused.set(stats.churn_refused.get() + 1);
            stats.now.borrow_mut().refused += 1;
        }
        (false, Err(sio::Error::Refused(m))) => {
            errors.borrow_mut().add("good token refused", m);
        }
        (true, Ok(mut ws)) => {
            errors
                .borrow_mut()
                .add("bad token accepted", format!("sub {sub}"));
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        (_, Err(e)) => errors.borrow_mut().add("churn connect", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_the_churn_is_bad_and_spread_out() {
        let bad: Vec<u64> = (0..30).filter(|j| is_bad(*j, 0.1)).collect();
        assert_eq!(bad, [9, 19, 29]);
        assert_eq!((0..1000).filter(|j| is_bad(*j, 0.25)).count(), 250);
        assert!(!(0..100).any(|j| is_bad(j, 0.0)));
    }

    #[test]
    fn deliveries_owed_are_sent_times_members_per_room() {
        let rooms = Rooms::new(2);
        rooms.members[0].set(3);
        rooms.members[1].set(2);
        rooms.sent[0].set(10);
        rooms.sent[1].set(7);
        assert_eq!(rooms.expected(), 44);
    }
}

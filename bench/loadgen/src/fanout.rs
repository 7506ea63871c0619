//! `fanout`: N clients join one room, one publisher sends `messageToRoom` at a paced rate, each
//! message carrying its send time; every subscriber times every delivery, and after a drain the
//! deliveries lost are counted exactly (messages sent × subscribers − deliveries).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::common::{
    Crowd, Drained, Report, SharedErrors, Stage, Target, Timing, drain, micros_since, per_sec,
};
use crate::hist::Hist;
use crate::sio::{self, Packet};

/// Options of `fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: Target,
    /// Subscribers in the room.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Messages the publisher sends per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    #[command(flatten)]
    pub timing: Timing,
    /// The room's name.
    #[arg(long, default_value = "bench")]
    pub room: String,
    /// Seconds without a new delivery after which the drain stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain_quiet: f64,
    /// Seconds the drain may last at most.
    #[arg(long, default_value_t = 30.0)]
    pub drain_max: f64,
    /// Milliseconds a subscriber waits between its namespace's CONNECT and `joinRoom` (0: at
    /// once, as a client that emits from its `connect` listener).
    #[arg(long, default_value_t = 0)]
    pub join_delay_ms: u64,
    /// Seconds one subscriber may wait for its `joinedRoom`.
    #[arg(long, default_value_t = 20.0)]
    pub join_timeout: f64,
    /// Seconds the joins may take in all, with the `userJoined` broadcasts they cause (each
    /// join is broadcast to the room: n(n+1)/2 messages for n subscribers).
    #[arg(long, default_value_t = 300.0)]
    pub join_settle_max: f64,
}

impl FanoutArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        self.target.setup_limit(self.clients) * 2
            + Duration::from_secs_f64(
                self.join_settle_max * 2.0
                    + self.timing.warmup
                    + self.timing.duration
                    + self.drain_max
                    + 15.0,
            )
    }
}

/// The joins of subscribers to their rooms, as their tasks and the controller see them.
#[derive(Default)]
pub struct Joins {
    /// Set when the controller fixes the set of subscribers; later joiners do not count.
    pub closed: Cell<bool>,
    /// The `userJoined` broadcasts received.
    pub user_joined: Cell<u64>,
}

impl Joins {
    /// Waits until `n` subscribers have joined or failed to, at most the connect phase's bound
    /// plus `settle_max` seconds, then fixes their set; returns how many joined.
    pub async fn close(&self, crowd: &Crowd, target: &Target, n: usize, settle_max: f64) -> u64 {
        let limit = target.setup_limit(n) + Duration::from_secs_f64(settle_max);
        crowd.settled.wait(n, limit).await;
        self.closed.set(true);
        crowd.settled.ok.get() as u64
    }

    /// Counts a subscriber's join as settled (see [`Crowd::settle`]), unless it joined after
    /// the set was fixed: that is an error (`late join`), not counted. The client when it
    /// joined in time.
    pub fn admit<T>(&self, crowd: &Crowd, joined: Result<T, sio::Error>) -> Option<T> {
        if joined.is_ok() && self.closed.get() {
            crowd
                .errors
                .borrow_mut()
                .add("late join", "joined after the run started; not counted");
            return None;
        }
        crowd.settle(joined, "join")
    }

    /// Counts one `userJoined` broadcast.
    pub fn count_user_joined(&self) {
        self.user_joined.set(self.user_joined.get() + 1);
    }

    /// Waits, at most `settle_max` seconds, until the `userJoined` broadcasts the joins caused,
    /// `expected` in all, are through or stop coming, so that they do not mix with the
    /// measured messages.
    pub async fn settle(&self, expected: u64, settle_max: f64) {
        drain(
            || self.user_joined.get(),
            expected,
            Duration::from_millis(500),
            Duration::from_secs_f64(settle_max),
        )
        .await;
    }
}

/// What the subscribers count, shared on one thread.
#[derive(Default)]
struct Stats {
    joins: Joins,
    delivered: Cell<u64>,
    in_window: Cell<u64>,
    first_measured: Cell<u64>,
    hist: RefCell<Hist>,
}

/// Runs `fanout`; returns its report.
pub async fn run(a: FanoutArgs) -> Report {
    let base = Instant::now();
    let crowd = Crowd::new(&a.target);
    let stats = Rc::new(Stats::default());
    let warm_n = (a.timing.warmup * a.rate).round() as u64;
    let total = warm_n + (a.timing.duration * a.rate).round() as u64;
    stats.first_measured.set(warm_n);
    let a = Rc::new(a);

    let setup_started = Instant::now();
    for i in 0..a.clients {
        tokio::task::spawn_local(subscriber(i, a.clone(), base, crowd.clone(), stats.clone()));
    }
    let joined = stats
        .joins
        .close(&crowd, &a.target, a.clients, a.join_settle_max)
        .await;
    // Every join is broadcast to the room as it is then: n(n+1)/2 `userJoined` in all.
    let joins_expected = joined * (joined + 1) / 2;
    stats.joins.settle(joins_expected, a.join_settle_max).await;
    let setup = setup_started.elapsed();

    let publisher = match a.target.connect_publisher().await {
        Ok(ws) => ws,
        Err(e) => {
            crowd.errors.borrow_mut().add("publisher connect", e);
            return report(&a, &stats, &crowd.errors, Outcome::default());
        }
    };
    let sent = Rc::new(Cell::new(0u64));
    let publishing = tokio::task::spawn_local(publish(
        publisher,
        a.clone(),
        base,
        total,
        sent.clone(),
        crowd.errors.clone(),
    ));
    let (window, cpu) = a.timing.run(&crowd.gate, a.target.server_pid, |_| {}).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), publishing).await;

    let expected = sent.get() * joined;
    let drained = drain(
        || stats.delivered.get(),
        expected,
        Duration::from_secs_f64(a.drain_quiet),
        Duration::from_secs_f64(a.drain_max),
    )
    .await;
    let outcome = Outcome {
        window,
        setup,
        joined,
        joins_expected,
        sent: sent.get(),
        expected,
        drained: Some(drained),
        cpu: Some(cpu),
    };
    report(&a, &stats, &crowd.errors, outcome)
}

#[derive(Default)]
struct Outcome {
    window: Duration,
    setup: Duration,
    joined: u64,
    joins_expected: u64,
    sent: u64,
    expected: u64,
    drained: Option<Drained>,
    cpu: Option<crate::sys::CpuUse>,
}

fn report(a: &FanoutArgs, stats: &Stats, errors: &SharedErrors, o: Outcome) -> Report {
    let delivered = stats.delivered.get();
    let lost = o.expected.saturating_sub(delivered);
    let h = stats.hist.borrow();
    let mut r = Report::new(
        "fanout",
        format!("fanout {} subscribers, {} msg/s", a.clients, a.rate),
        &a.target,
    );
    r.param("clients", a.clients)
        .param("rate", a.rate)
        .param("duration_s", a.timing.duration)
        .param("subscribed", o.joined)
        .metric(
            "deliveries/s",
            (o.window > Duration::ZERO).then(|| per_sec(stats.in_window.get(), o.window)),
        )
        .metric("p50 ms", h.quantile_ms(0.5))
        .metric("p99 ms", h.quantile_ms(0.99))
        .metric("p99.9 ms", h.quantile_ms(0.999))
        .metric("lost", Some(lost as f64))
        .field("offered_per_s", a.rate * o.joined as f64)
        .deliveries(o.sent, o.expected, delivered, o.drained)
        .field("setup_s", o.setup.as_secs_f64())
        .field("user_joined", stats.joins.user_joined.get())
        .field("user_joined_expected", o.joins_expected)
        .field("max_ms", h.max_ms())
        .field("window_s", o.window.as_secs_f64())
        .errors(&errors.borrow());
    if let Some(cpu) = o.cpu {
        r.cpu(cpu);
    }
    r
}

/// The publisher: `total` messages at `a.rate` per second from its start, those due sent
/// together when the timer wakes late.
async fn publish(
    mut ws: sio::Ws,
    a: Rc<FanoutArgs>,
    base: Instant,
    total: u64,
    sent: Rc<Cell<u64>>,
    errors: SharedErrors,
) {
    let start = tokio::time::Instant::now();
    let room = serde_json::to_string(&a.room).unwrap_or_default();
    let mut k: u64 = 0;
    while k < total {
        let due = ((start.elapsed().as_secs_f64() * a.rate) as u64 + 1).min(total);
        while k < due {
            let data = format!(
                "{{\"room\":{room},\"message\":\"{k}:{}\"}}",
                micros_since(base)
            );
            if let Err(e) = sio::feed(&mut ws, sio::event(None, "messageToRoom", &data)).await {
                errors.borrow_mut().add("publisher", e);
                return;
            }
            k += 1;
            sent.set(k);
        }
        if let Err(e) = sio::flush(&mut ws).await {
            errors.borrow_mut().add("publisher", e);
            return;
        }
        let next = start + Duration::from_secs_f64(k as f64 / a.rate);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            text = sio::recv(&mut ws) => match text {
                Ok(t) if sio::parse(&t) == Packet::Ping => {
                    if let Err(e) = sio::send(&mut ws, "3").await {
                        errors.borrow_mut().add("publisher", e);
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    errors.borrow_mut().add("publisher", e);
                    return;
                }
            },
        }
    }
    // Keep the session open until the drain ends; answer pings meanwhile.
    sio::answer_pings(&mut ws).await;
}

async fn subscriber(i: usize, a: Rc<FanoutArgs>, base: Instant, crowd: Crowd, stats: Rc<Stats>) {
    let permit = crowd.slots.acquire().await;
    let ws = sio::connect(a.target.route(i), "/", None, a.target.connect_limit()).await;
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            drop(permit);
            crowd.fail("connect", e);
            return;
        }
    };
    let joined = async {
        let mut ws = ws;
        if a.join_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(a.join_delay_ms)).await;
        }
        let limit = Duration::from_secs_f64(a.join_timeout);
        join_room(&mut ws, &a.room, limit, &stats.joins.user_joined).await?;
        Ok::<_, sio::Error>(ws)
    }
    .await;
    drop(permit);
    let Some(mut ws) = stats.joins.admit(&crowd, joined) else {
        return;
    };
    let e = sio::events(&mut ws, |data| {
        if data.starts_with("[\"message\"") {
            let Some((seq, stamp)) = sio::stamp(data) else {
                return;
            };
            stats.delivered.set(stats.delivered.get() + 1);
            if crowd.gate.get() == Stage::Measure {
                stats.in_window.set(stats.in_window.get() + 1);
            }
            if seq >= stats.first_measured.get() {
                let latency = micros_since(base).saturating_sub(stamp);
                stats.hist.borrow_mut().record_us(latency);
            }
        } else if data.starts_with("[\"userJoined\"") {
            stats.joins.count_user_joined();
        }
    })
    .await;
    crowd.errors.borrow_mut().add("disconnect", e);
}

/// Sends `joinRoom` for `room` and waits, at most `limit`, for the client's `joinedRoom`,
/// counting in `user_joined` the `userJoined` broadcasts that come meanwhile (each join is
/// broadcast to the room as it then is).
pub async fn join_room(
    ws: &mut sio::Ws,
    room: &str,
    limit: Duration,
    user_joined: &Cell<u64>,
) -> Result<(), sio::Error> {
    let room_json = serde_json::to_string(room).unwrap_or_default();
    sio::send(ws, sio::event(None, "joinRoom", &room_json)).await?;
    let frames = Cell::new(0u64);
    let others_joined = Cell::new(0u64);
    let odd = RefCell::new(String::new());
    let wait = async {
        loop {
            let text = sio::recv(ws).await?;
            frames.set(frames.get() + 1);
            match sio::parse(&text) {
                Packet::Event { data, .. } => match sio::event_name(data) {
                    Some("joinedRoom") => return Ok(()),
                    Some("userJoined") => {
                        others_joined.set(others_joined.get() + 1);
                        user_joined.set(user_joined.get() + 1);
                    }
                    _ => *odd.borrow_mut() = text.chars().take(120).collect(),
                },
                Packet::Ping => sio::send(ws, "3").await?,
                Packet::Close | Packet::Disconnect { .. } => return Err(sio::Error::Closed),
                _ => *odd.borrow_mut() = text.chars().take(120).collect(),
            }
        }
    };
    tokio::time::timeout(limit, wait).await.unwrap_or_else(|_| {
        Err(sio::Error::NoAnswer(format!(
            "no joinedRoom within {} s of joinRoom; {} frames came meanwhile, {} of them \
             userJoined; the last other: {:?}",
            limit.as_secs_f64(),
            frames.get(),
            others_joined.get(),
            odd.borrow()
        )))
    })
}

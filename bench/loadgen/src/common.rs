//! What every scenario shares: the target's options, the run's stages, error counts, the
//! bounded connect phase, the measured stretch and the JSON line a run prints.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::sio::{self, Route};
use crate::sys::{CpuMeter, CpuUse};

/// The server under test and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The server's address (`127.0.0.1:PORT`).
    #[arg(long)]
    pub addr: SocketAddr,
    /// The server's process id: its CPU use and memory are read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's name in the report (`iogate`, `socketioxide`, `nestjs`).
    #[arg(long, default_value = "server")]
    pub server: String,
    /// The run's number in the report.
    #[arg(long, default_value_t = 1)]
    pub run: u32,
    /// How many clients may be connecting at once.
    #[arg(long, default_value_t = 100)]
    pub connect_concurrency: usize,
    /// Seconds one client may take to connect (TCP, websocket, Engine.IO, namespace).
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Connect every client from 127.0.0.1. By default each client has an address of its own
    /// in 127.0.0.0/8, as clients of a real server come from many machines (and a server's
    /// per-address limits then apply per client, as they would).
    #[arg(long)]
    pub same_source: bool,
    /// Where the publisher (fanout) connects, when not to `addr`: another node of a cluster,
    /// so that every delivery crosses the broker.
    #[arg(long)]
    pub publisher_addr: Option<SocketAddr>,
}

impl Target {
    /// How client `i` reaches the server.
    pub fn route(&self, i: usize) -> Route {
        let source = (!self.same_source).then(|| {
            // 127.a.b.c with no octet 0 or 255: 250 × 250 × 254 addresses.
            let c = (i % 250) as u8 + 1;
            let b = ((i / 250) % 250) as u8 + 1;
            let a = ((i / 62_500) % 254) as u8 + 1;
            IpAddr::from([127, a, b, c])
        });
        Route {
            server: self.addr,
            source,
            recv_buffer: None,
        }
    }

    /// How a client that stands apart (a publisher) reaches the server: from 127.0.0.1.
    pub fn route_default(&self) -> Route {
        Route {
            server: self.publisher_addr.unwrap_or(self.addr),
            source: None,
            recv_buffer: None,
        }
    }

    /// Connects a publisher to the root namespace, the way
    /// [`route_default`](Self::route_default) says.
    pub async fn connect_publisher(&self) -> Result<sio::Ws, sio::Error> {
        sio::connect(self.route_default(), "/", None, self.connect_limit()).await
    }

    /// [`connect_timeout`](Self::connect_timeout) as a duration.
    pub fn connect_limit(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout)
    }

    /// The longest the connect phase of `n` clients may take.
    pub fn setup_limit(&self, n: usize) -> Duration {
        let waves = n.div_ceil(self.connect_concurrency.max(1)) as f64;
        Duration::from_secs_f64(self.connect_timeout * waves.min(4.0) + 30.0)
    }
}

/// Where a run is; tasks read it, the controller moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Clients connect.
    Setup,
    /// Load runs, nothing is recorded.
    Warmup,
    /// Load runs and is recorded.
    Measure,
    /// No more load; in-flight work completes.
    Done,
}

/// The run's stage, shared by the tasks of one thread.
#[derive(Clone)]
pub struct Gate(Rc<(Cell<Stage>, Notify)>);

impl Gate {
    /// A gate at [`Stage::Setup`].
    pub fn new() -> Self {
        Self(Rc::new((Cell::new(Stage::Setup), Notify::new())))
    }

    /// The current stage.
    pub fn get(&self) -> Stage {
        self.0.0.get()
    }

    /// Moves to `stage` and wakes whoever waits for it.
    pub fn set(&self, stage: Stage) {
        self.0.0.set(stage);
        self.0.1.notify_waiters();
    }

    /// Waits until the stage is `stage` or later.
    pub async fn reached(&self, stage: Stage) {
        while self.get() < stage {
            self.0.1.notified().await;
        }
    }
}

/// How long a run loads the server: a warm-up, then the measured stretch.
#[derive(Debug, Clone, Args)]
pub struct Timing {
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

impl Timing {
    /// Moves `gate` to [`Stage::Warmup`] for the warm-up, to [`Stage::Measure`] for the
    /// measured stretch, then to [`Stage::Done`], calling `mark` with each stage just before
    /// the gate moves to it; returns how long the measured stretch lasted and the CPU used
    /// over it.
    pub async fn run(
        &self,
        gate: &Gate,
        server_pid: Option<u32>,
        mut mark: impl FnMut(Stage),
    ) -> (Duration, CpuUse) {
        mark(Stage::Warmup);
        gate.set(Stage::Warmup);
        tokio::time::sleep(Duration::from_secs_f64(self.warmup)).await;
        let meter = CpuMeter::start(server_pid);
        let t0 = Instant::now();
        mark(Stage::Measure);
        gate.set(Stage::Measure);
        tokio::time::sleep(Duration::from_secs_f64(self.duration)).await;
        mark(Stage::Done);
        gate.set(Stage::Done);
        let window = t0.elapsed();
        (window, meter.stop())
    }
}

/// Failures, by kind, with the first message kept, and the first of each kind.
#[derive(Debug, Default)]
pub struct Errors {
    kinds: Map<String, Value>,
    total: u64,
    first: Option<String>,
    first_of_kind: Map<String, Value>,
}

impl Errors {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: &str, detail: impl std::fmt::Display) {
        self.total += 1;
        let n = self.kinds.get(kind).and_then(Value::as_u64).unwrap_or(0);
        self.kinds.insert(kind.to_string(), json!(n + 1));
        if self.first.is_none() {
            self.first = Some(format!("{kind}: {detail}"));
        }
        if !self.first_of_kind.contains_key(kind) {
            self.first_of_kind
                .insert(kind.to_string(), json!(detail.to_string()));
        }
    }

    /// How many failures.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Shared failure counts.
pub type SharedErrors = Rc<RefCell<Errors>>;

/// Counts of a bounded connect phase.
#[derive(Default)]
pub struct Settled {
    /// Clients that connected.
    pub ok: Cell<usize>,
    /// Clients that failed to.
    pub failed: Cell<usize>,
}

impl Settled {
    /// Connected or failed.
    pub fn count(&self) -> usize {
        self.ok.get() + self.failed.get()
    }

    /// Waits until `n` clients settled or `limit` passed; polls, as thousands of clients
    /// settling would otherwise wake the controller thousands of times.
    pub async fn wait(&self, n: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.count() < n {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// What the clients of one run share with each other and with the controller: the stage,
/// the connect phase's slots and counts, and the failures. Cheap to clone, for every client's
/// task holds one.
#[derive(Clone)]
pub struct Crowd {
    /// The run's stage.
    pub gate: Gate,
    /// One permit per client that may be connecting at once.
    pub slots: Rc<Semaphore>,
    /// Clients that connected, or failed to.
    pub settled: Rc<Settled>,
    /// The run's failures.
    pub errors: SharedErrors,
}

impl Crowd {
    /// A crowd at [`Stage::Setup`], with [`Target::connect_concurrency`] slots.
    pub fn new(target: &Target) -> Self {
        Self {
            gate: Gate::new(),
            slots: Rc::new(Semaphore::new(target.connect_concurrency.max(1))),
            settled: Rc::default(),
            errors: Rc::default(),
        }
    }

    /// Counts a client's connect (or join) as settled: connected, or failed, its error
    /// counted as `kind`. The client when it connected.
    pub fn settle<T>(&self, result: Result<T, impl std::fmt::Display>, kind: &str) -> Option<T> {
        match result {
            Ok(client) => {
                self.settled.ok.set(self.settled.ok.get() + 1);
                Some(client)
            }
            Err(e) => {
                self.fail(kind, e);
                None
            }
        }
    }

    /// Counts a client that failed to connect (or join), its error counted as `kind`.
    pub fn fail(&self, kind: &str, e: impl std::fmt::Display) {
        self.settled.failed.set(self.settled.failed.get() + 1);
        self.errors.borrow_mut().add(kind, e);
    }
}

/// How a [`drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Everything expected arrived.
    Complete,
    /// Nothing more arrived for the quiet period: what is missing is lost.
    Quiet,
    /// Still arriving when the time ran out: what is missing may still have been on its way.
    Limit,
}

impl Drained {
    /// The name written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Quiet => "quiet",
            Self::Limit => "limit",
        }
    }
}

/// Waits until `value()` reaches `target` or stops moving for `quiet`, for at most `limit`.
pub async fn drain(
    value: impl Fn() -> u64,
    target: u64,
    quiet: Duration,
    limit: Duration,
) -> Drained {
    let until = Instant::now() + limit;
    let mut last = value();
    let mut last_move = Instant::now();
    loop {
        let v = value();
        if v >= target {
            return Drained::Complete;
        }
        if v != last {
            last = v;
            last_move = Instant::now();
        }
        if last_move.elapsed() >= quiet {
            return Drained::Quiet;
        }
        if Instant::now() >= until {
            return Drained::Limit;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The CPU share at or above which the load generator, not the server, limited the run.
pub const GEN_BOUND_PCT: f64 = 90.0;

/// One run's JSON line.
pub struct Report {
    fields: Map<String, Value>,
    metrics: Map<String, Value>,
    params: Map<String, Value>,
}

fn round(v: f64) -> Value {
    if v.is_finite() {
        json!((v * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

impl Report {
    /// A report of `scenario` for the case named `case` (the table's row label).
    pub fn new(scenario: &str, case: String, target: &Target) -> Self {
        let mut fields = Map::new();
        fields.insert("scenario".into(), json!(scenario));
        fields.insert("case".into(), json!(case));
        fields.insert("server".into(), json!(target.server));
        fields.insert("run".into(), json!(target.run));
        Self {
            fields,
            metrics: Map::new(),
            params: Map::new(),
        }
    }

    /// Records a parameter of the run.
    pub fn param(&mut self, name: &str, v: impl Into<Value>) -> &mut Self {
        self.params.insert(name.into(), v.into());
        self
    }

    /// Records a metric (the table shows them in this order); `None` is written as null.
    pub fn metric(&mut self, name: &str, v: Option<f64>) -> &mut Self {
        self.metrics
            .insert(name.into(), v.map(round).unwrap_or(Value::Null));
        self
    }

    /// Records a field outside the metrics.
    pub fn field(&mut self, name: &str, v: impl Into<Value>) -> &mut Self {
        self.fields.insert(name.into(), v.into());
        self
    }

    /// Records what a room's publishing came to after the drain: messages sent, deliveries
    /// owed and made, those beyond the owed (duplicates), and how the drain ended.
    pub fn deliveries(
        &mut self,
        sent: u64,
        expected: u64,
        delivered: u64,
        drained: Option<Drained>,
    ) -> &mut Self {
        self.field("sent", sent)
            .field("expected", expected)
            .field("delivered", delivered)
            .field("extra", delivered.saturating_sub(expected))
            .field("drained", drained.map(Drained::as_str))
    }

    /// Records the CPU use over the measured stretch.
    pub fn cpu(&mut self, cpu: CpuUse) -> &mut Self {
        let own = cpu.own_pct.map(round).unwrap_or(Value::Null);
        let server = cpu.server_pct.map(round).unwrap_or(Value::Null);
        let bound = cpu.own_pct.is_some_and(|p| p >= GEN_BOUND_PCT);
        self.fields.insert("gen_cpu_pct".into(), own);
        self.fields.insert("server_cpu_pct".into(), server);
        self.fields.insert("gen_bound".into(), json!(bound));
        let others = |v: Option<f64>| v.map(round).unwrap_or(Value::Null);
        self.fields.insert(
            "others_on_server_cpu_pct".into(),
            others(cpu.others_on_server_cpu_pct),
        );
        self.fields.insert(
            "others_on_gen_cpu_pct".into(),
            others(cpu.others_on_gen_cpu_pct),
        );
        self
    }

    /// Records the failures.
    pub fn errors(&mut self, e: &Errors) -> &mut Self {
        self.fields.insert("errors".into(), json!(e.total));
        self.fields
            .insert("error_kinds".into(), Value::Object(e.kinds.clone()));
        if let Some(first) = &e.first {
            self.fields.insert("first_error".into(), json!(first));
        }
        if e.kinds.len() > 1 {
            self.fields.insert(
                "first_error_of_kind".into(),
                Value::Object(e.first_of_kind.clone()),
            );
        }
        self
    }

    /// The JSON line.
    pub fn into_json(self) -> Value {
        let mut fields = self.fields;
        fields.insert("metrics".into(), Value::Object(self.metrics));
        fields.insert("params".into(), Value::Object(self.params));
        Value::Object(fields)
    }
}

/// Microseconds since `base`, the clock the scenarios stamp messages with.
pub fn micros_since(base: Instant) -> u64 {
    base.elapsed().as_micros() as u64
}

/// `n` per second over `d`.
pub fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            server_pid: None,
            server: "server".into(),
            run: 1,
            connect_concurrency: 0,
            connect_timeout: 1.0,
            same_source: false,
            publisher_addr: None,
        }
    }

    #[test]
    fn settling_counts_the_client_and_its_failure() {
        let crowd = Crowd::new(&target());
        assert_eq!(crowd.slots.available_permits(), 1);
        assert_eq!(crowd.settle(Ok::<_, &str>(7), "connect"), Some(7));
        assert_eq!(crowd.settle(Err::<u8, _>("refused"), "connect"), None);
        crowd.fail("join", "no joinedRoom");
        assert_eq!((crowd.settled.ok.get(), crowd.settled.failed.get()), (1, 2));
        let errors = crowd.errors.borrow();
        assert_eq!(errors.total(), 2);
        assert_eq!(errors.first.as_deref(), Some("connect: refused"));
    }

    #[test]
    fn deliveries_are_written_in_order_with_the_extra_counted() {
        let mut r = Report::new("fanout", "case".into(), &target());
        r.deliveries(3, 6, 7, Some(Drained::Quiet));
        let line = r.into_json().to_string();
        assert!(
            line.contains(r#""sent":3,"expected":6,"delivered":7,"extra":1,"drained":"quiet""#)
        );
        let mut r = Report::new("fanout", "case".into(), &target());
        r.deliveries(0, 0, 0, None);
        assert!(r.into_json().to_string().contains(r#""drained":null"#));
    }
}

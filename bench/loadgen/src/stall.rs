//! `stall`: a client that stops reading in a room flooded with large messages. Readers and
//! the stalled client(s) join one room on `/`; the stalled ones then never read again (their
//! sockets stay open, with a small `SO_RCVBUF` so the kernel holds little for them); a
//! publisher floods the room with `messageToRoom`. The server's resident memory is sampled
//! before and during the flood, the server's end of each stalled connection is watched in
//! `/proc/net/tcp` to see when the server cuts it off, and the readers count what they get.
//!
//! A server that bounds a client's outgoing queue (iogate: `max_outgoing_bytes`) should cost
//! about that bound per stalled client and cut it off; one that does not keeps everything
//! meant for it until the heartbeat ends it (pingInterval + pingTimeout, 45 s by default, so
//! a run is kept shorter than that).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::common::{Report, SharedErrors, Target, drain, micros_since};
use crate::fanout::join_room;
use crate::hist::Hist;
use crate::sio;
use crate::sys::{CpuMeter, TCP_ESTABLISHED, rss_kib, tcp_end};

/// Options of `stall`.
#[derive(Debug, Clone, Args)]
pub struct StallArgs {
    #[command(flatten)]
    pub target: Target,
    /// Subscribers that keep reading (they should lose nothing).
    #[arg(long, default_value_t = 3)]
    pub readers: usize,
    /// Subscribers that stop reading once in the room.
    #[arg(long, default_value_t = 1)]
    pub stalled: usize,
    /// Bytes of each message's text.
    #[arg(long, default_value_t = 16 * 1024)]
    pub message_bytes: usize,
    /// Messages the publisher sends per second (a late publisher catches up 10 ms at most).
    #[arg(long, default_value_t = 250.0)]
    pub rate: f64,
    /// Seconds the flood lasts.
    #[arg(long, default_value_t = 4.0)]
    pub flood: f64,
    /// Seconds the server's memory is sampled before the flood (its baseline: the highest of
    /// these samples).
    #[arg(long, default_value_t = 1.0)]
    pub before: f64,
    /// Seconds it is still sampled after the flood (a cut-off by `write_timeout`, 10 s by
    /// default, needs more than the flood plus this to show).
    #[arg(long, default_value_t = 3.0)]
    pub after: f64,
    /// Milliseconds between two samples.
    #[arg(long, default_value_t = 50)]
    pub sample_ms: u64,
    /// `SO_RCVBUF` of the stalled clients' sockets, in bytes (0: the system's default).
    #[arg(long, default_value_t = 4096)]
    pub recv_buffer: u32,
    /// The server's bound on one client's outgoing queue: the growth is also given in these.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_outgoing_bytes: u64,
    /// The room's name.
    #[arg(long, default_value = "stall")]
    pub room: String,
    /// Seconds one subscriber may wait for its `joinedRoom`.
    #[arg(long, default_value_t = 20.0)]
    pub join_timeout: f64,
    /// Seconds without a new delivery after which the readers' drain stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain_quiet: f64,
    /// Seconds the readers' drain may last at most.
    #[arg(long, default_value_t = 20.0)]
    pub drain_max: f64,
}

impl StallArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        let clients = self.readers + self.stalled + 1;
        self.target.setup_limit(clients)
            + Duration::from_secs_f64(
                self.join_timeout * clients as f64
                    + self.before
                    + self.flood
                    + self.after
                    + self.drain_max
                    + 20.0,
            )
    }
}

/// What the readers count.
#[derive(Default)]
struct Readers {
    joined: Cell<u64>,
    delivered: Cell<u64>,
    user_joined: Cell<u64>,
    hist: RefCell<Hist>,
}

/// What the sampler sees of the server.
#[derive(Default)]
struct Watch {
    /// When, and the server's VmRSS in KiB.
    rss: Vec<(Instant, u64)>,
    /// Per stalled client: when the server's end of its connection was first seen not
    /// established (or gone).
    cut_off: Vec<Option<Instant>>,
    /// Per stalled client: the most the server's kernel held unsent for it.
    tx_queue_max: Vec<u64>,
}

/// One stalled client: its socket, kept open and never read, and its connection's two ends.
struct Stalled {
    ws: sio::Ws,
    local: SocketAddr,
}

/// Runs `stall`; returns its report.
pub async fn run(a: StallArgs) -> anyhow::Result<Report> {
    let base = Instant::now();
    let errors: SharedErrors = Rc::default();
    let readers = Rc::new(Readers::default());
    let join_limit = Duration::from_secs_f64(a.join_timeout);

    // Readers first, so that they read the stalled clients' `userJoined` as any other frame.
    for i in 0..a.readers {
        let mut ws =
            match sio::connect(a.target.route(i), "/", None, a.target.connect_limit()).await {
                Ok(ws) => ws,
                Err(e) => {
                    errors.borrow_mut().add("reader connect", e);
                    continue;
                }
            };
        if let Err(e) = join_room(&mut ws, &a.room, join_limit, &readers.user_joined).await {
            errors.borrow_mut().add("reader join", e);
            continue;
        }
        readers.joined.set(readers.joined.get() + 1);
        tokio::task::spawn_local(read(ws, base, readers.clone(), errors.clone()));
    }
    let mut stalled = Vec::with_capacity(a.stalled);
    for j in 0..a.stalled {
        let mut route = a.target.route(a.readers + j);
        route.recv_buffer = (a.recv_buffer > 0).then_some(a.recv_buffer);
        let mut ws = match sio::connect(route, "/", None, a.target.connect_limit()).await {
            Ok(ws) => ws,
            Err(e) => {
                errors.borrow_mut().add("stalled connect", e);
                continue;
            }
        };
        let ignored = Cell::new(0);
        if let Err(e) = join_room(&mut ws, &a.room, join_limit, &ignored).await {
            errors.borrow_mut().add("stalled join", e);
            continue;
        }
        match ws.get_ref().local_addr() {
            Ok(local) => stalled.push(Stalled { ws, local }),
            Err(e) => errors.borrow_mut().add("stalled address", e),
        }
    }
    let mut publisher = match a.target.connect_publisher().await {
        Ok(ws) => ws,
        Err(e) => {
            errors.borrow_mut().add("publisher connect", e);
            anyhow::bail!(
                "the publisher could not connect: {}",
                errors.borrow().total()
            );
        }
    };

    let watch = Rc::new(RefCell::new(Watch {
        cut_off: vec![None; stalled.len()],
        tx_queue_max: vec![0; stalled.len()],
        ..Watch::default()
    }));
    let sampling = Rc::new(Cell::new(true));
    let ends: Vec<SocketAddr> = stalled.iter().map(|s| s.local).collect();
    let sampler = tokio::task::spawn_local(sample(
        a.target.server_pid,
        a.target.addr,
        ends,
        Duration::from_millis(a.sample_ms.max(1)),
        sampling.clone(),
        watch.clone(),
    ));
    tokio::time::sleep(Duration::from_secs_f64(a.before)).await;

    let meter = CpuMeter::start(a.target.server_pid);
    let flood_at = Instant::now();
    let sent = flood(&mut publisher, &a, base, &errors).await;
    let cpu = meter.stop();
    // The publisher answers pings until the run ends.
    tokio::task::spawn_local(async move { sio::answer_pings(&mut publisher).await });
    tokio::time::sleep(Duration::from_secs_f64(a.after)).await;
    sampling.set(false);
    let _ = sampler.await;

    let expected = sent * readers.joined.get();
    let drained = drain(
        || readers.delivered.get(),
        expected,
        Duration::from_secs_f64(a.drain_quiet),
        Duration::from_secs_f64(a.drain_max),
    )
    .await;

    // Now read what reached each stalled client, to the end or for a few seconds: a client the
    // server cut off ends (close or EOF) after the little its kernel kept.
    let mut stalled_received = Vec::new();
    let mut stalled_ended = Vec::new();
    for s in stalled {
        let (got, ended) = read_rest(s.ws, Duration::from_secs(3)).await;
        stalled_received.push(got);
        stalled_ended.push(ended);
    }

    let w = watch.borrow();
    // Milliseconds from the flood's start, negative before it.
    let ms = |t: Instant| {
        if t >= flood_at {
            t.duration_since(flood_at).as_millis() as i64
        } else {
            -(flood_at.duration_since(t).as_millis() as i64)
        }
    };
    let rss: Vec<(i64, u64)> = w.rss.iter().map(|(t, k)| (ms(*t), *k)).collect();
    let cut_off_ms: Vec<Option<i64>> = w.cut_off.iter().map(|c| c.map(ms)).collect();
    let before = rss.iter().filter(|(t, _)| *t < 0).map(|(_, k)| *k).max();
    let peak = rss.iter().filter(|(t, _)| *t >= 0).map(|(_, k)| *k).max();
    let growth = match (before, peak) {
        (Some(b), Some(p)) => Some(p as f64 - b as f64),
        _ => None,
    };
    let stalled_n = cut_off_ms.len();
    let per_bound = growth
        .filter(|_| stalled_n > 0)
        .map(|g| g * 1024.0 / (a.max_outgoing_bytes.max(1) as f64 * stalled_n as f64));
    let all_cut = stalled_n > 0 && cut_off_ms.iter().all(Option::is_some);
    let cut_s = all_cut
        .then(|| {
            cut_off_ms
                .iter()
                .flatten()
                .max()
                .map(|ms| *ms as f64 / 1000.0)
        })
        .flatten();
    let delivered = readers.delivered.get();
    let h = readers.hist.borrow();

    let who = if a.stalled == 1 {
        "stalled reader".to_string()
    } else {
        format!("{} stalled readers", a.stalled)
    };
    let size = if a.message_bytes.is_multiple_of(1024) {
        format!("{} KiB", a.message_bytes / 1024)
    } else {
        format!("{} B", a.message_bytes)
    };
    let mut r = Report::new("stall", format!("{who}, {size} messages"), &a.target);
    r.param("readers", a.readers)
        .param("stalled", a.stalled)
        .param("message_bytes", a.message_bytes)
        .param("rate", a.rate)
        .param("flood_s", a.flood)
        .param("recv_buffer", a.recv_buffer)
        .param("max_outgoing_bytes", a.max_outgoing_bytes)
        .metric("RSS growth KiB", growth)
        .metric("×max_outgoing_bytes", per_bound)
        .metric(
            "lost (readers)",
            Some(expected.saturating_sub(delivered) as f64),
        )
        .metric("cut off after s", cut_s)
        .field("rss_before_kib", before)
        .field("rss_peak_kib", peak)
        .field("rss_last_kib", rss.last().map(|(_, k)| *k))
        .field("cut_off", all_cut)
        .field(
            "cut_off_s",
            cut_off_ms
                .iter()
                .map(|c| c.map(|ms| ms as f64 / 1000.0))
                .collect::<Vec<_>>(),
        )
        .field("server_unsent_max_bytes", w.tx_queue_max.clone())
        .field("stalled_received", stalled_received)
        .field("stalled_ended", stalled_ended)
        .field("readers_joined", readers.joined.get())
        .field("sent", sent)
        .field("expected", expected)
        .field("delivered", delivered)
        .field("drained", drained.as_str())
        .field("readers_p50_ms", h.quantile_ms(0.5))
        .field("readers_p99_ms", h.quantile_ms(0.99))
        .field("offered_bytes_per_s", a.rate * a.message_bytes as f64)
        .field("rss_samples", json!(rss))
        .cpu(cpu)
        .errors(&errors.borrow());
    Ok(r)
}

/// The message text: `<seq>:<micros> ` and padding to `bytes` (no quote or backslash in it,
/// so it is its own JSON string).
fn message(room: &str, seq: u64, micros: u64, bytes: usize) -> String {
    let head = format!("{seq}:{micros} ");
    let pad = bytes.saturating_sub(head.len());
    let room = serde_json::to_string(room).unwrap_or_default();
    let mut s = String::with_capacity(bytes + room.len() + 32);
    s.push_str("{\"room\":");
    s.push_str(&room);
    s.push_str(",\"message\":\"");
    s.push_str(&head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    s
}

/// The send time in a delivered message, found after `"message":"` whatever the key order.
fn sent_micros(data: &str) -> Option<u64> {
    let at = data.find("\"message\":\"")? + "\"message\":\"".len();
    let stamp = data[at..].split(' ').next()?;
    stamp.split_once(':')?.1.parse().ok()
}

/// The most a late publisher catches up at once: a burst of messages sent together would fill
/// every member's queue at once (and a server that bounds queues may cut the readers off for
/// the generator's own hiccup), so past this the schedule slips instead.
const CATCH_UP: Duration = Duration::from_millis(10);

/// Sends messages at `a.rate` per second for `a.flood` seconds; returns how many went out.
async fn flood(ws: &mut sio::Ws, a: &StallArgs, base: Instant, errors: &SharedErrors) -> u64 {
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs_f64(a.flood);
    let every = Duration::from_secs_f64(1.0 / a.rate.max(1e-3));
    let mut next = start;
    let mut k = 0;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end {
            break;
        }
        if next > now {
            if let Err(e) = sio::flush(ws).await {
                errors.borrow_mut().add("publisher", e);
                return k;
            }
            if let Err(e) = sio::publisher_pause(ws, next.min(end)).await {
                errors.borrow_mut().add("publisher", e);
                return k;
            }
            continue;
        }
        let data = message(&a.room, k, micros_since(base), a.message_bytes);
        if let Err(e) = sio::feed(ws, sio::event(None, "messageToRoom", &data)).await {
            errors.borrow_mut().add("publisher", e);
            return k;
        }
        k += 1;
        next = (next + every).max(now.checked_sub(CATCH_UP).unwrap_or(now));
    }
    if let Err(e) = sio::flush(ws).await {
        errors.borrow_mut().add("publisher", e);
    }
    k
}

/// A reader: counts and times every `message` until the run ends.
async fn read(mut ws: sio::Ws, base: Instant, readers: Rc<Readers>, errors: SharedErrors) {
    let e = sio::events(&mut ws, |data| {
        if sio::event_name(data) != Some("message") {
            return;
        }
        readers.delivered.set(readers.delivered.get() + 1);
        if let Some(sent) = sent_micros(data) {
            let latency = micros_since(base).saturating_sub(sent);
            readers.hist.borrow_mut().record_us(latency);
        }
    })
    .await;
    errors.borrow_mut().add("reader dropped", e);
}

/// Reads a stalled client's socket for at most `limit`: the `message`s it got, and whether it
/// ended (closed by the server, or an error) rather than running out of time.
async fn read_rest(mut ws: sio::Ws, limit: Duration) -> (u64, bool) {
    let mut got = 0;
    let count = sio::events(&mut ws, |data| {
        if sio::event_name(data) == Some("message") {
            got += 1;
        }
    });
    let ended = tokio::time::timeout(limit, count).await.is_ok();
    (got, ended)
}

/// Samples the server's RSS and the state of the stalled connections every `every` while
/// `sampling` holds.
async fn sample(
    pid: Option<u32>,
    server: SocketAddr,
    stalled: Vec<SocketAddr>,
    every: Duration,
    sampling: Rc<Cell<bool>>,
    watch: Rc<RefCell<Watch>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while sampling.get() {
        tick.tick().await;
        let now = Instant::now();
        let mut w = watch.borrow_mut();
        if let Some(kib) = pid.and_then(rss_kib) {
            w.rss.push((now, kib));
        }
        for (i, local) in stalled.iter().enumerate() {
            let end = tcp_end(server, *local);
            if let Some(e) = end {
                w.tx_queue_max[i] = w.tx_queue_max[i].max(e.tx_queue);
            }
            let open = end.is_some_and(|e| e.state == TCP_ESTABLISHED);
            if !open && w.cut_off[i].is_none() {
                w.cut_off[i] = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_the_size_asked_and_its_stamp_reads_back() {
        let m = message("stall", 7, 123_456, 16 * 1024);
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["message"].as_str().unwrap().len(), 16 * 1024);
        let delivered = format!(
            r#"["message",{{"userId":"ab","message":{}}}]"#,
            v["message"]
        );
        assert_eq!(sent_micros(&delivered), Some(123_456));
    }
}

//! `echo`: N clients in a closed loop, each emitting `events` with an ack and checking that the
//! ack carries the body back.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;

use crate::common::{Crowd, Report, Stage, Target, Timing, per_sec};
use crate::hist::Hist;
use crate::sio::{self, Packet};

/// Options of `echo`.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    #[command(flatten)]
    pub target: Target,
    /// Clients, each with one request in flight.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// The body's size in bytes (its JSON text).
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    #[command(flatten)]
    pub timing: Timing,
    /// Seconds an ack may take before the client counts a timeout and stops.
    #[arg(long, default_value_t = 5.0)]
    pub ack_timeout: f64,
}

impl EchoArgs {
    /// The longest a run may take.
    pub fn limit(&self) -> Duration {
        self.target.setup_limit(self.clients)
            + Duration::from_secs_f64(
                self.timing.warmup + self.timing.duration + self.ack_timeout + 5.0,
            )
    }
}

#[derive(Default)]
struct Stats {
    hist: Hist,
    acks: u64,
}

/// Runs `echo`; returns its report.
pub async fn run(a: EchoArgs) -> Report {
    let crowd = Crowd::new(&a.target);
    let stats = Rc::new(RefCell::new(Stats::default()));
    let a = Rc::new(a);
    let mut tasks = Vec::with_capacity(a.clients);
    for i in 0..a.clients {
        tasks.push(tokio::task::spawn_local(client(
            i,
            a.clone(),
            crowd.clone(),
            stats.clone(),
        )));
    }
    crowd
        .settled
        .wait(a.clients, a.target.setup_limit(a.clients))
        .await;
    let (window, cpu) = a.timing.run(&crowd.gate, a.target.server_pid, |_| {}).await;
    let finish = Duration::from_secs_f64(a.ack_timeout + 1.0);
    let _ = tokio::time::timeout(finish, futures_util::future::join_all(tasks)).await;

    let s = stats.borrow();
    let mut r = Report::new(
        "echo",
        format!("echo {} clients, {} B body", a.clients, a.body_bytes),
        &a.target,
    );
    r.param("clients", a.clients)
        .param("body_bytes", a.body_bytes)
        .param("duration_s", a.timing.duration)
        .param("connected", crowd.settled.ok.get())
        .metric("acks/s", Some(per_sec(s.acks, window)))
        .metric("p50 ms", s.hist.quantile_ms(0.5))
        .metric("p99 ms", s.hist.quantile_ms(0.99))
        .metric("p99.9 ms", s.hist.quantile_ms(0.999))
        .metric("errors", Some(crowd.errors.borrow().total() as f64))
        .field("window_s", window.as_secs_f64())
        .cpu(cpu)
        .errors(&crowd.errors.borrow());
    r
}

/// A body of `len` bytes naming the client and the request: `{"c":1,"s":2,"p":"xxx"}`.
fn body(client: usize, seq: u64, len: usize) -> String {
    let mut b = format!("{{\"c\":{client},\"s\":{seq},\"p\":\"");
    let pad = len.saturating_sub(b.len() + 2);
    b.extend(std::iter::repeat_n('x', pad));
    b.push_str("\"}");
    b
}

/// Whether an ack's arguments (`[...]`) are exactly `[body]`.
fn echoes(ack: &str, body: &str) -> bool {
    if ack.len() == body.len() + 2
        && ack.starts_with('[')
        && ack.ends_with(']')
        && &ack[1..ack.len() - 1] == body
    {
        return true;
    }
    // Same value, other spelling (key order, spacing).
    let got: Option<Value> = serde_json::from_str(ack).ok();
    let want: Option<Value> = serde_json::from_str(body).ok();
    matches!((got, want), (Some(Value::Array(g)), Some(w)) if g.len() == 1 && g[0] == w)
}

async fn client(i: usize, a: Rc<EchoArgs>, crowd: Crowd, stats: Rc<RefCell<Stats>>) {
    let permit = crowd.slots.acquire().await;
    let ws = sio::connect(a.target.route(i), "/", None, a.target.connect_limit()).await;
    drop(permit);
    let Some(mut ws) = crowd.settle(ws, "connect") else {
        return;
    };
    let Crowd { gate, errors, .. } = crowd;
    gate.reached(Stage::Warmup).await;
    let ack_timeout = Duration::from_secs_f64(a.ack_timeout);
    let mut seq: u64 = 1;
    while gate.get() < Stage::Done {
        let body = body(i, seq, a.body_bytes);
        let frame = sio::event(Some(seq), "events", &body);
        let sent = Instant::now();
        if let Err(e) = sio::send(&mut ws, frame).await {
            errors.borrow_mut().add("disconnect", e);
            return;
        }
        let deadline = tokio::time::Instant::from_std(sent + ack_timeout);
        loop {
            let text = match tokio::time::timeout_at(deadline, sio::next(&mut ws)).await {
                Ok(Ok(text)) => text,
                Ok(Err(e)) => {
                    errors.borrow_mut().add("disconnect", e);
                    return;
                }
                Err(_) => {
                    errors
                        .borrow_mut()
                        .add("ack timeout", format_args!("client {i} request {seq}"));
                    return;
                }
            };
            match sio::parse(&text) {
                Packet::Event { data, .. } if sio::event_name(data) == Some("exception") => {
                    // A refusal (a limit, a failed handler): no ack follows.
                    errors
                        .borrow_mut()
                        .add("exception", &data[..data.len().min(200)]);
                    break;
                }
                Packet::Ack { id, data, .. } if id == seq => {
                    if !echoes(data, &body) {
                        errors.borrow_mut().add(
                            "mismatch",
                            format_args!("sent {body}, got {}", &data[..data.len().min(200)]),
                        );
                    }
                    break;
                }
                _ => {}
            }
        }
        let latency = sent.elapsed();
        if gate.get() == Stage::Measure {
            let mut s = stats.borrow_mut();
            s.hist.record(latency);
            s.acks += 1;
        }
        seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_asked_size_and_echo_back() {
        let b = body(12, 345, 100);
        assert_eq!(b.len(), 100);
        assert!(serde_json::from_str::<Value>(&b).is_ok());
        assert!(echoes(&format!("[{b}]"), &b));
        assert!(echoes(
            r#"[{"s":2,"c":1,"p":""}]"#,
            r#"{"c":1,"s":2,"p":""}"#
        ));
        assert!(!echoes(
            r#"[{"c":1,"s":3,"p":""}]"#,
            r#"{"c":1,"s":2,"p":""}"#
        ));
    }
}

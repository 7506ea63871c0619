//! A latency histogram in microseconds: log-linear buckets (128 per power of two above 128 µs),
//! so any percentile is within 1% of the true value, in a fixed 38 KB whatever the count.

use std::time::Duration;

/// Sub-buckets per power of two; values below it are exact.
const SUB: u64 = 128;
const HALF: u64 = SUB / 2;
/// Powers of two covered above `SUB` (up to 2^40 µs, about 12 days).
const OCTAVES: usize = 34;
const LEN: usize = SUB as usize + OCTAVES * HALF as usize;

/// Counts of latencies.
#[derive(Clone)]
pub struct Hist {
    counts: Box<[u64]>,
    total: u64,
    max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Self {
            counts: vec![0; LEN].into_boxed_slice(),
            total: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros() as u64;
    let shift = msb - 6;
    let idx = SUB + (shift - 1) * HALF + ((v >> shift) - HALF);
    (idx as usize).min(LEN - 1)
}

/// The middle of bucket `i`'s range.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / HALF + 1;
    let m = (i - SUB) % HALF + HALF;
    (m << shift) + (1 << (shift - 1))
}

impl Hist {
    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        self.record_us(d.as_micros() as u64);
    }

    /// Records one latency in microseconds.
    pub fn record_us(&mut self, us: u64) {
        self.counts[index(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    /// The `q` quantile (0..=1) in milliseconds; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(value(i).min(self.max) as f64 / 1000.0);
            }
        }
        Some(self.max as f64 / 1000.0)
    }

    /// The largest latency recorded, in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.max as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_trip_within_one_percent() {
        for v in (0..2_000_000u64)
            .step_by(997)
            .chain([1 << 30, (1 << 38) + 12345])
        {
            let back = value(index(v));
            let err = back.abs_diff(v) as f64 / v.max(1) as f64;
            assert!(err <= 0.01, "{v} -> {back}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let mut h = Hist::default();
        for us in 1..=10_000 {
            h.record_us(us);
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((p50 - 5.0).abs() < 0.06, "{p50}");
        assert!((p99 - 9.9).abs() < 0.1, "{p99}");
        assert_eq!(h.max_ms(), Some(10.0));
    }
}

//! What the kernel says about a process: CPU time from `/proc/<pid>/stat`, resident memory
//! from `/proc/<pid>/status`.

use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` (`sysconf(_SC_CLK_TCK)`; 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// A process's CPU time (user + system, all threads), or `None` when it cannot be read.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces; the fields after it are counted from its `)`.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / TICKS_PER_S))
}

/// A process's resident set size in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Jiffies spent in tasks, and in all, of each CPU, from `/proc/stat`.
fn cpu_jiffies() -> Vec<(u64, u64)> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().take(8).sum();
            // Time in tasks (user, nice, system); interrupts and softirqs (loopback packet
            // processing, charged to no process) are left out of "busy".
            let tasks = v.iter().take(3).sum::<u64>();
            (tasks, total)
        })
        .collect()
}

/// The one CPU a process is pinned to (`Cpus_allowed_list` of a single number).
fn pinned_cpu(pid: Option<u32>) -> Option<usize> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU use of this process and of the server over a stretch of wall time, and of whatever
/// else ran on the CPUs they are pinned to.
pub struct CpuMeter {
    server: Option<u32>,
    wall: Instant,
    own: Option<Duration>,
    theirs: Option<Duration>,
    cpus: Vec<(u64, u64)>,
}

/// What a [`CpuMeter`] measured, in percent of one core.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// The load generator's.
    pub own_pct: Option<f64>,
    /// The server's.
    pub server_pct: Option<f64>,
    /// Other processes' on the server's CPU (when the server is pinned to one): its user and
    /// system time less the server's.
    pub others_on_server_cpu_pct: Option<f64>,
    /// Other processes' on the generator's CPU (when it is pinned to one).
    pub others_on_gen_cpu_pct: Option<f64>,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start(server: Option<u32>) -> Self {
        Self {
            server,
            wall: Instant::now(),
            own: cpu_time(None),
            theirs: server.and_then(|p| cpu_time(Some(p))),
            cpus: cpu_jiffies(),
        }
    }

    /// The use since [`start`](Self::start).
    pub fn stop(&self) -> CpuUse {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let pct = |before: Option<Duration>, now: Option<Duration>| {
            Some((now?.saturating_sub(before?)).as_secs_f64() / wall * 100.0)
        };
        let own_pct = pct(self.own, cpu_time(None));
        let server_pct = pct(self.theirs, self.server.and_then(|p| cpu_time(Some(p))));
        let now = cpu_jiffies();
        let busy = |cpu: Option<usize>| {
            let cpu = cpu?;
            let (b0, t0) = *self.cpus.get(cpu)?;
            let (b1, t1) = *now.get(cpu)?;
            Some((b1 - b0) as f64 / (t1 - t0).max(1) as f64 * 100.0)
        };
        let server_cpu = self.server.and_then(|p| pinned_cpu(Some(p)));
        let own_cpu = pinned_cpu(None);
        let others = |cpu: Option<usize>, mine: Option<f64>| {
            let mut used = mine?;
            // Both on one CPU: the other process of the two is not a stranger.
            if server_cpu.is_some() && server_cpu == own_cpu {
                used = own_pct? + server_pct?;
            }
            Some((busy(cpu)? - used).max(0.0))
        };
        CpuUse {
            own_pct,
            server_pct,
            others_on_server_cpu_pct: others(server_cpu, server_pct),
            others_on_gen_cpu_pct: others(own_cpu, own_pct),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_figures_are_readable() {
        assert!(cpu_time(None).is_some());
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}

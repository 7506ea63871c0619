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

/// One TCP connection as the kernel sees it from one end (a line of `/proc/net/tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEnd {
    /// The state (`01` ESTABLISHED, `04` FIN_WAIT1, `07` CLOSE, ...).
    pub state: u8,
    /// Bytes sent and not yet acknowledged by the peer (`tx_queue`).
    pub tx_queue: u64,
}

/// How `/proc/net/tcp` writes an IPv4 socket address: the address as a little-endian 32-bit
/// word in hex, then the port in hex.
fn proc_net_addr(a: std::net::SocketAddrV4) -> String {
    format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(a.ip().octets()),
        a.port()
    )
}

/// The end of the IPv4 TCP connection `local` ↔ `remote` whose local address is `local`, as
/// `/proc/net/tcp` has it (this network namespace's connections, whatever their process);
/// `None` when there is none (closed and gone, or reset) or the table cannot be read.
pub fn tcp_end(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> Option<TcpEnd> {
    let (std::net::SocketAddr::V4(local), std::net::SocketAddr::V4(remote)) = (local, remote)
    else {
        return None;
    };
    let (local, remote) = (proc_net_addr(local), proc_net_addr(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let mut f = l.split_whitespace().skip(1);
        if f.next()? != local || f.next()? != remote {
            return None;
        }
        let state = u8::from_str_radix(f.next()?, 16).ok()?;
        let tx = f.next()?.split(':').next()?;
        let tx_queue = u64::from_str_radix(tx, 16).ok()?;
        Some(TcpEnd { state, tx_queue })
    })
}

/// The state of an established connection in [`TcpEnd::state`].
pub const TCP_ESTABLISHED: u8 = 1;

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

    #[test]
    fn a_loopback_connection_is_found_from_both_ends() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        assert_eq!(tcp_end(s, c).unwrap().state, TCP_ESTABLISHED);
        assert_eq!(tcp_end(c, s).unwrap().state, TCP_ESTABLISHED);
        drop(server);
        assert_ne!(tcp_end(s, c).map(|e| e.state), Some(TCP_ESTABLISHED));
    }

    #[test]
    fn addresses_are_written_as_the_kernel_does() {
        let a = "127.0.0.1:3000".parse().unwrap();
        assert_eq!(proc_net_addr(a), "0100007F:0BB8");
    }
}

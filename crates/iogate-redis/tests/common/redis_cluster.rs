//! A Redis Cluster of the test's own (Debian's `redis-server` and `redis-cli`): masters and
//! their replicas on free loopback ports, joined with `redis-cli --cluster create`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::redis_server::free_port;

/// How long a master may be silent before its replica takes over (`cluster-node-timeout`).
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1000);

/// A Redis Cluster on 127.0.0.1, stopped (and its files removed) when dropped.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: PathBuf,
}

impl RedisCluster {
    /// `masters` masters with `replicas` replicas each.
    pub async fn start(masters: usize, replicas: usize) -> Self {
        let count = masters * (1 + replicas);
        let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let dir = std::env::temp_dir().join(format!("iogate-redis-cluster-{}", ports[0]));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Self {
            children: Vec::new(),
            ports,
            dir,
        };
        for i in 0..count {
            let child = cluster.spawn(i);
            cluster.children.push(Some(child));
        }
        for &port in &cluster.ports {
            wait_for_port(port).await;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .await
            .expect("redis-cli is installed");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_until_ok().await;
        cluster
    }

    fn spawn(&self, i: usize) -> Child {
        let port = self.ports[i].to_string();
        Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args([
                "--cluster-node-timeout",
                &NODE_TIMEOUT.as_millis().to_string(),
            ])
            // A replica takes over however long ago it last heard from its master: in a test,
            // the kill may come before the first sync is old enough to count.
            .args(["--cluster-replica-validity-factor", "0"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed")
    }

    /// The seed URL list iogate takes: every node, comma-separated.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs `redis-cli -p port args...` and returns its output.
    pub async fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .await
            .expect("redis-cli is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until every running node says the cluster is ok and agrees on it.
    pub async fn wait_until_ok(&self) {
        for _ in 0..300 {
            let mut ok = true;
            for (i, &port) in self.ports.iter().enumerate() {
                if self.children[i].is_some()
                    && !self
                        .cli(port, &["cluster", "info"])
                        .await
                        .contains("cluster_state:ok")
                {
                    ok = false;
                }
            }
            if ok {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the Redis Cluster is not ok after 30 s");
    }

    /// The port of the master that owns the slot of `key` (a channel's name, for sharded
    /// pub/sub).
    pub async fn master_of(&self, key: &str) -> u16 {
        match self.owner(key).await {
            Some(port) => port,
            None => panic!("no master that is up owns the slot of {key}"),
        }
    }

    /// The port of the master that owns `key`'s slot and is not suspected to have failed.
    async fn owner(&self, key: &str) -> Option<u16> {
        let port = self.running_port();
        let slot: u16 = self
            .cli(port, &["cluster", "keyslot", key])
            .await
            .trim()
            .parse()
            .unwrap();
        let nodes = self.cli(port, &["cluster", "nodes"]).await;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let owns = fields[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&slot),
                    _ => false,
                }
            });
            if owns {
                let addr = fields[1].split('@').next().unwrap();
                return addr.rsplit(':').next().unwrap().parse().ok();
            }
        }
        None
    }

    /// Waits until a node other than `old` is the master of `key`'s slot, and the cluster is
    /// ok again.
    pub async fn wait_for_new_master(&self, key: &str, old: u16) {
        for _ in 0..300 {
            if self.owner(key).await.is_some_and(|port| port != old) {
                return self.wait_until_ok().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no replica took over from {old} within 30 s");
    }

    fn running_port(&self) -> u16 {
        let i = self.children.iter().position(Option::is_some).unwrap();
        self.ports[i]
    }

    /// Kills the node on `port` (SIGKILL), as a crash would.
    pub async fn kill(&mut self, port: u16) {
        let i = self.ports.iter().position(|&p| p == port).unwrap();
        if let Some(mut child) = self.children[i].take() {
            child.kill().await.unwrap();
        }
    }
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not start on port {port}");
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

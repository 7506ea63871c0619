// A real Redis Cluster (Debian's redis-server and redis-cli) on free loopback ports: masters
// with a replica each, joined with `redis-cli --cluster create`, for the sharded adapter's suite.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep } from './server.mjs';

const run = promisify(execFile);

/** `redis-cli -p port ...args`, its output. */
async function cli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5_000 });
  return stdout;
}

/**
 * Starts `masters` masters with `replicas` replicas each (cluster-node-timeout 1 s). Resolves
 * to `{ url, ports, cli(port, ...args), masterOf(key), kill(port), waitForNewMaster(key, old),
 * stop() }`; `url` lists every node, comma-separated, as REDIS_URL takes it.
 */
export async function startRedisCluster(masters = 3, replicas = 1) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iogate-e2e-cluster-'));
  const ports = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await freePort());
  const children = new Map();
  for (const port of ports) {
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0', '--dir', dir,
    ], { stdio: 'ignore' });
    children.set(port, child);
  }
  const killAll = () => { for (const child of children.values()) child.kill('SIGKILL'); };
  process.once('exit', killAll);
  for (const port of ports) {
    for (let i = 0; ; i++) {
      try {
        if ((await cli(port, 'ping')).startsWith('PONG')) break;
      } catch { /* not up yet */ }
      if (i > 100) throw new Error(`redis-server did not answer on port ${port}`);
      await sleep(50);
    }
  }
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });

  const running = () => ports.filter((p) => children.has(p));
  const waitUntilOk = async () => {
    for (let i = 0; i < 300; i++) {
      const states = await Promise.all(running().map((p) => cli(p, 'cluster', 'info').catch(() => '')));
      if (states.every((s) => s.includes('cluster_state:ok'))) return;
      await sleep(100);
    }
    throw new Error('the Redis Cluster is not ok after 30 s');
  };
  /** The port of the master, not suspected of failing, that owns `key`'s slot. */
  const masterOf = async (key) => {
    const port = running()[0];
    const slot = Number((await cli(port, 'cluster', 'keyslot', key)).trim());
    for (const line of (await cli(port, 'cluster', 'nodes')).split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 9 || !f[2].includes('master') || f[2].includes('fail')) continue;
      const owns = f.slice(8).some((range) => {
        const [a, b = a] = range.split('-').map(Number);
        return slot >= a && slot <= b;
      });
      if (owns) return Number(f[1].split('@')[0].split(':').pop());
    }
    return undefined;
  };
  await waitUntilOk();

  return {
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    cli,
    masterOf,
    waitUntilOk,
    /** Ends the node on `port` at once, as a crash would. */
    async kill(port) {
      const child = children.get(port);
      children.delete(port);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    /** Waits until another node than `old` is the master of `key`'s slot, and all is ok. */
    async waitForNewMaster(key, old) {
      for (let i = 0; i < 300; i++) {
        const now = await masterOf(key);
        if (now !== undefined && now !== old) return waitUntilOk();
        await sleep(100);
      }
      throw new Error(`no replica took over from ${old} within 30 s`);
    },
    async stop() {
      killAll();
      process.removeListener('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

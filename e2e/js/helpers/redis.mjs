// A real redis-server (Debian's package) on a free loopback port, for the cluster suites.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { startIogate } from './process.mjs';
import { freePort, sleep } from './server.mjs';

/** Answers whether a Redis on `port` replies to PING. */
function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Answers whether the Redis on `port` holds `key` (`EXISTS`; `key` without spaces). */
function exists(port, key) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => { socket.destroy(); reject(new Error('EXISTS timed out')); });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`EXISTS ${key}\r\n`));
    socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith(':1')); });
  });
}

/**
 * Starts redis-server on a free port (or `port`). Resolves to
 * `{ url, port, stop(), restart(), exists(key) }`.
 * No persistence: a restarted Redis starts empty, as after a crash.
 */
export async function startRedis(port) {
  port ??= await freePort();
  let child;
  const launch = async () => {
    child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    ], { stdio: 'ignore' });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    for (let i = 0; i < 100; i++) {
      if (await ping(port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer on port ${port}`);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return { url: `redis://127.0.0.1:${port}`, port, stop, restart: launch, exists: (key) => exists(port, key) };
}

/**
 * Starts redis-server and iogate on it (`REDIS_URL`, then `env`): a cluster node whose Redis a
 * test can stop and restart. Resolves to `{ redis, server }`.
 */
export async function startRedisNode(env = {}) {
  const redis = await startRedis();
  try {
    return { redis, server: await startIogate({ REDIS_URL: redis.url, ...env }) };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

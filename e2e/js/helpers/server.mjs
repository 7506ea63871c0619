// Starts the server under test (iogate, or the NestJS reference with E2E_TARGET=reference) and
// gives the suites small socket.io-client helpers. Every wait here has a timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const E2E_JS = path.resolve(HERE, '..');

/** 'iogate' (default) or 'reference' (E2E_TARGET=reference). */
export const MODE = process.env.E2E_TARGET === 'reference' ? 'reference' : 'iogate';

/** The parser the suites speak: 'json' (default) or 'msgpack' (E2E_PARSER=msgpack: the server
 *  is started with PARSER=msgpack and every client made by these helpers uses
 *  socket.io-msgpack-parser). */
export const PARSER = process.env.E2E_PARSER === 'msgpack' ? 'msgpack' : 'json';
// iogate refuses API keys shorter than 16 characters.
export const API_KEY = 'test-api-key-for-e2e-suites';
export const HOST = '127.0.0.1';

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const DEFAULT_WAIT_MS = 5_000;

/** Transport settings every suite runs its cases for; `undefined` = the client's default
 *  (polling first, then upgrade to websocket). */
export const TRANSPORTS = {
  websocket: ['websocket'],
  polling: ['polling'],
  upgrade: undefined,
};

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, for at most `ms`. */
export async function eventually(what, check, ms = 15_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

/** A free loopback port: listen on 0, read it, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function targetCommand(secret, extraEnv) {
  const base = { ...process.env, JWT_SECRET: secret, HOST, ...extraEnv };
  if (MODE === 'reference') {
    const main = process.env.REFERENCE_MAIN ?? '/tmp/ref/dist/main.js';
    return {
      cmd: process.execPath,
      args: [main],
      env: { ...base, QUIET: '1' },
      needsPort: true,
      ready: /reference listening on (\d+)/,
    };
  }
  const bin = process.env.IOGATE_BIN
    ? path.resolve(process.env.IOGATE_BIN)
    : path.resolve(E2E_JS, '../../target/release/iogate');
  return {
    cmd: bin,
    args: [],
    env: { ...base, PORT: '0', API_KEY, RUST_LOG: 'warn', ...extraEnv },
    needsPort: false,
    ready: /^iogate listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/m,
  };
}

/**
 * Starts the target server. Resolves to `{ url, port, secret, apiKey, mode, stop() }`.
 * `extraEnv` is added to the child's environment.
 */
export async function startServer(extraEnv = {}) {
  const secret = randomBytes(36).toString('base64url'); // 48 characters
  const spec = targetCommand(secret, PARSER === 'msgpack' ? { PARSER, ...extraEnv } : extraEnv);
  if (spec.needsPort) spec.env.PORT = String(await freePort());

  const child = spawn(spec.cmd, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-20_000); });

  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // A crashed test process must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const describeFailure = (why) =>
    `${MODE} server (${spec.cmd} ${spec.args.join(' ')}) ${why}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  let port;
  try {
    port = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(describeFailure(`did not print its listening line within ${START_TIMEOUT_MS} ms`))),
        START_TIMEOUT_MS,
      );
      child.once('error', (err) => {
        clearTimeout(timer);
        const hint = err.code === 'ENOENT' && MODE === 'iogate'
          ? ' (build it with `cargo build --release -p iogate-server`, or set IOGATE_BIN)' : '';
        reject(new Error(describeFailure(`could not be started: ${err.message}${hint}`)));
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(describeFailure(`exited early (code ${code}, signal ${signal})`)));
      });
      child.stdout.on('data', (chunk) => {
        stdout = (stdout + chunk).slice(-20_000);
        const m = spec.ready.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    throw err;
  }

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const graceful = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
        if (!graceful) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      process.removeListener('exit', killOnExit);
    })();
    return stopping;
  };

  /** Ends the server at once (SIGKILL), as a crash would. */
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
    process.removeListener('exit', killOnExit);
  };

  return { url: `http://${HOST}:${port}`, port, secret, apiKey: API_KEY, mode: MODE, stop, kill, stderr: () => stderr };
}

/** An HS256 JWT; expires in an hour unless `claims.exp` or `opts.expiresIn` says otherwise. */
export function token(secret, claims = { sub: 'alice', email: 'alice@example.com' }, opts = {}) {
  const defaults = claims.exp === undefined ? { expiresIn: '1h' } : {};
  return jwt.sign(claims, secret, { algorithm: 'HS256', ...defaults, ...opts });
}

/** A token with header `{"alg":"none","typ":"JWT"}` and an empty signature. */
export function unsignedToken(claims = { sub: 'alice', email: 'alice@example.com' }) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iat: now, exp: now + 3600, ...claims })}.`;
}

/** socket.io-client options for the suites: never reconnect, never share a Manager. */
export function clientOptions(opts = {}) {
  const { transports, ...rest } = opts;
  return {
    ...(PARSER === 'msgpack' ? { parser: msgpackParser } : {}),
    forceNew: true,
    reconnection: false,
    timeout: DEFAULT_WAIT_MS,
    ...(transports !== undefined ? { transports } : {}),
    ...rest,
  };
}

/** A socket that is connecting (not awaited): for refusal tests. */
export function openSocket(url, nsp = '/', opts = {}) {
  return io(url + nsp, clientOptions(opts));
}

/** A connected socket; rejects (and closes the socket) on connect_error or timeout. */
export function connect(url, nsp = '/', opts = {}, timeoutMs = DEFAULT_WAIT_MS) {
  const socket = openSocket(url, nsp, opts);
  return new Promise((resolve, reject) => {
    const done = (err) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      if (err) {
        socket.close();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const onConnect = () => done();
    const onError = (err) => {
      const wrapped = new Error(`connect_error on ${nsp}: ${err.message}`);
      wrapped.cause = err;
      done(wrapped);
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms connecting to ${nsp}`)), timeoutMs);
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

/** Closes `socket` when test `t` ends. Returns the socket. */
export function track(t, socket) {
  t.after(() => socket.close());
  return socket;
}

/** Resolves with the first argument of the next `event` on `socket`. */
export function once(socket, event, timeoutMs = DEFAULT_WAIT_MS) {
  return new Promise((resolve, reject) => {
    const handler = (arg) => {
      clearTimeout(timer);
      resolve(arg);
    };
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}' on ${socket.nsp ?? 'the engine'}`));
    }, timeoutMs);
    socket.once(event, handler);
  });
}

/** Emits and waits for the ack (its first argument). */
export async function emitWithAck(socket, event, ...args) {
  try {
    return await socket.timeout(DEFAULT_WAIT_MS).emitWithAck(event, ...args);
  } catch (err) {
    throw new Error(`no ack for '${event}' on ${socket.nsp} within ${DEFAULT_WAIT_MS} ms (${err.message})`);
  }
}

/** The offset of connection state recovery, as iogate writes it (`<epoch ms>-<seq>`) and as the
 *  Redis streams adapter does (a stream entry id). */
export const OFFSET = /^\d+-\d+$/;

/** An event's arguments without the recovery offset the server appends when connection state
 *  recovery is on (the client then holds a `pid`): what the application sent. */
export function withoutOffset(socket, args) {
  return socket._pid && args.length > 0 && OFFSET.test(args.at(-1)) ? args.slice(0, -1) : args;
}

/**
 * Records every event `socket` receives: `rec.all` is `[event, ...args][]` (recovery offsets
 * left out), `rec.of(event)` the first arguments of one event, `rec.waitFor(event, n)` waits
 * for n of them.
 */
export function record(socket) {
  const all = [];
  const waiters = new Set();
  socket.onAny((event, ...args) => {
    all.push([event, ...withoutOffset(socket, args)]);
    for (const w of waiters) w();
  });
  const of = (event) => all.filter(([e]) => e === event).map(([, first]) => first);
  // Resolves with fn()'s value once it is neither undefined nor false.
  const waitUntil = (fn, what, timeoutMs = DEFAULT_WAIT_MS) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const value = fn();
        if (value !== undefined && value !== false) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${socket.nsp}; ` +
          `received: ${JSON.stringify(all).slice(0, 500)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const waitFor = (event, n = 1, timeoutMs = DEFAULT_WAIT_MS) =>
    waitUntil(() => { const got = of(event); return got.length >= n && got; }, `${n} '${event}'`, timeoutMs);
  return { all, of, waitUntil, waitFor };
}

/** A public client id is a non-empty string and never the engine.io session id (which must
 *  never be broadcast: on long-polling it lets anyone post packets as that client). */
export function assertPublicId(id, socket) {
  assert.equal(typeof id, 'string', `public id should be a string, got ${JSON.stringify(id)}`);
  assert.ok(id.length > 0, 'public id should not be empty');
  assert.notEqual(id, socket.io.engine.id, 'public id must not be the engine.io session id');
}

/** A room name no other test uses. */
export function uniqueRoom(prefix = 'room') {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** POSTs JSON (or a raw string body) to the server; resolves to `{ status, headers, text, json }`. */
export async function postJson(url, route, body, headers = {}) {
  const res = await fetch(url + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(DEFAULT_WAIT_MS),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

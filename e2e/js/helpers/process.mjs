// The iogate binary as a process the suites hold: run a subcommand to completion, or start the
// server and keep its child process (to send it signals and watch how it exits). Every wait has
// a timeout; every process is killed when the test process exits.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_KEY, HOST } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const IOGATE_BIN = process.env.IOGATE_BIN
  ? path.resolve(process.env.IOGATE_BIN)
  : path.resolve(HERE, '../../../target/release/iogate');

const START_TIMEOUT_MS = 20_000;

/** Resolves after `ms`, without keeping the test process alive meanwhile (for races against a
 *  process's exit). */
export const delay = (ms) => new Promise((resolve) => { setTimeout(resolve, ms).unref(); });
const RUN_TIMEOUT_MS = 10_000;

/** The environment of every iogate the helpers start: only what a process needs of the
 *  caller's (so that none of a developer's settings, `PORT` or `API_KEY` or any other, leaks
 *  into a test, whatever settings iogate gains), plus `env`. */
const KEPT = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'RUST_BACKTRACE'];

export function cleanEnv(env = {}) {
  const base = Object.fromEntries(KEPT.filter((name) => name in process.env).map((name) => [name, process.env[name]]));
  const merged = { ...base, ...env };
  // `undefined` in `env` unsets a variable.
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
}

/** Runs `iogate ...args` to its end. Resolves to `{ code, signal, stdout, stderr }`. */
export function runIogate(args, env = {}, timeoutMs = RUN_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const child = spawn(IOGATE_BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`iogate ${args.join(' ')} did not end within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Starts the server (PORT=0 on 127.0.0.1, a random JWT secret, the suites' API key, unless `env`
 * says otherwise) and waits for its listening line. Resolves to
 * `{ url, port, secret, apiKey, child, exited, stdout(), stderr(), signal(name), stop() }`;
 * `exited` resolves to `{ code, signal, at }` (`at`: Date.now() when it exited).
 */
export async function startIogate(env = {}, args = []) {
  const secret = randomBytes(36).toString('base64url');
  const child = spawn(IOGATE_BIN, args, {
    env: cleanEnv({ PORT: '0', HOST, JWT_SECRET: secret, API_KEY, RUST_LOG: 'warn', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr = (stderr + d).slice(-50_000); });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  exited.then(() => process.removeListener('exit', killOnExit));

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`iogate did not listen within ${START_TIMEOUT_MS} ms\n${stdout}\n${stderr}`)), START_TIMEOUT_MS);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`iogate exited early (code ${code}, signal ${signal})\n${stdout}\n${stderr}`));
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /^iogate listening on http:\/\/[^:]+:(\d+)\s*$/m.exec(stdout);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
  }).catch((err) => { child.kill('SIGKILL'); throw err; });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const result = await Promise.race([exited, delay(15_000).then(() => null)]);
    if (result) return result;
    child.kill('SIGKILL');
    return exited;
  };
  return {
    url: `http://${HOST}:${port}`,
    port,
    secret,
    apiKey: API_KEY,
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    signal: (name) => child.kill(name),
    stop,
  };
}

/** Sends a request; resolves to `{ status, headers, text, json }`. */
export async function request(url, route, { method = 'GET', body, headers = {}, timeoutMs = 5_000 } = {}) {
  const res = await fetch(url + route, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

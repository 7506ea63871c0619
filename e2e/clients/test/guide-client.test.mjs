// The NestJS guide's Node/TypeScript client (guide/client.ts), type-checked with tsc and run
// with tsx (as node's loader) against iogate: it connects with auth.token, gets its acks, receives a notification
// sent through the REST API, reports connect_error for a bad token, and disconnect when the
// server stops.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { token } from '../../js/helpers/server.mjs';
import { request, runIogate, startIogate } from '../../js/helpers/process.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BIN = path.join(ROOT, 'node_modules/.bin');

/** Runs the guide's client; `lines` collects what it prints, `waitFor(re)` waits for a line. */
function runClient(env) {
  // tsx as a loader of this very node process: `tsx client.ts` would run the client in a child
  // of its own, which killing tsx leaves behind.
  const child = spawn(process.execPath, ['--import', 'tsx', 'guide/client.ts'], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = new Set();
  const onData = (chunk) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const waitFor = (re, timeoutMs = 10_000) => new Promise((resolve, reject) => {
    const check = () => {
      const line = lines.find((l) => re.test(l));
      if (line === undefined) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(line);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`the client printed no line matching ${re} within ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
  const stop = () => {
    child.kill('SIGKILL');
    child.stdout.destroy();
    child.stderr.destroy();
    process.removeListener('exit', killOnExit);
  };
  return { lines, waitFor, stop };
}

/** tsc on `args`, from the suite's folder: `{ code, stdout }`, a failure included. */
async function tsc(args) {
  try {
    const { stdout } = await promisify(execFile)(path.join(BIN, 'tsc'), args, { cwd: ROOT });
    return { code: 0, stdout };
  } catch (err) {
    return { code: err.code, stdout: err.stdout };
  }
}

describe("the guide's Node/TypeScript client", () => {
  it('type-checks as written, against the types iogate generates for /events', async () => {
    const { code, stderr } = await runIogate(['codegen', 'ts', '--out', path.join(ROOT, 'guide/generated')]);
    assert.equal(code, 0, stderr);
    const checked = await tsc(['-p', 'guide/tsconfig.json']);
    assert.equal(checked.code, 0, checked.stdout);
  });

  it('the generated types refuse a wrong acknowledgement and an unknown event', async () => {
    const { code, stdout } = await tsc([
      '--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
      '--target', 'ES2022', '--types', 'node', 'guide/wrong.ts',
    ]);
    assert.notEqual(code, 0, 'tsc accepted guide/wrong.ts');
    assert.match(stdout, /wrong\.ts\(9,\d+\): error TS2345: .*\(response: number\) => void.*\(response: string\) => void/);
    assert.match(stdout, /wrong\.ts\(11,\d+\): error TS2345: Argument of type '"mesage"'/);
  });

  it('runs unchanged against iogate: acks, a REST notification, disconnect on shutdown', async () => {
    const server = await startIogate();
    const client = runClient({ IOGATE_URL: server.url, TOKEN: token(server.secret, { sub: 'alice' }) });
    try {
      await client.waitFor(/^Connected: \S+$/);
      assert.equal(await client.waitFor(/^Message response:/), 'Message response: Message received');
      assert.equal(await client.waitFor(/^Events response:/), 'Events response: {"test":"data"}');
      const res = await request(server.url, '/notifications/send', {
        method: 'POST',
        headers: { authorization: `Bearer ${server.apiKey}` },
        body: { userId: 'alice', message: { text: 'Order shipped', id: 42 } },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(await client.waitFor(/^Notification:/), 'Notification: {"text":"Order shipped","id":42}');
      const { code } = await server.stop();
      assert.equal(code, 0);
      assert.equal(await client.waitFor(/^Disconnected:/), 'Disconnected: transport close');
    } finally {
      client.stop();
      await server.stop();
    }
  });

  it('reports connect_error for a token iogate refuses', async () => {
    const server = await startIogate();
    const client = runClient({ IOGATE_URL: server.url, TOKEN: token('another-secret-of-at-least-32-bytes!!', { sub: 'alice' }) });
    try {
      assert.equal(await client.waitFor(/^Connection error:/), 'Connection error: Unauthorized: invalid token');
      assert.ok(!client.lines.some((l) => l.startsWith('Connected')), client.lines.join('\n'));
    } finally {
      client.stop();
      await server.stop();
    }
  });
});

// Graceful shutdown of the real process: SIGTERM/SIGINT with connected clients, the timeout, and
// a second signal. Each case starts its own iogate (the cases end it).
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { API_KEY, HOST, TRANSPORTS, connect, emitWithAck, once, sleep, token } from '../helpers/server.mjs';
import { delay, startIogate } from '../helpers/process.mjs';

/** Starts an HTTP request that never ends: headers, then half of the announced body. A graceful
 *  shutdown waits for it to be answered. */
function stuckRequest(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port }, () => {
      socket.write(
        'POST /notifications/send HTTP/1.1\r\n'
        + `Host: ${HOST}:${port}\r\n`
        + `Authorization: Bearer ${API_KEY}\r\n`
        + 'Content-Type: application/json\r\n'
        + 'Content-Length: 100\r\n\r\n'
        + '{"userId": "alice", ',
      );
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** Resolves once `socket` left long-polling for websocket. A client caught in the middle of that
 *  upgrade when the server goes away does not see it (its probe fails, its paused poll never
 *  resumes) until its heartbeat times out: socket.io-client's behaviour, with any server. */
async function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no upgrade to websocket within 5 s')), 5_000);
    engine.once('upgrade', () => { clearTimeout(timer); resolve(); });
  });
}

/** Resolves to `{ code, signal, ms }` once the server exits, `ms` after `since`; rejects after
 *  `timeoutMs`. */
async function exitWithin(server, since, timeoutMs) {
  const exited = await Promise.race([server.exited, delay(timeoutMs).then(() => null)]);
  if (!exited) {
    server.signal('SIGKILL');
    throw new Error(`iogate did not exit within ${timeoutMs} ms\n${server.stderr()}`);
  }
  return { code: exited.code, signal: exited.signal, ms: exited.at - since };
}

describe('graceful shutdown', () => {
  it('on SIGTERM every connected client gets disconnect, and the process exits 0 within the timeout', async () => {
    const server = await startIogate({ SHUTDOWN_TIMEOUT: '5' });
    const clients = {};
    for (const [name, transports] of Object.entries(TRANSPORTS)) {
      clients[name] = await connect(server.url, '/', { transports });
    }
    clients.events = await connect(server.url, '/events', { auth: { token: token(server.secret) } });
    await upgraded(clients.upgrade);
    await upgraded(clients.events);
    // The clients are served up to the signal.
    assert.equal(await emitWithAck(clients.websocket, 'message', 'hi'), 'Message received');
    const reasons = Object.fromEntries(Object.entries(clients).map(([name, socket]) => [name, once(socket, 'disconnect', 5_000)]));

    const t0 = Date.now();
    server.signal('SIGTERM');
    const { code, signal, ms } = await exitWithin(server, t0, 6_000);
    const seen = {};
    for (const [name, reason] of Object.entries(reasons)) seen[name] = await reason;
    for (const socket of Object.values(clients)) socket.close();

    assert.equal(signal, null);
    assert.equal(code, 0, server.stderr());
    assert.ok(ms < 5_000, `exited after ${ms} ms`);
    // What socket.io-client sees: the transport closed under it (the reason of any lost
    // connection, after which a client with reconnection on tries again), not
    // 'io server disconnect'.
    assert.deepEqual(seen, {
      websocket: 'transport close',
      polling: 'transport close',
      upgrade: 'transport close',
      events: 'transport close',
    });
    process.stdout.write(`# exited 0 after ${ms} ms; clients saw ${JSON.stringify(seen)}\n`);
  });

  it('SIGINT is a shutdown signal too', async () => {
    const server = await startIogate();
    const socket = await connect(server.url, '/notifications', { transports: ['websocket'] });
    const reason = once(socket, 'disconnect');
    const t0 = Date.now();
    server.signal('SIGINT');
    const { code } = await exitWithin(server, t0, 6_000);
    assert.equal(code, 0);
    assert.equal(await reason, 'transport close');
    socket.close();
  });

  it('waits for an HTTP request in flight, until the timeout: then exits 1', async () => {
    const server = await startIogate({ SHUTDOWN_TIMEOUT: '1' });
    const stuck = await stuckRequest(server.port);
    await sleep(200);
    const t0 = Date.now();
    server.signal('SIGTERM');
    const { code, ms } = await exitWithin(server, t0, 5_000);
    stuck.destroy();
    assert.equal(code, 1);
    assert.ok(ms >= 900 && ms < 3_000, `exited after ${ms} ms with a 1 s timeout`);
    assert.match(server.stderr(), /shutdown timed out/);
  });

  it('a second SIGTERM exits at once, with 143', async () => {
    const server = await startIogate({ SHUTDOWN_TIMEOUT: '30' });
    const stuck = await stuckRequest(server.port);
    await sleep(200);
    server.signal('SIGTERM');
    // The first signal waits for the request.
    const early = await Promise.race([server.exited, delay(700).then(() => null)]);
    assert.equal(early, null, 'exited on the first signal although a request was in flight');
    const t0 = Date.now();
    server.signal('SIGTERM');
    const { code, ms } = await exitWithin(server, t0, 3_000);
    stuck.destroy();
    assert.equal(code, 143);
    assert.ok(ms < 1_000, `exited ${ms} ms after the second signal`);
    assert.match(server.stderr(), /second signal \(SIGTERM\): exiting now/);
  });
});

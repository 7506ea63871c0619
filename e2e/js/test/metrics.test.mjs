// GET /metrics: the framework's metrics after real traffic, the ones read at scrape time (rooms,
// cluster), the optional key, and turning metrics off.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MODE, connect, emitWithAck, once, openSocket, sleep, token, track, uniqueRoom,
} from '../helpers/server.mjs';
import { request, startIogate } from '../helpers/process.mjs';
import { startRedisNode } from '../helpers/redis.mjs';

/** Parses Prometheus's text format: `{ samples: [{ name, labels, value }], help: Map, type: Map }`. */
function parse(text) {
  const samples = [];
  const help = new Map();
  const type = new Map();
  for (const line of text.split('\n')) {
    if (!line) continue;
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) { help.set(m[1], m[2]); continue; }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) { type.set(m[1], m[2]); continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, help, type };
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value(metrics, name, labels = {}) {
  const found = metrics.samples.filter((s) => s.name === name
    && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0].value;
}

async function scrape(server, headers = {}) {
  const res = await request(server.url, '/metrics', { headers });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parse(res.text);
}

describe('/metrics', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let server;
  before(async () => { server = await startIogate(); });
  after(async () => { await server?.stop(); });

  it('counts connections, events by outcome, latency, packets and rooms', async (t) => {
    const room = uniqueRoom();
    const a = track(t, await connect(server.url, '/'));
    const b = await connect(server.url, '/');
    assert.equal(await emitWithAck(a, 'message', 'x'), 'Message received');
    assert.equal(await emitWithAck(a, 'message', 'y'), 'Message received');
    a.emit('joinRoom', room);
    await once(a, 'joinedRoom');
    a.emit('joinRoom'); // no room: refused by the body's type
    await once(a, 'exception');
    const refused = track(t, openSocket(server.url, '/events'));
    await once(refused, 'connect_error');
    const ok = track(t, await connect(server.url, '/events', { auth: { token: token(server.secret) } }));
    assert.equal(await emitWithAck(ok, 'events', 1), 1);
    b.close();
    await sleep(200);

    const m = await scrape(server);
    assert.equal(value(m, 'iogate_clients_connected', { namespace: '/' }), 1);
    assert.equal(value(m, 'iogate_clients_connected', { namespace: '/events' }), 1);
    assert.equal(value(m, 'iogate_connects_total', { namespace: '/' }), 2);
    assert.equal(value(m, 'iogate_connects_refused_total', { namespace: '/events' }), 1);
    assert.equal(value(m, 'iogate_disconnects_total', { namespace: '/', reason: 'client namespace disconnect' }), 1);
    assert.equal(value(m, 'iogate_events_total', { namespace: '/', event: 'message', outcome: 'ok' }), 2);
    assert.equal(value(m, 'iogate_events_total', { namespace: '/', event: 'joinRoom', outcome: 'ok' }), 1);
    assert.equal(value(m, 'iogate_events_total', { namespace: '/', event: 'joinRoom', outcome: 'invalid' }), 1);
    assert.equal(value(m, 'iogate_events_total', { namespace: '/events', event: 'events', outcome: 'ok' }), 1);
    assert.ok(value(m, 'iogate_packets_sent_total', { namespace: '/', kind: 'ack' }) >= 2);
    assert.ok(value(m, 'iogate_packets_sent_total', { namespace: '/', kind: 'exception' }) >= 1);
    // The latency histogram has buckets, a count and a sum.
    assert.equal(m.type.get('iogate_handler_duration_seconds'), 'histogram');
    assert.equal(value(m, 'iogate_handler_duration_seconds_count', { namespace: '/', event: 'message' }), 2);
    assert.equal(value(m, 'iogate_handler_duration_seconds_bucket', { namespace: '/', event: 'message', le: '+Inf' }), 2);
    assert.ok(value(m, 'iogate_handler_duration_seconds_bucket', { namespace: '/', event: 'message', le: '0.1' }) >= 1);
    // Read at scrape time.
    assert.equal(value(m, 'iogate_rooms', { namespace: '/' }), 1);
    assert.equal(value(m, 'iogate_rooms', { namespace: '/notifications' }), 0);
    assert.equal(value(m, 'iogate_build_info', {}), 1);
    assert.ok(!m.samples.some((s) => s.name === 'iogate_cluster_up'), 'a single node has no iogate_cluster_up');
    for (const name of ['iogate_clients_connected', 'iogate_events_total', 'iogate_handler_duration_seconds', 'iogate_rooms']) {
      assert.ok(m.help.has(name), `no HELP for ${name}`);
    }
  });
});

describe('/metrics: Socket.IO bytes and packets per namespace', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let server;
  before(async () => { server = await startIogate(); });
  after(async () => { await server?.stop(); });

  it('counts each packet in and out with its text, a broadcast once per recipient', async (t) => {
    // On `/events` the exact packets are known: CONNECT each way, one event and its ack. Sizes
    // are of Socket.IO packets (`0/events,...`), without Engine.IO's `4`.
    const jwt = token(server.secret);
    const c = track(t, await connect(server.url, '/events', { auth: { token: jwt } }));
    assert.deepEqual(await emitWithAck(c, 'events', 1), 1);
    // On `/`, two clients in a room get one message each.
    const room = uniqueRoom();
    const [a, b] = [track(t, await connect(server.url, '/')), track(t, await connect(server.url, '/'))];
    a.emit('joinRoom', room);
    await once(a, 'joinedRoom');
    const joined = once(a, 'userJoined');
    b.emit('joinRoom', room);
    await joined;
    await sleep(100);
    const before = await scrape(server);
    // All of each event's arguments: with connection state recovery on (the default) the last
    // is its offset, which the counted bytes include.
    const args = (socket) => new Promise((resolve) => { socket.once('message', (...all) => resolve(all)); });
    const got = Promise.all([args(a), args(b)]);
    a.emit('messageToRoom', { room, message: 'hi' });
    const [toA] = await got;
    assert.equal(toA.length, 2, 'the message and its offset');
    await sleep(100);
    const after = await scrape(server);

    const size = (s) => Buffer.byteLength(s);
    const ev = { namespace: '/events' };
    assert.equal(value(after, 'iogate_socketio_packets_received_total', ev), 2);
    assert.equal(value(after, 'iogate_socketio_bytes_received_total', ev),
      size(`0/events,${JSON.stringify({ token: jwt })}`) + size('2/events,0["events",1]'));
    assert.equal(value(after, 'iogate_socketio_packets_sent_total', ev), 2);
    assert.equal(value(after, 'iogate_socketio_bytes_sent_total', ev),
      size(`0/events,{"sid":"${c.id}","pid":"${c._pid}"}`) + size('3/events,0[1]'));

    const root = { namespace: '/' };
    const delta = (name) => value(after, name, root) - value(before, name, root);
    assert.equal(delta('iogate_socketio_packets_received_total'), 1);
    assert.equal(delta('iogate_socketio_bytes_received_total'),
      size(`2${JSON.stringify(['messageToRoom', { room, message: 'hi' }])}`));
    assert.equal(delta('iogate_socketio_packets_sent_total'), 2, 'a broadcast counts once per recipient');
    assert.equal(delta('iogate_socketio_bytes_sent_total'),
      2 * size(`2${JSON.stringify(['message', ...toA])}`));
    assert.equal(after.type.get('iogate_socketio_bytes_sent_total'), 'counter');
    assert.ok(after.help.has('iogate_socketio_bytes_received_total'));
  });
});

describe('/metrics with metrics_key', { skip: MODE === 'reference' && 'iogate only' }, () => {
  const KEY = 'metrics-key-0123456789';
  let server;
  before(async () => { server = await startIogate({ METRICS_KEY: KEY }); });
  after(async () => { await server?.stop(); });

  it('answers 401 without the key, and the API key is not it', async () => {
    for (const headers of [{}, { authorization: `Bearer ${server.apiKey}` }, { authorization: 'Bearer nope' }]) {
      const res = await request(server.url, '/metrics', { headers });
      assert.equal(res.status, 401);
      assert.equal(res.json.message, 'A valid metrics key is required: Authorization: Bearer <key>');
    }
    await scrape(server, { authorization: `Bearer ${KEY}` });
  });
});

describe('/metrics turned off', { skip: MODE === 'reference' && 'iogate only' }, () => {
  it('is not served with METRICS=false', async () => {
    const server = await startIogate({ METRICS: 'false' });
    try {
      assert.equal((await request(server.url, '/metrics')).status, 404);
    } finally {
      await server.stop();
    }
  });
});

describe('/metrics of a cluster node', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let redis;
  let server;
  before(async () => { ({ redis, server } = await startRedisNode()); });
  after(async () => { await server?.stop(); await redis?.stop(); });

  it('has iogate_cluster_up: 1 with Redis, 0 without; rooms unknown (NaN) while Redis is down', async () => {
    let m = await scrape(server);
    assert.equal(value(m, 'iogate_cluster_up'), 1);
    assert.equal(value(m, 'iogate_rooms', { namespace: '/' }), 0);
    await redis.stop();
    const deadline = Date.now() + 5_000;
    for (;;) {
      m = await scrape(server);
      if (value(m, 'iogate_cluster_up') === 0) break;
      assert.ok(Date.now() < deadline, 'iogate_cluster_up stayed 1 for 5 s after Redis stopped');
      await sleep(100);
    }
    assert.ok(Number.isNaN(value(m, 'iogate_rooms', { namespace: '/' })));
  });
});

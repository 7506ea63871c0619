// Presence across a cluster: three iogate nodes on a real redis-server, clients of `/chat` with
// JWTs (their `sub` is the user). A user with tabs on two nodes is one user in the room's
// presence (`GET /api/rooms/{room}/presence`), comes online once and goes offline once; a node
// killed with SIGKILL leaves every presence within the heartbeat bound; a Redis restarted
// empty is filled again by the nodes; and a webhook receiver (an HTTP server of the test's
// own) gets every transition signed, retried after a 500 under the same id, and once per id.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  MODE, API_KEY, connect, eventually, record, sleep, startServer, token, track, uniqueRoom,
} from '../helpers/server.mjs';
import { startRedis } from '../helpers/redis.mjs';

const SECRET = randomBytes(36).toString('base64url');
const HOOK_SECRET = 'a-webhook-secret-for-the-e2e';
// Node's cluster adapter's figures, iogate's defaults: a heartbeat every 5 s, a node silent
// for 10 s is reaped; the reap itself runs at the survivors' next heartbeat.
const DEAD_NODE_BOUND_MS = 10_000 + 5_000 + 2_000;

/** An HTTP receiver on 127.0.0.1: records every request; answers 500 to the first, 200 after. */
function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d) => { body += d; });
    req.on('end', () => {
      got.push({ headers: req.headers, body, at: Date.now() });
      res.statusCode = got.length === 1 ? 500 : 200;
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}/hooks`,
      got,
      close: () => new Promise((done) => server.close(done)),
    }));
  });
}

describe('presence across three nodes', { skip: MODE === 'reference' && 'iogate only: the reference has no presence' }, () => {
  let redis;
  let receiver;
  const nodes = [];

  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    for (let i = 0; i < 3; i++) {
      nodes.push(await startServer({
        REDIS_URL: redis.url,
        JWT_SECRET: SECRET,
        PRESENCE_WEBHOOK_URL: receiver.url,
        PRESENCE_WEBHOOK_SECRET: HOOK_SECRET,
      }));
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
    await receiver?.close();
  });

  /** A `/chat` client of `user` on `node`, in `room`, recording what it receives. */
  async function member(t, node, user, room) {
    const socket = track(t, await connect(node.url, '/chat', { transports: ['websocket'], auth: { token: token(SECRET, { sub: user }) } }));
    const rec = record(socket);
    socket.emit('joinRoom', room);
    await rec.waitFor('joinedRoom');
    return { socket, rec };
  }

  async function presence(node, room) {
    const res = await fetch(`${node.url}/api/rooms/${encodeURIComponent(room)}/presence?namespace=/chat`, {
      headers: { authorization: `Bearer ${API_KEY}` },
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: await res.json() };
  }

  /** The room's users as `{user: [client ids]}`, read from `node`. */
  async function users(node, room) {
    const { status, body } = await presence(node, room);
    if (status !== 200) return null;
    return Object.fromEntries(body.users.map((u) => [u.user, u.clients]));
  }

  /** The webhook's events, each id once: `{type, room, user}` of `room`. */
  function hooks(room) {
    const seen = new Set();
    return receiver.got
      .map((r) => JSON.parse(r.body))
      .filter((e) => e.room === room && !seen.has(e.id) && seen.add(e.id))
      .map(({ type, user }) => (user === undefined ? type : `${type} ${user}`));
  }

  it('a user with tabs on two nodes is one user, online once, offline once', async (t) => {
    const room = uniqueRoom('lobby');
    const watcher = await member(t, nodes[2], 'watcher', room);
    const tab0 = await member(t, nodes[0], 'alice', room);
    const tab1 = await member(t, nodes[1], 'alice', room);

    const want = { alice: [tab0.socket.id, tab1.socket.id].sort(), watcher: [watcher.socket.id] };
    for (const node of nodes) {
      await eventually(`node ${nodes.indexOf(node)} seeing both tabs`, async () =>
        JSON.stringify(await users(node, room)) === JSON.stringify(want), 5_000);
    }
    const { body } = await presence(nodes[0], room);
    assert.equal(body.namespace, '/chat');
    assert.equal(body.room, room);
    assert.deepEqual(body.users.map((u) => u.user), ['alice', 'watcher']);

    await watcher.rec.waitUntil(() => watcher.rec.of('user_online').some((e) => e.user === 'alice'), 'alice online');
    await sleep(500);
    assert.deepEqual(watcher.rec.of('user_online').filter((e) => e.user === 'alice'), [{ room, user: 'alice' }]);

    tab0.socket.close();
    await eventually('one tab left', async () => (await users(nodes[2], room))?.alice?.length === 1, 5_000);
    assert.deepEqual(watcher.rec.of('user_offline'), [], 'alice went offline with a tab left');
    tab1.socket.close();
    await watcher.rec.waitUntil(() => watcher.rec.of('user_offline').length === 1, 'alice offline');
    assert.deepEqual(watcher.rec.of('user_offline'), [{ room, user: 'alice' }]);

    await eventually('the webhook hearing of it', () => hooks(room).includes('user_offline alice'), 5_000);
    // Each node posts its own transitions: their order across nodes is not kept.
    assert.deepEqual(hooks(room).sort(), ['room_occupied', 'user_offline alice', 'user_online alice', 'user_online watcher']);
  });

  it('the webhook: every request signed, the first retried after its 500 under the same id', async () => {
    await eventually('webhooks', () => receiver.got.length >= 2, 5_000);
    for (const { headers, body } of receiver.got) {
      const ts = headers['x-iogate-timestamp'];
      const expected = `sha256=${createHmac('sha256', HOOK_SECRET).update(`${ts}.${body}`).digest('hex')}`;
      assert.equal(headers['x-iogate-signature'], expected);
      assert.ok(Math.abs(Date.now() / 1000 - Number(ts)) < 120, 'a fresh timestamp');
      const event = JSON.parse(body);
      assert.equal(headers['x-iogate-event-id'], event.id);
      assert.match(event.id, /^[0-9a-f]{32}$/);
      assert.ok(['user_online', 'user_offline', 'room_occupied', 'room_vacated'].includes(event.type));
      assert.equal(event.namespace, '/chat');
    }
    const [first, ...rest] = receiver.got;
    const retry = rest.find((r) => r.headers['x-iogate-event-id'] === first.headers['x-iogate-event-id']);
    assert.ok(retry, 'the refused event came again');
    assert.equal(retry.body, first.body);
    assert.ok(retry.at - first.at >= 400, 'after a backoff');
  });

  it('a node killed with SIGKILL: its clients leave every presence within the bound', async (t) => {
    const room = uniqueRoom('crash');
    const watcher = await member(t, nodes[1], 'watcher', room);
    const doomed = await member(t, nodes[0], 'kim', room);
    await eventually('kim present', async () => (await users(nodes[1], room))?.kim?.length === 1, 5_000);

    const killed = Date.now();
    await nodes[0].kill();
    nodes.shift();
    doomed.socket.close();
    await eventually('kim gone from the presence', async () => (await users(nodes[0], room))?.kim === undefined, DEAD_NODE_BOUND_MS);
    const took = Date.now() - killed;
    t.diagnostic(`a killed node's clients left the presence after ${took} ms`);
    assert.ok(took >= 4_500, `reaped after ${took} ms: sooner than a node may be silent`);
    await watcher.rec.waitUntil(() => watcher.rec.of('user_offline').length === 1, 'kim offline', 3_000);
    assert.deepEqual(watcher.rec.of('user_offline'), [{ room, user: 'kim' }]);
    await eventually('the webhook hearing of it', () => hooks(room).includes('user_offline kim'), 5_000);
    assert.equal(hooks(room).filter((h) => h === 'user_offline kim').length, 1);
  });

  it('Redis restarted empty: the nodes fill it again', async (t) => {
    const room = uniqueRoom('heal');
    const a = await member(t, nodes[0], 'lena', room);
    const b = await member(t, nodes[1], 'lena', room);
    const c = await member(t, nodes[1], 'mo', room);
    const want = JSON.stringify({ lena: [a.socket.id, b.socket.id].sort(), mo: [c.socket.id] });
    await eventually('everyone present', async () => JSON.stringify(await users(nodes[0], room)) === want, 5_000);

    await redis.stop();
    await eventually('presence unreadable while Redis is down', async () => (await presence(nodes[0], room)).status === 503, 5_000);
    await redis.restart();
    const back = Date.now();
    await eventually('presence back after the restart', async () => JSON.stringify(await users(nodes[1], room)) === want, 15_000);
    t.diagnostic(`presence was back ${Date.now() - back} ms after Redis restarted`);
  });
});

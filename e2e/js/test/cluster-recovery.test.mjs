// Connection state recovery across a cluster: two iogate nodes with the Redis streams adapter
// (REDIS_ADAPTER=streams) on a real redis-server. A client whose transport drops on one node
// and whose reconnection lands on the other (as a balancer without stickiness would send it)
// keeps its id, rooms and user, and gets what both nodes sent meanwhile, in order. A Redis
// outage leaves each node serving its own clients, and the cluster heals by itself.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  MODE, API_KEY, OFFSET, connect, eventually, once, openSocket, postJson, record, sleep, startServer, token,
  track, uniqueRoom,
} from '../helpers/server.mjs';
import { startRedis } from '../helpers/redis.mjs';

const SECRET = randomBytes(36).toString('base64url');

describe('recovery across the cluster (streams adapter)', { skip: MODE === 'reference' && 'iogate only: the reference runs one node' }, () => {
  let redis;
  const nodes = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer({ REDIS_URL: redis.url, REDIS_ADAPTER: 'streams', JWT_SECRET: SECRET }));
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  const ws = (opts = {}) => ({ transports: ['websocket'], ...opts });

  async function client(t, node, nsp = '/', opts = {}) {
    const socket = track(t, await connect(node.url, nsp, ws(opts)));
    return { socket, rec: record(socket) };
  }

  /** Drops the transport (the server sees `transport close`) and waits until the node kept
   *  the session in Redis. */
  async function drop(socket) {
    const gone = once(socket, 'disconnect');
    socket.io.engine.close();
    assert.equal(await gone, 'forced close');
    await eventually('the session kept in Redis', () => redis.exists(`sio:session:${socket._pid}`), 5_000);
  }

  /** A client of `node` holding the session of `socket`: what a reconnection sent to another
   *  node looks like. It records from before it connects: a replay may come first. */
  async function comeBack(t, node, socket, nsp = '/', opts = {}) {
    const back = track(t, openSocket(node.url, nsp, ws({ autoConnect: false, ...opts })));
    back._pid = socket._pid;
    back._lastOffset = socket._lastOffset;
    const rec = record(back);
    const connected = once(back, 'connect');
    back.connect();
    await connected;
    return { back, rec };
  }

  it('a client dropped on node 0 is recovered on node 1: id, rooms, and what both sent, in order', async (t) => {
    const room = uniqueRoom('across');
    const me = await client(t, nodes[0]);
    const [on0, on1] = [await client(t, nodes[0]), await client(t, nodes[1])];
    for (const c of [on0, me, on1]) {
      c.socket.emit('joinRoom', room);
      await c.rec.waitFor('joinedRoom');
    }
    assert.match(me.socket._lastOffset, OFFSET);
    const id = me.socket.id;
    await drop(me.socket);

    // Two messages from each node, alternating; each seen on the other node before the next.
    const sent = ['from-0-a', 'from-1-a', 'from-0-b', 'from-1-b'];
    for (const [i, message] of sent.entries()) {
      (i % 2 ? on1 : on0).socket.emit('messageToRoom', { room, message });
      await (i % 2 ? on0 : on1).rec.waitUntil(() => (i % 2 ? on0 : on1).rec.of('message').length > i, message);
    }
    const direct = await postJson(nodes[1].url, `/api/clients/${id}/emit?namespace=/`, { event: 'direct', data: 1 }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(direct.status, 201, direct.text);

    const { back, rec } = await comeBack(t, nodes[1], me.socket);
    assert.equal(back.recovered, true);
    assert.equal(back.id, id);
    const got = await rec.waitFor('message', 4);
    assert.deepEqual(got.map((m) => m.message), sent);
    assert.deepEqual(await rec.waitFor('direct'), [1]);
    // Still in the room, now from node 1: node 0's client hears it.
    back.emit('messageToRoom', { room, message: 'back' });
    await on0.rec.waitUntil(() => on0.rec.of('message').some((m) => m.message === 'back'), 'the message after recovery');
  });

  it('/events: a client recovered on the other node keeps its user without a new handshake check', async (t) => {
    const sub = uniqueRoom('user');
    const auth = { token: token(SECRET, { sub }) };
    const { socket } = await client(t, nodes[0], '/events', { auth });
    const read = once(socket, 'hello');
    await postJson(nodes[0].url, `/api/clients/${socket.id}/emit?namespace=/events`, { event: 'hello', data: 1 }, { authorization: `Bearer ${API_KEY}` });
    await read;
    await drop(socket);
    // No token this time: the session vouches for it (skip_middlewares), as on its own node.
    const { back, rec } = await comeBack(t, nodes[1], socket, '/events');
    assert.equal(back.recovered, true);
    const res = await postJson(nodes[0].url, '/notifications/send', { userId: sub, message: 'found you' }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await rec.waitFor('notification'), ['found you']);
  });

  it('a session is recovered once: the same pid on the other node then gets a new one', async (t) => {
    const room = uniqueRoom('once');
    const me = await client(t, nodes[0]);
    me.socket.emit('joinRoom', room);
    await me.rec.waitFor('joinedRoom');
    const id = me.socket.id;
    await drop(me.socket);
    const first = await comeBack(t, nodes[1], me.socket);
    assert.equal(first.back.recovered, true);
    const second = await comeBack(t, nodes[0], me.socket);
    assert.equal(second.back.recovered, false);
    assert.notEqual(second.back.id, id);
  });

  it('a Redis outage: each node serves its own clients, then the cluster heals by itself', async (t) => {
    const room = uniqueRoom('outage');
    const [a, a2, b] = [await client(t, nodes[0]), await client(t, nodes[0]), await client(t, nodes[1])];
    for (const c of [a, a2, b]) {
      c.socket.emit('joinRoom', room);
      await c.rec.waitFor('joinedRoom');
    }
    await redis.stop();
    await eventually('node 0 noticing the outage', async () => (await fetch(`${nodes[0].url}/ready`)).status === 503);
    a.socket.emit('messageToRoom', { room, message: 'during' });
    await a2.rec.waitUntil(() => a2.rec.of('message').some((m) => m.message === 'during'), 'the local message');

    await redis.restart();
    await eventually('both nodes reconnecting', async () =>
      (await fetch(`${nodes[0].url}/ready`)).status === 200 && (await fetch(`${nodes[1].url}/ready`)).status === 200);
    await eventually('cross-node delivery resuming', async () => {
      a.socket.emit('messageToRoom', { room, message: 'after' });
      await sleep(200);
      return b.rec.of('message').some((m) => m.message === 'after');
    });
    assert.ok(!b.rec.of('message').some((m) => m.message === 'during'), 'what was local stays local');
  });
});

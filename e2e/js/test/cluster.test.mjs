// Several iogate processes over one real redis-server behave as one server: rooms, user
// notifications and REST cross nodes; a Redis outage leaves every node serving its own clients
// and is healed without a restart; a killed node leaves the others running and rejoins.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  MODE, API_KEY, connect, eventually, emitWithAck, postJson, record, sleep, startServer, token, track, uniqueRoom,
} from '../helpers/server.mjs';
import { startRedis } from '../helpers/redis.mjs';

const QUIET_MS = 300;
const SECRET = randomBytes(36).toString('base64url');

async function ready(node) {
  const res = await fetch(`${node.url}/ready`);
  return { status: res.status, body: await res.json() };
}

describe('cluster over Redis', { skip: MODE === 'reference' && 'iogate only: the reference clusters with another adapter' }, () => {
  let redis;
  const nodes = [];

  const startNode = async () => startServer({ REDIS_URL: redis.url, JWT_SECRET: SECRET });

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i++) nodes.push(await startNode());
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  async function client(t, node, nsp = '/', opts = {}) {
    const socket = track(t, await connect(node.url, nsp, opts));
    return { socket, rec: record(socket) };
  }
  const alice = () => ({ auth: { token: token(SECRET, { sub: 'alice' }) } });

  /** Two clients on two nodes in one room; returns them once both joins were seen. */
  async function pairInRoom(t, nodeA, nodeB) {
    const room = uniqueRoom('cluster');
    const a = await client(t, nodeA);
    const b = await client(t, nodeB);
    a.socket.emit('joinRoom', room);
    await a.rec.waitFor('joinedRoom');
    b.socket.emit('joinRoom', room);
    await b.rec.waitFor('joinedRoom');
    return { room, a, b };
  }

  it('messageToRoom, userJoined and userLeft reach the room on every node', async (t) => {
    const { room, a, b } = await pairInRoom(t, nodes[0], nodes[1]);
    // a sees its own join and b's, made on another node.
    const [mine, theirs] = await a.rec.waitFor('userJoined', 2);
    assert.equal(theirs.room, room);
    assert.notEqual(theirs.userId, mine.userId);

    a.socket.emit('messageToRoom', { room, message: 'from node 0' });
    const [msg] = await b.rec.waitFor('message');
    assert.equal(msg.message, 'from node 0');

    b.socket.emit('leaveRoom', room);
    const [left] = await a.rec.waitFor('userLeft');
    assert.equal(left.room, room);
    a.socket.emit('messageToRoom', { room, message: 'after leaving' });
    await sleep(QUIET_MS);
    assert.equal(b.rec.of('message').length, 1, 'b left the room');
  });

  it('POST /notifications/send on one node reaches the user on the two others', async (t) => {
    const phone = await client(t, nodes[1], '/events', alice());
    const laptop = await client(t, nodes[2], '/events', alice());
    const res = await postJson(nodes[0].url, '/notifications/send', { userId: 'alice', message: 'hi' }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await phone.rec.waitFor('notification'), ['hi']);
    assert.deepEqual(await laptop.rec.waitFor('notification'), ['hi']);
  });

  it('survives a Redis outage: local delivery goes on, REST says so, and the cluster heals by itself', async (t) => {
    const { room, a, b } = await pairInRoom(t, nodes[0], nodes[1]);
    const a2 = await client(t, nodes[0]);
    a2.socket.emit('joinRoom', room);
    await a2.rec.waitFor('joinedRoom');
    assert.equal((await ready(nodes[0])).status, 200);

    await redis.stop();
    await eventually('node 0 noticing the outage', async () => (await ready(nodes[0])).status === 503);
    assert.deepEqual((await ready(nodes[0])).body, { status: 'degraded', redis: 'down' });

    // Clients of one node still reach each other.
    a.socket.emit('messageToRoom', { room, message: 'during the outage' });
    await a2.rec.waitUntil(() => a2.rec.of('message').some((m) => m.message === 'during the outage'), 'the local message');
    assert.equal(await emitWithAck(a.socket, 'events', { still: 'served' }).then((r) => r.still), 'served');

    // The REST API answers at once with a clear error instead of hanging.
    const started = Date.now();
    const res = await postJson(nodes[0].url, '/notifications/send', { userId: 'alice', message: 'x' }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(res.status, 503, res.text);
    assert.match(res.json.message, /Redis is unreachable/);
    assert.ok(Date.now() - started < 3_000, 'answered within 3 s');

    await redis.restart();
    await eventually('node 0 and node 1 reconnecting', async () =>
      (await ready(nodes[0])).status === 200 && (await ready(nodes[1])).status === 200);
    // Same clients, same connections, no restart: cross-node delivery resumes.
    await eventually('cross-node delivery resuming', async () => {
      a.socket.emit('messageToRoom', { room, message: 'after the outage' });
      await sleep(200);
      return b.rec.of('message').some((m) => m.message === 'after the outage');
    });
  });

  it('a killed node leaves the others running, and a restarted node rejoins', async (t) => {
    await nodes[2].kill();
    const { room, a, b } = await pairInRoom(t, nodes[0], nodes[1]);
    a.socket.emit('messageToRoom', { room, message: 'two nodes left' });
    assert.equal((await b.rec.waitFor('message'))[0].message, 'two nodes left');

    nodes[2] = await startNode();
    const c = await client(t, nodes[2]);
    c.socket.emit('joinRoom', room);
    await c.rec.waitFor('joinedRoom');
    a.socket.emit('messageToRoom', { room, message: 'welcome back' });
    assert.equal((await c.rec.waitFor('message'))[0].message, 'welcome back');
  });
});

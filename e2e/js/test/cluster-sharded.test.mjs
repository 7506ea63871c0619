// A mixed fleet on a Redis Cluster: two iogate processes with REDIS_ADAPTER=sharded and a Node
// socket.io server with @socket.io/redis-adapter's sharded adapter (createShardedAdapter), on
// three masters with a replica each. Room messages cross all three, a REST notification on one
// node reaches the user's clients on the other, and a master killed under live clients is
// failed over without a restart of any node.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { createCluster } from 'redis';
import { Server } from 'socket.io';
import {
  MODE, API_KEY, connect, eventually, postJson, record, sleep, startServer, token, track, uniqueRoom,
} from '../helpers/server.mjs';
import { startRedisCluster } from '../helpers/redis-cluster.mjs';

const SECRET = randomBytes(36).toString('base64url');

/** A Node socket.io server with the sharded adapter, speaking the `/` namespace's room events
 *  as the NestJS guide's gateway does (`joinRoom`, `messageToRoom` -> `message`). */
async function startNodeServer(seeds) {
  const pubClient = createCluster({ rootNodes: seeds.split(',').map((url) => ({ url })) });
  const subClient = pubClient.duplicate();
  // A master's failover makes the clients report reconnection errors; they recover by themselves
  // (node-redis 6 subscribes sharded channels again on the new master; 4.7 and 5.9 do not).
  pubClient.on('error', () => {});
  subClient.on('error', () => {});
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createShardedAdapter(pubClient, subClient) });
  io.on('connection', (socket) => {
    socket.on('joinRoom', (room) => {
      socket.join(room);
      socket.emit('joinedRoom', room);
    });
    socket.on('messageToRoom', ({ room, message }) => {
      io.to(room).emit('message', { userId: socket.id, message });
    });
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}`,
    async stop() {
      // The adapter unsubscribes its channels as it closes: let it finish before the clients go.
      await io.close();
      await Promise.allSettled([pubClient.close(), subClient.close()]);
    },
  };
}

describe('a mixed fleet on a Redis Cluster (sharded adapter)', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let cluster;
  let nodeJs;
  const nodes = [];

  before(async () => {
    cluster = await startRedisCluster(3, 1);
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer({ REDIS_URL: cluster.url, REDIS_ADAPTER: 'sharded', JWT_SECRET: SECRET }));
    }
    nodeJs = await startNodeServer(cluster.url);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await nodeJs?.stop();
    await cluster?.stop();
  });

  async function client(t, url, nsp = '/', opts = {}) {
    const socket = track(t, await connect(url, nsp, { transports: ['websocket'], ...opts }));
    return { socket, rec: record(socket) };
  }

  /** Clients on both iogate nodes and the Node server, all in one new room. */
  async function roomOnThree(t) {
    const room = uniqueRoom('sharded');
    const members = [];
    for (const url of [nodes[0].url, nodes[1].url, nodeJs.url]) {
      const member = await client(t, url);
      member.socket.emit('joinRoom', room);
      await member.rec.waitFor('joinedRoom');
      members.push(member);
    }
    return { room, members };
  }

  it('a room message from any node reaches the members on the two others', async (t) => {
    const { room, members } = await roomOnThree(t);
    for (const [i, sender] of members.entries()) {
      const text = `from ${i}`;
      // The room's channel is subscribed once a node has a member: retried until it is.
      await eventually(`message ${i} reaches every member`, async () => {
        sender.socket.emit('messageToRoom', { room, message: text });
        await sleep(200);
        return members.every((m) => m.rec.of('message').some((msg) => msg.message === text));
      });
    }
  });

  it('POST /notifications/send on one node reaches the user on the other', async (t) => {
    const alice = { auth: { token: token(SECRET, { sub: 'alice' }) } };
    const phone = await client(t, nodes[1].url, '/events', alice);
    const res = await postJson(nodes[0].url, '/notifications/send', { userId: 'alice', message: 'hi' }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await phone.rec.waitFor('notification'), ['hi']);
  });

  it('a master killed under live clients is failed over, and room messages flow again', async (t) => {
    const { room, members } = await roomOnThree(t);
    const channel = `socket.io#/#${room}#`;
    const master = await cluster.masterOf(channel);
    await cluster.kill(master);
    await cluster.waitForNewMaster(channel, master);
    // Nothing was restarted: each node follows the new master by itself.
    for (const [i, sender] of members.entries()) {
      const text = `after failover ${i}`;
      await eventually(`message ${i} after the failover`, async () => {
        sender.socket.emit('messageToRoom', { room, message: text });
        await sleep(300);
        return members.every((m) => m.rec.of('message').some((msg) => msg.message === text));
      }, 20_000);
    }
    for (const node of nodes) {
      const res = await fetch(`${node.url}/ready`);
      assert.equal(res.status, 200, await res.text());
    }
  });
});

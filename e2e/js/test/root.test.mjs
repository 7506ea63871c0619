// Namespace '/' (public): message, events, rooms, and per-client ordering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  TRANSPORTS, assertPublicId, connect, emitWithAck, once, record, sleep, startServer, track,
  uniqueRoom,
} from '../helpers/server.mjs';

const QUIET_MS = 300; // how long "nothing arrives" is watched for

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const range = (n) => Array.from({ length: n }, (_, i) => i);

/** Waits until count() reaches n, or nothing more arrives (progress() stops changing) for
 *  stallMs, or maxMs pass. */
async function settle(count, n, progress, { stallMs = 3_000, maxMs = 20_000 } = {}) {
  const start = Date.now();
  let last = -1;
  let lastChange = start;
  while (count() < n && Date.now() - lastChange < stallMs && Date.now() - start < maxMs) {
    if (progress() !== last) {
      last = progress();
      lastChange = Date.now();
    }
    await sleep(50);
  }
}

/** Asserts `got` is exactly 0..n-1; on failure says what is missing, out of order, and what else
 *  the sending client received (e.g. an 'exception'). */
function assertSequence(got, n, sender) {
  const expected = range(n);
  if (got.length === n && got.every((v, i) => v === i)) return;
  const seen = new Set(got);
  const missing = expected.filter((i) => !seen.has(i));
  const inversions = got.filter((v, i) => i > 0 && v < got[i - 1]).length;
  const others = sender.rec.all.filter(([event]) => event !== 'message');
  const kinds = [...new Set(others.map((e) => JSON.stringify(e)))].slice(0, 3);
  assert.fail(`expected ${n} in send order; got ${got.length}, ${inversions} out of order, ` +
    `${missing.length} missing (first: ${missing.slice(0, 5).join(', ')}); ` +
    `sender still connected: ${sender.socket.connected}; ` +
    `sender also received ${others.length} other events: ${kinds.join(' ')}`);
}

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`/ over ${name}`, () => {
    /** A connected client on '/' with a recorder of everything it receives. */
    async function client(t) {
      const socket = track(t, await connect(server.url, '/', { transports }));
      return { socket, rec: record(socket) };
    }

    /** Joins `room` and returns the public id the joiner sees in its own `userJoined`. */
    async function join({ socket, rec }, room) {
      socket.emit('joinRoom', room);
      const own = await rec.waitUntil(
        () => rec.of('userJoined').find((p) => p?.room === room && rec.of('joinedRoom').includes(room)),
        `joinedRoom + userJoined for ${room}`,
      );
      return own.userId;
    }

    it('uses the requested transport', async (t) => {
      const { socket } = await client(t);
      const engine = socket.io.engine;
      if (name === 'upgrade' && engine.transport.name !== 'websocket') await once(engine, 'upgrade');
      assert.equal(engine.transport.name, name === 'polling' ? 'polling' : 'websocket');
    });

    it("'message' is acked with \"Message received\"", async (t) => {
      const { socket } = await client(t);
      assert.equal(await emitWithAck(socket, 'message', 'hello'), 'Message received');
    });

    it("'events' acks its body unchanged", async (t) => {
      const { socket } = await client(t);
      const bodies = [
        { a: 1, b: [1, 2, { c: 'd' }], e: null, f: true },
        [1, 'two', { three: 3 }],
        'plain string',
        'héllo 🌍',
        42,
        -1.5,
        0,
        false,
        '',
        [],
        {},
      ];
      for (const body of bodies) {
        assert.deepEqual(await emitWithAck(socket, 'events', body), body, `echo of ${JSON.stringify(body)}`);
      }
    });

    it("'events' with several arguments acks them as one array", async (t) => {
      const { socket } = await client(t);
      assert.deepEqual(await emitWithAck(socket, 'events', 1, 2), [1, 2]);
      assert.deepEqual(await emitWithAck(socket, 'events', 'a', { b: 1 }, [3]), ['a', { b: 1 }, [3]]);
    });

    it("'joinRoom': the joiner gets joinedRoom, the room (joiner included) gets userJoined", async (t) => {
      const a = await client(t);
      const b = await client(t);
      const room = uniqueRoom();

      a.socket.emit('joinRoom', room);
      const [joinedRoom] = await a.rec.waitFor('joinedRoom');
      assert.equal(joinedRoom, room);
      const [aJoined] = await a.rec.waitFor('userJoined');
      assert.deepEqual(aJoined, { userId: aJoined.userId, room });
      assertPublicId(aJoined.userId, a.socket);
      // One handler's emits reach the client in the order they were made.
      assert.deepEqual(a.rec.all.map(([event]) => event), ['joinedRoom', 'userJoined']);

      b.socket.emit('joinRoom', room);
      const [bSeesOwnJoin] = await b.rec.waitFor('userJoined');
      const [, aSeesBJoin] = await a.rec.waitFor('userJoined', 2);
      assert.deepEqual(bSeesOwnJoin, { userId: bSeesOwnJoin.userId, room });
      assert.deepEqual(aSeesBJoin, bSeesOwnJoin);
      assertPublicId(bSeesOwnJoin.userId, b.socket);
      assert.notEqual(bSeesOwnJoin.userId, aJoined.userId, 'two clients have two ids');
    });

    it("'messageToRoom' reaches every member and no one else", async (t) => {
      const a = await client(t);
      const b = await client(t);
      const outsider = await client(t);
      const room = uniqueRoom();
      const aId = await join(a, room);
      await join(b, room);

      a.socket.emit('messageToRoom', { room, message: 'hello room' });
      const [toA] = await a.rec.waitFor('message');
      const [toB] = await b.rec.waitFor('message');
      assert.deepEqual(toA, { userId: aId, message: 'hello room' });
      assert.deepEqual(toB, toA);
      await sleep(QUIET_MS);
      assert.deepEqual(outsider.rec.all, [], 'a client outside the room gets nothing');
    });

    it("'leaveRoom': the other members get userLeft; one client keeps one userId throughout", async (t) => {
      const a = await client(t);
      const b = await client(t);
      const leaver = await client(t);
      const room = uniqueRoom();
      await join(a, room);
      await join(b, room);
      const leaverId = await join(leaver, room);
      assertPublicId(leaverId, leaver.socket);
      const [, , seenByA] = await a.rec.waitFor('userJoined', 3);
      assert.equal(seenByA.userId, leaverId, 'userJoined carries the same id for every member');

      leaver.socket.emit('messageToRoom', { room, message: 'bye' });
      const [message] = await a.rec.waitFor('message');
      assert.deepEqual(message, { userId: leaverId, message: 'bye' });
      await leaver.rec.waitFor('message'); // a member, so it gets its own message too

      const leaverEventsBefore = leaver.rec.all.length;
      leaver.socket.emit('leaveRoom', room);
      const [leftSeenByA] = await a.rec.waitFor('userLeft');
      const [leftSeenByB] = await b.rec.waitFor('userLeft');
      assert.deepEqual(leftSeenByA, { userId: leaverId, room });
      assert.deepEqual(leftSeenByB, leftSeenByA);
      await sleep(QUIET_MS);
      assert.deepEqual(leaver.rec.all.slice(leaverEventsBefore), [], 'the leaver is no longer in the room');
    });

    it('acks 3,000 back-to-back events in send order', { timeout: 30_000 }, async (t) => {
      const { socket, rec } = await client(t);
      const n = 3000;
      const acked = [];
      for (const seq of range(n)) socket.emit('events', { seq }, (body) => acked.push(body?.seq));
      await settle(() => acked.length, n, () => acked.length + rec.all.length);
      assertSequence(acked, n, { socket, rec });
    });

    it('delivers 2,000 back-to-back messageToRoom to a listener in send order', { timeout: 30_000 }, async (t) => {
      const sender = await client(t);
      const listener = await client(t);
      const room = uniqueRoom();
      await join(listener, room);

      const n = 2000;
      for (const seq of range(n)) sender.socket.emit('messageToRoom', { room, message: seq });
      await settle(() => listener.rec.of('message').length, n,
        () => listener.rec.all.length + sender.rec.all.length);
      const received = listener.rec.of('message');
      assertSequence(received.map((m) => m.message), n, sender);
      assert.equal(new Set(received.map((m) => m.userId)).size, 1, 'one sender, one userId');
      assertPublicId(received[0].userId, sender.socket);
      assert.deepEqual(sender.rec.of('message'), [], 'the sender is not in the room');
    });
  });
}

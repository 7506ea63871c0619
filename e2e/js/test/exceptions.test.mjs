// Bad input and unknown events. What the NestJS reference does was recorded first (see each
// case); its exact payloads are asserted in reference mode only. In iogate mode a case asserts
// iogate's own answer: an `exception` naming the event for a body of the wrong type (where the
// reference joins a room named null, or fails with "Internal server error"), nothing for an
// unknown event or a null result, and the connection keeps serving.
//
// Observed on the reference (NestJS 12, socket.io 4.8.3):
// - emit('joinRoom') with no argument: client.join(undefined) succeeds, then the client gets
//   'joinedRoom' with null (socket.io writes undefined as null) and 'userJoined' {userId} with
//   no `room` key (undefined dropped by JSON).
// - emit('joinRoom', {}): 'joinedRoom' {} and 'userJoined' {userId, room: {}}.
// - emit('messageToRoom') with no argument: the handler throws reading payload.room, and Nest's
//   BaseWsExceptionFilter emits 'exception'
//   {status: 'error', message: 'Internal server error', cause: {pattern: 'messageToRoom'}}.
// - emit('events', null) (or no argument): the handler returns null/undefined and Nest sends
//   no ack at all.
// - an unknown event: nothing, not even an ack when one is asked for.
// None of these disconnects the client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MODE, TRANSPORTS, assertPublicId, connect, emitWithAck, record, sleep, startServer, token, track,
} from '../helpers/server.mjs';

const QUIET_MS = 300;

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`bad input over ${name}`, () => {
    async function client(t, nsp = '/', opts = {}) {
      const socket = track(t, await connect(server.url, nsp, { transports, ...opts }));
      return { socket, rec: record(socket) };
    }

    /** Emits `args` asking for an ack; after QUIET_MS returns what arrived and whether it was acked. */
    async function observe(t, { socket, rec }, ...args) {
      let ack = null;
      socket.emit(...args, (...ackArgs) => { ack = ackArgs; });
      await sleep(QUIET_MS);
      const seen = { events: rec.all.slice(), ack };
      t.diagnostic(`${MODE}: emit(${args.map((a) => JSON.stringify(a)).join(', ')}) → ${JSON.stringify(seen)}`);
      return seen;
    }

    /** The only thing that arrived is iogate's `exception` for a body of the wrong type. */
    function assertInvalidBody(seen, pattern, reason, data) {
      const cause = data === undefined ? { pattern } : { pattern, data };
      assert.deepEqual(seen, {
        events: [['exception', { status: 'error', message: `Invalid message body: ${reason}`, cause }]],
        ack: null,
      });
    }

    /** The client is still connected and still answered. */
    async function assertStillServing({ socket }) {
      assert.equal(socket.connected, true, 'the client is still connected');
      assert.equal(await emitWithAck(socket, 'message', 'still there?'), 'Message received');
    }

    it('an unknown event gets nothing back', async (t) => {
      const c = await client(t);
      const seen = await observe(t, c, 'noSuchEvent', { a: 1 });
      assert.deepEqual(seen, { events: [], ack: null });
      await assertStillServing(c);
    });

    it("'joinRoom' without an argument", async (t) => {
      const c = await client(t);
      const seen = await observe(t, c, 'joinRoom');
      if (MODE === 'reference') {
        const userId = seen.events[1]?.[1]?.userId;
        assertPublicId(userId, c.socket);
        assert.deepEqual(seen, { events: [['joinedRoom', null], ['userJoined', { userId }]], ack: null });
      } else {
        // iogate refuses a body that does not fit the handler's type, naming the event.
        assertInvalidBody(seen, 'joinRoom', 'invalid type: null, expected a string');
      }
      await assertStillServing(c);
    });

    it("'joinRoom' with a non-string ({})", async (t) => {
      const c = await client(t);
      const seen = await observe(t, c, 'joinRoom', {});
      if (MODE === 'reference') {
        const userId = seen.events[1]?.[1]?.userId;
        assertPublicId(userId, c.socket);
        assert.deepEqual(seen, { events: [['joinedRoom', {}], ['userJoined', { userId, room: {} }]], ack: null });
      } else {
        assertInvalidBody(seen, 'joinRoom', 'invalid type: map, expected a string', {});
      }
      await assertStillServing(c);
    });

    it("'messageToRoom' without an argument", async (t) => {
      const c = await client(t);
      const seen = await observe(t, c, 'messageToRoom');
      if (MODE === 'reference') {
        assert.deepEqual(seen, {
          events: [['exception', { status: 'error', message: 'Internal server error', cause: { pattern: 'messageToRoom' } }]],
          ack: null,
        });
      } else {
        assertInvalidBody(seen, 'messageToRoom', 'invalid type: null, expected struct RoomMessage');
      }
      await assertStillServing(c);
    });

    it("'events' with null gets no ack (a null result sends nothing)", async (t) => {
      const c = await client(t);
      const seen = await observe(t, c, 'events', null);
      assert.deepEqual(seen, { events: [], ack: null });
      await assertStillServing(c);
    });

    it("'privateMessage' on /events passes its guard with a valid token", async (t) => {
      const { socket } = await client(t, '/events', { auth: { token: token(server.secret, { sub: 'alice' }) } });
      const ack = await emitWithAck(socket, 'privateMessage', 'x');
      assert.equal(ack.user.sub, 'alice');
      assert.equal(ack.data, 'x');
    });
  });
}

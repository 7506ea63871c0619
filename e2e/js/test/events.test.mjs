// Namespace '/events' (JWT): handshake auth, message/events, the guarded privateMessage, the
// validated createMessage and its exception filter, and POST /notifications/send.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import {
  MODE, TRANSPORTS, assertPublicId, connect, emitWithAck, once, openSocket, postJson, record,
  sleep, startServer, token, track, unsignedToken,
} from '../helpers/server.mjs';

const QUIET_MS = 300;
const NSP = '/events';
const ALICE = { sub: 'alice', email: 'alice@example.com' };
const BOB = { sub: 'bob', email: 'bob@example.com' };
// The NestJS reference answers POST with Nest's default status for @Post(), 201 Created.
// iogate reproduces the reference on the wire, so both are held to it.
const SEND_STATUS = 201;

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** The ways a handshake can be refused, each with the token it sends. */
const REFUSALS = {
  'no token': () => ({}),
  'a garbage token': () => ({ auth: { token: 'not-a-jwt' } }),
  'a token signed with another secret': () => ({ auth: { token: token('another-secret-entirely', ALICE) } }),
  'an expired token': () => ({
    auth: { token: token(server.secret, { ...ALICE, exp: Math.floor(Date.now() / 1000) - 3600 }) },
  }),
  "an 'alg: none' token": () => ({ auth: { token: unsignedToken(ALICE) } }),
};

const bearer = (key) => ({ authorization: `Bearer ${key}` });
const sendNotification = (body, headers = bearer(server.apiKey)) =>
  postJson(server.url, '/notifications/send', body, headers);

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`/events over ${name}`, () => {
    /** A connected /events client for `claims`, with a recorder; `opts` replaces the auth. */
    async function client(t, claims = ALICE, opts = { auth: { token: token(server.secret, claims) } }) {
      const socket = track(t, await connect(server.url, NSP, { transports, ...opts }));
      return { socket, rec: record(socket) };
    }

    it("with a valid token: 'message' and 'events' behave as on '/'", async (t) => {
      const { socket } = await client(t);
      assert.equal(await emitWithAck(socket, 'message', 'hi'), 'Message received');
      for (const body of [{ a: [1, { b: 'c' }] }, [1, 2, 3], 'héllo 🌍', 7]) {
        assert.deepEqual(await emitWithAck(socket, 'events', body), body);
      }
      assert.deepEqual(await emitWithAck(socket, 'events', 1, 2), [1, 2]);
    });

    it('accepts the token in an Authorization: Bearer header (extraHeaders)', async (t) => {
      // In Node, socket.io-client sends extraHeaders on the polling requests and on the
      // websocket upgrade alike.
      const { socket } = await client(t, ALICE, {
        extraHeaders: { Authorization: `Bearer ${token(server.secret, ALICE)}` },
      });
      assert.deepEqual(await emitWithAck(socket, 'events', { via: 'header' }), { via: 'header' });
    });

    it("'privateMessage' acks { user: <decoded claims>, data }", async (t) => {
      const tok = token(server.secret, ALICE);
      const { socket } = await client(t, ALICE, { auth: { token: tok } });
      const claims = jwt.decode(tok);
      assert.ok(claims.iat && claims.exp);
      const data = { text: 'secret', n: [1, 2] };
      assert.deepEqual(await emitWithAck(socket, 'privateMessage', data), { user: claims, data });
    });

    it("'createMessage' without a body emits 'error' (No data provided)", async (t) => {
      const { socket } = await client(t);
      const error = once(socket, 'error');
      socket.emit('createMessage');
      const payload = await error;
      assertPublicId(payload.id, socket);
      assert.equal(payload.rid, undefined);
      assert.deepEqual({ ...payload, rid: undefined }, {
        id: payload.id, rid: undefined, message: 'Validation failed: No data provided',
      });
    });

    it("'createMessage' with a string body emits 'error' (Data must be an object)", async (t) => {
      const { socket } = await client(t);
      const error = once(socket, 'error');
      socket.emit('createMessage', 'just a string');
      const payload = await error;
      assertPublicId(payload.id, socket);
      assert.deepEqual({ ...payload, rid: undefined }, {
        id: payload.id, rid: undefined, message: 'Validation failed: Data must be an object',
      });
    });

    it("'createMessage' with an object acks it with an increasing numeric id", async (t) => {
      const { socket, rec } = await client(t);
      const first = await emitWithAck(socket, 'createMessage', { text: 'hi', rid: 7 });
      assert.equal(typeof first.id, 'number');
      assert.deepEqual(first, { id: first.id, text: 'hi', rid: 7 });
      const second = await emitWithAck(socket, 'createMessage', { text: 'again' });
      assert.deepEqual(second, { id: second.id, text: 'again' });
      assert.ok(second.id > first.id, `ids increase (${first.id} then ${second.id})`);
      assert.deepEqual(rec.of('error'), []);
    });

    for (const [what, options] of Object.entries(REFUSALS)) {
      it(`refuses ${what}`, async (t) => {
        const socket = track(t, openSocket(server.url, NSP, { transports, ...options() }));
        let connected = false;
        let acked = false;
        socket.on('connect', () => { connected = true; });
        socket.emit('events', 'should never be answered', () => { acked = true; });

        if (MODE === 'reference') {
          // NestJS checks the token in handleConnection, after the namespace CONNECT: the
          // client sees 'connect', then the server disconnects it.
          const disconnected = once(socket, 'disconnect');
          await once(socket, 'connect');
          assert.equal(await disconnected, 'io server disconnect');
        } else {
          // iogate refuses in the handshake.
          const err = await once(socket, 'connect_error');
          assert.match(err.message, /^Unauthorized/);
          if (what === 'an expired token') assert.match(err.message, /expired/i);
          assert.equal(connected, false, 'a refused client never sees connect');
        }
        await sleep(QUIET_MS);
        assert.equal(acked, false, "a refused client never gets an ack for 'events'");
      });
    }

    it("POST /notifications/send reaches every /events socket of that user, and only those", async (t) => {
      const alicePhone = await client(t, ALICE);
      const aliceLaptop = await client(t, ALICE);
      const bob = await client(t, BOB);

      const res = await sendNotification({ userId: 'alice', message: { text: 'hi' } });
      assert.equal(res.status, SEND_STATUS, res.text);
      assert.deepEqual(res.json, { success: true });

      assert.deepEqual(await alicePhone.rec.waitFor('notification'), [{ text: 'hi' }]);
      assert.deepEqual(await aliceLaptop.rec.waitFor('notification'), [{ text: 'hi' }]);
      await sleep(QUIET_MS);
      assert.deepEqual(bob.rec.all, [], 'bob gets nothing');
      assert.equal(alicePhone.rec.of('notification').length, 1);
      assert.equal(aliceLaptop.rec.of('notification').length, 1);
    });
  });
}

describe('POST /notifications/send, API key and body checks (iogate only)', {
  skip: MODE === 'reference' && 'the reference has no API key and no body validation',
}, () => {
  /** A JSON error response with the given status and a `message` field. */
  function assertJsonError(res, status) {
    assert.equal(res.status, status, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(res.json && typeof res.json === 'object', `JSON body, got ${res.text}`);
    return res.json;
  }
  const valid = { userId: 'alice', message: { text: 'hi' } };

  it('without an Authorization header: 401 with a JSON message', async () => {
    const body = assertJsonError(await sendNotification(valid, {}), 401);
    assert.equal(typeof body.message, 'string');
  });

  it('with a wrong API key: 401', async () => {
    assertJsonError(await sendNotification(valid, bearer('wrong-key')), 401);
  });

  it('with a malformed JSON body: 400 with a JSON body', async () => {
    assertJsonError(await sendNotification('{"userId": "alice", '), 400);
  });

  it('without userId: 400 with a JSON body', async () => {
    assertJsonError(await sendNotification({ message: { text: 'hi' } }), 400);
  });
});

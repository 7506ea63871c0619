// Namespace '/chat': a connection middleware refuses sockets without a valid token with
// connect_error "Authentication error"; rooms carry the sender's token `sub`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  TRANSPORTS, assertPublicId, connect, once, openSocket, record, sleep, startServer, token, track,
  uniqueRoom,
} from '../helpers/server.mjs';

const QUIET_MS = 300;
const NSP = '/chat';
const ALICE = { sub: 'alice', email: 'alice@example.com' };
const BOB = { sub: 'bob', email: 'bob@example.com' };

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`/chat over ${name}`, () => {
    async function client(t, claims) {
      const auth = { token: token(server.secret, claims) };
      const socket = track(t, await connect(server.url, NSP, { transports, auth }));
      return { socket, rec: record(socket) };
    }

    /** Asserts that connecting with `opts` ends in connect_error "Authentication error". */
    async function assertRefused(t, opts) {
      const socket = track(t, openSocket(server.url, NSP, { transports, ...opts }));
      let connected = false;
      socket.on('connect', () => { connected = true; });
      const err = await once(socket, 'connect_error');
      assert.equal(err.message, 'Authentication error');
      assert.equal(connected, false);
    }

    it('refuses a client without a token: connect_error "Authentication error"', async (t) => {
      await assertRefused(t, {});
    });

    it('refuses an invalid token the same way', async (t) => {
      await assertRefused(t, { auth: { token: 'not-a-jwt' } });
      await assertRefused(t, { auth: { token: token('another-secret-entirely', ALICE) } });
    });

    it("accepts a valid token; 'joinRoom' answers joinedRoom; 'messageToRoom' carries userId and user", async (t) => {
      const alice = await client(t, ALICE);
      const bob = await client(t, BOB);
      const outsider = await client(t, BOB);
      const room = uniqueRoom('chat');

      for (const member of [alice, bob]) {
        member.socket.emit('joinRoom', room);
        assert.deepEqual(await member.rec.waitFor('joinedRoom'), [room]);
      }

      alice.socket.emit('messageToRoom', { room, message: 'hello chat' });
      const [toAlice] = await alice.rec.waitFor('message');
      const [toBob] = await bob.rec.waitFor('message');
      assert.deepEqual(toAlice, { userId: toAlice.userId, user: 'alice', message: 'hello chat' });
      assertPublicId(toAlice.userId, alice.socket);
      assert.deepEqual(toBob, toAlice);
      await sleep(QUIET_MS);
      assert.deepEqual(outsider.rec.all, [], 'a client outside the room gets nothing');
    });
  });
}

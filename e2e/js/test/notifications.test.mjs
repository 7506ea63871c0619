// Namespace '/notifications' ('ping' → ack 'pong'), and a namespace that does not exist.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  TRANSPORTS, connect, emitWithAck, once, openSocket, startServer, track,
} from '../helpers/server.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`/notifications over ${name}`, () => {
    it("'ping' is acked with 'pong'", async (t) => {
      const socket = track(t, await connect(server.url, '/notifications', { transports }));
      assert.equal(await emitWithAck(socket, 'ping'), 'pong');
    });

    it("an unknown namespace gets connect_error 'Invalid namespace'", async (t) => {
      const socket = track(t, openSocket(server.url, '/nope', { transports }));
      let connected = false;
      socket.on('connect', () => { connected = true; });
      const err = await once(socket, 'connect_error');
      assert.equal(err.message, 'Invalid namespace');
      assert.equal(connected, false);
    });
  });
}

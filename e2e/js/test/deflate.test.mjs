// permessage-deflate (per_message_deflate / PER_MESSAGE_DEFLATE): negotiated with
// socket.io-client's websocket (Node's `ws`, which offers it by default) only when the setting
// is on, and a 64 KiB message round-trips through '/' 'events' compressed both ways.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODE, connect, emitWithAck, startServer, track } from '../helpers/server.mjs';

/** About 64 KiB of JSON that repeats itself, as real payloads do. */
const BIG = Array.from({ length: 1500 }, (_, i) => ({ id: i, name: `user-${i}`, online: i % 3 === 0 }));
const BIG_BYTES = JSON.stringify(BIG).length;

/** The `ws` WebSocket under a connected socket.io-client socket, and its TCP socket. */
function wsOf(socket) {
  const ws = socket.io.engine.transport.ws;
  assert.ok(ws, 'the client is on the websocket transport');
  return { ws, tcp: ws._socket };
}

describe('permessage-deflate', { skip: MODE === 'reference' && 'iogate only' }, () => {
  describe('on', () => {
    let server;
    before(async () => { server = await startServer({ PER_MESSAGE_DEFLATE: 'true' }); });
    after(async () => { await server?.stop(); });

    it('is negotiated without context takeover', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const { ws } = wsOf(socket);
      assert.equal(ws.extensions, 'permessage-deflate');
      // What the server answered, as `ws` parsed it (its internal record of the extension).
      const params = ws._extensions?.['permessage-deflate']?.params;
      if (params) {
        assert.equal(params.server_no_context_takeover, true);
        assert.equal(params.client_no_context_takeover, true);
      }
    });

    it('round-trips a 64 KiB message compressed both ways', async (t) => {
      assert.ok(BIG_BYTES > 60_000, `payload is ${BIG_BYTES} bytes`);
      const socket = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const { tcp } = wsOf(socket);
      const [read, written] = [tcp.bytesRead, tcp.bytesWritten];
      assert.deepEqual(await emitWithAck(socket, 'events', BIG), BIG);
      // Both directions crossed the wire at a fraction of their size.
      const [down, up] = [tcp.bytesRead - read, tcp.bytesWritten - written];
      assert.ok(up < BIG_BYTES / 4, `sent ${up} bytes for ${BIG_BYTES}`);
      assert.ok(down < BIG_BYTES / 4, `received ${down} bytes for ${BIG_BYTES}`);
      // Many messages in a row, each compressed on its own.
      for (let i = 0; i < 5; i++) {
        const body = { i, rows: BIG.slice(i * 100) };
        assert.deepEqual(await emitWithAck(socket, 'events', body), body);
      }
    });

    it('still works for clients that do not offer it', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports: ['websocket'], perMessageDeflate: false }));
      const { ws, tcp } = wsOf(socket);
      assert.equal(ws.extensions, '');
      const read = tcp.bytesRead;
      assert.deepEqual(await emitWithAck(socket, 'events', BIG), BIG);
      assert.ok(tcp.bytesRead - read > BIG_BYTES, 'sent uncompressed');
    });

    it('upgrades from polling with it', async (t) => {
      const socket = track(t, await connect(server.url, '/'));
      await new Promise((resolve) => {
        if (socket.io.engine.transport.name === 'websocket') resolve();
        else socket.io.engine.once('upgrade', resolve);
      });
      assert.equal(wsOf(socket).ws.extensions, 'permessage-deflate');
      assert.deepEqual(await emitWithAck(socket, 'events', BIG), BIG);
    });
  });

  describe('off (the default)', () => {
    let server;
    before(async () => { server = await startServer(); });
    after(async () => { await server?.stop(); });

    it('is not negotiated, and large messages go as they are', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const { ws, tcp } = wsOf(socket);
      assert.equal(ws.extensions, '');
      const read = tcp.bytesRead;
      assert.deepEqual(await emitWithAck(socket, 'events', BIG), BIG);
      assert.ok(tcp.bytesRead - read > BIG_BYTES, 'received uncompressed');
    });
  });
});

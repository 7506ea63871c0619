// The msgpack parser: with `PARSER=msgpack` the server speaks socket.io-msgpack-parser, so
// clients created with `parser: msgpackParser` work unchanged: rooms, acknowledgements,
// binary, recovery. A client with the other parser gets a clear connect_error either way.
// Binary goes through the protocol suites' echo app, with each parser. (The room, ack and recovery
// suites also run whole with msgpack: `E2E_PARSER=msgpack`, in scripts/test.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import msgpackParser from 'socket.io-msgpack-parser';
import {
  HOST, MODE, TRANSPORTS, connect, once, openSocket, record, sleep, startServer, token, track,
  uniqueRoom,
} from '../helpers/server.mjs';

const withMsgpack = (opts = {}) => ({ ...opts, parser: msgpackParser });

describe('the msgpack parser', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let server;
  let plain;
  before(async () => {
    server = await startServer({ PARSER: 'msgpack' });
    plain = await startServer();
  });
  after(async () => {
    await server?.stop();
    await plain?.stop();
  });

  for (const [name, transports] of Object.entries(TRANSPORTS)) {
    describe(`over ${name}`, () => {
      it('rooms: joinRoom, then messageToRoom reaches every member once', async (t) => {
        const room = uniqueRoom('mp');
        const [a, b] = [
          track(t, await connect(server.url, '/', withMsgpack({ transports }))),
          track(t, await connect(server.url, '/', withMsgpack({ transports }))),
        ];
        const [ra, rb] = [record(a), record(b)];
        for (const [s, r] of [[a, ra], [b, rb]]) {
          s.emit('joinRoom', room);
          assert.deepEqual(await r.waitFor('joinedRoom'), [room]);
        }
        a.emit('messageToRoom', { room, message: 'hé, msgpack' });
        const [toA] = await ra.waitFor('message');
        const [toB] = await rb.waitFor('message');
        assert.deepEqual(toA, { userId: a.id, message: 'hé, msgpack' });
        assert.deepEqual(toB, toA);
      });

      it('acknowledgements: events answers with its body, numbers and nesting kept', async (t) => {
        const socket = track(t, await connect(server.url, '/', withMsgpack({ transports })));
        const body = { n: 1.5, big: 2 ** 40, neg: -3, list: [true, null, 'x'], nested: { a: {} } };
        assert.deepEqual(await socket.timeout(5000).emitWithAck('events', body), body);
        assert.equal(await socket.timeout(5000).emitWithAck('message', 'hi'), 'Message received');
      });

      it('JWT namespaces: a token in auth is read from the msgpack CONNECT', async (t) => {
        const auth = { token: token(server.secret, { sub: 'mp-user' }) };
        const socket = track(t, await connect(server.url, '/events', withMsgpack({ transports, auth })));
        const answer = await socket.timeout(5000).emitWithAck('privateMessage', { x: 1 });
        assert.equal(answer.user.sub, 'mp-user');
        const refused = track(t, openSocket(server.url, '/events', withMsgpack({ transports })));
        assert.match((await once(refused, 'connect_error')).message, /^Unauthorized/);
      });

      it('recovery: a dropped transport gets its missed room messages', async (t) => {
        const room = uniqueRoom('mp-recover');
        const socket = track(t, await connect(server.url, '/', withMsgpack({ transports })));
        const other = track(t, await connect(server.url, '/', withMsgpack({ transports })));
        const rec = record(socket);
        socket.emit('joinRoom', room);
        await rec.waitFor('joinedRoom');
        const gone = once(socket, 'disconnect');
        socket.io.engine.close();
        await gone;
        other.emit('messageToRoom', { room, message: 'missed' });
        await sleep(200);
        const back = once(socket, 'connect');
        socket.connect();
        await back;
        assert.equal(socket.recovered, true);
        const [missed] = await rec.waitFor('message');
        assert.equal(missed.message, 'missed');
      });

      it('a default-parser client is told the server speaks msgpack, and the reverse', async (t) => {
        const json = track(t, openSocket(server.url, '/', { transports }));
        assert.equal((await once(json, 'connect_error')).message,
          'This server uses the msgpack parser (socket.io-msgpack-parser)');
        const mp = track(t, openSocket(plain.url, '/', withMsgpack({ transports })));
        assert.equal((await once(mp, 'connect_error')).message,
          "This server uses socket.io's default parser, not socket.io-msgpack-parser");
      });
    });
  }

  for (const parser of ['json', 'msgpack']) {
    describe(`binary with the ${parser} parser, through the protocol suites' echo app`, () => {
      const HERE = path.dirname(fileURLToPath(import.meta.url));
      const bin = process.env.CONFORMANCE_BIN
        ? path.resolve(process.env.CONFORMANCE_BIN)
        : path.resolve(HERE, '../../../target/release/example-conformance');
      const opts = (o) => (parser === 'msgpack' ? withMsgpack(o) : o);
      let echo;
      let url;
      before(async () => {
        echo = spawn(bin, [], { env: { ...process.env, PORT: '0', PARSER: parser }, stdio: ['ignore', 'pipe', 'inherit'] });
        url = await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('example-conformance did not start')), 20_000);
          echo.once('error', reject);
          echo.stdout.setEncoding('utf8').on('data', (d) => {
            const m = /listening on http:\/\/([\d.]+:\d+)/.exec(d);
            if (m) { clearTimeout(timer); resolve(`http://${m[1]}`); }
          });
        });
        assert.ok(url.includes(HOST));
      });
      after(() => { echo?.kill('SIGKILL'); });

      for (const [name, transports] of Object.entries(TRANSPORTS)) {
        it(`buffers go and come back in place, in events and acknowledgements, over ${name}`, async (t) => {
          const socket = track(t, await connect(url, '/', opts({ transports })));
          const files = [Buffer.from([1, 2, 3]), { nested: Buffer.from('héllo') }, [Buffer.alloc(0)]];
          const back = new Promise((resolve) => socket.once('message-back', (...args) => resolve(args)));
          socket.emit('message', ...files);
          const got = await back;
          assert.deepEqual(got.map(normalize), files.map(normalize));
          const acked = await socket.timeout(5000).emitWithAck('message-with-ack', Buffer.from([9]), 'x');
          assert.deepEqual(normalize(acked), [9]);
        });
      }
    });
  }
});

/** Buffers, Uint8Arrays and ArrayBuffers as plain byte arrays, at any depth. */
function normalize(v) {
  if (v instanceof ArrayBuffer) return [...new Uint8Array(v)];
  if (ArrayBuffer.isView(v)) return [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

// The server side of socket.io's Admin UI, as `@socket.io/admin-ui` 0.5's dashboard speaks it,
// driven with the official client on `/admin`: login (password, then the session it gave),
// `config`, `all_sockets`, `server_stats` every 2 s, every socket, upgrade, room change and event in
// development mode, and the UI's actions (`emit`, `join`, `leave`, `_disconnect`). In
// production mode and read-only, the figures only and no action.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MODE, connect, once, openSocket, record, sleep, startServer, track, uniqueRoom,
} from '../helpers/server.mjs';

const PASSWORD = 's3cret-admin';
// bcryptjs.hashSync(PASSWORD, 4): the UI's server side takes a bcrypt hash; cost 4 keeps the
// test quick (the cost is the hash's own).
const HASH = '$2a$04$xPdVlCyNZZPr512Tl0S8A.Zb3ivikA/SMYCNcEMtevPs6Au5GS8F2';
const ADMIN = { ADMIN_UI: 'true', ADMIN_UI_USERNAME: 'admin', ADMIN_UI_PASSWORD_HASH: HASH };

/** An admin client that records everything from before its CONNECT (`session` and `config`
 *  come right after it). */
async function admin(t, server, auth = { username: 'admin', password: PASSWORD }) {
  const socket = track(t, openSocket(server.url, '/admin', { transports: ['websocket'], auth }));
  const rec = record(socket);
  await once(socket, 'connect');
  return { socket, rec };
}

describe('the Admin UI', { skip: MODE === 'reference' && 'iogate only: the reference has no Admin UI' }, () => {
  describe('development mode', () => {
    let server;
    before(async () => { server = await startServer({ ...ADMIN, ADMIN_UI_MODE: 'development' }); });
    after(async () => { await server?.stop(); });

    it('a wrong password is refused with connect_error', async () => {
      const socket = openSocket(server.url, '/admin', { auth: { username: 'admin', password: 'nope' } });
      const err = await once(socket, 'connect_error');
      socket.close();
      assert.equal(err.message, 'invalid credentials');
    });

    it('a login gets a session, the config and every socket; the session logs in again', async (t) => {
      const { socket, rec } = await admin(t, server);
      const [session] = await rec.waitFor('session');
      assert.match(session, /^[0-9a-f]{32}$/);
      const [config] = await rec.waitFor('config');
      assert.deepEqual(config.supportedFeatures, [
        'EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS',
      ]);
      const [sockets] = await rec.waitFor('all_sockets');
      const mine = sockets.find((s) => s.id === socket.id);
      assert.equal(mine.nsp, '/admin');
      assert.equal(mine.transport, 'websocket');
      assert.match(mine.clientId, /^[0-9a-f]{12}$/);
      assert.notEqual(mine.clientId, socket.io.engine.id.slice(0, 12), 'never the session id');
      assert.equal(mine.handshake.address, '127.0.0.1');
      const again = await admin(t, server, { sessionId: session });
      await again.rec.waitFor('config');
    });

    it('server_stats every 2 s: clients, namespaces and what went in and out', async (t) => {
      const { rec } = await admin(t, server);
      const [stats] = await rec.waitFor('server_stats', 1, 3_000);
      assert.equal(stats.pid > 0 && typeof stats.hostname, 'string');
      assert.equal(typeof stats.serverId, 'string');
      assert.ok(stats.clientsCount >= 1 && stats.pollingClientsCount >= 0, JSON.stringify(stats));
      assert.deepEqual(stats.namespaces.map((n) => n.name).sort(), ['/', '/admin', '/chat', '/events', '/notifications']);
      // Within two beats, this connection and its packets are counted.
      const later = await rec.waitUntil(() => {
        const all = rec.of('server_stats').flatMap((s) => s.aggregatedEvents);
        return all.some((e) => e.type === 'rawConnection') && all.some((e) => e.type === 'packetsOut') && all;
      }, 'aggregated events', 5_000);
      for (const e of later) {
        assert.equal(e.timestamp % 1000, 0, 'whole seconds');
        assert.ok(e.count > 0);
      }
    });

    it('sees a client connect, join, send, receive and leave', async (t) => {
      const { rec } = await admin(t, server);
      await rec.waitFor('config');
      const client = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const [connected, at] = await rec.waitUntil(
        () => rec.all.find(([e, s]) => e === 'socket_connected' && s.id === client.id)?.slice(1),
        'socket_connected',
      );
      assert.equal(connected.nsp, '/');
      assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const room = uniqueRoom('admin');
      client.emit('joinRoom', room);
      await rec.waitUntil(() => rec.all.some(([e, nsp, r, id]) => e === 'room_joined' && nsp === '/' && r === room && id === client.id), 'room_joined');
      await rec.waitUntil(() => rec.all.some(([e, nsp, id, args]) =>
        e === 'event_received' && nsp === '/' && id === client.id && args[0] === 'joinRoom' && args[1] === room), 'event_received');
      await rec.waitUntil(() => rec.all.some(([e, nsp, id, args]) =>
        e === 'event_sent' && id === client.id && args[0] === 'joinedRoom'), 'event_sent');
      client.emit('leaveRoom', room);
      await rec.waitUntil(() => rec.all.some(([e, , r, id]) => e === 'room_left' && r === room && id === client.id), 'room_left');
      const id = client.id;
      client.disconnect();
      const [, , reason] = await rec.waitUntil(
        () => rec.all.find(([e, nsp, sid]) => e === 'socket_disconnected' && nsp === '/' && sid === id)?.slice(1),
        'socket_disconnected',
      );
      assert.equal(reason, 'client namespace disconnect');
    });

    it('sees a long-polling client upgrade to websocket (socket_updated)', async (t) => {
      const { rec } = await admin(t, server);
      await rec.waitFor('config');
      const client = track(t, await connect(server.url, '/', { transports: ['polling', 'websocket'] }));
      const [update] = await rec.waitUntil(
        () => rec.all.find(([e, u]) => e === 'socket_updated' && u.id === client.id)?.slice(1),
        'socket_updated',
      );
      assert.deepEqual(update, { id: client.id, nsp: '/', transport: 'websocket' });
    });

    it('acts: emit, join, leave and disconnect, to one client or a room', async (t) => {
      const { socket } = await admin(t, server);
      const client = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const got = record(client);
      socket.emit('emit', '/', client.id, 'hello', 1, 'two');
      assert.deepEqual((await got.waitFor('hello')), [1]);
      assert.deepEqual(got.all.find(([e]) => e === 'hello'), ['hello', 1, 'two']);
      socket.emit('join', '/', 'made-by-admin', client.id);
      socket.emit('emit', '/', 'made-by-admin', 'to-room');
      await got.waitFor('to-room');
      socket.emit('leave', '/', 'made-by-admin', client.id);
      await sleep(100);
      socket.emit('emit', '/', 'made-by-admin', 'after-leaving');
      await sleep(300);
      assert.equal(got.of('after-leaving').length, 0);
      const gone = once(client, 'disconnect');
      socket.emit('_disconnect', '/', false, client.id);
      assert.equal(await gone, 'io server disconnect');
    });
  });

  describe('production mode, read-only', () => {
    let server;
    before(async () => {
      server = await startServer({ ...ADMIN, ADMIN_UI_READONLY: 'true' });
    });
    after(async () => { await server?.stop(); });

    it('figures only, and no action', async (t) => {
      const { socket, rec } = await admin(t, server);
      const [config] = await rec.waitFor('config');
      assert.deepEqual(config.supportedFeatures, ['AGGREGATED_EVENTS']);
      const client = track(t, await connect(server.url, '/', { transports: ['websocket'] }));
      const got = record(client);
      socket.emit('emit', '/', client.id, 'hello');
      await rec.waitFor('server_stats', 1, 3_000);
      await sleep(300);
      assert.equal(got.of('hello').length, 0, 'read-only');
      const names = new Set(rec.all.map(([e]) => e));
      for (const e of ['all_sockets', 'socket_connected', 'event_received']) assert.ok(!names.has(e), e);
    });
  });

  it('does not start without credentials unless told to', async () => {
    await assert.rejects(startServer({ ADMIN_UI: 'true' }), /admin_ui: needs admin_ui_username and admin_ui_password_hash/);
    const open = await startServer({ ADMIN_UI: 'true', ADMIN_UI_NO_AUTH: 'true' });
    try {
      const socket = openSocket(open.url, '/admin', { transports: ['websocket'] });
      await once(socket, 'config');
      socket.close();
    } finally {
      await open.stop();
    }
  });
});

// iogate's REST API beyond the guide's route: emit to a namespace, a room, a user, a client;
// join/leave for a user's clients; disconnect a user; count; rooms; validation; the OpenAPI
// document; and 503 for cluster-wide operations while Redis is down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  API_KEY, MODE, connect, emitWithAck, eventually, once, record, sleep, token, track, uniqueRoom,
} from '../helpers/server.mjs';
import { request, startIogate } from '../helpers/process.mjs';
import { startRedisNode } from '../helpers/redis.mjs';

const AUTH = { authorization: `Bearer ${API_KEY}` };
const QUIET_MS = 300;

const call = (server, method, route, body, headers = AUTH) => request(server.url, route, { method, body, headers });

/**
 * The `/api/` routes that need the API key and act on every node, each `[method, route, body]`;
 * those that emit send `event` (to `/notifications` for the namespace-wide one).
 */
const apiRoutes = (event) => [
  ['POST', '/api/emit?namespace=/notifications', { event }],
  ['POST', '/api/rooms/r/emit', { event }],
  ['POST', '/api/users/alice/emit?namespace=/events', { event }],
  ['POST', '/api/clients/x/emit', { event }],
  ['PUT', '/api/users/alice/rooms/r?namespace=/events'],
  ['DELETE', '/api/users/alice/rooms/r?namespace=/events'],
  ['POST', '/api/users/alice/disconnect?namespace=/events'],
  ['GET', '/api/clients/count'],
  ['GET', '/api/rooms'],
];

/** Asserts a NestJS-shaped error. */
function assertError(res, status, message) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.statusCode, status, res.text);
  assert.equal(typeof res.json?.error, 'string', res.text);
  if (message instanceof RegExp) assert.match(res.json.message, message);
  else if (message !== undefined) assert.equal(res.json.message, message);
}

/** The public id of `socket` on '/': join a fresh room and read `userJoined.userId` for it. */
async function publicId(socket) {
  const room = uniqueRoom('id');
  const joined = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no userJoined for ${room}`)), 5_000);
    const onJoined = (msg) => {
      if (msg?.room !== room) return;
      clearTimeout(timer);
      socket.off('userJoined', onJoined);
      resolve(msg.userId);
    };
    socket.on('userJoined', onJoined);
  });
  socket.emit('joinRoom', room);
  const id = await joined;
  socket.emit('leaveRoom', room);
  return id;
}

describe('REST API', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let server;
  before(async () => { server = await startIogate(); });
  after(async () => { await server?.stop(); });

  it('every route but /health, /ready and /openapi.json needs the API key', async () => {
    for (const [method, route, body] of apiRoutes('e')) {
      assertError(await call(server, method, route, body, {}), 401, 'A valid API key is required: Authorization: Bearer <key>');
      assertError(await call(server, method, route, body, { authorization: 'Bearer wrong-key-0123456789' }), 401);
    }
    for (const route of ['/health', '/ready', '/openapi.json']) {
      assert.equal((await call(server, 'GET', route, undefined, {})).status, 200, route);
    }
  });

  it('POST /api/emit reaches every client of the namespace (/ by default)', async (t) => {
    const a = track(t, await connect(server.url, '/notifications'));
    const b = track(t, await connect(server.url, '/notifications'));
    const root = track(t, await connect(server.url, '/'));
    const [ra, rb, rr] = [record(a), record(b), record(root)];
    let res = await call(server, 'POST', '/api/emit?namespace=/notifications', { event: 'news', data: { title: 'hi' } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json, { success: true });
    assert.deepEqual(await ra.waitFor('news'), [{ title: 'hi' }]);
    assert.deepEqual(await rb.waitFor('news'), [{ title: 'hi' }]);
    res = await call(server, 'POST', '/api/emit', { event: 'rootNews' });
    assert.equal(res.status, 201);
    assert.deepEqual(await rr.waitFor('rootNews'), [null], 'absent data arrives as null');
    await sleep(QUIET_MS);
    assert.deepEqual(rr.of('news'), []);
    assert.deepEqual(ra.of('rootNews'), []);
  });

  it('POST /api/rooms/{room}/emit reaches the room only, less `except`', async (t) => {
    const room = uniqueRoom();
    const [a, b, c] = [0, 1, 2].map(async () => track(t, await connect(server.url, '/')));
    const [sa, sb, sc] = await Promise.all([a, b, c]);
    const [ra, rb, rc] = [record(sa), record(sb), record(sc)];
    for (const s of [sa, sb]) {
      s.emit('joinRoom', room);
      await once(s, 'joinedRoom');
    }
    const idA = await publicId(sa);
    let res = await call(server, 'POST', `/api/rooms/${room}/emit?namespace=/`, { event: 'roomNews', data: 1 });
    assert.equal(res.status, 201, res.text);
    await ra.waitFor('roomNews');
    await rb.waitFor('roomNews');
    res = await call(server, 'POST', `/api/rooms/${room}/emit`, { event: 'roomNews', data: 2, except: { clients: [idA] } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await rb.waitFor('roomNews', 2), [1, 2]);
    await sleep(QUIET_MS);
    assert.deepEqual(ra.of('roomNews'), [1]);
    assert.deepEqual(rc.of('roomNews'), []);
  });

  it('POST /api/users/{user}/emit reaches every client of the user; /api/clients/{id}/emit one client', async (t) => {
    const alice = token(server.secret, { sub: 'alice' });
    const bob = token(server.secret, { sub: 'bob' });
    const a1 = track(t, await connect(server.url, '/events', { auth: { token: alice } }));
    const a2 = track(t, await connect(server.url, '/events', { auth: { token: alice } }));
    const b1 = track(t, await connect(server.url, '/events', { auth: { token: bob } }));
    const [r1, r2, rb] = [record(a1), record(a2), record(b1)];
    let res = await call(server, 'POST', '/api/users/alice/emit?namespace=/events', { event: 'notice', data: 'for alice' });
    assert.equal(res.status, 201, res.text);
    await r1.waitFor('notice');
    await r2.waitFor('notice');
    await sleep(QUIET_MS);
    assert.deepEqual(rb.of('notice'), []);

    const root1 = track(t, await connect(server.url, '/'));
    const root2 = track(t, await connect(server.url, '/'));
    const [q1, q2] = [record(root1), record(root2)];
    const id = await publicId(root1);
    res = await call(server, 'POST', `/api/clients/${encodeURIComponent(id)}/emit`, { event: 'direct', data: { n: 1 } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await q1.waitFor('direct'), [{ n: 1 }]);
    await sleep(QUIET_MS);
    assert.deepEqual(q2.of('direct'), []);
  });

  it('PUT and DELETE /api/users/{user}/rooms/{room} make the user\'s clients join and leave', async (t) => {
    const room = uniqueRoom('vip');
    const alice = token(server.secret, { sub: 'carol' });
    const c1 = track(t, await connect(server.url, '/events', { auth: { token: alice } }));
    const c2 = track(t, await connect(server.url, '/events', { auth: { token: alice } }));
    const [r1, r2] = [record(c1), record(c2)];
    let res = await call(server, 'PUT', `/api/users/carol/rooms/${room}?namespace=/events`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { success: true });

    res = await call(server, 'GET', '/api/rooms?namespace=/events');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.namespace, '/events');
    assert.ok(res.json.rooms.includes(room), res.text);
    assert.ok(res.json.rooms.every((r) => !r.startsWith('$')), `iogate's own rooms are hidden: ${res.text}`);

    res = await call(server, 'GET', `/api/clients/count?namespace=/events&room=${room}`);
    assert.deepEqual(res.json, { namespace: '/events', count: 2 });

    await call(server, 'POST', `/api/rooms/${room}/emit?namespace=/events`, { event: 'vip', data: 'in' });
    await r1.waitFor('vip');
    await r2.waitFor('vip');

    res = await call(server, 'DELETE', `/api/users/carol/rooms/${room}?namespace=/events`);
    assert.equal(res.status, 200, res.text);
    await call(server, 'POST', `/api/rooms/${room}/emit?namespace=/events`, { event: 'vip', data: 'out' });
    await sleep(QUIET_MS);
    assert.deepEqual(r1.of('vip'), ['in']);
    assert.deepEqual(r2.of('vip'), ['in']);
    res = await call(server, 'GET', '/api/rooms?namespace=/events');
    assert.ok(!res.json.rooms.includes(room), res.text);
  });

  it('GET /api/clients/count counts a namespace, a user; POST /api/users/{user}/disconnect disconnects them', async (t) => {
    const dave = token(server.secret, { sub: 'dave' });
    const erin = token(server.secret, { sub: 'erin' });
    const d1 = track(t, await connect(server.url, '/events', { auth: { token: dave } }));
    const d2 = track(t, await connect(server.url, '/events', { auth: { token: dave } }));
    const e1 = track(t, await connect(server.url, '/events', { auth: { token: erin } }));
    let res = await call(server, 'GET', '/api/clients/count?namespace=/events&user=dave');
    assert.deepEqual(res.json, { namespace: '/events', count: 2 });
    res = await call(server, 'GET', '/api/clients/count?namespace=/events');
    assert.ok(res.json.count >= 3, res.text);
    const before = res.json.count;

    const gone = [once(d1, 'disconnect'), once(d2, 'disconnect')];
    res = await call(server, 'POST', '/api/users/dave/disconnect?namespace=/events');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
    assert.equal(await emitWithAck(e1, 'message', 'still here'), 'Message received');
    res = await call(server, 'GET', '/api/clients/count?namespace=/events&user=dave');
    assert.equal(res.json.count, 0);
    res = await call(server, 'GET', '/api/clients/count?namespace=/events');
    assert.equal(res.json.count, before - 2);
  });

  it('refuses invalid requests with 400 and says why', async () => {
    const cases = [
      ['POST', '/api/emit', { event: 'connect' }, 'event: "connect" is reserved by socket.io'],
      ['POST', '/api/emit', { event: 'disconnect' }, 'event: "disconnect" is reserved by socket.io'],
      ['POST', '/api/emit', { event: 'connect_error' }, 'event: "connect_error" is reserved by socket.io'],
      ['POST', '/api/emit', { event: '' }, 'event must not be empty'],
      ['POST', '/api/emit', { event: 'e'.repeat(300) }, /event must be at most 256 bytes long/],
      ['POST', '/api/emit', { data: 1 }, /missing field `event`/],
      ['POST', '/api/emit', { event: 'e', dta: 1 }, /unknown field `dta`/],
      ['POST', '/api/emit', '{"event": ', /./],
      ['POST', '/api/emit', { event: 'e', except: { rooms: ['$user:alice'] } }, 'except.rooms: "$user:alice": rooms starting with \'$\' are iogate\'s own'],
      ['POST', '/api/rooms/$client:abc/emit', { event: 'e' }, 'room: "$client:abc": rooms starting with \'$\' are iogate\'s own'],
      ['POST', '/api/rooms/%24user%3Aalice/emit', { event: 'e' }, 'room: "$user:alice": rooms starting with \'$\' are iogate\'s own'],
      ['PUT', '/api/users/alice/rooms/$secret', undefined, /rooms starting with '\$' are iogate's own/],
      ['POST', '/api/emit?namespace=events', { event: 'e' }, 'namespace: "events" must start with \'/\' (e.g. "/events")'],
      ['GET', '/api/clients/count?room=a&user=b', undefined, 'give room or user, not both'],
      ['GET', '/api/clients/count?rooom=a', undefined, /unknown field `rooom`/],
    ];
    for (const [method, route, body, message] of cases) {
      assertError(await call(server, method, route, body), 400, message);
    }
  });

  it('an unknown namespace is 404', async () => {
    assertError(await call(server, 'POST', '/api/emit?namespace=/nope', { event: 'e' }), 404, 'no gateway serves the namespace /nope');
    assertError(await call(server, 'GET', '/api/rooms?namespace=/nope'), 404);
    assertError(await call(server, 'GET', '/api/clients/count?namespace=/nope'), 404);
  });

  it('the guide\'s POST /notifications/send is unchanged', async (t) => {
    const socket = track(t, await connect(server.url, '/events', { auth: { token: token(server.secret, { sub: 'frank' }) } }));
    const got = once(socket, 'notification');
    const res = await call(server, 'POST', '/notifications/send', { userId: 'frank', message: 'hello' });
    assert.equal(res.status, 201);
    assert.deepEqual(res.json, { success: true });
    assert.equal(await got, 'hello');
  });

  it('GET /openapi.json describes every route, with the API key scheme', async () => {
    const res = await call(server, 'GET', '/openapi.json', undefined, {});
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const doc = res.json;
    assert.match(doc.openapi, /^3\./);
    for (const [path, method] of [
      ['/notifications/send', 'post'], ['/api/emit', 'post'], ['/api/rooms/{room}/emit', 'post'],
      ['/api/users/{user}/emit', 'post'], ['/api/clients/{client}/emit', 'post'],
      ['/api/users/{user}/rooms/{room}', 'put'], ['/api/users/{user}/rooms/{room}', 'delete'],
      ['/api/users/{user}/disconnect', 'post'], ['/api/clients/count', 'get'], ['/api/rooms', 'get'],
      ['/health', 'get'], ['/ready', 'get'], ['/metrics', 'get'], ['/openapi.json', 'get'],
    ]) {
      assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is not documented`);
    }
    assert.equal(doc.components.securitySchemes.api_key.scheme, 'bearer');
    assert.deepEqual(doc.security, [{ api_key: [] }]);
    const emit = doc.paths['/api/emit'].post;
    assert.ok(emit.parameters.some((p) => p.name === 'namespace' && p.in === 'query'));
    assert.ok(emit.responses['400'] && emit.responses['401'] && emit.responses['503']);
  });
});

describe('REST API while Redis is down', { skip: MODE === 'reference' && 'iogate only' }, () => {
  let redis;
  let server;
  before(async () => { ({ redis, server } = await startRedisNode()); });
  after(async () => { await server?.stop(); await redis?.stop(); });
  const ready = (status) => async () => (await call(server, 'GET', '/ready', undefined, {})).status === status;

  it('cluster-wide operations answer 503 at once, and work again once Redis is back', async (t) => {
    const socket = track(t, await connect(server.url, '/notifications'));
    const rec = record(socket);
    assert.equal((await call(server, 'POST', '/api/emit?namespace=/notifications', { event: 'up' })).status, 201);
    await rec.waitFor('up');

    await redis.stop();
    await eventually('/ready turning 503 after Redis stopped', ready(503), 5_000);
    for (const [method, route, body] of apiRoutes('down')) {
      const t0 = Date.now();
      const res = await call(server, method, route, body);
      assertError(res, 503);
      assert.ok(Date.now() - t0 < 3_000, `${method} ${route} took ${Date.now() - t0} ms`);
    }
    // The node's own clients still got the namespace-wide emit.
    await rec.waitFor('down');

    await redis.restart();
    await eventually('/ready recovering after Redis restarted', ready(200), 10_000);
    assert.equal((await call(server, 'GET', '/api/rooms')).status, 200);
  });
});

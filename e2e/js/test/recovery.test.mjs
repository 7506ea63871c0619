// Connection state recovery, as socket.io-client 4.8 sees it: a client whose transport drops
// and that comes back within the window keeps its id and rooms, gets every room, namespace and
// direct message it missed, in order, before new ones, and sees `socket.recovered === true`.
// A client that left, was disconnected by the server, came back too late or names a session it
// never had connects as a new client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  API_KEY, OFFSET, TRANSPORTS, connect, once, postJson, record, sleep, startServer,
  token, track, uniqueRoom,
} from '../helpers/server.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** Drops the socket's transport as socket.io's guide simulates a flaky network (the server
 *  sees `transport close`; the client says `forced close`), and waits until it is down. */
async function dropTransport(socket) {
  const gone = once(socket, 'disconnect');
  socket.io.engine.close();
  assert.equal(await gone, 'forced close');
}

/** Connects `socket` again (the client sends its pid and last offset) and waits for it. */
async function reconnect(socket) {
  const back = once(socket, 'connect');
  socket.connect();
  await back;
}

const emitTo = (path, body, ns = '/', target = server) =>
  postJson(target.url, `${path}?namespace=${encodeURIComponent(ns)}`, body, { authorization: `Bearer ${API_KEY}` });

/** Sends `socket` a direct event through the REST API and waits for it, so that the client
 *  holds an offset to come back with (a client that read nothing has none, and socket.io does
 *  not recover it either). */
async function readOne(socket, ns = '/', target = server) {
  const got = once(socket, 'hello');
  assert.equal((await emitTo(`/api/clients/${socket.id}/emit`, { event: 'hello', data: 1 }, ns, target)).status, 201);
  await got;
  assert.match(socket._lastOffset, OFFSET);
}

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  describe(`connection state recovery over ${name}`, () => {
    it('CONNECT carries a pid and every event without an ack ends with an offset', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports }));
      assert.equal(typeof socket._pid, 'string');
      const room = uniqueRoom('offset');
      const raw = new Promise((resolve) => socket.once('joinedRoom', (...args) => resolve(args)));
      socket.emit('joinRoom', room);
      const [joined, offset] = await raw;
      assert.equal(joined, room);
      assert.match(offset, OFFSET);
      // An acknowledgement carries none.
      assert.deepEqual(await socket.timeout(5000).emitWithAck('events', { a: 1 }), { a: 1 });
    });

    it('a dropped transport keeps its id and rooms and gets what it missed, in order, before new events', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports }));
      const other = track(t, await connect(server.url, '/', { transports }));
      const rec = record(socket);
      const room = uniqueRoom('recover');
      socket.emit('joinRoom', room);
      await rec.waitFor('joinedRoom');
      const id = socket.id;

      await dropTransport(socket);
      // Missed while away: a room message, a namespace-wide emit and a direct one, interleaved.
      for (let i = 0; i < 3; i += 1) {
        other.emit('messageToRoom', { room, message: `room-${i}` });
        assert.equal((await emitTo('/api/emit', { event: 'news', data: { n: i } })).status, 201);
        assert.equal((await emitTo(`/api/clients/${id}/emit`, { event: 'direct', data: i })).status, 201);
      }
      // Let the room messages reach the server before the client comes back.
      await sleep(200);
      const before = rec.all.length;
      await reconnect(socket);
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id, 'the same id');

      other.emit('messageToRoom', { room, message: 'after' });
      await rec.waitUntil(() => rec.of('message').some((m) => m.message === 'after'), "'after'");
      const got = rec.all.slice(before).filter(([e]) => e !== 'userJoined')
        .map(([event, arg]) => (event === 'message' ? arg.message : event === 'news' ? `news-${arg.n}` : `direct-${arg}`));
      const missed = got.slice(0, -1);
      // Each stream in the order sent, all before the new message.
      assert.deepEqual(missed.filter((m) => m.startsWith('room')), ['room-0', 'room-1', 'room-2']);
      assert.deepEqual(missed.filter((m) => m.startsWith('news')), ['news-0', 'news-1', 'news-2']);
      assert.deepEqual(missed.filter((m) => m.startsWith('direct')), ['direct-0', 'direct-1', 'direct-2']);
      assert.equal(missed.length, 9, JSON.stringify(got));
      assert.equal(got.at(-1), 'after');

      // Still in its room: a new room message reaches it once, as before.
      const count = rec.of('message').length;
      other.emit('messageToRoom', { room, message: 'again' });
      await rec.waitFor('message', count + 1);
      await sleep(200);
      assert.equal(rec.of('message').length, count + 1);
    });

    it('recovers twice in a row and replays nothing it already read', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports }));
      const rec = record(socket);
      const id = socket.id;
      for (let round = 0; round < 2; round += 1) {
        await emitTo(`/api/clients/${id}/emit`, { event: 'direct', data: `read-${round}` });
        await rec.waitUntil(() => rec.of('direct').includes(`read-${round}`), `read-${round}`);
        await dropTransport(socket);
        await emitTo(`/api/clients/${id}/emit`, { event: 'direct', data: `missed-${round}` });
        await reconnect(socket);
        assert.equal(socket.recovered, true);
        await rec.waitUntil(() => rec.of('direct').includes(`missed-${round}`), `missed-${round}`);
      }
      await sleep(200);
      assert.deepEqual(rec.of('direct'), ['read-0', 'missed-0', 'read-1', 'missed-1']);
    });

    it('a client that left on purpose comes back as a new client', async (t) => {
      const socket = track(t, await connect(server.url, '/', { transports }));
      await readOne(socket);
      const id = socket.id;
      socket.disconnect();
      await reconnect(socket);
      assert.equal(socket.recovered, false);
      assert.notEqual(socket.id, id);
    });

    it('a client the server disconnected comes back as a new client', async (t) => {
      const user = `kicked-${uniqueRoom()}`;
      const auth = { token: token(server.secret, { sub: user }) };
      const socket = track(t, await connect(server.url, '/chat', { transports, auth }));
      await readOne(socket, '/chat');
      const id = socket.id;
      const gone = once(socket, 'disconnect');
      const res = await postJson(server.url, `/api/users/${user}/disconnect?namespace=/chat`, {}, { authorization: `Bearer ${API_KEY}` });
      assert.equal(res.status, 200, res.text);
      assert.equal(await gone, 'io server disconnect');
      await reconnect(socket);
      assert.equal(socket.recovered, false);
      assert.notEqual(socket.id, id);
    });

    it('a pid it never had, or an offset from elsewhere, gets a new session', async (t) => {
      const bogus = track(t, await connect(server.url, '/', { transports, auth: { pid: 'not-a-session', offset: '1-1' } }));
      assert.equal(bogus.recovered, false);
      assert.equal(typeof bogus._pid, 'string');
      assert.notEqual(bogus._pid, 'not-a-session');

      // A real session's pid, offered on another namespace, is refused, and used up.
      const socket = track(t, await connect(server.url, '/', { transports }));
      socket.emit('joinRoom', uniqueRoom());
      await once(socket, 'joinedRoom');
      const pid = socket._pid;
      const offset = socket._lastOffset;
      await dropTransport(socket);
      const thief = track(t, await connect(server.url, '/chat', {
        transports, auth: { pid, offset, token: token(server.secret) },
      }));
      assert.equal(thief.recovered, false);
      await reconnect(socket);
      assert.equal(socket.recovered, false, 'a wrong guess costs the session');
    });

    it('/chat: a recovered client keeps its user without a new handshake check', async (t) => {
      const auth = { token: token(server.secret, { sub: 'carol' }) };
      const socket = track(t, await connect(server.url, '/chat', { transports, auth }));
      const rec = record(socket);
      const room = uniqueRoom('chat');
      socket.emit('joinRoom', room);
      await rec.waitFor('joinedRoom');
      await dropTransport(socket);
      await reconnect(socket);
      assert.equal(socket.recovered, true);
      socket.emit('messageToRoom', { room, message: 'still me' });
      const [msg] = await rec.waitFor('message');
      assert.equal(msg.user, 'carol');
    });
  });
}

describe('connection state recovery: the window and the token', () => {
  let short;
  before(async () => { short = await startServer({ MAX_DISCONNECTION_DURATION: '1' }); });
  after(async () => { await short?.stop(); });

  it('a client that comes back after the window gets a new session', async (t) => {
    const socket = track(t, await connect(short.url, '/', { transports: ['websocket'] }));
    await readOne(socket, '/', short);
    const id = socket.id;
    await dropTransport(socket);
    await sleep(2_500);
    await reconnect(socket);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, id);
  });
});

describe('connection state recovery: a token that expired meanwhile is checked again', () => {
  // Three /events clients whose tokens expire in 2 s, dropped together and back once the
  // tokens expired: one wait for the three cases.
  const away = {};
  before(async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    await Promise.all(['dave', 'erin', 'frank'].map(async (sub) => {
      const socket = await connect(server.url, '/events', {
        transports: ['websocket'],
        auth: { token: token(server.secret, { sub, exp }) },
      });
      await readOne(socket, '/events');
      const id = socket.id;
      await dropTransport(socket);
      away[sub] = { socket, id };
    }));
    // Past `exp`: a token is still valid in the second of its `exp`.
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 1_200);
  });
  after(() => { for (const { socket } of Object.values(away)) socket.close(); });

  it('with the expired token: refused as a new client would be', async () => {
    const { socket } = away.dave;
    const refused = once(socket, 'connect_error');
    socket.connect();
    assert.match((await refused).message, /^Unauthorized: token expired/);
  });

  it('with a fresh token for the same user: its session back', async () => {
    const { socket, id } = away.erin;
    socket.auth = { token: token(server.secret, { sub: 'erin' }) };
    await reconnect(socket);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, id);
  });

  it("with another user's token: refused", async () => {
    const { socket } = away.frank;
    socket.auth = { token: token(server.secret, { sub: 'mallory' }) };
    const refused = once(socket, 'connect_error');
    socket.connect();
    assert.match((await refused).message, /^Unauthorized/);
  });
});

describe('connection state recovery: off', () => {
  let off;
  before(async () => { off = await startServer({ CONNECTION_STATE_RECOVERY: 'false' }); });
  after(async () => { await off?.stop(); });

  it('no pid, no offsets, no recovery', async (t) => {
    const socket = track(t, await connect(off.url, '/', { transports: ['websocket'] }));
    assert.equal(socket._pid, undefined);
    await emitTo(`/api/clients/${socket.id}/emit`, { event: 'hello', data: 1 }, '/', off);
    const raw = new Promise((resolve) => socket.once('joinedRoom', (...args) => resolve(args)));
    socket.emit('joinRoom', 'r');
    assert.deepEqual(await raw, ['r']);
    const id = socket.id;
    await dropTransport(socket);
    await reconnect(socket);
    assert.ok(!socket.recovered);
    assert.notEqual(socket.id, id);
  });
});

// The demo chat page (`GET /demo`, served by iogate with DEMO=true) in Chromium: two people in
// two browser contexts join a room and talk, and notifications sent through the REST API reach
// the right one. The socket.io client bundle comes from the npm package, copied into a static
// folder that iogate serves (STATIC_DIR), as docs/operations.md tells a person to do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startIogate } from '../../js/helpers/process.mjs';
import {
  WAIT, artifact, join, launch, newPage, say, seen, startWithBundle, texts,
} from '../helpers/browser.mjs';

describe('the demo chat page in Chromium', () => {
  let server;
  let browser;
  let served;
  before(async () => {
    served = await startWithBundle({ DEMO: 'true' });
    ({ server, browser } = served);
  });
  after(async () => { await served?.stop(); });

  it('two users talk in a room, and REST notifications reach the right one', async () => {
    const room = `lobby-${Date.now() % 100000}`;
    const alice = await newPage(browser);
    const bob = await newPage(browser);
    for (const page of [alice, bob]) page.on('dialog', () => page.problems.push('a dialog opened'));
    await join(alice, `${server.url}/demo`, 'alice', room);
    await join(bob, `${server.url}/demo`, 'bob', room);

    await say(alice, 'hello bob');
    await seen(bob, 'messages', 'alice: hello bob');
    await seen(alice, 'messages', 'alice: hello bob');
    await say(bob, 'hi alice!');
    await seen(alice, 'messages', 'bob: hi alice!');
    // Markup from another user is shown as text, never run.
    await say(alice, '<img src=x onerror=alert(1)>');
    await seen(bob, 'messages', 'alice: <img src=x onerror=alert(1)>');
    assert.equal(await bob.locator('#messages img').count(), 0);

    // The guide's route: a notification for bob's /events clients.
    const auth = { authorization: `Bearer ${server.apiKey}` };
    let res = await request(server.url, '/notifications/send', {
      method: 'POST', headers: auth, body: { userId: 'bob', message: 'Your order has shipped' },
    });
    assert.equal(res.status, 201, res.text);
    await seen(bob, 'notifications', 'Your order has shipped');
    // iogate's own route: an event to the room, as if a user had sent it.
    res = await request(server.url, `/api/rooms/${room}/emit?namespace=/chat`, {
      method: 'POST', headers: auth, body: { event: 'message', data: { user: 'ops', message: 'maintenance at 22:00' } },
    });
    assert.equal(res.status, 201, res.text);
    await seen(alice, 'messages', 'ops: maintenance at 22:00');
    await seen(bob, 'messages', 'ops: maintenance at 22:00');
    res = await request(server.url, '/api/users/alice/emit?namespace=/events', {
      method: 'POST', headers: auth, body: { event: 'notification', data: 'Welcome back, alice' },
    });
    assert.equal(res.status, 201, res.text);
    await seen(alice, 'notifications', 'Welcome back, alice');

    await alice.screenshot({ path: artifact('chat-page-alice.png') });
    await bob.screenshot({ path: artifact('chat-page-bob.png') });
    assert.deepEqual(await texts(alice, 'notifications'), ['Welcome back, alice']);
    assert.deepEqual(await texts(bob, 'notifications'), ['Your order has shipped']);
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
    const res2 = await request(server.url, '/demo');
    assert.match(res2.headers.get('content-security-policy'), /script-src 'self'/);
  });

  it('a blank name gets no token', async () => {
    const res = await request(server.url, '/demo/token', { method: 'POST', body: { user: '   ' } });
    assert.equal(res.status, 400);
    assert.equal(res.json.message, 'user must be 1 to 64 printable characters');
  });
});

describe('the demo, off by default', () => {
  it('serves no page and no tokens without DEMO', async () => {
    const server = await startIogate();
    try {
      assert.equal((await request(server.url, '/demo')).status, 404);
      assert.equal((await request(server.url, '/demo/token', { method: 'POST', body: { user: 'mallory' } })).status, 404);
    } finally {
      await server.stop();
    }
  });

  it('the page says what is missing when the socket.io client bundle is not served', async () => {
    const server = await startIogate({ DEMO: 'true' });
    const browser = await launch();
    try {
      const page = await newPage(browser);
      await page.goto(`${server.url}/demo`);
      await page.locator('#error', { hasText: 'socket.io.min.js' }).waitFor(WAIT);
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});

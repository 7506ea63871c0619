// The React example (examples/react-chat: the guide's useSocket hook), built with Vite and
// served by iogate from its static folder, in Chromium: two people talk in a room, and a REST
// notification reaches one of them.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { request, startIogate } from '../../js/helpers/process.mjs';
import { artifact, join, launch, newPage, say, seen } from '../helpers/browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD = path.resolve(HERE, '../../../examples/react-chat/dist');

describe('the React example in Chromium', () => {
  let server;
  let browser;
  before(async () => {
    assert.ok(existsSync(path.join(BUILD, 'index.html')),
      `no build at ${BUILD}: run \`npm ci && npm run build\` in examples/react-chat (scripts/test does)`);
    server = await startIogate({ DEMO: 'true', STATIC_DIR: BUILD });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('two users talk through useSocket, and a REST notification reaches one', async () => {
    const room = `react-${Date.now() % 100000}`;
    const alice = await newPage(browser);
    const bob = await newPage(browser);
    await join(alice, `${server.url}/`, 'alice', room);
    await join(bob, `${server.url}/`, 'bob', room);

    await say(alice, 'hello from React');
    await seen(bob, 'messages', 'alice: hello from React');
    await say(bob, 'hooks work');
    await seen(alice, 'messages', 'bob: hooks work');

    const res = await request(server.url, '/notifications/send', {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}` },
      body: { userId: 'alice', message: { title: 'Deploy finished', ok: true } },
    });
    assert.equal(res.status, 201, res.text);
    await seen(alice, 'notifications', '{"title":"Deploy finished","ok":true}');

    await alice.screenshot({ path: artifact('react-chat-alice.png') });
    await bob.screenshot({ path: artifact('react-chat-bob.png') });
    assert.equal(await bob.locator('#notifications li').count(), 0);
    // The hook asked for the websocket transport only.
    const upgrades = await alice.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => e.name.includes('/socket.io/') && e.name.includes('transport=polling')).length);
    assert.equal(upgrades, 0, 'useSocket polled although it asks for websocket only');
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  });
});

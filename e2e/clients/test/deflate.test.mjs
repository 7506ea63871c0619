// permessage-deflate with Chromium's own WebSocket: iogate started with PER_MESSAGE_DEFLATE=true,
// a page loading the socket.io client bundle from iogate (STATIC_DIR) round-trips a 64 KiB
// message through '/' 'events', and the handshake (seen through the DevTools protocol) shows
// Chromium's offer and iogate's answer.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startIogate } from '../../js/helpers/process.mjs';
import { launch, newPage } from '../helpers/browser.mjs';

const require = createRequire(import.meta.url);
const BUNDLE = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js');

describe('permessage-deflate in Chromium', () => {
  let staticDir;
  let server;
  let browser;
  before(async () => {
    staticDir = mkdtempSync(path.join(tmpdir(), 'iogate-static-'));
    copyFileSync(BUNDLE, path.join(staticDir, 'socket.io.min.js'));
    // The icon link keeps Chromium from asking for a favicon iogate does not serve.
    writeFileSync(path.join(staticDir, 'index.html'),
      '<!doctype html><link rel="icon" href="data:,"><script src="/socket.io.min.js"></script>');
    server = await startIogate({ PER_MESSAGE_DEFLATE: 'true', STATIC_DIR: staticDir });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(staticDir, { recursive: true, force: true });
  });

  it('is negotiated and a 64 KiB message round-trips', async () => {
    const page = await newPage(browser);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const handshakes = [];
    cdp.on('Network.webSocketWillSendHandshakeRequest', ({ request }) => handshakes.push({ request }));
    cdp.on('Network.webSocketHandshakeResponseReceived', ({ response }) => handshakes.push({ response }));
    await page.goto(`${server.url}/index.html`);

    const result = await page.evaluate(async () => {
      const big = Array.from({ length: 1500 }, (_, i) => ({ id: i, name: `user-${i}`, online: i % 3 === 0 }));
      // eslint-disable-next-line no-undef
      const socket = io({ transports: ['websocket'], reconnection: false });
      try {
        await new Promise((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        const echoed = await socket.timeout(5000).emitWithAck('events', big);
        return { same: JSON.stringify(echoed) === JSON.stringify(big), bytes: JSON.stringify(big).length };
      } finally {
        socket.close();
      }
    });
    assert.ok(result.same, 'the ack carries the message back');
    assert.ok(result.bytes > 60_000);

    const header = (h, name) => Object.entries(h.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
    const offered = handshakes.find((h) => h.request)?.request;
    const answered = handshakes.find((h) => h.response)?.response;
    assert.ok(offered && answered, `handshake seen: ${JSON.stringify(handshakes)}`);
    assert.match(header(offered, 'sec-websocket-extensions'), /permessage-deflate/);
    assert.equal(
      header(answered, 'sec-websocket-extensions'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
    assert.deepEqual(page.problems, []);
  });
});

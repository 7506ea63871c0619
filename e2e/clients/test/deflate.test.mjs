// permessage-deflate with Chromium's own WebSocket: iogate started with PER_MESSAGE_DEFLATE=true,
// a page loading the socket.io client bundle from iogate (STATIC_DIR) round-trips a 64 KiB
// message through '/' 'events', and the handshake (seen through the DevTools protocol) shows
// Chromium's offer and iogate's answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newPage, startWithBundle } from '../helpers/browser.mjs';

describe('permessage-deflate in Chromium', () => {
  let server;
  let browser;
  let served;
  before(async () => {
    // The icon link keeps Chromium from asking for a favicon iogate does not serve.
    served = await startWithBundle({ PER_MESSAGE_DEFLATE: 'true' }, {
      'index.html': '<!doctype html><link rel="icon" href="data:,"><script src="/socket.io.min.js"></script>',
    });
    ({ server, browser } = served);
  });
  after(async () => { await served?.stop(); });

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

// socket.io's Admin UI (the `ui/dist` of the npm package `@socket.io/admin-ui`, served by
// iogate from STATIC_DIR) in Chromium: it logs in to iogate's `/admin` with a password, and its
// dashboard and sockets page show the server's clients. Screenshots are kept in artifacts/.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { io } from 'socket.io-client';
import { startIogate } from '../../js/helpers/process.mjs';
import { artifact, launch, newPage } from '../helpers/browser.mjs';

const require = createRequire(import.meta.url);
const UI = path.join(path.dirname(require.resolve('@socket.io/admin-ui/package.json')), 'ui/dist');
const WAIT = { timeout: 10_000 };
// bcryptjs.hashSync('s3cret-admin', 4), as the UI's own server side would take it.
const HASH = '$2a$04$xPdVlCyNZZPr512Tl0S8A.Zb3ivikA/SMYCNcEMtevPs6Au5GS8F2';

describe('the Admin UI in Chromium', () => {
  let server;
  let browser;
  const clients = [];
  before(async () => {
    server = await startIogate({
      ADMIN_UI: 'true',
      ADMIN_UI_USERNAME: 'admin',
      ADMIN_UI_PASSWORD_HASH: HASH,
      ADMIN_UI_MODE: 'development',
      STATIC_DIR: UI,
    });
    browser = await launch();
  });
  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    await server?.stop();
  });

  it('logs in, and the dashboard and the sockets page show the clients', async () => {
    for (let i = 0; i < 2; i += 1) {
      const c = io(`${server.url}/`, { transports: ['websocket'], forceNew: true, reconnection: false });
      await new Promise((resolve, reject) => { c.once('connect', resolve); c.once('connect_error', reject); });
      clients.push(c);
    }
    clients[0].emit('joinRoom', 'lobby');

    const page = await newPage(browser);
    await page.goto(`${server.url}/`);
    await page.getByLabel('Server URL').fill(server.url);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('s3cret-admin');
    await page.getByRole('button', { name: 'Connect' }).click();
    // The status chip (its text is upper-cased by CSS).
    await page.waitForFunction(() => /Status:\s*CONNECTED/.test(document.body.innerText), null, WAIT);

    // The namespaces table: two sockets on `/`, one (the UI's) on `/admin`.
    const row = (name) => page.locator('tr', { has: page.locator('code', { hasText: new RegExp(`^${name}$`) }) });
    await row('/').getByText('2', { exact: true }).waitFor(WAIT);
    await row('/admin').getByText('1', { exact: true }).waitFor(WAIT);
    // Three WebSocket clients: the two, and the UI itself.
    await page.locator('tr', { hasText: 'WebSocket' }).getByText('3', { exact: true }).waitFor(WAIT);
    await page.screenshot({ path: artifact('admin-ui-dashboard.png'), fullPage: true });

    await page.goto(`${server.url}/#/sockets`);
    for (const c of clients) await page.getByText(c.id).waitFor(WAIT);
    assert.ok((await page.getByText('127.0.0.1').count()) >= 2, 'each socket with its address');
    await page.screenshot({ path: artifact('admin-ui-sockets.png'), fullPage: true });

    // Nothing failed in the page but the web fonts it cannot fetch without a network.
    const problems = page.problems.filter((p) => !p.includes('ERR_NAME_NOT_RESOLVED'));
    assert.deepEqual(problems, []);
  });
});

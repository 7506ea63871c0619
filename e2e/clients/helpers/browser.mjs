// Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
// here), one browser per suite, the folder where suites keep their screenshots, and the steps
// of the chat that the demo page and the React example both show.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startIogate } from '../../js/helpers/process.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where screenshots go (gitignored). */
export const ARTIFACTS = path.resolve(HERE, '../artifacts');

const require = createRequire(import.meta.url);
/** socket.io-client's browser bundle (its `exports` hide dist/, so found from package.json). */
const BUNDLE = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js');

/** The browser: CHROMIUM, or Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The path of an artifact named `name`, its folder made. */
export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/**
 * Launches headless Chromium without background networking (the machine has no network beyond
 * loopback). Playwright gives it a fresh temporary profile (--user-data-dir) and removes it on
 * close. Each user of a suite gets a context of its own (`browser.newContext()`): its own
 * cookies and storage, as another person's browser would have.
 */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A page of its own context, with the page's console errors and uncaught exceptions kept in
 *  `page.problems` for the test to assert on. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 620 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') page.problems.push(`console: ${msg.text()}`); });
  return page;
}

/**
 * iogate with `env`, serving a temporary static folder (STATIC_DIR) that holds the socket.io
 * client bundle from the npm package (as docs/operations.md tells a person to do) and `files`
 * (`{ name: content }`), and Chromium: `{ server, browser, stop }`.
 */
export async function startWithBundle(env = {}, files = {}) {
  const staticDir = mkdtempSync(path.join(tmpdir(), 'iogate-static-'));
  copyFileSync(BUNDLE, path.join(staticDir, 'socket.io.min.js'));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(staticDir, name), content);
  const server = await startIogate({ ...env, STATIC_DIR: staticDir });
  const browser = await launch();
  return {
    server,
    browser,
    async stop() {
      await browser.close();
      await server.stop();
      rmSync(staticDir, { recursive: true, force: true });
    },
  };
}

// The chat both the demo page (`/demo`) and the React example show, with the same elements:
// a login form (#user, #room), #status, the lists #messages and #notifications, and #text.

/** How long a page may take to show what a step expects. */
export const WAIT = { timeout: 5_000 };

/** Opens the chat at `pageUrl`, joins `room` as `user`; resolves once the page shows the room. */
export async function join(page, pageUrl, user, room) {
  await page.goto(pageUrl);
  await page.fill('#user', user);
  await page.fill('#room', room);
  await page.click('#login button[type=submit]');
  await page.locator('#status', { hasText: `connected as ${user}` }).waitFor(WAIT);
  await page.locator('#messages li', { hasText: `you joined #${room}` }).waitFor(WAIT);
}

/** Sends `text` to the room. */
export async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Resolves once the list `list` (`messages`, `notifications`) shows an item with `text`. */
export const seen = (page, list, text) => page.locator(`#${list} li`, { hasText: text }).waitFor(WAIT);

/** The texts of the list `list`'s items. */
export const texts = (page, list) => page.locator(`#${list} li`).allTextContents();

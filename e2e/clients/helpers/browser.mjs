// Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
// here), one browser per suite, and the folder where suites keep their screenshots.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where screenshots go (gitignored). */
export const ARTIFACTS = path.resolve(HERE, '../artifacts');

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

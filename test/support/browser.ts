// Debian's chromium, headless, driven by playwright-core (nothing downloads a browser), for the tests
// of real pages. JavaScript is off in the page context unless asked, so the flows are proven to work
// without it. If chromium is missing the test FAILS, naming the fix.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export interface TestBrowser { context(): BrowserContext }

/**
 * Starts chromium before the file's tests and closes it after them. Call it AFTER useApp(): after
 * hooks run last-registered first, so the browser closes before the app stops.
 */
export function useBrowser(o: { userAgent: string; javaScriptEnabled?: boolean }): TestBrowser {
  let browser: Browser | null = null;
  let context: BrowserContext | null = null;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: the browser tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it)`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    context = await browser.newContext({ javaScriptEnabled: o.javaScriptEnabled ?? false, userAgent: o.userAgent });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    context() {
      if (!context) throw new Error('the browser has not started');
      return context;
    },
  };
}

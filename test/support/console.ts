// The staff console in Debian's chromium (playwright-core), JavaScript on: one browser per test file,
// a fresh context (own cookies) per newPage(), and the axe check every console page must pass.
//
//   const { app, t } = useApp();
//   const ui = useConsole(app);                          // AFTER useApp (the browser closes first)
//   const page = await ui.newPage();
//   await signIn(page, app, { email, password });
//   await ui.open(page, '/console/lists');
//   await expectAccessible(page, 'lists page');
import { existsSync } from 'node:fs';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import type { TestApp } from './app.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

export interface PageOptions {
  /** Viewport width in CSS pixels (default 1280; 360 for the narrow-screen checks). */
  width?: number;
  height?: number;
  /** An IANA time zone for the browser (default UTC). */
  timezoneId?: string;
  locale?: string;
}

export interface TestConsole {
  /** A new page in a new browser context (its own cookies), JavaScript on. Closed after the file. */
  newPage(o?: PageOptions): Promise<Page>;
  /** Goes to `path` (e.g. '/console/lists') on the app and waits for the page's h1. */
  open(page: Page, path: string): Promise<void>;
  browser(): Browser;
}

/**
 * Starts chromium before the file's tests and closes it after them. Call it AFTER useApp(): after hooks
 * run last-registered first, so the browser closes before the app stops. Fails naming the fix when
 * chromium is missing.
 */
export function useConsole(app: Pick<TestApp, 'url'>): TestConsole {
  let browser: Browser | null = null;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    const buildError = inject('consoleBuildError');
    if (buildError) throw new Error(buildError);
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: the console tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it)`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
  });
  const self: TestConsole = {
    browser() {
      if (!browser) throw new Error('the browser has not started (useConsole runs in beforeAll)');
      return browser;
    },
    async newPage(o = {}) {
      const context = await self.browser().newContext({
        javaScriptEnabled: true, viewport: { width: o.width ?? 1280, height: o.height ?? 800 },
        timezoneId: o.timezoneId ?? 'UTC', locale: o.locale ?? 'en-GB', baseURL: app.url,
      });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      return page;
    },
    async open(page, path) {
      await page.goto(app.url + path);
      await page.locator('h1').first().waitFor();
    },
  };
  return self;
}

/**
 * Signs in through the login page and waits for the console (the signed-in header's "Log out"). `next`
 * is the console path to land on (default the dashboard).
 */
export async function signIn(page: Page, app: Pick<TestApp, 'url'>, o: { email: string; password: string; next?: string }): Promise<void> {
  const url = `${app.url}/console/login${o.next ? `?next=${encodeURIComponent(o.next)}` : ''}`;
  await page.goto(url);
  await page.getByLabel('Email').fill(o.email);
  await page.getByLabel('Password', { exact: true }).fill(o.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  await page.locator('main h1').first().waitFor();
}

/**
 * Runs axe (WCAG 2.0/2.1 A and AA rules) on the page as it is and fails, listing each rule, its impact,
 * help text and offending elements, when any violation is serious or critical. `what` names the page
 * state in the message ("login page with an error"). `exclude`: selectors left out, e.g. a template
 * preview's sandboxed frame (the tenant's email, not the console; axe cannot run inside it).
 */
export async function expectAccessible(page: Page, what: string, o: { exclude?: string[] } = {}): Promise<void> {
  let builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  for (const selector of o.exclude ?? []) builder = builder.exclude(selector);
  const result = await builder.analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ') ?? ''}`).join('\n')}`).join('\n');
  expect(bad.length, `accessibility violations on ${what} (${page.url()}):\n${report}`).toBe(0);
}

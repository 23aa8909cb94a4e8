// The console's domains page in Chromium (issue 19), against a real DNS server: a domain is added
// (the server's error next to the field first), its records are listed with copy buttons (used from
// the keyboard) and per-record status, a check before and after the ownership TXT is published
// verifies it, a DKIM key is added (the selector error on its field); a viewer reads without the
// buttons at 360 px. axe on each state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';

let dns: TestDnsServer;
const { app, t } = useApp(async () => {
  dns = await startDnsServer();
  return { config: { DNS_SERVERS: dns.server } };
});
afterAll(async () => { await dns?.close(); });
const ui = useConsole(app);
const users: Record<'admin' | 'viewer', { email: string; password: string }> = {} as never;
const NEW = 'mail.shop-ui.example';

beforeAll(async () => {
  for (const role of ['admin', 'viewer'] as const) {
    const u = await given(app, t).staffUser({ role });
    users[role] = { email: u.email, password: u.password as string };
  }
});

async function open(role: keyof typeof users, width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, users[role]);
  await ui.open(page, '/console/domains');
  await page.getByRole('heading', { name: /acme\.org/, level: 2 }).waitFor();
  return page;
}

const card = (page: Page, domain: string) => page.locator('section.domain', { has: page.getByRole('heading', { name: new RegExp(`^${domain.replace(/\./g, '\\.')}`), level: 2 }) });

describe('domains page', () => {
  it('adds a domain, lists its records with copy buttons, checks them and verifies it once the TXT is published', async () => {
    const page = await open('admin');
    await expect.poll(() => card(page, 'acme.org').getByRole('heading', { level: 2 }).textContent()).toContain('Verified');
    await card(page, 'acme.org').getByRole('table').waitFor();
    await expectAccessible(page, 'domains page');

    const field = page.getByLabel('Domain', { exact: true });
    await field.fill('not a domain');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field', { has: field }).locator('.field-error').textContent()).toMatch(/domain name/);
    await expectAccessible(page, 'domains page with a field error');

    await field.fill(NEW);
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByText(`${NEW} added: publish its records below, then check DNS.`).waitFor();
    const c = card(page, NEW);
    await c.getByRole('table').waitFor();
    await expect.poll(() => c.getByRole('heading', { level: 2 }).textContent()).toContain('Not verified');
    const ownership = c.getByRole('row', { name: /Ownership/ });
    expect(await ownership.locator('code').first().textContent()).toBe(`_postgate.${NEW}`);
    const value = (await ownership.locator('code').nth(1).textContent()) ?? '';
    expect(value).toMatch(/^postgate-verification=/);
    expect(await ownership.textContent()).toContain('Not checked');

    // Copy from the keyboard.
    const copy = ownership.getByRole('button', { name: 'Copy value of the Ownership (verification) record' });
    await copy.focus();
    await page.keyboard.press('Enter');
    await ownership.getByRole('status').filter({ hasText: 'Copied' }).waitFor();

    // Checked before it is published: not found, still pending.
    await c.getByRole('button', { name: 'Check DNS records' }).click();
    await c.getByText(`${NEW} is not verified yet`).waitFor();
    await expect.poll(() => ownership.locator('.badge').textContent()).toBe('Not found');
    await expectAccessible(page, 'domains page after a failed check');

    dns.txt(`_postgate.${NEW}`, value);
    await c.getByRole('button', { name: 'Check DNS records' }).click();
    await c.getByText(`${NEW} is verified.`).waitFor();
    await expect.poll(() => ownership.locator('.badge').textContent()).toBe('Found');
    await expect.poll(() => c.getByRole('heading', { level: 2 }).textContent()).toMatch(/ Verified$/);
    expect((await t.api('GET', `/api/domains/${NEW}`)).body.state).toBe('verified');

    // A DKIM key for the verified domain: the selector's error on its field, then its record.
    const selector = c.getByLabel('Selector');
    await selector.fill('bad selector!');
    await c.getByRole('button', { name: 'Create key' }).click();
    await expect.poll(() => selector.getAttribute('aria-invalid')).toBe('true');
    await selector.fill('pg1');
    await c.getByRole('button', { name: 'Create key' }).click();
    await c.getByRole('row', { name: /DKIM signing key pg1/ }).waitFor();
    expect(await c.getByRole('row', { name: /DKIM signing key pg1/ }).locator('code').first().textContent()).toBe(`pg1._domainkey.${NEW}`);
    await expectAccessible(page, 'domains page with a DKIM key');
  });

  it('shows a viewer the records without the buttons that change things, at 360 px', async () => {
    const page = await open('viewer', 360);
    expect(await page.getByRole('button', { name: 'Add domain' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Check DNS records' }).count()).toBe(0);
    await card(page, 'acme.org').getByRole('button', { name: /^Copy value of the SPF/ }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await expectAccessible(page, 'domains page for a viewer at 360 px');
  });
});

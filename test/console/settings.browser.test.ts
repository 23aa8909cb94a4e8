// The console's settings page in Chromium (issue 19): the sender identity, postal address and
// branding as GET /api/tenant has them; the server's errors on the field they name (the accent
// colour's contrast, an unverified From domain); a save that PATCH /api/tenant keeps; a viewer reads
// only; a marketing user is told it is for admins. axe on each state.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';

const { app, t } = useApp();
const ui = useConsole(app);
const users: Record<'admin' | 'viewer' | 'marketing', { email: string; password: string }> = {} as never;

beforeAll(async () => {
  for (const role of ['admin', 'viewer', 'marketing'] as const) {
    const u = await given(app, t).staffUser({ role });
    users[role] = { email: u.email, password: u.password as string };
  }
});

async function open(role: keyof typeof users, width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, users[role]);
  await ui.open(page, '/console/settings');
  await page.getByLabel('From address').waitFor();
  return page;
}

const save = (page: Page) => page.getByRole('button', { name: 'Save settings' }).click();

describe('settings page', () => {
  it('shows the tenant\'s settings and the server\'s errors next to their fields', async () => {
    const page = await open('admin');
    expect(await page.getByLabel('From address').inputValue()).toBe('news@acme.org');
    expect(await page.getByLabel('Reply-to address').inputValue()).toBe('support@acme.org');
    expect(await page.getByLabel('Postal address').inputValue()).toBe('1 Main Street, Springfield');
    expect(await page.getByLabel('Default language').inputValue()).toBe('en');
    await expectAccessible(page, 'settings page');

    // Yellow: white text on it is unreadable; the server says so on the field.
    const accent = page.getByLabel('Accent colour');
    await accent.fill('#ffff00');
    await save(page);
    await expect.poll(() => accent.getAttribute('aria-invalid')).toBe('true');
    const accentError = page.locator('.field', { has: accent }).locator('.field-error');
    expect(await accentError.textContent()).toMatch(/contrast 1\.\d\d:1 against white is below 4\.5:1/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('settings-accentColor');
    await expectAccessible(page, 'settings page with a field error');

    // A From address on a domain the tenant has not verified.
    await accent.fill('#1d4ed8');
    const from = page.getByLabel('From address');
    await from.fill('news@not-verified.example');
    await save(page);
    await expect.poll(() => from.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field', { has: from }).locator('.field-error').textContent()).toContain('not-verified.example');
    expect(await accent.getAttribute('aria-invalid')).toBeNull();
    expect((await t.api('GET', '/api/tenant')).body.fromEmail).toBe('news@acme.org');
  });

  it('saves the identity, postal address and branding', async () => {
    const page = await open('admin');
    await page.getByLabel('From name').fill('Acme Letters');
    await page.getByLabel('Reply-to address').fill('hello@acme.org');
    await page.getByLabel('Postal address').fill('2 High Street, Shelbyville');
    await page.getByLabel('Logo URL').fill('https://cdn.acme.org/logo.png');
    await page.getByLabel('Accent colour').fill('#0F766E');
    await page.getByLabel('Privacy policy URL').fill('https://acme.org/privacy');
    await page.getByLabel('Default language').selectOption('de');
    await save(page);
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    expect((await t.api('GET', '/api/tenant')).body).toMatchObject({
      fromName: 'Acme Letters', replyTo: 'hello@acme.org', postalAddress: '2 High Street, Shelbyville', logoUrl: 'https://cdn.acme.org/logo.png',
      accentColor: '#0f766e', privacyUrl: 'https://acme.org/privacy', defaultLocale: 'de', fromEmail: 'news@acme.org',
    });
    // Emptying a branding field removes it.
    await page.getByLabel('Logo URL').fill('');
    await save(page);
    await expect.poll(async () => (await t.api('GET', '/api/tenant')).body.logoUrl).toBeNull();
  });

  it('lets a viewer read without a save button, tells a marketing user it is for admins, and fits 360 px', async () => {
    const page = await open('viewer', 360);
    expect(await page.getByLabel('From address').getAttribute('readonly')).not.toBeNull();
    expect(await page.getByRole('button', { name: 'Save settings' }).count()).toBe(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await expectAccessible(page, 'settings page for a viewer at 360 px');

    const m = await ui.newPage();
    await signIn(m, app, users.marketing);
    await ui.open(m, '/console/settings');
    await m.getByText(/^Only admins can see and change the account settings/).waitFor();
    await expectAccessible(m, 'settings page refused to a marketing user');
  });
});

// The API keys and webhooks page in Debian's chromium: create a key (the secret shown once, and it
// works), refuse a key without scopes at the field, revoke with confirmation (then 401), refuse to
// revoke the last admin key; add a webhook endpoint (secret once), see its delivery in the log, replay
// it, edit, disable, rotate the secret and delete. A viewer sees no buttons that change anything. axe
// on each state.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp, request } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { appendEvent } from '../../src/events/feed.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';

const { app, t } = useApp({ config: { WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_POLL_MS: 100, WEBHOOK_RETRY_SCHEDULE: '100ms,200ms' } });
const ui = useConsole(app);
let rx: Receiver;
beforeAll(async () => { rx = await startReceiver(); });
afterAll(async () => { await rx?.close(); });

async function admin(): Promise<Page> {
  const u = await given(app, t).staffUser({ role: 'admin' });
  const page = await ui.newPage();
  await signIn(page, app, { email: u.email, password: u.password as string, next: '/console/keys' });
  await page.getByRole('heading', { level: 2, name: 'API keys' }).waitFor();
  return page;
}
const keyRow = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

it('creates a key whose secret is shown once and works, then revokes it after confirmation', async () => {
  const page = await admin();
  await page.getByRole('table').locator('tbody tr').first().waitFor();
  await expectAccessible(page, 'the keys page');

  await page.getByRole('button', { name: 'Create key' }).click();
  await page.getByLabel('Name').fill('Shop backend');
  await page.getByRole('button', { name: 'Create key' }).click();
  // No scope chosen: the API's error shows at the scopes.
  const scopes = page.getByRole('group', { name: 'Scopes' });
  await scopes.locator('.field-error').waitFor();
  expect(await scopes.getAttribute('aria-describedby')).toBeTruthy();
  await expectAccessible(page, 'the new key form with an error');

  await page.getByLabel('subscribers:').check();
  await page.getByLabel('transactional:').check();
  await page.getByLabel('Expires').selectOption('90');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = page.locator('[data-secret="API key"]');
  await secret.waitFor();
  const key = (await secret.textContent()) ?? '';
  expect(key.length).toBeGreaterThan(20);
  expect(await page.getByRole('button', { name: 'Copy API key' }).count()).toBe(1);
  await expectAccessible(page, 'the keys page showing a new secret');
  expect((await request(app.url, key, 'GET', '/api/lists')).status).toBe(200);

  const row = keyRow(page, 'Shop backend');
  await row.waitFor();
  expect(await row.textContent()).toContain('subscribers, transactional');
  expect(await row.textContent()).toContain('active');
  expect(await row.textContent()).toContain(key.slice(0, 7));
  await page.getByRole('button', { name: 'Done' }).click();
  expect(await secret.count()).toBe(0);
  await page.reload();
  await keyRow(page, 'Shop backend').waitFor();
  expect(await page.content()).not.toContain(key);

  await keyRow(page, 'Shop backend').getByRole('button', { name: /^Revoke key Shop backend/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await expectAccessible(page, 'the revoke dialog');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => dialog.isVisible()).toBe(false);
  // Focus is back on the button that opened the dialog.
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(/^Revoke key Shop backend/);
  expect((await request(app.url, key, 'GET', '/api/lists')).status).toBe(200);

  await keyRow(page, 'Shop backend').getByRole('button', { name: /^Revoke key Shop backend/ }).click();
  await dialog.getByRole('button', { name: 'Revoke key' }).click();
  await page.getByText(/is revoked\./).waitFor();
  await expect.poll(async () => keyRow(page, 'Shop backend').textContent()).toContain('revoked');
  expect(await keyRow(page, 'Shop backend').getByRole('button').count()).toBe(0);
  expect((await request(app.url, key, 'GET', '/api/lists')).status).toBe(401);
});

it('shows why the last admin key cannot be revoked, in the dialog', async () => {
  const page = await admin();
  const prefix = t.key.slice(0, 7);
  const row = page.getByRole('row').filter({ hasText: `${prefix}…` });
  await row.getByRole('button', { name: /^Revoke key/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Revoke key' }).click();
  await dialog.getByRole('alert').waitFor();
  expect(await dialog.getByRole('alert').textContent()).toMatch(/admin/i);
  await expectAccessible(page, 'the revoke dialog with an error');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect((await t.api('GET', '/api/keys')).status).toBe(200);
});

it('adds a webhook endpoint, shows its deliveries, replays one, and edits, disables, rotates and deletes it', async () => {
  const page = await admin();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await page.getByLabel('URL').fill(`${rx.url}?console=1`);
  await page.getByLabel('Description').fill('CRM sync');
  await page.getByLabel('Every event type').uncheck();
  await page.getByLabel('contact.confirmed').check();
  await page.getByLabel('contact.unsubscribed').check();
  await expectAccessible(page, 'the new endpoint form');
  await page.getByRole('button', { name: 'Add endpoint' }).last().click();
  const secret = page.locator('[data-secret="signing secret"]');
  await secret.waitFor();
  expect(await secret.textContent()).toMatch(/^whsec_/);
  const row = page.getByRole('row').filter({ hasText: 'CRM sync' });
  expect(await row.textContent()).toContain('contact.confirmed, contact.unsubscribed');
  expect(await row.textContent()).toContain('enabled');
  await page.getByRole('button', { name: 'Done' }).click();

  // An event of a chosen type reaches the receiver and appears in the log.
  await app.pg.deps.db.withTenant(t.id, (c) => appendEvent(c, t.id, { type: 'contact.confirmed', data: { email: 'ann@example.org' } }));
  await expect.poll(() => rx.received.filter((r) => r.body.includes('ann@example.org')).length, { timeout: 10_000 }).toBe(1);
  await row.getByRole('button', { name: /^Deliveries to/ }).click();
  const log = page.getByRole('region', { name: /^Deliveries to/ }).or(page.locator('section#deliveries, section[aria-labelledby="deliveries-h"]')).first();
  await log.getByText('contact.confirmed').waitFor();
  expect(new URL(page.url()).searchParams.get('webhook')).toBeTruthy();
  await expect.poll(async () => log.getByRole('row').filter({ hasText: 'contact.confirmed' }).first().textContent()).toContain('delivered');
  await expectAccessible(page, 'the delivery log');

  await log.getByRole('button', { name: /^Replay event/ }).first().click();
  await page.getByText(/queued for delivery again/).first().waitFor();
  await expect.poll(() => rx.received.filter((r) => r.body.includes('ann@example.org')).length, { timeout: 10_000 }).toBe(2);
  const ids = rx.received.filter((r) => r.body.includes('ann@example.org')).map((r) => r.id);
  expect(ids[0]).toBe(ids[1]);

  await row.getByRole('button', { name: /^Edit / }).click();
  await page.getByLabel('Description').fill('CRM sync (EU)');
  await page.getByRole('button', { name: 'Save endpoint' }).click();
  const edited = page.getByRole('row').filter({ hasText: 'CRM sync (EU)' });
  await edited.waitFor();

  await edited.getByRole('button', { name: /^Disable / }).click();
  await expect.poll(async () => edited.textContent()).toContain('disabled');
  expect(await log.getByRole('button', { name: /^Replay event/ }).count()).toBe(0);
  await edited.getByRole('button', { name: /^Enable / }).click();
  await expect.poll(async () => edited.textContent()).toContain('enabled');

  await edited.getByRole('button', { name: /^Rotate the secret/ }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
  await page.getByText(/The new signing secret of/).waitFor();
  expect(await secret.textContent()).toMatch(/^whsec_/);
  await page.getByRole('button', { name: 'Done' }).click();

  await edited.getByRole('button', { name: /^Delete / }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete endpoint' }).click();
  await page.getByText(/is deleted\./).waitFor();
  await expect.poll(() => page.getByRole('row').filter({ hasText: 'CRM sync' }).count()).toBe(0);
  expect(new URL(page.url()).searchParams.get('webhook')).toBeNull();
  expect((await t.api('GET', '/api/webhooks')).body.items).toEqual([]);
});

it('shows a viewer the keys and endpoints with no button that changes anything', async () => {
  await t.api('POST', '/api/webhooks', { url: rx.url, types: ['*'], description: 'Seen by viewers' });
  const u = await given(app, t).staffUser({ role: 'viewer' });
  const page = await ui.newPage();
  await signIn(page, app, { email: u.email, password: u.password as string, next: '/console/keys' });
  await page.getByRole('row').filter({ hasText: 'Seen by viewers' }).waitFor();
  expect(await page.getByText('Read only').count()).toBe(1);
  for (const name of ['Create key', 'Add endpoint', /^Revoke/, /^Edit/, /^Disable/, /^Delete/, /^Rotate/]) {
    expect(await page.getByRole('button', { name }).count(), String(name)).toBe(0);
  }
  await page.getByRole('button', { name: /^Deliveries to/ }).click();
  await page.getByText('No deliveries yet.').waitFor();
  await expectAccessible(page, 'the keys page for a viewer');
});

it('fits a 360 px screen: the tables scroll inside their own focusable region, the page does not', async () => {
  const u = await given(app, t).staffUser({ role: 'admin' });
  const page = await ui.newPage({ width: 360, height: 740 });
  await signIn(page, app, { email: u.email, password: u.password as string, next: '/console/keys' });
  await page.getByRole('heading', { level: 2, name: 'API keys' }).waitFor();
  await page.getByRole('button', { name: 'Create key' }).click();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectAccessible(page, 'the keys page at 360 px');
});

it('shows a marketer (scope events) the webhooks, with their buttons, and no API keys', async () => {
  const u = await given(app, t).staffUser({ role: 'marketing' });
  const page = await ui.newPage();
  await signIn(page, app, { email: u.email, password: u.password as string });
  const link = page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks', exact: true });
  await link.click();
  await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Webhooks' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/console/keys');
  expect(await page.getByRole('heading', { level: 2, name: 'API keys' }).count()).toBe(0);
  expect(await page.getByRole('button', { name: 'Create key' }).count()).toBe(0);
  expect(await page.getByText('Only admins can create or revoke API keys').count()).toBe(1);
  expect(await page.getByRole('button', { name: 'Add endpoint' }).isEnabled()).toBe(true);
  await expectAccessible(page, 'the webhooks page for a marketer');
});

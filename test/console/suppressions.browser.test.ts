// The console's bounces and suppressions page in Chromium (issue 19), end to end: a hard bounce
// suppresses a contact; staff find the suppression, try to remove it without a reason (the server's
// error shows next to the field), remove it with one; the contact is active again, still subscribed
// only where it was, and the removal is in its consent records. Also: adding a suppression by hand,
// bounce filters, the raw report shown as text (its HTML never rendered), and axe on every state.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { dsn, registerProbe, sendProbe } from '../bounces/helpers.js';
import { createStaffUser } from '../../src/staff/users.js';

const { app, t } = useApp();
const ui = useConsole(app);

const ADMIN = { email: 'ops.admin@acme.org', password: 'a long admin passphrase 3' };
const MARKETER = { email: 'mia.marketing@acme.org', password: 'a long marketing passphrase 4' };
const WRONG = 'wrongly.bounced@example.net';
let contactId: string;

beforeAll(async () => {
  registerProbe(app);
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: ADMIN.email, role: 'admin', password: ADMIN.password });
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: MARKETER.email, role: 'marketing', password: MARKETER.password });
  const c = await given(app, t).subscribedContact(WRONG, { name: 'Wren' });
  contactId = c.id;
  const { message, mail } = await sendProbe(app, t, c.id, WRONG, 'console:wrong-bounce');
  const r = await t.api('POST', '/api/inbound', dsn({
    to: mail.envelopeFrom, finalRecipient: WRONG, messageId: message.messageIdHeader as string,
    diagnostic: `smtp; 550 5.1.1 <${WRONG}>: <b id="injected">no such user</b><script>window.pwned = 1</script>`,
  }), { 'content-type': 'message/rfc822' });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect((await t.api('GET', `/api/contacts/${contactId}`)).body.status).toBe('suppressed');
});

async function signedIn(who = ADMIN): Promise<Page> {
  const page = await ui.newPage();
  await signIn(page, app, who);
  return page;
}

describe('suppressions', () => {
  it('removes a wrong suppression with a reason, end to end', async () => {
    const page = await signedIn();
    await ui.open(page, '/console/suppressions');
    const filters = page.getByRole('search', { name: 'Filter suppressions' });
    await filters.getByLabel('Address').fill(WRONG.toUpperCase());
    await filters.getByRole('button', { name: 'Filter' }).click();
    const remove = page.getByRole('button', { name: `Remove the suppression of ${WRONG} (All mail)` });
    await remove.waitFor();
    await expectAccessible(page, 'suppressions filtered by address');

    await remove.click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Remove suppression' }).click(); // no reason: the server refuses
    const reason = dialog.getByLabel('Reason for the removal');
    await expect.poll(() => reason.getAttribute('aria-invalid')).toBe('true');
    expect(await dialog.locator('.field-error').textContent()).toMatch(/reason/i);
    await expectAccessible(page, 'removal dialog with the reason error');
    expect((await t.api('GET', `/api/suppressions?address=${WRONG}`)).body.items).toHaveLength(1);

    await reason.fill('Bounced by mistake: the mailbox exists (ticket 4711)');
    await dialog.getByRole('button', { name: 'Remove suppression' }).click();
    await page.getByText(/Removed 1 suppression of wrongly\.bounced@example\.net\. The contact is active again/).waitFor();
    await page.getByText('No suppression matches.').waitFor();

    expect((await t.api('GET', `/api/suppressions?address=${WRONG}`)).body.items).toEqual([]);
    const contact = (await t.api('GET', `/api/contacts/${contactId}`)).body;
    expect(contact.status).toBe('active');
    expect(contact.subscriptions.map((s: { status: string }) => s.status)).toEqual(['subscribed']);
    const records = (await t.api('GET', `/api/contacts/${contactId}/consent`)).body.items as { action: string; detail: Record<string, unknown> }[];
    expect(records.find((r) => r.action === 'unsuppress')?.detail).toMatchObject({ reason: 'Bounced by mistake: the mailbox exists (ticket 4711)' });

    // the contact's page now says so, and links back here
    await ui.open(page, `/console/contacts/${contactId}`);
    await page.getByText('Not suppressed: mail to this address may be sent.').waitFor();
  }, 60_000);

  it('suppresses an address by hand, with the reason token error next to its field', async () => {
    const page = await signedIn();
    await ui.open(page, '/console/suppressions');
    const form = page.getByRole('form', { name: 'Suppress an address' });
    await form.getByLabel('Address').fill('legal.hold@example.net');
    await form.getByLabel('Scope').selectOption('marketing');
    await form.getByLabel('Reason', { exact: true }).fill('Legal Request!');
    await form.getByRole('button', { name: 'Suppress' }).click();
    const reason = form.getByLabel('Reason', { exact: true });
    await expect.poll(() => reason.getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'add form with an error');
    await reason.fill('legal_request');
    await form.getByLabel('Note').fill('Asked by their lawyer');
    await form.getByRole('button', { name: 'Suppress' }).click();
    await page.getByText('legal.hold@example.net is suppressed (marketing only).').waitFor();
    await page.getByRole('row', { name: /legal\.hold@example\.net/ }).waitFor();
    // Made in the console: the source names the staff member, not "api".
    expect(await page.getByRole('row', { name: /legal\.hold@example\.net/ }).textContent()).toContain(`by ${ADMIN.email} (console)`);
    const items = (await t.api('GET', '/api/suppressions?address=legal.hold@example.net')).body.items;
    expect(items).toEqual([expect.objectContaining({ scope: 'marketing', reason: 'legal_request', note: 'Asked by their lawyer' })]);

    const filters = page.getByRole('search', { name: 'Filter suppressions' });
    await filters.getByLabel('Scope').selectOption('all');
    await page.waitForURL(/scope=all/);
    await expect.poll(() => page.getByRole('row', { name: /legal\.hold@example\.net/ }).count()).toBe(0);
  }, 60_000);
});

describe('keyboard', () => {
  it('adds and removes a suppression with the keyboard alone, focus visible throughout', async () => {
    const page = await signedIn();
    await ui.open(page, '/console/suppressions');
    const focusOutline = () => page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? `${el.tagName}:${getComputedStyle(el).outlineStyle}` : 'none';
    });
    const form = page.getByRole('form', { name: 'Suppress an address' });
    await form.getByLabel('Address').focus();
    await page.keyboard.type('keys.only@example.net');
    await page.keyboard.press('Tab'); // scope
    expect(await focusOutline()).toBe('SELECT:solid');
    await page.keyboard.press('Tab'); // reason (manual)
    await page.keyboard.press('Tab'); // note
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Tab');
    expect(await focusOutline()).toBe('BUTTON:solid');
    await page.keyboard.press('Enter');
    await page.getByText('keys.only@example.net is suppressed (all mail).').waitFor();

    const remove = page.getByRole('button', { name: 'Remove the suppression of keys.only@example.net (All mail)' });
    await remove.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await page.evaluate(() => !!document.activeElement?.closest('dialog'))).toBe(true);
    await dialog.getByLabel('Reason for the removal').focus();
    await page.keyboard.type('added in a keyboard test');
    await page.keyboard.press('Escape'); // cancels: nothing removed, focus back on the Remove button
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Remove the suppression of keys.only@example.net (All mail)');
    expect((await t.api('GET', '/api/suppressions?address=keys.only@example.net')).body.items).toHaveLength(1);
    await page.keyboard.press('Enter');
    await dialog.getByLabel('Reason for the removal').focus();
    await page.keyboard.type('added in a keyboard test');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Remove suppression');
    await page.keyboard.press('Enter');
    await page.getByText(/Removed 1 suppression of keys\.only@example\.net/).waitFor();
    expect((await t.api('GET', '/api/suppressions?address=keys.only@example.net')).body.items).toEqual([]);
  }, 60_000);
});

describe('bounces', () => {
  it('filters bounces and shows the raw report as text, never as HTML', async () => {
    const page = await signedIn();
    await ui.open(page, '/console/suppressions');
    const filters = page.getByRole('search', { name: 'Filter bounces' });
    await filters.getByLabel('Reason').fill('nonsense');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => filters.getByLabel('Reason').getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'bounce filters with an error');

    await filters.getByLabel('Reason').fill('userunknown');
    await filters.getByLabel('Kind').selectOption('hard');
    await filters.getByLabel('Recipient').fill(WRONG);
    await filters.getByRole('button', { name: 'Filter' }).click();
    const view = page.getByRole('button', { name: new RegExp(`^View the raw report of ${WRONG.replace(/\./g, '\\.')}`) });
    await view.waitFor();
    expect(await page.getByRole('table', { name: 'Matching bounces' }).getByRole('row').count()).toBe(2); // header + one bounce

    await view.click();
    const pre = page.getByLabel('Raw report text');
    await pre.waitFor();
    const text = await pre.textContent();
    expect(text).toContain(`Final-Recipient: rfc822; ${WRONG}`);
    expect(text).toContain('<b id="injected">');
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('raw-h');
    await expectAccessible(page, 'raw report shown');
    await page.getByRole('button', { name: 'Close report' }).click();
    expect(await pre.count()).toBe(0);

    await filters.getByLabel('Kind').selectOption('soft');
    await page.getByText('No bounce matches.').waitFor();
  }, 60_000);

  it('shows marketing staff the suppressions but not the bounce reports (admin only)', async () => {
    const page = await signedIn(MARKETER);
    await ui.open(page, '/console/suppressions');
    await page.getByRole('form', { name: 'Suppress an address' }).waitFor();
    await page.getByText('Bounce reports are shown to administrators.').waitFor();
    expect(await page.getByRole('search', { name: 'Filter bounces' }).count()).toBe(0);
    await expectAccessible(page, 'suppressions page for marketing');
  }, 60_000);
});

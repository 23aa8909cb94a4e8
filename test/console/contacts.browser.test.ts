// The console's lists and contacts pages in Chromium (issue 19): lists with their counts, create (the
// server's name error next to the field), rename, archive and the hosted form link; contact search; a
// contact's page with its timeline, consent proof (the wording shown), subscriptions (add with the
// wording, remove after a confirmation), suppression state, the JSON export download and erasure.
// Every page state passes axe (no serious or critical violation).
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { consent } from '../support/mail.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { createStaffUser } from '../../src/staff/users.js';

const { app, t } = useApp();
const ui = useConsole(app);

const ADMIN = { email: 'lena.admin@acme.org', password: 'a long admin passphrase 1' };
const VIEWER = { email: 'vic.viewer@acme.org', password: 'a long viewer passphrase 2' };
const PAT = 'pat.contact@example.net';
let patId: string;
let offers: string;

beforeAll(async () => {
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: ADMIN.email, role: 'admin', password: ADMIN.password });
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: VIEWER.email, role: 'viewer', password: VIEWER.password });
  const g = given(app, t);
  offers = await g.list('Offers');
  patId = (await g.subscribedContact(PAT, { via: 'opt-in', name: 'Pat Example' })).id;
  await g.subscribedContact('quinn@example.net', { name: 'Quinn' });
  await g.pendingContact('robin@other.example', { name: 'Robin' });
});

async function admin(width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, ADMIN);
  return page;
}

const subscription = async (contactId: string, listId: string) =>
  ((await t.api('GET', `/api/contacts/${contactId}`)).body.subscriptions as { listId: string; status: string }[]).find((s) => s.listId === listId)?.status;

describe('lists page', () => {
  it('shows each list with its counts, also at 360 px', async () => {
    const page = await admin();
    await ui.open(page, '/console/lists');
    const newsletter = page.getByRole('row', { name: /Newsletter/ });
    await expect.poll(() => newsletter.getByRole('cell').nth(0).textContent()).toBe('2'); // Pat and Quinn subscribed
    expect(await page.getByRole('row', { name: /Offers/ }).getByRole('cell').nth(0).textContent()).toBe('0');
    await expectAccessible(page, 'lists page');
    await page.setViewportSize({ width: 360, height: 800 });
    await newsletter.waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  }, 60_000);

  it('creates a list (the name error next to the field), renames it, shows its form link and archives it', async () => {
    const page = await admin();
    await ui.open(page, '/console/lists');
    const form = page.getByRole('form', { name: 'New list' });
    await form.getByLabel('Name').fill('newsletter'); // taken (case-insensitive)
    await form.getByRole('button', { name: 'Create list' }).click();
    const nameField = form.getByLabel('Name');
    await expect.poll(() => nameField.getAttribute('aria-invalid')).toBe('true');
    expect(await form.locator('.field-error').textContent()).toMatch(/already has this name/);
    await expectAccessible(page, 'lists page with a form error');
    await nameField.fill('Product updates');
    await form.getByRole('button', { name: 'Create list' }).click();
    await page.getByRole('status').filter({ hasText: 'List “Product updates” created.' }).waitFor();
    const created = ((await t.api('GET', '/api/lists')).body.items as { id: string; name: string }[]).find((l) => l.name === 'Product updates');
    expect(created).toBeDefined();
    // At 1280 px the whole table fits: the Archive button is not cut off and nothing scrolls sideways.
    const archive = page.getByRole('button', { name: 'Archive Product updates' });
    const wrap = page.getByRole('region', { name: 'Lists' });
    const [box, wrapBox] = [await archive.boundingBox(), await wrap.boundingBox()];
    expect(box && wrapBox && box.x + box.width <= wrapBox.x + wrapBox.width).toBe(true);
    expect(await wrap.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);

    await page.getByRole('button', { name: 'Rename Product updates' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('New name').fill('Product news');
    await expectAccessible(page, 'rename dialog');
    await dialog.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('List renamed to “Product news”.').waitFor();
    expect((await t.api('GET', `/api/lists/${created?.id}`)).body.name).toBe('Product news');

    await page.getByRole('button', { name: 'Form link of Product news' }).click();
    await page.getByRole('heading', { name: 'Hosted form of “Product news”' }).waitFor();
    expect(await page.locator('.list-form code').textContent()).toBe(`https://postgate.test/subscribe/${created?.id}`);
    expect(await page.getByLabel('HTML snippet for your website').inputValue()).toContain('<form');
    await expectAccessible(page, 'lists page with the hosted form');

    await page.getByRole('button', { name: 'Archive Product news' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Archive' }).click();
    await page.getByText('List “Product news” archived.').waitFor();
    expect((await t.api('GET', `/api/lists/${created?.id}`)).body.archivedAt).not.toBeNull();
    // the default list offers no archive
    expect(await page.getByRole('button', { name: 'Archive Newsletter' }).count()).toBe(0);
  }, 60_000);
});

describe('contacts', () => {
  it('searches by part of the address and opens the contact with its timeline and consent proof', async () => {
    const page = await admin();
    await ui.open(page, '/console/contacts');
    await page.getByLabel('Address or name').fill('CONTACT@example');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=CONTACT%40example/);
    await page.getByRole('table', { name: 'Matching contacts' }).waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'quinn@example.net' }).count()).toBe(0); // the unfiltered list is gone
    expect(await page.getByRole('link', { name: PAT }).count()).toBe(1);
    await expectAccessible(page, 'contact search results');

    await page.getByRole('link', { name: PAT }).click();
    await page.getByRole('heading', { level: 1, name: PAT }).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline, newest first' });
    await timeline.getByText('Confirmed').first().waitFor();
    expect(await timeline.textContent()).toMatch(/Email.*sent/);
    const proof = page.locator('#consent-h').locator('..').locator('..');
    await proof.locator('blockquote').first().waitFor();
    expect(await proof.locator('blockquote').first().textContent()).toBe(consent.text);
    expect(await proof.textContent()).toContain('203.0.113.7');
    await page.getByText('Not suppressed: mail to this address may be sent.').waitFor();
    await expectAccessible(page, 'contact page');
  }, 60_000);

  it('adds a subscription with the consent wording (the error shown next to it) and removes one after confirmation', async () => {
    const page = await admin();
    await ui.open(page, `/console/contacts/${patId}`);
    const add = page.getByRole('form', { name: 'Add to a list' });
    await add.getByLabel('List').selectOption({ label: 'Offers' });
    await add.getByRole('button', { name: 'Add to list' }).click();
    const wording = add.getByLabel('Consent wording');
    await expect.poll(() => wording.getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'contact page with a form error');
    await wording.fill('Pat asked at the counter for the Offers list, 2 Dec 2026.');
    await add.getByRole('button', { name: 'Add to list' }).click();
    await page.getByText(/a confirmation email was sent/).waitFor();
    expect(await subscription(patId, offers)).toBe('unconfirmed');

    const newsletter = await given(app, t).defaultList();
    await page.getByRole('button', { name: 'Unsubscribe from Newsletter' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await subscription(patId, newsletter)).toBe('subscribed');
    await page.getByRole('button', { name: 'Unsubscribe from Newsletter' }).click();
    await expectAccessible(page, 'unsubscribe dialog');
    await dialog.getByRole('button', { name: 'Unsubscribe' }).click();
    await page.getByText('Unsubscribed from “Newsletter”.').waitFor();
    expect(await subscription(patId, newsletter)).toBe('unsubscribed');
    await page.getByRole('list', { name: 'Timeline, newest first' }).getByText('Unsubscribed').first().waitFor();
  }, 60_000);

  it('downloads the export as JSON and erases the contact, each after a confirmation', async () => {
    const victim = await given(app, t).subscribedContact('erase.me@example.net', { via: 'opt-in', name: 'Erin' });
    const page = await admin();
    await ui.open(page, `/console/contacts/${victim.id}`);
    await page.getByRole('button', { name: 'Export data' }).click();
    await expectAccessible(page, 'export dialog');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('dialog').getByRole('button', { name: 'Download JSON' }).click()]);
    expect(download.suggestedFilename()).toBe(`contact-${victim.id}.json`);
    const doc = JSON.parse(await readFile(await download.path(), 'utf8'));
    expect(doc).toMatchObject({ format: 'postgate.contact-export/1', contact: { id: victim.id, email: 'erase.me@example.net' } });

    await page.getByRole('button', { name: 'Erase contact' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect((await t.api('GET', `/api/contacts/${victim.id}`)).body.status).toBe('active');
    // focus returns to the button that opened the dialog
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Erase contact');
    await page.getByRole('button', { name: 'Erase contact' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Erase permanently' }).click();
    await page.getByText(/was erased/).waitFor();
    expect((await t.api('GET', `/api/contacts/${victim.id}`)).body).toMatchObject({ status: 'erased', email: null });
    await page.getByRole('heading', { level: 1, name: 'Erased contact' }).waitFor();
  }, 60_000);

  it('shows a viewer the contact without any button that changes it, and works at 360 px', async () => {
    const page = await ui.newPage({ width: 360 });
    await signIn(page, app, VIEWER);
    await ui.open(page, `/console/contacts/${patId}`);
    await page.getByRole('list', { name: 'Timeline, newest first' }).waitFor();
    expect(await page.getByRole('button', { name: 'Export data' }).count()).toBe(1);
    for (const name of ['Erase contact', 'Add to list', /^Unsubscribe from/]) expect(await page.getByRole('button', { name }).count()).toBe(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await expectAccessible(page, 'contact page for a viewer at 360 px');
  }, 60_000);
});

describe('consent proof and suppressions made in the console', () => {
  it('heads an imported record with the date consent was given (and when it was recorded), and names the staff member of a console suppression', async () => {
    const csv = 'email,name,consent_date\nimported.person@example.net,Imported Person,2023-05-04T10:00:00Z\n';
    const options = { consent: { source: 'old ESP export', text: 'Yes, send me the Acme newsletter.', date: '2024-03-01' } };
    const up = await fetch(`${app.url}/api/imports?options=${encodeURIComponent(JSON.stringify(options))}`,
      { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' }, body: csv });
    expect(up.status).toBe(202);
    const importId = (await up.json() as { id: string }).id;
    await expect.poll(async () => (await t.api('GET', `/api/imports/${importId}`)).body.status, { timeout: 30_000 }).toBe('completed');
    const found = (await t.api('GET', `/api/contacts?q=${encodeURIComponent('imported.person@')}`)).body.items as { id: string }[];
    expect(found).toHaveLength(1);

    const page = await admin();
    await ui.open(page, `/console/contacts/${found[0].id}`);
    const proof = page.locator('#consent-h').locator('..').locator('..');
    const head = proof.locator('.consent-head').first();
    await head.waitFor();
    expect(await head.textContent()).toMatch(/^Imported with consent · Newsletter · consent given 4 May 2023, 10:00 UTC · recorded /);
    expect(await head.getByTestId('consent-given').getAttribute('datetime')).toBe('2023-05-04T10:00:00.000Z');

    // A suppression made with this console session: made by the staff member, through the console.
    const status = await page.evaluate(async () => {
      const s = await (await fetch('/api/session')).json() as { csrfToken: string };
      const r = await fetch('/api/suppressions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
        body: JSON.stringify({ address: 'imported.person@example.net', scope: 'marketing', reason: 'manual', note: 'asked on the phone' }) });
      return r.status;
    });
    expect(status).toBeLessThan(300);
    await page.reload();
    const suppressions = page.getByRole('table', { name: 'Suppressions of this address' });
    await suppressions.waitFor();
    expect(await suppressions.locator('tbody tr').first().textContent()).toContain(`by ${ADMIN.email} (console)`);
    await expect.poll(() => proof.getByText(`by ${ADMIN.email} (console)`).count()).toBe(1);
    expect(await proof.getByText(/^api$/).count()).toBe(0);
    await expectAccessible(page, 'contact page with an imported consent and a console suppression');
  }, 60_000);
});

// Self-service data rights in a real browser (Debian's chromium, headless, JavaScript off): the
// preference page's buttons, then the links of the mails the sink received, clicked through to the
// downloaded JSON and to the erasure; the used and the expired links show their pages and change nothing.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { settled } from '../support/mail.js';
import { rightsToken } from '../../src/data-rights/self-service.js';
import { snapshot, unsubscribePath, waitForMail } from '../unsubscribe/helpers.js';
import { rightsLink } from './helpers.js';

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateRightsBrowser/1.0' }); // after useApp: closes before the app stops

describe('in headless Chromium, without JavaScript', () => {
  it('"Email me my data": the button, the mailed link, the summary and the downloaded JSON', async () => {
    const c = await given(app, t).subscribedContact('browser.export@example.org', { name: 'Bea Browser' });
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, c.id)}/preferences`);
    expect(await page.getByRole('heading', { name: 'Your data' }).isVisible()).toBe(true);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Email me my data' }).click()]);
    expect(await page.title()).toBe('Check your inbox – Acme');
    expect(await page.getByRole('status').textContent()).toContain('with a link to your data');

    await page.goto(rightsLink(app, await waitForMail(app, c.email)));
    expect(await page.title()).toBe('Your data at Acme – Acme');
    expect(await page.locator('main').textContent()).toContain('browser.export@example.org');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download my data (JSON)' }).click()]);
    expect(download.suggestedFilename()).toBe(`my-data-${c.id}.json`);
    const doc = JSON.parse(await readFile(await download.path(), 'utf8'));
    expect(doc.format).toBe('postgate.contact-export/1');
    expect(doc.contact).toMatchObject({ id: c.id, email: 'browser.export@example.org', name: 'Bea Browser' });
    expect(doc.consentRecords.map((e: { action: string }) => e.action)).toEqual(['export_request', 'export_download']);
    expect(doc.consentRecords[0].userAgent).toBe('PostgateRightsBrowser/1.0');
    await page.close();
  });

  it('"Delete my data": the button, the mailed link, the confirmation; the used link and an expired one change nothing', async () => {
    const c = await given(app, t).subscribedContact('browser.erase@example.org');
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, c.id)}/preferences`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete my data' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('Nothing is deleted until you confirm.');

    const link = rightsLink(app, await waitForMail(app, c.email));
    await page.goto(link);
    expect(await page.title()).toBe('Delete your data – Acme');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete my data now' }).click()]);
    expect(await page.title()).toBe('Your data has been deleted – Acme');
    expect(await page.getByRole('heading', { name: 'What was kept, and why' }).isVisible()).toBe(true);
    expect(await page.locator('main').textContent()).toContain('salted one-way hash');
    expect((await ownerQuery(app.db.url, 'SELECT status, email FROM contacts WHERE id = $1', [c.id]))[0]).toEqual({ status: 'erased', email: null });

    const before = await snapshot(app);
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    expect(await page.title()).toBe('This link has already been used – Acme');
    expect(await snapshot(app)).toEqual(before);
    await page.close();
  });

  it('an expired erasure link shows its page and erases nothing', async () => {
    const c = await given(app, t).subscribedContact('browser.late@example.org');
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, c.id)}/preferences`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Delete my data' }).click()]);
    await waitForMail(app, c.email);
    await settled(app);
    const [{ id }] = await ownerQuery<{ id: string }>(app.db.url, `SELECT id FROM messages WHERE contact_id = $1 AND template = 'data-erasure'`, [c.id]);
    const expired = rightsToken(app.pg.deps.tokens, 'erasure', { id, tenantId: t.id, contactId: c.id }, new Date(Date.now() - 1000).toISOString());
    const res = await page.goto(`${app.url}/erase/${expired}`);
    expect(res?.status()).toBe(410);
    expect(await page.title()).toBe('This link has expired');
    expect(await page.getByRole('button').count()).toBe(0);
    expect((await ownerQuery(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [c.id]))[0]).toEqual({ status: 'active' });
    await page.close();
  });
});

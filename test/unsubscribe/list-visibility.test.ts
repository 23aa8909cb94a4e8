// Issue 16, list visibility on the real pages, in headless Chromium without JavaScript (test/support/browser.ts): the preference page shows public lists only (not private, archived or deleted
// ones); a tampered form cannot join a private or archived list; "unsubscribe from all" and a
// private list's campaign link still leave the private list.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { given } from '../support/given.js';
import { optOuts, subscriptionStates, unsubscribePath } from './helpers.js';

const ids: Record<'offers' | 'insiders' | 'staff' | 'archived' | 'gone', string> = { offers: '', insiders: '', staff: '', archived: '', gone: '' };

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateBrowserTest/1.0' }); // after useApp: closes before the app stops

async function newList(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.api('POST', '/api/lists', { name, ...extra });
  if (r.status !== 201) throw new Error(`POST /api/lists answered ${r.status}`);
  return r.body.id;
}

beforeAll(async () => {
  ids.offers = await newList('Offers', { description: 'Discounts, now and then' });
  ids.insiders = await newList('Insiders', { visibility: 'private' });
  ids.staff = await newList('Staff only', { visibility: 'private' });
  ids.archived = await newList('Old offers');
  ids.gone = await newList('Gone list');
  expect((await t.api('PATCH', `/api/lists/${ids.archived}`, { archived: true })).status).toBe(200);
  expect((await t.api('DELETE', `/api/lists/${ids.gone}`)).status).toBe(204);
}, 60_000);

describe('the preference page in headless Chromium', () => {
  it('shows the public lists only: not private, archived or deleted ones, even those the contact is on', async () => {
    const who = await given(app, t).subscribedContact('vis-show@example.com', { lists: ['default', ids.insiders, ids.archived, ids.gone] });
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, who.id)}/preferences`);
    expect(await page.title()).toBe('Email preferences – Acme');
    const labels = (await page.locator('fieldset label').allTextContents()).map((l) => l.split(/You |Waiting|Discounts/)[0].trim());
    expect(labels).toEqual(['Newsletter', 'Offers']);
    expect(await page.getByLabel(/^Newsletter/).isChecked()).toBe(true);
    expect(await page.getByLabel(/^Offers/).isChecked()).toBe(false);
    const text = await page.locator('body').textContent();
    for (const hidden of ['Insiders', 'Staff only', 'Old offers', 'Gone list']) expect(text).not.toContain(hidden);
    for (const id of [ids.insiders, ids.staff, ids.archived, ids.gone]) expect(await page.content()).not.toContain(id);
    await page.close();
  });

  it('a tampered form (private and archived list ids added) joins only the public list ticked, and leaves the private one alone', async () => {
    const who = await given(app, t).subscribedContact('vis-forge@example.com', { lists: ['default', ids.insiders] });
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, who.id)}/preferences`);
    await page.getByLabel(/^Offers/).check();
    let forged = '';
    await page.route('**/preferences', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      forged = `${route.request().postData() ?? ''}&list=${ids.staff}&list=${ids.archived}&list=${ids.gone}`;
      return route.continue({ postData: forged });
    });
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save preferences' }).click()]);
    expect(forged).toContain(`list=${ids.offers}`);
    expect(forged).toContain(`list=${ids.staff}`);
    expect(await page.getByRole('status').textContent()).toContain('Your preferences are saved.');
    expect(await subscriptionStates(app, who.id)).toEqual({ Newsletter: 'subscribed', Insiders: 'subscribed', Offers: 'unconfirmed' });
    await page.close();
  });

  it('"Unsubscribe from all" leaves the private lists too', async () => {
    const who = await given(app, t).subscribedContact('vis-all@example.com', { lists: ['default', ids.insiders] });
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, who.id)}/preferences`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unsubscribe from all' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('unsubscribed from all newsletters');
    expect(await subscriptionStates(app, who.id)).toEqual({ Newsletter: 'unsubscribed', Insiders: 'unsubscribed' });
    await page.close();
  });

  it('a private list\'s campaign link names that list, leaves it, and offers no page to rejoin it', async () => {
    const who = await given(app, t).subscribedContact('vis-campaign@example.com', { lists: ['default', ids.insiders] });
    const campaign = await given(app, t).campaign(await given(app, t).template(), [ids.insiders]);
    const page = await browser.context().newPage();
    await page.goto(app.url + unsubscribePath(app, t.id, who.id, campaign.id));
    expect(await page.locator('main').textContent()).toContain('Insiders');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unsubscribe', exact: true }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('is unsubscribed from Insiders');
    expect(await page.getByRole('button', { name: 'Resubscribe' }).count()).toBe(0);
    expect(await subscriptionStates(app, who.id)).toEqual({ Newsletter: 'subscribed', Insiders: 'unsubscribed' });
    expect((await optOuts(app, who.id)).map((e) => [e.source, e.list])).toEqual([['page', 'Insiders']]);
    // The forged resubscribe POST cannot rejoin it either.
    const res = await fetch(`${app.url}${unsubscribePath(app, t.id, who.id, campaign.id)}/resubscribe`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(res.status).toBe(200);
    expect(await subscriptionStates(app, who.id)).toEqual({ Newsletter: 'subscribed', Insiders: 'unsubscribed' });
    await page.close();
  });

  it('one-click unsubscribe (RFC 8058) from a private list\'s campaign leaves that list', async () => {
    const who = await given(app, t).subscribedContact('vis-oneclick@example.com', { lists: ['default', ids.insiders] });
    const campaign = await given(app, t).campaign(await given(app, t).template(), [ids.insiders]);
    const res = await fetch(app.url + unsubscribePath(app, t.id, who.id, campaign.id), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(res.status).toBe(200);
    expect(await subscriptionStates(app, who.id)).toEqual({ Newsletter: 'subscribed', Insiders: 'unsubscribed' });
  });
});

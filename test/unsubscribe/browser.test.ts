// The unsubscribe and preference flows in a real browser: Debian's chromium, headless, driven by
// playwright-core (nothing downloads a browser). JavaScript is disabled in the page context, so the
// flows are proven to work without it. If chromium is missing the test FAILS, naming the fix.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { given } from '../support/given.js';
import { confirmActivation, consent, mailsTo, optOuts, subscriptionStates, unsubscribePath } from './helpers.js';

let offersId: string;

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateBrowserTest/1.0' }); // after useApp: closes before the app stops
beforeAll(async () => {
  offersId = await given(app, t).list('Offers', { description: 'Discounts, now and then' });
}, 60_000);

describe('in headless Chromium, without JavaScript', () => {
  it('the unsubscribe link shows a page with a button; clicking it shows the done page', async () => {
    const id = (await given(app, t).subscribedContact('browser@example.com', { name: 'Browser Person', via: 'opt-in' })).id;
    const page = await browser.context().newPage();
    const res = await page.goto(app.url + unsubscribePath(app, t.id, id));
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Unsubscribe – Acme');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('h1').textContent()).toBe('Unsubscribe');
    const button = page.getByRole('button', { name: 'Unsubscribe', exact: true });
    await expect.poll(() => button.isVisible()).toBe(true);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed' }); // opening the page changed nothing
    await Promise.all([page.waitForNavigation(), button.click()]);
    expect(await page.title()).toBe('You are unsubscribed – Acme');
    expect(await page.getByRole('status').textContent()).toContain('is unsubscribed from all newsletters');
    expect(await page.getByRole('button', { name: 'Resubscribe' }).isVisible()).toBe(true);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
    expect(await optOuts(app, id)).toEqual([expect.objectContaining({ source: 'page', user_agent: 'PostgateBrowserTest/1.0' })]);
    await page.close();
  });

  it('the preference page: untick a list, save, reload: it stays unticked, and the database agrees', async () => {
    const id = (await given(app, t).subscribedContact('prefs-browser@example.com', { name: 'Pref Browser', lists: [offersId], via: 'opt-in' })).id;
    await addDefaultList(id);
    const page = await browser.context().newPage();
    await page.goto(`${app.url}${unsubscribePath(app, t.id, id)}/preferences`);
    expect(await page.title()).toBe('Email preferences – Acme');
    const news = page.getByLabel(/^Newsletter/);
    const offers = page.getByLabel(/^Offers/);
    expect(await news.isChecked()).toBe(true);
    expect(await offers.isChecked()).toBe(true);
    await offers.uncheck();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save preferences' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('Your preferences are saved.');
    await page.reload();
    expect(await page.getByLabel(/^Offers/).isChecked()).toBe(false);
    expect(await page.getByLabel(/^Newsletter/).isChecked()).toBe(true);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'unsubscribed' });
    expect((await optOuts(app, id)).map((e) => [e.source, e.list])).toEqual([['preferences', 'Offers']]);

    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Unsubscribe from all' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('unsubscribed from all newsletters');
    expect(await page.getByLabel(/^Newsletter/).isChecked()).toBe(false);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed', Offers: 'unsubscribed' });
    await page.close();
  });
});

/** Adds the default list to a contact that registered for Offers only (confirmed through the real flow). */
async function addDefaultList(id: string): Promise<void> {
  const newsletter = (await t.api('GET', '/api/lists')).body.items.find((l: { isDefault: boolean }) => l.isDefault).id;
  const n = mailsTo(app, 'prefs-browser@example.com').length;
  const r = await t.api('POST', `/api/contacts/${id}/subscriptions`, { listIds: [newsletter], consent });
  if (r.status !== 202) throw new Error(`opt-in answered ${r.status}`);
  await confirmActivation(app, 'prefs-browser@example.com', n + 1);
}

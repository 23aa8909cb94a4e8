// The preference page over real HTTP: lists with the contact's choices, leaving a list (at once,
// consent record source 'preferences'), adding one (double opt-in: 'unconfirmed' + a confirmation
// email, 'subscribed' only after the click), "unsubscribe from all", and the activation cap.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { planPreferences, tickedIds } from '../../src/unsubscribe/preferences.js';
import { activationLink, form, mailsTo, optOuts, snapshot, subscriptionStates, unsubscribePath, waitForMail } from './helpers.js';

const { app, t } = useApp({ config: { ACTIVATION_CAP_PER_DAY: 3 } });
let newsId: string;
let offersId: string;
let eventsId: string;

beforeAll(async () => {
  newsId = await given(app, t).defaultList();
  offersId = await given(app, t).list('Offers', { description: 'Discounts, now and then' });
  eventsId = await given(app, t).list('Events <& "Meetups">');
});

const checkbox = (html: string, id: string) => new RegExp(`<input type="checkbox" id="list-${id}" name="list" value="${id}"( checked)?>`).exec(html);

describe('planPreferences (pure)', () => {
  const lists = [
    { id: 'a', name: 'A', description: null, status: 'subscribed' as const },
    { id: 'b', name: 'B', description: null, status: 'unconfirmed' as const },
    { id: 'c', name: 'C', description: null, status: 'unsubscribed' as const },
    { id: 'd', name: 'D', description: null, status: null },
  ];
  it('leaves unticked chosen lists and joins ticked unchosen ones', () => {
    expect(planPreferences(lists, new Set(['a', 'c']))).toEqual({ leave: ['b'], join: ['c'] });
    expect(planPreferences(lists, new Set(['a', 'b']))).toEqual({ leave: [], join: [] });
    expect(planPreferences(lists, new Set())).toEqual({ leave: ['a', 'b'], join: [] });
    expect(planPreferences(lists, new Set(['d']))).toEqual({ leave: ['a', 'b'], join: ['d'] });
  });
  it('keeps only known ids from a form field', () => {
    expect([...tickedIds(['a', 'zz', 'C'], lists)]).toEqual(['a', 'c']); // ids compare case-insensitively, like uuids
    expect([...tickedIds('c', lists)]).toEqual(['c']);
    expect([...tickedIds(undefined, lists)]).toEqual([]);
    expect([...tickedIds({ x: 1 }, lists)]).toEqual([]);
  });
});

describe('the preference page', () => {
  const address = 'prefs@example.com';
  let id: string;
  let url: string;

  beforeAll(async () => {
    id = (await given(app, t).subscribedContact(address, { name: 'Pref Person', lists: [newsId, offersId], via: 'opt-in' })).id;
    url = `${app.url}${unsubscribePath(app, t.id, id)}/preferences`;
  });

  it('lists every list of the tenant with labelled checkboxes reflecting the choices; GET changes nothing', async () => {
    const before = await snapshot(app);
    const res = await fetch(url);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toMatch(/<title>Email preferences – Acme<\/title>/);
    expect(checkbox(html, newsId)?.[1]).toBe(' checked');
    expect(checkbox(html, offersId)?.[1]).toBe(' checked');
    expect(checkbox(html, eventsId)?.[1]).toBeUndefined();
    for (const listId of [newsId, offersId, eventsId]) expect(html).toContain(`<label for="list-${listId}">`);
    expect(html).toContain('Events &lt;&amp; &quot;Meetups&quot;&gt;');
    expect(html).toContain('Discounts, now and then');
    expect(html).toContain('<fieldset>');
    expect(html).toMatch(/<button type="submit" name="action" value="save">Save preferences<\/button>/);
    expect(html).toMatch(/<button type="submit" name="action" value="unsubscribe_all"[^>]*>Unsubscribe from all<\/button>/);
    expect(await snapshot(app)).toEqual(before);
  });

  it('unticking a list unsubscribes it at once (303 back to the page, which shows it unticked)', async () => {
    const body = new URLSearchParams([['list', newsId], ['action', 'save']]);
    const r = await form(url, body, { 'user-agent': 'PrefBrowser/3' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toMatch(/\/preferences\?saved=1$/);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'unsubscribed' });
    expect(await optOuts(app, id)).toEqual([expect.objectContaining({ source: 'preferences', list: 'Offers', user_agent: 'PrefBrowser/3' })]);
    const html = await (await fetch(new URL(r.headers.get('location') as string, app.url))).text();
    expect(html).toContain('Your preferences are saved.');
    expect(checkbox(html, offersId)?.[1]).toBeUndefined();
    expect(checkbox(html, newsId)?.[1]).toBe(' checked');
  });

  it('ticking a list asks for confirmation by email; only the click subscribes', async () => {
    const before = mailsTo(app, address).length;
    const body = new URLSearchParams([['list', newsId], ['list', eventsId], ['action', 'save']]);
    const r = await form(url, body);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toMatch(/saved=1&confirm=1$/);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'unsubscribed', 'Events <& "Meetups">': 'unconfirmed' });
    const [rec] = await ownerQuery<{ text: string; detail: Record<string, unknown> }>(app.db.url, `SELECT t.text, e.detail FROM consent_events e
      JOIN consent_texts t ON t.hash = e.text_hash AND t.tenant_id = e.tenant_id WHERE e.contact_id = $1 AND e.action = 'opt_in' AND e.list_id = $2`, [id, eventsId]);
    expect(rec.text).toMatch(/^Tick the emails you want to receive from Acme\./);
    expect(rec.detail).toMatchObject({ source: 'preferences' });
    const page = await (await fetch(url)).text();
    expect(checkbox(page, eventsId)?.[1]).toBe(' checked');
    expect(page).toContain('Waiting for you to confirm');
    const mail = await waitForMail(app, address, before + 1);
    const res = await fetch(activationLink(app, mail), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(res.status).toBe(200);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'unsubscribed', 'Events <& "Meetups">': 'subscribed' });
  });

  it('ignores list ids that are not the tenant\'s', async () => {
    const before = await snapshot(app);
    const body = new URLSearchParams([['list', newsId], ['list', eventsId], ['list', '00000000-0000-4000-8000-000000000000'], ['list', 'junk'], ['action', 'save']]);
    expect((await form(url, body)).status).toBe(303);
    expect(await snapshot(app)).toEqual(before);
  });

  it('"Unsubscribe from all" is one button', async () => {
    const r = await form(url, new URLSearchParams([['list', newsId], ['action', 'unsubscribe_all']]));
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toMatch(/saved=all$/);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed', Offers: 'unsubscribed', 'Events <& "Meetups">': 'unsubscribed' });
    const html = await (await fetch(new URL(r.headers.get('location') as string, app.url))).text();
    expect(html).toContain('You are unsubscribed from all newsletters.');
    expect(html).not.toContain(' checked');
  });

  it('when the activation cap is reached, shows why and changes nothing', async () => {
    const capped = 'capped@example.com';
    const cid = (await given(app, t).subscribedContact(capped, { name: 'Capped', via: 'opt-in' })).id;
    const curl = `${app.url}${unsubscribePath(app, t.id, cid)}/preferences`;
    // The registration used one activation of the 3 a day; two opt-in rounds use the rest.
    expect((await form(curl, new URLSearchParams([['list', newsId], ['list', offersId], ['action', 'save']]))).status).toBe(303);
    expect((await form(curl, new URLSearchParams([['list', newsId], ['list', offersId], ['list', eventsId], ['action', 'save']]))).status).toBe(303);
    expect((await form(curl, new URLSearchParams([['action', 'save']]))).status).toBe(303);
    const before = await snapshot(app);
    const r = await form(curl, new URLSearchParams([['list', newsId], ['action', 'save']]));
    expect(r.status).toBe(429);
    expect(r.text).toContain('try again tomorrow');
    expect(await snapshot(app)).toEqual(before);
  });
});

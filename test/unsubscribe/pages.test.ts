// Unsubscribe over real HTTP: RFC 8058 one-click (urlencoded and multipart), GET changes nothing,
// tampered and cross-tenant tokens, the page's POST and its done page, resubscribe through the
// confirmation flow, erased contacts, and POST /api/contacts/:id/unsubscribe.
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { signToken } from '../../src/policy/tokens.js';
import { multipartBoundary, multipartFields } from '../../src/unsubscribe/one-click.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';
import {
  activationLink, confirmActivation, form, mailsTo, optOuts, snapshot, subscriptionStates, unsubscribePath, waitForMail,
} from './helpers.js';

const { app, t: acme, tenant } = useApp();
const globex = tenant({ name: 'Globex', fromEmail: 'news@globex.example' });
let offersId: string;

beforeAll(async () => {
  offersId = await given(app, acme).list('Offers', { description: 'Discounts, now and then' });
});

async function campaignFor(t: TestTenant, listIds: string[]): Promise<string> {
  // A campaigns row as the campaigns module writes it, so that a link can name the campaign it came from.
  const [tpl] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO templates (tenant_id, name) VALUES ($1, 'tpl') RETURNING id`, [t.id]);
  await ownerQuery(app.db.url, `INSERT INTO template_versions (tenant_id, template_id, version, mjml, subject) VALUES ($1, $2, 1, '<mjml></mjml>', 's')`, [t.id, tpl.id]);
  const [c] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO campaigns (tenant_id, name, subject, template_id, template_version, list_ids)
    VALUES ($1, 'Spring', 'Hi', $2, 1, $3) RETURNING id`, [t.id, tpl.id, listIds]);
  return c.id;
}

describe('RFC 8058 one-click', () => {
  it('unsubscribes at once on a urlencoded POST, answering 200 text/plain without redirect or login', async () => {
    const id = (await given(app, acme).subscribedContact('one@example.com', { name: 'One Click', via: 'opt-in' })).id;
    const path = unsubscribePath(app, acme.id, id);
    const r = await form(app.url + path, 'List-Unsubscribe=One-Click', { 'user-agent': 'MailClient/9' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.headers.get('location')).toBeNull();
    expect(r.text).toMatch(/unsubscribed/i);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
    const events = await optOuts(app, id);
    expect(events).toEqual([expect.objectContaining({ source: 'one_click', list: 'Newsletter', ip: '127.0.0.1', user_agent: 'MailClient/9' })]);
  });

  it('accepts multipart/form-data, as some mail providers send it', async () => {
    const id = (await given(app, acme).subscribedContact('multi@example.com', { name: 'Multi Part', via: 'opt-in' })).id;
    const body = new FormData();
    body.set('List-Unsubscribe', 'One-Click');
    const res = await fetch(app.url + unsubscribePath(app, acme.id, id), { method: 'POST', body, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
    expect((await optOuts(app, id)).map((e) => e.source)).toEqual(['one_click']);
  });

  it('recognises the field in multipart bodies only as a field, and a text/plain body as the pair', async () => {
    expect(multipartBoundary('multipart/form-data; boundary="ab c"')).toBe('ab c');
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary=xyz')).toBe('xyz');
    expect(multipartBoundary('text/plain')).toBeNull();
    const body = '--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--xyz--\r\n';
    expect(multipartFields(body, 'xyz').get('List-Unsubscribe')).toBe('One-Click');
    const file = '--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"; filename="a.txt"\r\n\r\nOne-Click\r\n--xyz--\r\n';
    expect(multipartFields(file, 'xyz').size).toBe(0);

    const id = (await given(app, acme).subscribedContact('plain@example.com', { name: 'Plain Text', via: 'opt-in' })).id;
    const url = app.url + unsubscribePath(app, acme.id, id);
    const other = new FormData();
    other.set('something', 'else');
    const notOneClick = await fetch(url, { method: 'POST', body: other, redirect: 'manual' });
    expect(notOneClick.status).toBe(200);
    expect(notOneClick.headers.get('content-type')).toMatch(/^text\/html/); // an ordinary form POST: the done page
    const plain = await fetch(url, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await optOuts(app, id)).map((e) => e.source)).toEqual(['page', 'one_click']);
  });

  it('leaves only the lists of the campaign the message came from, and names the campaign in the record', async () => {
    const id = (await given(app, acme).subscribedContact('lists@example.com', { name: 'Two Lists', lists: [offersId], via: 'opt-in' })).id;
    await acme.api('POST', `/api/contacts/${id}/subscriptions`, { listIds: [(await acme.api('GET', '/api/lists')).body.items[0].id], consent: { text: 'Yes', source: 'x' } });
    await confirmActivation(app, 'lists@example.com', 2);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'subscribed' });
    const campaignId = await campaignFor(acme, [offersId]);
    const r = await form(app.url + unsubscribePath(app, acme.id, id, campaignId), 'List-Unsubscribe=One-Click');
    expect(r.status).toBe(200);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Offers: 'unsubscribed' });
    expect((await optOuts(app, id))[0]).toMatchObject({ source: 'one_click', list: 'Offers', detail: { campaignId } });
  });

  it('records a repeated one-click without changing anything else', async () => {
    const id = (await given(app, acme).subscribedContact('twice@example.com', { name: 'Twice', via: 'opt-in' })).id;
    const url = app.url + unsubscribePath(app, acme.id, id);
    expect((await form(url, 'List-Unsubscribe=One-Click')).status).toBe(200);
    expect((await form(url, 'List-Unsubscribe=One-Click')).status).toBe(200);
    const events = await optOuts(app, id);
    expect(events.map((e) => e.list)).toEqual(['Newsletter', null]);
    expect(events[1].detail).toMatchObject({ alreadyUnsubscribed: true });
  });
});

describe('the unsubscribe page', () => {
  let id: string;
  let url: string;

  beforeAll(async () => {
    id = (await given(app, acme).subscribedContact('page@example.com', { name: 'Page Person', via: 'opt-in' })).id;
    url = app.url + unsubscribePath(app, acme.id, id);
  });

  it('GET shows a branded, accessible page with a real form and changes nothing (also for HEAD)', async () => {
    const before = await snapshot(app);
    const res = await fetch(url);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html).toMatch(/<html lang="en" dir="ltr">/);
    expect(html).toMatch(/<title>Unsubscribe – Acme<\/title>/);
    expect(html).toContain('<form method="post" action="/u/');
    expect(html).toMatch(/<button type="submit"[^>]*>Unsubscribe<\/button>/);
    expect(html).toContain('pa•••@example.com');
    expect(html).not.toContain('page@example.com');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('1 Main Street, Springfield');
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${url}/preferences`)).status).toBe(200);
    expect(await snapshot(app)).toEqual(before);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed' });
  });

  it('its POST unsubscribes and shows a done page that offers to resubscribe', async () => {
    const r = await form(url, 'scope=link', { 'user-agent': 'Browser/1' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('You are unsubscribed');
    expect(r.text).toMatch(/<form method="post" action="\/u\/[^"]+\/resubscribe">/);
    expect(r.text).toMatch(/<button type="submit"[^>]*>Resubscribe<\/button>/);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
    expect(await optOuts(app, id)).toEqual([expect.objectContaining({ source: 'page', list: 'Newsletter', user_agent: 'Browser/1' })]);
  });

  it('resubscribing goes through the confirmation flow again', async () => {
    const before = mailsTo(app, 'page@example.com').length;
    const r = await form(`${url}/resubscribe`, '');
    expect(r.status).toBe(200);
    expect(r.text).toContain('Check your inbox');
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unconfirmed' });
    const mail = await waitForMail(app, 'page@example.com', before + 1);
    const [optIn] = await ownerQuery<{ text: string; detail: Record<string, unknown> }>(app.db.url, `SELECT t.text, e.detail FROM consent_events e
      JOIN consent_texts t ON t.hash = e.text_hash AND t.tenant_id = e.tenant_id WHERE e.contact_id = $1 AND e.action = 'opt_in' ORDER BY e.id DESC LIMIT 1`, [id]);
    expect(optIn.text).toMatch(/^Changed your mind\? Resubscribe to Newsletter from Acme\./);
    expect(optIn.detail).toMatchObject({ source: 'unsubscribe_page' });
    const res = await fetch(activationLink(app, mail), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(res.status).toBe(200);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed' });
  });

  it('"unsubscribe from all" on the page leaves every list even for a campaign link', async () => {
    const cid = (await given(app, acme).subscribedContact('allpage@example.com', { name: 'All Page', lists: [offersId], via: 'opt-in' })).id;
    const campaignId = await campaignFor(acme, [offersId]);
    await ownerQuery(app.db.url, `INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
      SELECT tenant_id, $1, id, 'subscribed' FROM lists WHERE tenant_id = $2 AND is_default`, [cid, acme.id]);
    const page = await (await fetch(app.url + unsubscribePath(app, acme.id, cid, campaignId))).text();
    expect(page).toContain('Offers');
    expect(page).toContain('value="all"');
    const r = await form(app.url + unsubscribePath(app, acme.id, cid, campaignId), 'scope=all');
    expect(r.status).toBe(200);
    expect(await subscriptionStates(app, cid)).toEqual({ Newsletter: 'unsubscribed', Offers: 'unsubscribed' });
  });
});

describe('tokens', () => {
  let id: string;
  let token: string;

  beforeAll(async () => {
    id = (await given(app, acme).subscribedContact('token@example.com', { name: 'Token Holder', via: 'opt-in' })).id;
    token = unsubscribeToken(app.pg.deps.tokens, { tenantId: acme.id, contactId: id, campaignId: null });
  });

  /** The token in the JSON format of mail sent before issue 20 (signed by hand: signToken writes the compact one now). */
  const legacy = (): string => {
    const keys = app.pg.deps.tokens;
    const body = Buffer.from(JSON.stringify({ p: 'unsubscribe', t: acme.id, s: { c: id, m: '' }, e: 0, k: keys.current })).toString('base64url');
    return `${body}.${createHmac('sha256', keys.keys[keys.current]).update(body).digest('base64url')}`;
  };

  const tampered = (): string[] => {
    const [body, mac] = legacy().split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    const swapTenant = Buffer.from(JSON.stringify({ ...payload, t: globex.id })).toString('base64url');
    const flip = (s: string) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    const flipByte = (t: string, i: number) => { const b = Buffer.from(t, 'base64url'); b[i] ^= 1; return b.toString('base64url'); };
    return [`${swapTenant}.${mac}`, `${body}.${flip(mac)}`, `${flip(body)}.${mac}`, body, `${token}x`, 'garbage', '%00',
      flipByte(token, 0), flipByte(token, 1), flipByte(token, 5), flipByte(token, 20), flipByte(token, 44), token.slice(0, -1)];
  };

  it('a link in the JSON format (mail sent before issue 20) still works', async () => {
    expect(token).not.toContain('.');
    expect(token.length).toBeLessThanOrEqual(61);
    const get = await fetch(`${app.url}/u/${legacy()}`);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('Unsubscribe');
    expect((await fetch(`${app.url}/u/${legacy()}/preferences`)).status).toBe(200);
  });

  it('refuses every altered token with a 400 and changes nothing, on GET, POST, one-click and preferences', async () => {
    const before = await snapshot(app);
    for (const bad of tampered()) {
      const enc = encodeURIComponent(bad);
      const get = await fetch(`${app.url}/u/${enc}`);
      expect(get.status, bad).toBe(400);
      expect(await get.text()).toContain('This link is not valid');
      expect((await form(`${app.url}/u/${enc}`, 'List-Unsubscribe=One-Click')).status).toBe(400);
      expect((await form(`${app.url}/u/${enc}`, 'scope=all')).status).toBe(400);
      expect((await form(`${app.url}/u/${enc}/preferences`, 'action=unsubscribe_all')).status).toBe(400);
      expect((await form(`${app.url}/u/${enc}/resubscribe`, '')).status).toBe(400);
    }
    expect(await snapshot(app)).toEqual(before);
  });

  it('a token of another purpose (an activation token with the same ids) is refused', async () => {
    const other = signToken(app.pg.deps.tokens, 'activation', acme.id, { c: id, m: '' }, { ttlSeconds: null });
    expect((await form(`${app.url}/u/${other}`, 'List-Unsubscribe=One-Click')).status).toBe(400);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed' });
  });

  it('a validly signed token of tenant A naming a contact of tenant B cannot touch B', async () => {
    const bId = (await given(app, globex).subscribedContact('bee@example.com', { name: 'Bee', via: 'opt-in' })).id;
    const crossed = unsubscribeToken(app.pg.deps.tokens, { tenantId: acme.id, contactId: bId, campaignId: null });
    const before = await snapshot(app);
    const page = await fetch(`${app.url}/u/${crossed}`);
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain('bee@');
    expect((await form(`${app.url}/u/${crossed}`, 'List-Unsubscribe=One-Click')).status).toBe(200);
    expect((await form(`${app.url}/u/${crossed}`, 'scope=all')).status).toBe(404);
    expect((await form(`${app.url}/u/${crossed}/preferences`, 'action=unsubscribe_all')).status).toBe(404);
    expect(await snapshot(app)).toEqual(before);
    expect(await subscriptionStates(app, bId)).toEqual({ Newsletter: 'subscribed' });
  });

  it('keys rotate: a token signed with an older key still works while that key is configured', async () => {
    const keys = app.pg.deps.tokens;
    const old = unsubscribeToken(keys, { tenantId: acme.id, contactId: id, campaignId: null });
    const rotated = { current: 'k2', keys: { ...keys.keys, k2: 'a-brand-new-secret-0123456789' } };
    const fresh = unsubscribeToken(rotated, { tenantId: acme.id, contactId: id, campaignId: null });
    expect(fresh).not.toBe(old);
    // The running app knows only k1: the k2 token is refused, the k1 token verifies.
    expect((await fetch(`${app.url}/u/${fresh}`)).status).toBe(400);
    expect((await fetch(`${app.url}/u/${old}`)).status).toBe(200);
  });

  it('an erased contact gets a neutral page and one-click changes nothing', async () => {
    const eId = (await given(app, acme).subscribedContact('gone@example.com', { name: 'Gone Person', via: 'opt-in' })).id;
    expect((await acme.api('DELETE', `/api/contacts/${eId}`)).status).toBe(200);
    const url = app.url + unsubscribePath(app, acme.id, eId);
    const before = await snapshot(app);
    const page = await fetch(url);
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('Nothing to manage here');
    expect((await form(url, 'List-Unsubscribe=One-Click')).status).toBe(200);
    expect(await snapshot(app)).toEqual(before);
  });
});

describe('POST /api/contacts/:id/unsubscribe', () => {
  it('unsubscribes from the given lists with a consent record of source api', async () => {
    const id = (await given(app, acme).subscribedContact('api@example.com', { name: 'Api Person', lists: [offersId], via: 'opt-in' })).id;
    const r = await acme.api('POST', `/api/contacts/${id}/unsubscribe`, { listIds: [offersId], ip: '198.51.100.4', userAgent: 'App/2' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ contactId: id, unsubscribedFrom: [offersId], subscriptions: [{ listId: offersId, listName: 'Offers', status: 'unsubscribed' }] });
    expect(await optOuts(app, id)).toEqual([expect.objectContaining({ source: 'api', list: 'Offers', ip: '198.51.100.4', user_agent: 'App/2' })]);
  });

  it('defaults to all lists, and refuses unknown lists, unknown contacts and other tenants\' contacts', async () => {
    const id = (await given(app, acme).subscribedContact('api2@example.com', { name: 'Api Two', via: 'opt-in' })).id;
    expect((await acme.api('POST', `/api/contacts/${id}/unsubscribe`, { listIds: ['00000000-0000-4000-8000-000000000000'] })).body.error)
      .toMatchObject({ code: 'unknown_list', field: 'listIds[0]' });
    expect((await acme.api('POST', `/api/contacts/${id}/unsubscribe`, { listIds: 'x' })).status).toBe(422);
    expect((await acme.api('POST', '/api/contacts/not-a-uuid/unsubscribe', {})).status).toBe(404);
    expect((await globex.api('POST', `/api/contacts/${id}/unsubscribe`, {})).status).toBe(404);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed' });
    const r = await acme.api('POST', `/api/contacts/${id}/unsubscribe`, {});
    expect(r.status).toBe(200);
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
  });

  it('needs the subscribers scope', async () => {
    const narrow = await app.tenant({ name: 'Narrow', scopes: ['transactional'] });
    const r = await narrow.api('POST', '/api/contacts/00000000-0000-4000-8000-000000000000/unsubscribe', {});
    expect(r.status).toBe(403);
  });
});

describe('a link whose path cannot be decoded, or a form over its limit', () => {
  it('gets a page in the visitor\'s language, not the API\'s JSON; the API keeps its JSON', async () => {
    for (const path of ['/u/%ZZ', '/a/%FF%FE', '/u/%C0%AF/preferences', '/t/%E0%A4%A']) {
      const r = await fetch(`${app.url}${path}`, { headers: { accept: 'text/html', 'accept-language': 'de-DE' } });
      expect(r.status, path).toBe(400);
      expect(r.headers.get('content-type'), path).toMatch(/^text\/html/);
      const text = await r.text();
      expect(text).toContain('<html lang="de"');
      expect(r.headers.get('vary')).toMatch(/Accept-Language/i);
    }
    const big = await fetch(`${app.url}/u/x/preferences`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: `a=${'x'.repeat(40_000)}`,
    });
    expect(big.status).toBe(413);
    expect(await big.text()).toContain('<html lang="en"');
    const api = await fetch(`${app.url}/api/contacts/%ZZ`, { headers: { accept: 'text/html' } });
    expect(api.headers.get('content-type')).toMatch(/json/);
  });
});

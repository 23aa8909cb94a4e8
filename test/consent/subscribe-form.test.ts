// The public subscription form of a public list (issue 16): the hosted page in headless Chromium
// (Debian's chromium via playwright-core, JavaScript off: no cookies, no other origin, no script),
// double opt-in through the real SMTP sink, the consent records it leaves, the honeypot, the
// embeddable snippet posted from a page on another origin, closed lists, and the per-IP caps.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { ownerQuery } from '../support/db.js';
import { ipHash } from '../../src/consent/forms.js';
import { activationLink, mailsTo, settled, waitForMail } from '../support/mail.js';

const UA = 'PostgateFormTest/1.0';
const WORDING = 'Yes, send me Weekly from Acme. I can unsubscribe at any time.';

let site: http.Server | null = null;
let siteUrl: string;
let siteHtml = '';
let listId: string;

beforeAll(async () => {
  // The tenant's own website: another origin (localhost, not 127.0.0.1) serving the snippet.
  site = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(siteHtml); });
  await new Promise<void>((resolve) => site?.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
}, 60_000);
const { app, t } = useApp({ config: { FORM_PER_IP_PER_HOUR: 3, FORM_PER_IP_PER_DAY: 4 } });
const browser = useBrowser({ userAgent: UA }); // after useApp: closes before the app stops
beforeAll(async () => {
  const r = await t.api('POST', '/api/lists', { name: 'Weekly', description: 'Once a week' });
  expect(r.status).toBe(201);
  listId = r.body.id;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

/** Opens a page that records every request it makes. */
async function tracked(): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.context().newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  return { page, requests };
}

async function contactOf(email: string): Promise<{ id: string; status: string; name: string | null } | undefined> {
  return (await ownerQuery<{ id: string; status: string; name: string | null }>(app.db.url,
    'SELECT id, status, name FROM contacts WHERE tenant_id = $1 AND email_key = $2', [t.id, email.toLowerCase()]))[0];
}

async function subscription(contactId: string): Promise<string | undefined> {
  return (await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM subscriptions WHERE contact_id = $1 AND list_id = $2', [contactId, listId]))[0]?.status;
}

async function records(contactId: string) {
  return ownerQuery<{ action: string; source: string; ip: string | null; user_agent: string | null; text: string | null; detail: Record<string, unknown> }>(app.db.url,
    `SELECT e.action, e.source, host(e.ip) AS ip, e.user_agent, t.text, e.detail FROM consent_events e
     LEFT JOIN consent_texts t ON t.tenant_id = e.tenant_id AND t.hash = e.text_hash WHERE e.contact_id = $1 ORDER BY e.id`, [contactId]);
}

/** Follows the activation mail's link in the browser and presses Confirm. */
async function confirmInBrowser(email: string): Promise<void> {
  const link = activationLink(app, await waitForMail(app, email, 1, 30_000));
  const page = await browser.context().newPage();
  await page.goto(link);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Confirm' }).click()]);
  expect(await page.locator('h1').textContent()).toBe('Confirmed');
  await page.close();
}

const post = (path: string, fields: Record<string, string>, ip?: string) => fetch(app.url + path, {
  method: 'POST', redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(ip ? { 'x-forwarded-for': ip } : {}) },
  body: new URLSearchParams(fields).toString(),
});

describe('the hosted form in headless Chromium', () => {
  it('sets no cookie, loads nothing from another origin, runs no script, and subscribes through double opt-in', async () => {
    const { page, requests } = await tracked();
    const res = await page.goto(`${app.url}/subscribe/${listId}`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Subscribe to Weekly – Acme');
    const source = await page.content();
    expect(source).not.toMatch(/<script/i);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(res?.headers()['set-cookie']).toBeUndefined();
    expect(await page.locator('#wording').textContent()).toBe(WORDING);
    const honeypot = await page.locator('#website').boundingBox();
    expect(honeypot && honeypot.x + honeypot.width).toBeLessThan(0); // off screen, not in the reader's way

    await page.getByLabel('Email address').fill('Reader.One@example.com');
    await page.getByLabel('Name (optional)').fill('Reader One');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Subscribe' }).click()]);
    expect(await page.title()).toBe('Check your inbox – Acme');
    expect(await page.getByRole('status').textContent()).toContain('Reader.One@example.com');
    expect(await browser.context().cookies()).toEqual([]);
    expect(requests.every((u) => new URL(u).origin === app.url)).toBe(true);
    await page.close();

    const before = await contactOf('reader.one@example.com');
    expect(before).toMatchObject({ status: 'pending', name: 'Reader One' });
    await confirmInBrowser('Reader.One@example.com');
    expect(await contactOf('reader.one@example.com')).toMatchObject({ status: 'active' });
    expect(await subscription(before!.id)).toBe('subscribed');
    const recs = await records(before!.id);
    const optIn = recs.find((r) => r.action === 'opt_in');
    expect(optIn).toMatchObject({ source: 'form', ip: '127.0.0.1', user_agent: UA, text: WORDING, detail: expect.objectContaining({ source: 'hosted' }) });
    expect(recs.find((r) => r.action === 'register')).toMatchObject({ source: 'form', text: WORDING });
    expect(await browser.context().cookies()).toEqual([]);
  });

  it('answers a filled honeypot with the same page, and sends and records nothing', async () => {
    const [{ n: hitsBefore }] = await ownerQuery<{ n: number }>(app.db.url, 'SELECT count(*)::int AS n FROM form_hits');
    const { page } = await tracked();
    await page.goto(`${app.url}/subscribe/${listId}`);
    await page.getByLabel('Email address').fill('bot@example.com');
    await page.locator('#website').fill('https://spam.example', { force: true });
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Subscribe' }).click()]);
    expect(await page.title()).toBe('Check your inbox – Acme');
    expect(await page.getByRole('status').textContent()).toContain('bot@example.com');
    await page.close();
    await settled(app);
    expect(mailsTo(app, 'bot@example.com')).toEqual([]);
    expect(await contactOf('bot@example.com')).toBeUndefined();
    expect(await ownerQuery(app.db.url, 'SELECT count(*)::int AS n FROM form_hits')).toEqual([{ n: hitsBefore }]);
  });

  it('shows the form again with a 422 naming the field for a bad address', async () => {
    const r = await post(`/subscribe/${listId}`, { email: 'not an address', name: 'X' }, '198.51.100.9');
    expect(r.status).toBe(422);
    const body = await r.text();
    expect(body).toContain('id="email-error"');
    expect(body).toContain('aria-invalid="true" aria-describedby="email-error"');
    expect(body).toContain('value="not an address"');
  });
});

describe('the embeddable snippet', () => {
  it('is a plain form with the wording and a hidden honeypot, and works when posted from another origin', async () => {
    const r = await t.api('GET', `/api/lists/${listId}/form`);
    expect(r.status).toBe(200);
    expect(r.body.url).toBe(`https://postgate.test/subscribe/${listId}`);
    expect(r.body.html).toContain(`<form method="post" action="https://postgate.test/subscribe/${listId}"`);
    expect(r.body.html).toContain(WORDING);
    expect(r.body.html).toMatch(/<div style="position:absolute;left:-10000px[^"]*" aria-hidden="true"><label>Leave this field empty <input name="website"/);
    expect(r.body.html).not.toMatch(/<script|class=/i);

    siteHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme's site</title></head><body><h1>Join us</h1>
${String(r.body.html).replaceAll('https://postgate.test', app.url)}</body></html>`;
    const page = await browser.context().newPage();
    await page.goto(siteUrl);
    expect(new URL(page.url()).origin).not.toBe(app.url);
    await page.getByLabel('Email address').fill('embedded@example.com');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Subscribe' }).click()]);
    expect(page.url()).toBe(`${app.url}/subscribe/${listId}`);
    expect(await page.title()).toBe('Check your inbox – Acme');
    await page.close();
    await confirmInBrowser('embedded@example.com');
    const c = await contactOf('embedded@example.com');
    expect(await subscription(c!.id)).toBe('subscribed');
    expect((await records(c!.id)).find((x) => x.action === 'opt_in')).toMatchObject({
      source: 'form', user_agent: UA, text: WORDING, detail: expect.objectContaining({ source: `embedded ${siteUrl}` }),
    });
  });

  it('records the wording the snippet showed even after the list was renamed', async () => {
    const r = await t.api('POST', '/api/lists', { name: 'Monthly' });
    const old = (await t.api('GET', `/api/lists/${r.body.id}/form`)).body.html as string;
    expect((await t.api('PATCH', `/api/lists/${r.body.id}`, { name: 'Monthly digest' })).status).toBe(200);
    const hash = /name="wording" value="([0-9a-f]{64})"/.exec(old)?.[1] ?? '';
    const res = await post(`/subscribe/${r.body.id}`, { email: 'renamed@example.com', name: '', website: '', wording: hash }, '198.51.100.8');
    expect(res.status).toBe(200);
    const c = await contactOf('renamed@example.com');
    expect((await records(c!.id)).find((x) => x.action === 'opt_in')?.text).toBe('Yes, send me Monthly from Acme. I can unsubscribe at any time.');
  });

  it('does not believe a posted hash of a wording that is not a form\'s (one the app stored through the API)', async () => {
    const r = await t.api('POST', '/api/lists', { name: 'Quarterly' });
    const apiText = 'I agree to everything, forever, including things I was never shown.';
    const via = await t.api('POST', '/api/contacts', { email: 'api-text@example.com', newsletter: false, consent: { text: apiText, source: 'app' } });
    expect(via.status).toBe(201);
    const forged = createHash('sha256').update(apiText, 'utf8').digest('hex');
    const res = await post(`/subscribe/${r.body.id}`, { email: 'forged-wording@example.com', name: '', website: '', wording: forged }, '198.51.100.9');
    expect(res.status).toBe(200);
    const c = await contactOf('forged-wording@example.com');
    expect((await records(c!.id)).find((x) => x.action === 'opt_in')?.text).toBe('Yes, send me Quarterly from Acme. I can unsubscribe at any time.');
  });

  it('records only a well-formed Origin (scheme://host[:port], normalised), else plain "embedded"', async () => {
    const cases: [string, string][] = [
      ['https://a.example/<script>', 'embedded'],
      ['https://a.example<b>', 'embedded'],
      ['javascript:alert(1)', 'embedded'],
      ['HTTPS://Shop.A.Example:8443', 'embedded https://shop.a.example:8443'],
    ];
    for (const [n, [origin, expected]] of cases.entries()) {
      const email = `origin${n}@example.com`;
      const res = await fetch(`${app.url}/subscribe/${listId}`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `198.51.100.${60 + n}`, origin },
        body: new URLSearchParams({ email, name: '', website: '' }).toString(),
      });
      expect(res.status).toBe(200);
      const c = await contactOf(email);
      expect((await records(c!.id)).find((x) => x.action === 'opt_in')?.detail).toMatchObject({ source: expected });
    }
  });
});

describe('lists that are not open to sign-ups', () => {
  it('answers 404 pages for private, archived, deleted and unknown lists, and 409 for their snippet', async () => {
    const priv = (await t.api('POST', '/api/lists', { name: 'Staff only', visibility: 'private' })).body.id as string;
    const archived = (await t.api('POST', '/api/lists', { name: 'Old news', archived: true })).body.id as string;
    const deleted = (await t.api('POST', '/api/lists', { name: 'Gone' })).body.id as string;
    expect((await t.api('DELETE', `/api/lists/${deleted}`)).status).toBeLessThan(300);
    for (const id of [priv, archived, deleted, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const page = await fetch(`${app.url}/subscribe/${id}`);
      expect(page.status).toBe(404);
      expect(await page.text()).toContain('This form is not available');
      expect((await post(`/subscribe/${id}`, { email: 'closed@example.com' }, '198.51.100.7')).status).toBe(404);
    }
    expect(await contactOf('closed@example.com')).toBeUndefined();
    for (const id of [priv, archived]) {
      const r = await t.api('GET', `/api/lists/${id}/form`);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'conflict', field: 'id' });
    }
    expect((await t.api('GET', `/api/lists/${deleted}/form`)).status).toBe(404);
  });

  it('serves another tenant\'s public list with that tenant\'s brand (the page resolves the tenant), and never its snippet to this tenant', async () => {
    const other = await app.tenant({ name: 'Other' });
    const otherPublic = (await other.api('POST', '/api/lists', { name: 'Their list' })).body.id as string;
    const page = await fetch(`${app.url}/subscribe/${otherPublic}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Yes, send me Their list from Other.');
    expect((await t.api('GET', `/api/lists/${otherPublic}/form`)).status).toBe(404); // not this tenant's list
  });
});

describe('the per-IP caps of the public form', () => {
  it('takes FORM_PER_IP_PER_HOUR posts from one client IP, then answers a 429 page with Retry-After; another IP goes on', async () => {
    const statuses = [];
    for (const n of [1, 2, 3, 4]) statuses.push((await post(`/subscribe/${listId}`, { email: `ip-cap${n}@example.com` }, '198.51.100.20')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const over = await post(`/subscribe/${listId}`, { email: 'ip-cap5@example.com' }, '198.51.100.20');
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
    expect(await over.text()).toContain('Too many sign-ups came from your network');
    expect(await contactOf('ip-cap4@example.com')).toBeUndefined();
    expect((await post(`/subscribe/${listId}`, { email: 'ip-cap6@example.com' }, '198.51.100.21')).status).toBe(200);
    const stored = await ownerQuery<{ h: string }>(app.db.url, "SELECT encode(ip_hash, 'hex') AS h FROM form_hits");
    expect(JSON.stringify(stored)).not.toContain('198.51.100');
  });

  it('counts FORM_PER_IP_PER_DAY over 24 hours', async () => {
    const hash = ipHash(app.pg.deps.tokens, '198.51.100.30');
    await ownerQuery(app.db.url, "INSERT INTO form_hits (tenant_id, ip_hash, at) SELECT $1, $2, now() - interval '3 hours' FROM generate_series(1, 4)", [t.id, hash]);
    const r = await post(`/subscribe/${listId}`, { email: 'day-cap@example.com' }, '198.51.100.30');
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(20 * 3600);
  });

  it('answers the mailbox cap with a clear 429 page', async () => {
    const statuses = [];
    for (const [n, tag] of ['a', 'b', 'c', 'd'].entries()) statuses.push((await post(`/subscribe/${listId}`, { email: `inbox+${tag}@example.com` }, `198.51.100.${40 + n}`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const r = await post(`/subscribe/${listId}`, { email: 'inbox@example.com' }, '198.51.100.50');
    expect(r.status).toBe(429);
    expect(await r.text()).toContain('We already sent several confirmation emails to this address today');
  });
});

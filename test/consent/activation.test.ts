// Double opt-in end to end over real HTTP, SMTP and PostgreSQL: register → activation mail → GET
// (changes nothing) → POST (active, subscribed), with the consent records of each path.
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { activationToken, readActivationData, readActivationToken } from '../../src/consent/activation.js';
import { addSuppression } from '../../src/consent/suppressions.js';
import { consent, get, linkOf, post, snapshot, tokenOf, waitForMail, waitForStatus } from './helpers.js';

const { app, t } = useApp();
let newsletterId: string;

beforeAll(async () => {
  newsletterId = (await t.api('GET', '/api/lists')).body.items[0].id;
});

async function register(address: string, newsletter: boolean | string[] = true, extra: Record<string, unknown> = {}) {
  return t.api('POST', '/api/contacts', { email: address, name: 'Ada Lovelace', newsletter, consent, ...extra });
}

describe('register with opt-in', () => {
  const address = 'ada@example.com';
  let contactId: string;
  let link: string;

  it('creates a pending contact with an unconfirmed subscription and queues an activation', async () => {
    const r = await register(address, true, { attributes: { plan: 'pro' } });
    expect(r.status).toBe(201);
    contactId = r.body.id;
    expect(r.body).toMatchObject({ email: address, name: 'Ada Lovelace', status: 'pending', verifiedAt: null, attributes: { plan: 'pro' } });
    expect(r.body.subscriptions).toEqual([expect.objectContaining({ listId: newsletterId, listName: 'Newsletter', status: 'unconfirmed' })]);
    expect(r.body.activation).toMatchObject({ messageId: expect.any(String) });
    const [row] = await ownerQuery(app.db.url, 'SELECT purpose, kind, template, recipient FROM messages WHERE id = $1', [r.body.activation.messageId]);
    expect(row).toEqual({ purpose: `activation:${contactId}:1`, kind: 'activation', template: 'activation', recipient: address });
  });

  it('delivers a branded activation email with a valid reply-to, a text part and the link', async () => {
    const mail = await waitForMail(app, address);
    const p = mail.parsed;
    expect(p.subject).toBe('Confirm your email address for Acme');
    expect(p.from?.value[0]).toMatchObject({ address: 'news@acme.org', name: 'Acme News' });
    expect(p.replyTo?.value[0].address).toBe('support@acme.org');
    expect(p.text).toContain('Hello Ada Lovelace');
    expect(p.text).toContain('Newsletter');
    expect(p.text).toContain('1 Main Street, Springfield');
    expect(p.text).toMatch(/expires in 7 days/);
    link = linkOf(app, mail);
    expect(p.html).toContain(link.replace(app.url, 'https://postgate.test'));
    expect(JSON.stringify(await ownerQuery(app.db.url, 'SELECT * FROM messages'))).not.toContain(tokenOf(link));
  });

  it('shows what will happen on GET, with a real form, and changes nothing', async () => {
    const before = await snapshot(app, t.id);
    const page = await get(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.html).toContain('<html lang="en" dir="ltr">');
    expect(page.html).toMatch(/<form method="post" action="\/a\/[^"]+"><button type="submit">Confirm<\/button><\/form>/);
    expect(page.html).toContain('Acme');
    expect(page.html).toContain('ada@example.com');
    expect(page.html).toContain('<li>Newsletter</li>');
    expect(page.html).not.toMatch(/<script/i);
    await get(link);
    expect((await fetch(link, { method: 'HEAD' })).status).toBe(200);
    expect(await snapshot(app, t.id)).toEqual(before);
  });

  it('activates the contact and subscribes it on POST', async () => {
    const r = await post(link);
    expect(r.status).toBe(200);
    expect(r.html).toContain('Confirmed');
    expect(r.html).toContain('<li>Newsletter</li>');
    const c = (await t.api('GET', `/api/contacts/${contactId}`)).body;
    expect(c.status).toBe('active');
    expect(c.verifiedAt).not.toBeNull();
    expect(c.subscriptions).toEqual([expect.objectContaining({ listId: newsletterId, status: 'subscribed' })]);
  });

  it('keeps the consent records of the whole path', async () => {
    const events = (await t.api('GET', `/api/contacts/${contactId}/consent`)).body.items;
    expect(events.map((e: any) => [e.action, e.listId])).toEqual([
      ['register', null], ['opt_in', newsletterId], ['confirm', null], ['confirm', newsletterId]]);
    const [reg, optIn, confirmAddr, confirmList] = events;
    for (const e of [reg, optIn]) {
      expect(e).toMatchObject({ source: 'api', ip: consent.ip, userAgent: consent.userAgent, text: consent.text, detail: expect.objectContaining({ source: 'signup-form' }) });
    }
    for (const e of [confirmAddr, confirmList]) {
      expect(e).toMatchObject({ source: 'page', userAgent: 'TestBrowser/1.0' });
      expect(e.ip).toMatch(/127\.0\.0\.1|::1/);
      expect(e.text).toContain('ada@example.com');
      expect(e.text).toContain('Newsletter');
    }
    const texts = await ownerQuery(app.db.url, 'SELECT hash FROM consent_texts WHERE tenant_id = $1 AND text = $2', [t.id, consent.text]);
    expect(texts).toHaveLength(1);
    await expect(ownerQuery(app.db.url, "UPDATE consent_events SET action = 'x' WHERE contact_id = $1", [contactId])).rejects.toThrow(/append-only/);
  });

  it('refuses the used link on POST and GET, changing nothing', async () => {
    const before = await snapshot(app, t.id);
    const again = await post(link);
    expect(again.status).toBe(410);
    expect(again.html).toContain('already used');
    expect(again.html).toContain('Nothing has been changed');
    expect((await get(link)).status).toBe(410);
    expect(await snapshot(app, t.id)).toEqual(before);
  });
});

describe('register without opt-in', () => {
  it('ends active but subscribed to nothing', async () => {
    const address = 'grace@example.com';
    const r = await register(address, false);
    expect(r.status).toBe(201);
    expect(r.body.subscriptions).toEqual([]);
    const mail = await waitForMail(app, address);
    expect(mail.parsed.text).not.toContain('Newsletter');
    const link = linkOf(app, mail);
    expect((await get(link)).html).not.toContain('<li>');
    expect((await post(link)).status).toBe(200);
    const c = (await t.api('GET', `/api/contacts/${r.body.id}`)).body;
    expect(c).toMatchObject({ status: 'active', subscriptions: [] });
    const events = (await t.api('GET', `/api/contacts/${r.body.id}/consent`)).body.items;
    expect(events.map((e: any) => [e.action, e.listId])).toEqual([['register', null], ['confirm', null]]);
  });
});

describe('bad links', () => {
  let address: string;
  let contactId: string;
  let link: string;

  beforeAll(async () => {
    address = 'linus@example.com';
    contactId = (await register(address)).body.id;
    link = linkOf(app, await waitForMail(app, address));
  });

  it('refuses tampered tokens with 400 and changes nothing', async () => {
    const before = await snapshot(app, t.id);
    const token = tokenOf(link);
    expect(token).not.toContain('.'); // the compact format (policy/tokens.ts)
    const flipByte = (i: number) => { const raw = Buffer.from(token, 'base64url'); raw[i] ^= 0x10; return raw.toString('base64url'); };
    // The JSON format of links mailed before issue 20, for the same message: its fields rewritten, its MAC altered.
    const claim = readActivationToken(app.pg.deps.tokens, token);
    if (!claim.ok) throw new Error('the mailed link does not verify');
    const keys = app.pg.deps.tokens;
    const body = Buffer.from(JSON.stringify({ p: 'activation', t: t.id, s: { c: contactId, m: claim.claim.messageId }, e: Math.floor(Date.now() / 1000) + 3600, k: keys.current })).toString('base64url');
    const sig = createHmac('sha256', keys.keys[keys.current]).update(body).digest('base64url');
    const flipped = `${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    payload.s.c = '00000000-0000-4000-8000-000000000000';
    const rewritten = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    for (const bad of [flipped, rewritten, 'garbage', `${token}x`, 'a.b', flipByte(0), flipByte(1), flipByte(6), flipByte(30), flipByte(48), token.slice(0, -2)]) {
      const g = await get(`${app.url}/a/${bad}`);
      expect(g.status).toBe(400);
      expect(g.html).toContain('not valid');
      expect((await post(`${app.url}/a/${bad}`)).status).toBe(400);
    }
    expect(await snapshot(app, t.id)).toEqual(before);
  });

  it('refuses an expired link with 410 and changes nothing', async () => {
    const [row] = await ownerQuery<{ id: string; data: Record<string, unknown> }>(app.db.url, 'SELECT id, data FROM messages WHERE contact_id = $1', [contactId]);
    const data = readActivationData(row.data)!;
    expect(Date.parse(data.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(Date.parse(data.expiresAt) - Date.now()).toBeLessThan(7 * 86_400_000);
    // The link from the mail, eight days later:
    expect(readActivationToken(app.pg.deps.tokens, tokenOf(link), Math.floor(Date.now() / 1000) + 8 * 86_400)).toEqual({ ok: false, error: 'expired' });
    // The same link, signed as if its week had passed:
    const expired = activationToken(app.pg.deps.tokens, { id: row.id, tenantId: t.id, contactId }, new Date(Date.now() - 1000).toISOString());
    const before = await snapshot(app, t.id);
    const g = await get(`${app.url}/a/${expired}`);
    expect(g.status).toBe(410);
    expect(g.html).toContain('expired');
    expect((await post(`${app.url}/a/${expired}`)).status).toBe(410);
    expect(await snapshot(app, t.id)).toEqual(before);
    expect((await t.api('GET', `/api/contacts/${contactId}`)).body.status).toBe('pending');
  });

  it('renders the same link on every render of one message', async () => {
    const [row] = await ownerQuery<{ id: string; data: Record<string, unknown> }>(app.db.url, 'SELECT id, data FROM messages WHERE contact_id = $1', [contactId]);
    const data = readActivationData(row.data)!;
    expect(activationToken(app.pg.deps.tokens, { id: row.id, tenantId: t.id, contactId }, data.expiresAt)).toBe(tokenOf(link));
    const claim = readActivationToken(app.pg.deps.tokens, tokenOf(link));
    // The compact token names tenant and message only; the row names the contact.
    expect(claim).toMatchObject({ ok: true, claim: { tenantId: t.id, contactId: null, messageId: row.id } });
  });
});

describe('re-registration and the resend cap', () => {
  it('reuses the contact, keeps its history, resends within the cap, then answers 429 and records nothing', async () => {
    const address = 'Margaret@Example.COM';
    const first = await register(address);
    expect(first.status).toBe(201);
    expect(first.body.email).toBe('Margaret@example.com');
    const second = await register('margaret@example.com', false, { name: 'Margaret H.' });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.name).toBe('Margaret H.');
    expect(second.body.subscriptions).toEqual([expect.objectContaining({ status: 'unconfirmed' })]);
    expect((await register(' MARGARET@example.com ')).status).toBe(200);
    await waitForMail(app, 'Margaret@example.com', 3);

    const before = await snapshot(app, t.id);
    const capped = await register('margaret@example.com');
    expect(capped.status).toBe(429);
    expect(capped.body.error).toMatchObject({ code: 'rate_limited', field: 'email' });
    expect(Number(capped.headers.get('retry-after'))).toBeGreaterThan(80_000);
    const optIn = await t.api('POST', `/api/contacts/${first.body.id}/subscriptions`, { listIds: [(await t.api('GET', '/api/lists')).body.items[0].id], consent });
    expect(optIn.status).toBe(429);
    expect(await snapshot(app, t.id)).toEqual(before);

    const rows = await ownerQuery(app.db.url, "SELECT purpose FROM messages WHERE contact_id = $1 ORDER BY purpose", [first.body.id]);
    expect(rows.map((r) => r.purpose)).toEqual([1, 2, 3].map((n) => `activation:${first.body.id}:${n}`));
    const contacts = await ownerQuery(app.db.url, 'SELECT id FROM contacts WHERE tenant_id = $1 AND email_key = $2', [t.id, 'margaret@example.com']);
    expect(contacts).toHaveLength(1);
    const events = (await t.api('GET', `/api/contacts/${first.body.id}/consent`)).body.items;
    expect(events.map((e: any) => e.action)).toEqual(['register', 'opt_in', 'register', 'register', 'opt_in']);
    // any of the three links confirms; the others then confirm nothing new
    const link1 = linkOf(app, await waitForMail(app, 'Margaret@example.com', 1));
    const link3 = linkOf(app, await waitForMail(app, 'Margaret@example.com', 3));
    expect((await post(link3)).status).toBe(200);
    const r1 = await post(link1);
    expect(r1.status).toBe(200);
    expect(r1.html).toContain('already confirmed');
    const after = (await t.api('GET', `/api/contacts/${first.body.id}/consent`)).body.items;
    expect(after.filter((e: any) => e.action === 'confirm')).toHaveLength(2);
  });

  it('counts concurrent registrations of one address against the cap', async () => {
    const rs = await Promise.all([1, 2, 3, 4, 5].map(() => register('rush@example.com')));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 201, 429, 429]);
    const contacts = await ownerQuery(app.db.url, "SELECT id FROM contacts WHERE email_key = 'rush@example.com'");
    expect(contacts).toHaveLength(1);
  });

  it('does not count another address or another tenant', async () => {
    const other = await app.tenant({ name: 'Other' });
    const r = await other.api('POST', '/api/contacts', { email: 'margaret@example.com', newsletter: false, consent });
    expect(r.status).toBe(201);
  });
});

describe('opting in later', () => {
  it('needs a fresh confirmation click before the subscription becomes subscribed', async () => {
    const address = 'alan@example.com';
    const reg = await register(address, false);
    await post(linkOf(app, await waitForMail(app, address)));
    const list = (await t.api('POST', '/api/lists', { name: 'Product updates' })).body;

    const r = await t.api('POST', `/api/contacts/${reg.body.id}/subscriptions`, { listIds: [list.id], consent: { ...consent, text: 'Send me product updates.' } });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('active');
    expect(r.body.subscriptions).toEqual([expect.objectContaining({ listId: list.id, status: 'unconfirmed' })]);

    const mail = await waitForMail(app, address, 2);
    expect(mail.parsed.subject).toBe('Confirm your subscription to Acme');
    expect(mail.parsed.text).toContain('Product updates');
    const link = linkOf(app, mail);
    const before = await snapshot(app, t.id);
    const page = await get(link);
    expect(page.html).toContain('Confirm your subscription');
    expect(await snapshot(app, t.id)).toEqual(before);
    expect((await post(link)).status).toBe(200);
    const c = (await t.api('GET', `/api/contacts/${reg.body.id}`)).body;
    expect(c.subscriptions).toEqual([expect.objectContaining({ listId: list.id, status: 'subscribed' })]);
    const events = (await t.api('GET', `/api/contacts/${reg.body.id}/consent`)).body.items;
    expect(events.map((e: any) => [e.action, e.listId])).toEqual([
      ['register', null], ['confirm', null], ['opt_in', list.id], ['confirm', list.id]]);
    expect(events[2].text).toBe('Send me product updates.');

    const again = await t.api('POST', `/api/contacts/${reg.body.id}/subscriptions`, { listIds: [list.id], consent });
    expect(again.status).toBe(200);
    expect(again.body.activation).toBeNull();

    const out = await t.api('DELETE', `/api/contacts/${reg.body.id}/subscriptions/${list.id}`);
    expect(out.status).toBe(200);
    expect(out.body.subscriptions[0].status).toBe('unsubscribed');
    const last = (await t.api('GET', `/api/contacts/${reg.body.id}/consent`)).body.items.at(-1);
    expect(last).toMatchObject({ action: 'opt_out', listId: list.id, source: 'api' });
  });
});

describe('suppressed addresses', () => {
  it('records the activation but the gate refuses to send it', async () => {
    const address = 'bounced@example.com';
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, address, 'all', 'hard_bounce'));
    const r = await register(address);
    expect(r.status).toBe(201);
    expect(await waitForStatus(app, r.body.activation.messageId, ['suppressed', 'sent'])).toEqual({ status: 'suppressed', reason: 'suppressed' });
    expect(app.sink.received.filter((m) => m.envelopeTo.includes(address))).toHaveLength(0);
  });
});

// The public token endpoints under attack: forged, truncated (every prefix length, sampled),
// bit-flipped (every position, sampled), re-signed with another key, swapped between purposes and
// tenants, and replayed (the single-use activation link used again, sequentially and concurrently).
// None of these may change anything; the genuine token works once. Real HTTP, real PostgreSQL, the
// activation link taken from the mail that arrived over SMTP.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTokenKeys } from '../../src/platform/secrets.js';
import { signToken, verifyToken } from '../../src/policy/tokens.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';
import { useApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { ownerQuery } from '../support/db.js';
import { TEST_TOKEN_KEYS } from '../support/processes.js';
import { report } from './helpers.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other' });
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const consent = { text: 'Yes, send me the newsletter. I can unsubscribe at any time.', source: 'signup-form' };


/** Everything a token could change, across all tenants. */
async function state(): Promise<unknown> {
  const q = (sql: string) => ownerQuery(app.db.url, sql);
  return {
    contacts: await q('SELECT id, status, verified_at, email, updated_at FROM contacts ORDER BY id'),
    subscriptions: await q('SELECT contact_id, list_id, status, updated_at FROM subscriptions ORDER BY contact_id, list_id'),
    consent: await q('SELECT id, action, source FROM consent_events ORDER BY id'),
    uses: await q('SELECT token_hash FROM token_uses ORDER BY token_hash'),
    messages: await q('SELECT id, status FROM messages ORDER BY id'),
    suppressions: await q('SELECT address_hash, scope FROM suppressions ORDER BY 1, 2'),
  };
}

async function activationToken(email: string): Promise<{ contactId: string; token: string }> {
  const r = await t.api('POST', '/api/contacts', { email, name: 'Reader', newsletter: true, consent });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return waitFor(() => {
    const mail = app.sink.received.find((m) => m.envelopeTo.includes(email));
    const link = mail && /https:\/\/postgate\.test\/a\/([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)/.exec(mail.parsed.text ?? '');
    return link ? { contactId: r.body.id as string, token: link[1] } : null;
  }, { timeout: 15_000, message: `no activation mail for ${email}` });
}

interface Hit { method: 'GET' | 'POST'; path: string; body?: string }

async function hit(h: Hit): Promise<number> {
  const res = await fetch(app.url + h.path, {
    method: h.method, redirect: 'manual',
    headers: h.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}, body: h.method === 'POST' ? (h.body ?? '') : undefined,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Variants of a genuine token that must all be refused. */
function brokenVariants(token: string, sample: number): string[] {
  const [payload, mac = ''] = token.split('.'); // mac '': the compact format (no dot)
  const out = new Set<string>();
  const step = Math.max(1, Math.floor(token.length / sample));
  for (let n = 0; n < token.length; n += step) out.add(token.slice(0, n));                          // truncated
  for (let n = token.length - 4; n < token.length; n++) out.add(token.slice(0, n));               // …the last characters
  for (let i = 0; i < token.length; i += step) {                                                  // one character changed
    if (token[i] === '.') continue;
    const c = B64URL[(B64URL.indexOf(token[i]) + 1) % 64];
    out.add(token.slice(0, i) + c + token.slice(i + 1));
  }
  out.add(`${payload.slice(0, -1)}${B64URL[(B64URL.indexOf(payload[payload.length - 1]) + 1) % 64]}.${mac}`); // trailing bits of the payload
  out.add(`${payload}.${mac.slice(0, -1)}${B64URL[(B64URL.indexOf(mac[mac.length - 1]) + 1) % 64]}`);       // trailing bits of the MAC
  out.add(`${token}=`); out.add(`${token}.`); out.add(`.${token}`); out.add(`${payload}.`); out.add(`.${mac}`); out.add(`${payload}.${payload}`);
  out.add(`${mac}.${payload}`); out.add(token.toUpperCase()); out.add(token.toLowerCase()); out.add(`${token}${token}`);
  out.add(`${payload}.${Buffer.from(mac, 'base64url').toString('base64')}`); // the same MAC bytes, other alphabet
  out.delete(token);
  return [...out].filter((v) => v.length > 0);
}

const forged = fc.tuple(fc.base64String({ minLength: 4, maxLength: 300 }), fc.base64String({ minLength: 4, maxLength: 64 }))
  .map(([a, b]) => `${a}.${b}`.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, ''));

describe('public token endpoints', () => {
  it('the activation link: forged, truncated, altered, re-signed or misdirected tokens change nothing; the genuine one works once', async () => {
    const { contactId, token } = await activationToken('reader@inbox.example');
    const keys = parseTokenKeys(TEST_TOKEN_KEYS);
    const foreignKey = parseTokenKeys('k1:a-different-secret-0123456789');
    const verified = verifyToken(keys, token, 'activation');
    if (!verified.ok) throw new Error('the mailed activation link does not verify');
    const claim = verified.payload;
    const misdirected = [
      signToken(foreignKey, 'activation', claim.t, claim.s, { ttlSeconds: 3600 }),                 // right claim, wrong key
      signToken(keys, 'unsubscribe', claim.t, claim.s, { ttlSeconds: 3600 }),                      // right key, wrong purpose
      signToken(keys, 'activation', other.id, claim.s, { ttlSeconds: 3600 }),                      // another tenant
      signToken(keys, 'activation', claim.t, { ...claim.s, c: randomUUID() }, { ttlSeconds: 3600 }), // another contact
      signToken(keys, 'activation', claim.t, claim.s, { ttlSeconds: -10 }),                        // expired
      unsubscribeToken(keys, { tenantId: t.id, contactId, campaignId: null }),                     // an unsubscribe token here
    ];
    const variants = [...brokenVariants(token, 60), ...misdirected, ...fc.sample(forged, { numRuns: 60, seed: 17 })];
    const before = await state();
    const statuses = new Map<number, number>();
    for (const v of variants) {
      for (const method of ['POST', 'GET'] as const) {
        const status = await hit({ method, path: `/a/${encodeURIComponent(v)}` });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect({ v, method, status }).toEqual({ v, method, status: expect.any(Number) });
        expect(status, `${method} /a/${v}`).toBeGreaterThanOrEqual(400);
        expect(status, `${method} /a/${v}`).toBeLessThan(500);
      }
    }
    expect(await state()).toEqual(before);

    // The genuine token: GET only shows, POST confirms.
    expect(await hit({ method: 'GET', path: `/a/${token}` })).toBe(200);
    expect(await state()).toEqual(before);
    expect(await hit({ method: 'POST', path: `/a/${token}` })).toBe(200);
    const confirmed = await state();
    expect(confirmed).not.toEqual(before);
    const [contact] = await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [contactId]);
    expect(contact.status).toBe('active');

    // Replayed: refused, nothing changes (and its broken variants still change nothing).
    for (let i = 0; i < 3; i++) expect(await hit({ method: 'POST', path: `/a/${token}` })).toBe(410);
    for (const v of brokenVariants(token, 10)) expect(await hit({ method: 'POST', path: `/a/${encodeURIComponent(v)}` })).toBeGreaterThanOrEqual(400);
    expect(await state()).toEqual(confirmed);
    report('activation tokens', { variants: variants.length, requests: variants.length * 2, statuses: Object.fromEntries(statuses) });
  }, 60_000);

  it('a single-use link replayed concurrently is used exactly once', async () => {
    const { contactId, token } = await activationToken('racer@inbox.example');
    const statuses = await Promise.all(Array.from({ length: 8 }, () => hit({ method: 'POST', path: `/a/${token}` })));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 410)).toBe(true);
    const events = await ownerQuery<{ action: string; n: number }>(app.db.url,
      `SELECT action, count(*)::int AS n FROM consent_events WHERE contact_id = $1 GROUP BY action ORDER BY action`, [contactId]);
    expect(events).toEqual([{ action: 'confirm', n: 2 }, { action: 'opt_in', n: 1 }, { action: 'register', n: 1 }]); // verified + list confirmed, once
    const uses = await ownerQuery(app.db.url, 'SELECT 1 FROM token_uses WHERE tenant_id = $1', [t.id]);
    expect(uses.length).toBe(2); // this link and the one of the previous test
  }, 30_000);

  it('unsubscribe and preference links: broken tokens change nothing; the genuine one-click works and is idempotent when replayed', async () => {
    const { token: activation } = await activationToken('leaver@inbox.example');
    expect(await hit({ method: 'POST', path: `/a/${activation}` })).toBe(200);
    const [{ id: contactId }] = await ownerQuery<{ id: string }>(app.db.url, "SELECT id FROM contacts WHERE email = 'leaver@inbox.example'");
    const keys = parseTokenKeys(TEST_TOKEN_KEYS);
    const token = unsubscribeToken(keys, { tenantId: t.id, contactId, campaignId: null });
    const misdirected = [
      unsubscribeToken(parseTokenKeys('k1:a-different-secret-0123456789'), { tenantId: t.id, contactId, campaignId: null }),
      signToken(keys, 'activation', t.id, { c: contactId, m: '' }, { ttlSeconds: null }),   // right subject, wrong purpose
      activation,                                                                             // an activation token here
    ];
    const variants = [...brokenVariants(token, 40), ...misdirected, ...fc.sample(forged, { numRuns: 40, seed: 23 })];
    // Genuinely signed, but for this contact under another tenant: any answer but a 5xx, and no change.
    const elsewhere = unsubscribeToken(keys, { tenantId: other.id, contactId, campaignId: null });
    const oneClick = 'List-Unsubscribe=One-Click';
    const before = await state();
    for (const v of variants) {
      const p = encodeURIComponent(v);
      for (const h of [
        { method: 'POST', path: `/u/${p}`, body: oneClick }, { method: 'POST', path: `/u/${p}`, body: 'scope=all' },
        { method: 'POST', path: `/u/${p}/preferences`, body: 'action=unsubscribe_all' }, { method: 'POST', path: `/u/${p}/resubscribe` },
        { method: 'GET', path: `/u/${p}` }, { method: 'GET', path: `/u/${p}/preferences` },
      ] as Hit[]) {
        const status = await hit(h);
        expect(status, `${h.method} ${h.path} ${h.body ?? ''}`).toBeGreaterThanOrEqual(400);
        expect(status, `${h.method} ${h.path}`).toBeLessThan(500);
      }
    }
    for (const h of [{ method: 'POST', path: `/u/${elsewhere}`, body: oneClick }, { method: 'POST', path: `/u/${elsewhere}`, body: 'scope=all' },
      { method: 'POST', path: `/u/${elsewhere}/preferences`, body: 'action=unsubscribe_all' }, { method: 'POST', path: `/u/${elsewhere}/resubscribe` }] as Hit[]) {
      expect(await hit(h), `${h.method} ${h.path}`).toBeLessThan(500);
    }
    expect(await state()).toEqual(before);

    expect(await hit({ method: 'POST', path: `/u/${token}`, body: oneClick })).toBe(200);
    const after = await state();
    const subs = await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM subscriptions WHERE contact_id = $1', [contactId]);
    expect(subs.map((s) => s.status)).toEqual(['unsubscribed']);
    for (let i = 0; i < 3; i++) expect(await hit({ method: 'POST', path: `/u/${token}`, body: oneClick })).toBe(200);
    // Replays change nothing; by design (unsubscribe.ts) each request still leaves an audit trace
    // in the consent record, marked alreadyUnsubscribed and naming no list.
    const replayed = await state() as { consent: { id: string }[] };
    expect({ ...replayed, consent: null }).toEqual({ ...(after as object), consent: null });
    const traces = await ownerQuery<{ list_id: string | null; already: boolean }>(app.db.url, `SELECT list_id, (detail->>'alreadyUnsubscribed')::boolean AS already
      FROM consent_events WHERE contact_id = $1 AND action = 'opt_out' ORDER BY id`, [contactId]);
    expect(traces.slice(1)).toEqual([1, 2, 3].map(() => ({ list_id: null, already: true })));
    report('unsubscribe tokens', { variants: variants.length, requests: variants.length * 6 });
  }, 60_000);
});

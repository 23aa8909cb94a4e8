// The DKIM key lifecycle against a real DNS server on loopback: a new key is pending and never signs;
// it becomes active only once its record resolves with its public key; rotation keeps signing with
// the old key until the new one verifies; the old key is retired with a removal date. Every message
// sent along the way is checked with mailauth, resolving the records over the wire from that server.
import { authenticate } from 'mailauth';
import { afterAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import type { Received } from '../support/smtp-sink.js';
import { invoice, mailsTo, waitForMessage } from '../transactional/helpers.js';

let dns: TestDnsServer;
const { app, t } = useApp(async () => {
  dns = await startDnsServer();
  return { tenant: { name: 'Rotate', fromEmail: 'news@rotate-news.org', replyTo: 'help@rotate-news.org' }, config: { DNS_SERVERS: dns.server, DKIM_RETIRE_GRACE_DAYS: 3 } };
});
afterAll(async () => { await dns?.close(); });

interface KeyView { selector: string; state: string; activatedAt: string | null; retiredAt: string | null; removableAfter: string | null; dnsRecord: string; record: { name: string; value: string; strings: string[] } }

let n = 0;
/** Sends one invoice and returns the message as the SMTP sink received it. */
async function send(): Promise<Received> {
  const to = `reader${++n}@example.org`;
  await given(app, t).pendingContact(to);
  const r = await t.api('POST', '/api/invoices', invoice(`T-ROT-${n}`, to));
  expect((await waitForMessage(t, r.body.id)).status).toBe('sent');
  return mailsTo(app.sink.received, to)[0];
}

/** mailauth's DKIM verdict of a received message, its key fetched from the loopback DNS server. */
async function dkimOf(m: Received): Promise<{ result: string; selector?: string; domain?: string }[]> {
  const resolver = dns.resolver();
  const auth = await authenticate(m.raw, {
    resolver: (name: string, type: string) => resolver.resolve(name, type as 'TXT'),
    disableArc: true, disableDmarc: true, disableBimi: true, ip: '127.0.0.1', sender: m.envelopeFrom, helo: 'localhost',
  });
  return auth.dkim.results.map((r: { status: { result: string }; selector?: string; signingDomain?: string }) => ({ result: r.status.result, selector: r.selector, domain: r.signingDomain }));
}

async function keys(): Promise<Record<string, KeyView>> {
  const r = await t.api('GET', '/api/dkim');
  expect(r.status).toBe(200);
  return Object.fromEntries(r.body.items.map((k: KeyView) => [k.selector, k]));
}

describe('DKIM rotation', () => {
  it('keeps every message verifiable: pending never signs, the new key signs only once its record resolves, the old one retires', async () => {
    // 1. A new key is pending: the record is split into strings of ≤ 255 that reassemble to the key.
    const k1 = await t.api('POST', '/api/dkim', { selector: 'k1' });
    expect(k1.status).toBe(201);
    expect(k1.body).toMatchObject({ domain: 'rotate-news.org', selector: 'k1', state: 'pending', activatedAt: null });
    const rec1 = k1.body.record as KeyView['record'];
    expect(rec1.name).toBe('k1._domainkey.rotate-news.org');
    expect(rec1.strings.length).toBeGreaterThan(1);
    expect(rec1.strings.every((s) => s.length <= 255)).toBe(true);
    expect(rec1.strings.join('')).toBe(rec1.value);
    expect(rec1.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    expect(k1.body.dnsRecord).toBe(`k1._domainkey.rotate-news.org. IN TXT ${rec1.strings.map((s) => `"${s}"`).join(' ')}`);
    const unsigned = await send();
    expect(unsigned.raw.toString()).not.toMatch(/^DKIM-Signature:/im); // pending keys never sign

    // 2. Published as split, verified through the domain: active; the record reassembles over the wire.
    dns.txt(rec1.name, rec1.strings);
    const resolved = await dns.resolver().resolveTxt(rec1.name);
    expect(resolved[0].map((s) => s.length).every((l) => l <= 255)).toBe(true);
    expect(resolved[0].join('')).toBe(rec1.value);
    const v = await t.api('POST', '/api/domains/rotate-news.org/verify');
    expect(v.status).toBe(200);
    expect(v.body.activatedKeys).toEqual(['k1']);
    expect(v.body.checks.find((c: { purpose: string }) => c.purpose === 'dkim')).toMatchObject({ status: 'ok', name: rec1.name });
    const first = await send();
    expect(await dkimOf(first)).toEqual([{ result: 'pass', selector: 'k1', domain: 'rotate-news.org' }]);

    // 3. Rotation starts: k2 is pending, mail is still signed with k1 and verifies.
    const k2 = await t.api('POST', '/api/dkim', { selector: 'k2' });
    expect(k2.status).toBe(201);
    expect(k2.body.state).toBe('pending');
    const rec2 = k2.body.record as KeyView['record'];
    expect(await dkimOf(await send())).toEqual([{ result: 'pass', selector: 'k1', domain: 'rotate-news.org' }]);

    // Re-running never replaces a key, active or pending.
    for (const selector of ['k1', 'K2']) {
      const again = await t.api('POST', '/api/dkim', { selector });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'selector_exists', field: 'selector' });
    }
    expect(await dkimOf(await send())).toEqual([{ result: 'pass', selector: 'k1', domain: 'rotate-news.org' }]);

    // 4. A wrong record (k1's key under k2's name) does not activate k2.
    dns.txt(rec2.name, rec1.strings);
    const wrong = await t.api('POST', '/api/dkim/rotate-news.org/k2/verify');
    expect(wrong.status).toBe(200);
    expect(wrong.body.check.status).toBe('mismatch');
    expect(wrong.body.key.state).toBe('pending');

    // 5. The right record: k2 active, k1 retired with its removal date; mail signed with k2 verifies.
    dns.txt(rec2.name, rec2.strings);
    const ok = await t.api('POST', '/api/dkim/rotate-news.org/k2/verify');
    expect(ok.body.check.status).toBe('ok');
    expect(ok.body.key.state).toBe('active');
    const listed = await keys();
    expect(listed.k2).toMatchObject({ state: 'active', retiredAt: null, removableAfter: null });
    expect(listed.k1.state).toBe('retired');
    expect(Date.parse(listed.k1.removableAfter as string) - Date.parse(listed.k1.retiredAt as string)).toBe(3 * 86_400_000);
    expect(listed.k1.retiredAt).toBe(listed.k2.activatedAt);
    const rotated = await send();
    expect(await dkimOf(rotated)).toEqual([{ result: 'pass', selector: 'k2', domain: 'rotate-news.org' }]);
    // Mail signed with k1 before the switch still verifies while k1's record stays published (the grace period).
    expect(await dkimOf(first)).toEqual([{ result: 'pass', selector: 'k1', domain: 'rotate-news.org' }]);
  }, 60_000);

  it('requireDkim still holds: a tenant whose keys are all pending sends nothing unsigned', async () => {
    const other = await app.tenant({ name: 'Strict', fromEmail: 'news@strict-news.org', replyTo: 'help@strict-news.org' });
    expect((await other.api('POST', '/api/dkim', { selector: 'p1' })).body.state).toBe('pending');
    expect((await other.api('PATCH', '/api/tenant', { requireDkim: true })).status).toBe(200);
    const list = await given(app, other).defaultList();
    await given(app, other).contacts({ prefix: 'strict', n: 1, listId: list });
    const templateId = await given(app, other).template();
    const campaign = await given(app, other).campaign(templateId, [list]);
    const start = await other.api('POST', `/api/campaigns/${campaign.id}/start`);
    expect(start.status).toBe(422);
    expect(start.body.error.reasons).toEqual(['no_dkim_key']);
  });
});

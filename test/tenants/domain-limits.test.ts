// Limits on what a tenant may claim through the API: strict domain names (no "..x.org", no IP
// literal), DNS answers carrying control characters (a NUL in a TXT record), and caps on pending
// DKIM keys and pending domains, enforced under concurrency. Real HTTP, PostgreSQL and a DNS server
// on loopback (test/support/dns-server.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { isCoveredDomain } from '../../src/policy/domains.js';

let dns: TestDnsServer;
const { app, t: a, tenant } = useApp(async () => {
  dns = await startDnsServer();
  return { tenant: { name: 'A' }, config: { DNS_SERVERS: dns.server, SPF_INCLUDE: 'include:_spf.relay.example', BOUNCE_MX_HOST: 'mx.postgate.test' } };
});
const flood = tenant({ name: 'Flood', fromEmail: 'news@flood.example', replyTo: 'help@flood.example' });
const many = tenant({ name: 'Many', fromEmail: 'news@many.example', replyTo: 'help@many.example' });
afterAll(async () => { await dns?.close(); });

const statusOf = (checks: { purpose: string; status: string }[]) => Object.fromEntries(checks.map((c) => [c.purpose, c.status]));

describe('domains are domain names', () => {
  it('refuses a bounce domain that only ends like a verified domain', async () => {
    for (const bounceDomain of ['..acme.org', '.acme.org', '-.acme.org', 'x..acme.org', 'bounces-.acme.org']) {
      const r = await a.api('PATCH', '/api/tenant', { bounceDomain });
      expect(r.status, `${bounceDomain}: ${JSON.stringify(r.body)}`).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'bounceDomain' });
    }
    expect((await a.api('GET', '/api/tenant')).body.bounceDomain).toBeNull();
    const ok = await a.api('PATCH', '/api/tenant', { bounceDomain: 'Bounces.ACME.org.' });
    expect(ok.status).toBe(200);
    expect(ok.body.bounceDomain).toBe('bounces.acme.org');
    expect((await a.api('PATCH', '/api/tenant', { bounceDomain: null })).status).toBe(200);
    expect(isCoveredDomain('..acme.org', ['acme.org'])).toBe(false);
    expect(isCoveredDomain('-.acme.org', ['acme.org'])).toBe(false);
    expect(isCoveredDomain('bounces.acme.org', ['acme.org'])).toBe(true);
  });

  it('refuses IP literals and all-numeric top-level labels for /api/domains and /api/dkim', async () => {
    for (const domain of ['1.2.3.4', '10.0.0.1.', 'example.123', '..acme.org', '[127.0.0.1]']) {
      const r = await a.api('POST', '/api/domains', { domain });
      expect(r.status, `${domain}: ${JSON.stringify(r.body)}`).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'domain' });
      const k = await a.api('POST', '/api/dkim', { selector: 'ip1', domain });
      expect(k.status).toBe(422);
      expect(k.body.error).toMatchObject({ code: 'invalid', field: 'domain' });
    }
    expect((await a.api('POST', '/api/domains', { domain: '1.2.3.example' })).status).toBe(201); // digits are fine below the TLD
    expect((await a.api('GET', '/api/domains/1.2.3.4')).status).toBe(404);
    expect(await ownerQuery(app.db.url, "SELECT domain FROM domains WHERE domain ~ '^[0-9.]+$'")).toEqual([]);
  });
});

describe('DNS answers with control characters', () => {
  it('a NUL in advisory records neither fails verify nor blocks the verification TXT', async () => {
    const added = (await a.api('POST', '/api/domains', { domain: 'nul.example.org' })).body;
    const token = added.records.find((r: { purpose: string }) => r.purpose === 'verification').value;
    dns.txt('_dmarc.nul.example.org', 'v=DMARC1; p=reject\0');
    dns.txt('nul.example.org', 'v=spf1 include:_spf.relay.example\0 ~all', 'google-site-verification=\u0001x');
    dns.txt('_postgate.nul.example.org', token, 'postgate-verification=\0nul');
    const v = await a.api('POST', '/api/domains/nul.example.org/verify');
    expect(v.status, JSON.stringify(v.body)).toBe(200);
    expect(v.body.state).toBe('verified');
    expect(statusOf(v.body.checks)).toMatchObject({ verification: 'ok', dmarc: 'ok', spf: 'mismatch' });
    const found = JSON.stringify(v.body.checks);
    expect(found).not.toMatch(/\\u0000|\\u0001/);
    expect(v.body.checks.find((c: { purpose: string }) => c.purpose === 'dmarc').found).toEqual(['v=DMARC1; p=reject\ufffd']);
    const one = await a.api('GET', '/api/domains/nul.example.org');
    expect(statusOf(one.body.lastCheck)).toMatchObject({ verification: 'ok', dmarc: 'ok' });
  });
});

describe('caps on pending keys and domains', () => {
  it('10 parallel POST /api/dkim make at most 3 pending keys; the rest are refused (too_many_pending), one at a time', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => flood.api('POST', '/api/dkim', { selector: `flood${i}` })));
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(created).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'too_many_pending', field: 'domain', limit: 3 });
    }
    const keys = await ownerQuery<{ state: string }>(app.db.url, 'SELECT state FROM dkim_keys WHERE tenant_id = $1', [flood.id]);
    expect(keys.map((k) => k.state)).toEqual(['pending', 'pending', 'pending']);
    // An existing selector is still selector_exists; once a pending key activates, there is room again.
    const sel = created[0].body.selector as string;
    expect((await flood.api('POST', '/api/dkim', { selector: sel })).body.error.code).toBe('selector_exists');
    await ownerQuery(app.db.url, "UPDATE dkim_keys SET state = 'active', activated_at = now() WHERE tenant_id = $1 AND selector = $2", [flood.id, sel]);
    expect((await flood.api('POST', '/api/dkim', { selector: 'after1' })).status).toBe(201);
    expect((await flood.api('POST', '/api/dkim', { selector: 'after2' })).status).toBe(409);
  }, 60_000);

  it('at most 20 pending domains per tenant, also when added in parallel; an existing one is still answered', async () => {
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => many.api('POST', '/api/domains', { domain: `d${i}.many.example` })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(20);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(5);
    for (const r of refused) expect(r.body.error).toMatchObject({ code: 'too_many_pending', field: 'domain', limit: 20 });
    const kept = results.find((r) => r.status === 201)!.body.domain as string;
    expect((await many.api('POST', '/api/domains', { domain: kept })).status).toBe(200);
    const [{ n }] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM domains WHERE tenant_id = $1 AND state = 'pending'", [many.id]);
    expect(n).toBe(20);
    expect((await many.api('DELETE', `/api/domains/${kept}`)).status).toBe(204);
    expect((await many.api('POST', '/api/domains', { domain: 'late.many.example' })).status).toBe(201);
    expect((await a.api('POST', '/api/domains', { domain: 'other-tenant.example' })).status).toBe(201); // per tenant
  });
});

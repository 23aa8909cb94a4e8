// Sending domains against a real DNS server on loopback (test/support/dns-server.ts) whose records
// the tests change at run time: the records to publish, verification with per-record status, and
// the rule that a tenant sends only from its own verified domains (API, then the gate at send time).
import { afterAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { invoice, mailsTo, waitForMessage } from '../transactional/helpers.js';

let dns: TestDnsServer;
const { app, t: a, tenant } = useApp(async () => {
  dns = await startDnsServer();
  return { tenant: { name: 'A' }, config: { DNS_SERVERS: dns.server, SPF_INCLUDE: 'include:_spf.relay.example', BOUNCE_MX_HOST: 'mx.postgate.test' } };
});
const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });
afterAll(async () => { await dns?.close(); });

/** Publishes the records a POST /api/domains answer lists (all of them, or only those named). */
function publish(records: { purpose: string; type: string; name: string; strings?: string[]; value: string }[], only?: string[]) {
  for (const r of records.filter((x) => !only || only.includes(x.purpose))) {
    if (r.type === 'MX') dns.mx(r.name, { exchange: r.value.split(' ')[1].replace(/\.$/, ''), priority: Number(r.value.split(' ')[0]) });
    else dns.txt(r.name, r.strings ?? [r.value]);
  }
}
const statusOf = (checks: { purpose: string; status: string }[]) => Object.fromEntries(checks.map((c) => [c.purpose, c.status]));

describe('POST /api/domains', () => {
  it('returns the records to publish, is idempotent for the same tenant, and lists the domain as pending', async () => {
    const r = await a.api('POST', '/api/domains', { domain: 'News.Example.ORG.' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ domain: 'news.example.org', state: 'pending', verifiedBy: null, verifiedAt: null, lastCheck: null });
    const byPurpose = Object.fromEntries(r.body.records.map((x: { purpose: string }) => [x.purpose, x]));
    expect(Object.keys(byPurpose).sort()).toEqual(['bounce_mx', 'dmarc', 'spf', 'verification']);
    expect(byPurpose.verification).toMatchObject({ type: 'TXT', name: '_postgate.news.example.org', required: true });
    expect(byPurpose.verification.value).toMatch(/^postgate-verification=[0-9a-f]{32}$/);
    expect(byPurpose.verification.zone).toBe(`_postgate.news.example.org. IN TXT "${byPurpose.verification.value}"`);
    expect(byPurpose.spf).toMatchObject({ name: 'news.example.org', value: 'v=spf1 include:_spf.relay.example ~all', required: false });
    expect(byPurpose.dmarc).toMatchObject({ name: '_dmarc.news.example.org', value: 'v=DMARC1; p=none' });
    expect(byPurpose.bounce_mx).toMatchObject({ type: 'MX', name: 'bounces.news.example.org', value: '10 mx.postgate.test.', zone: 'bounces.news.example.org. IN MX 10 mx.postgate.test.' });

    const again = await a.api('POST', '/api/domains', { domain: 'news.example.org' });
    expect(again.status).toBe(200);
    expect(again.body.records[0].value).toBe(byPurpose.verification.value);
    const list = await a.api('GET', '/api/domains');
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual(expect.objectContaining({ domain: 'news.example.org', state: 'pending' }));
    expect(list.body.items).toContainEqual(expect.objectContaining({ domain: 'acme.org', state: 'verified', verifiedBy: 'operator' }));
    expect((await b.api('GET', '/api/domains')).body.items.map((d: { domain: string }) => d.domain)).toEqual(['beta.org']); // RLS
    expect((await b.api('GET', '/api/domains/news.example.org')).status).toBe(404);
    expect((await a.api('POST', '/api/domains', { domain: 'not a domain' })).body.error).toMatchObject({ code: 'invalid', field: 'domain' });
  });

  it('DELETE removes a domain the sender identity does not depend on', async () => {
    expect((await a.api('POST', '/api/domains', { domain: 'gone.example.org' })).status).toBe(201);
    expect((await a.api('DELETE', '/api/domains/gone.example.org')).status).toBe(204);
    expect((await a.api('GET', '/api/domains/gone.example.org')).status).toBe(404);
    expect((await a.api('DELETE', '/api/domains/gone.example.org')).status).toBe(404);
    const inUse = await a.api('DELETE', '/api/domains/acme.org'); // the From address's domain
    expect(inUse.status).toBe(409);
    expect(inUse.body.error).toMatchObject({ code: 'conflict', field: 'domain' });
    expect((await b.api('DELETE', '/api/domains/acme.org')).status).toBe(404); // A's row is not B's to touch
    expect((await a.api('GET', '/api/domains/acme.org')).body.state).toBe('verified');
  });
});

describe('verification against DNS', () => {
  it('reports each record as missing, mismatch or ok, and verifies the domain only on the right token', async () => {
    const added = (await a.api('POST', '/api/domains', { domain: 'verify.example.org' })).body;
    let v = await a.api('POST', '/api/domains/verify.example.org/verify');
    expect(v.status).toBe(200);
    expect(statusOf(v.body.checks)).toEqual({ verification: 'missing', spf: 'missing', dmarc: 'missing', bounce_mx: 'missing' });
    expect(v.body.state).toBe('pending');

    dns.txt('_postgate.verify.example.org', 'postgate-verification=0123456789abcdef0123456789abcdef');
    dns.txt('verify.example.org', 'v=spf1 include:_spf.other.example -all');
    dns.txt('_dmarc.verify.example.org', 'v=spf1 wrong place');
    dns.mx('bounces.verify.example.org', { exchange: 'mx.elsewhere.example', priority: 5 });
    v = await a.api('POST', '/api/domains/verify.example.org/verify');
    expect(statusOf(v.body.checks)).toEqual({ verification: 'mismatch', spf: 'mismatch', dmarc: 'mismatch', bounce_mx: 'mismatch' });
    const check = (p: string) => v.body.checks.find((c: { purpose: string }) => c.purpose === p);
    expect(check('verification').found).toEqual(['postgate-verification=0123456789abcdef0123456789abcdef']);
    expect(check('spf').found).toEqual(['v=spf1 include:_spf.other.example -all']);
    expect(check('bounce_mx').found).toEqual(['5 mx.elsewhere.example.']);
    expect(v.body.state).toBe('pending');

    dns.remove('verify.example.org'); dns.remove('_dmarc.verify.example.org'); dns.remove('bounces.verify.example.org');
    publish(added.records);
    v = await a.api('POST', '/api/domains/verify.example.org/verify');
    expect(statusOf(v.body.checks)).toEqual({ verification: 'ok', spf: 'ok', dmarc: 'ok', bounce_mx: 'ok' });
    expect(v.body).toMatchObject({ domain: 'verify.example.org', state: 'verified', verifiedBy: 'dns' });
    expect(v.body.verifiedAt).toEqual(expect.any(String));
    const one = await a.api('GET', '/api/domains/verify.example.org');
    expect(one.body.state).toBe('verified');
    expect(statusOf(one.body.lastCheck)).toEqual({ verification: 'ok', spf: 'ok', dmarc: 'ok', bounce_mx: 'ok' });
    expect(dns.queries).toContain('TXT _postgate.verify.example.org'); // asked over the wire
  });

  it('says error, not missing, when the DNS server does not answer', async () => {
    const { startTestApp } = await import('../support/app.js');
    const dead = await startTestApp({ config: { DNS_SERVERS: '127.0.0.1:9' } }); // discard port: nothing answers
    try {
      const t = await dead.tenant();
      await t.api('POST', '/api/domains', { domain: 'silent.example.org' });
      const started = Date.now();
      const v = await t.api('POST', '/api/domains/silent.example.org/verify');
      expect(v.status).toBe(200);
      expect(v.body.checks.every((c: { status: string }) => c.status === 'error')).toBe(true);
      expect(v.body.state).toBe('pending');
      expect(Date.now() - started).toBeLessThan(15_000); // short timeouts
    } finally {
      await dead.stop();
    }
  }, 60_000);
});

describe('a tenant sends only from its own verified domains', () => {
  it('refuses an unverified From domain or bounce domain on PATCH /api/tenant, and DKIM keys for it', async () => {
    const from = await a.api('PATCH', '/api/tenant', { fromEmail: 'news@unverified.example' });
    expect(from.status).toBe(422);
    expect(from.body.error).toMatchObject({ code: 'unverified_domain', field: 'fromEmail' });
    const pending = await a.api('PATCH', '/api/tenant', { fromEmail: 'news@news.example.org' }); // added, never verified
    expect(pending.body.error).toMatchObject({ code: 'unverified_domain', field: 'fromEmail' });
    const bounce = await a.api('PATCH', '/api/tenant', { bounceDomain: 'bounces.unverified.example' });
    expect(bounce.body.error).toMatchObject({ code: 'unverified_domain', field: 'bounceDomain' });
    expect((await a.api('PATCH', '/api/tenant', { bounceDomain: 'bounces.acme.org' })).status).toBe(200); // a subdomain of a verified domain
    expect((await a.api('PATCH', '/api/tenant', { bounceDomain: 'bounces.postgate.test' })).status).toBe(200); // the operator's BOUNCE_DOMAIN
    expect((await a.api('PATCH', '/api/tenant', { bounceDomain: null })).status).toBe(200);
    const dkim = await a.api('POST', '/api/dkim', { selector: 's1', domain: 'news.example.org' });
    expect(dkim.body.error).toMatchObject({ code: 'unverified_domain', field: 'domain' });
    expect((await a.api('GET', '/api/tenant')).body.fromEmail).toBe('news@acme.org');
  });

  it("cannot claim, verify or use another tenant's verified domain", async () => {
    // B claims a domain first (pending); A verifies it by DNS; B's claim can then never be verified.
    const bClaim = (await b.api('POST', '/api/domains', { domain: 'contested.example' })).body;
    const aClaim = (await a.api('POST', '/api/domains', { domain: 'contested.example' })).body;
    const token = (d: { records: { purpose: string; value: string }[] }) => d.records.find((r) => r.purpose === 'verification')!.value;
    dns.txt('_postgate.contested.example', token(aClaim), token(bClaim)); // both published: only the first to verify wins
    expect((await a.api('POST', '/api/domains/contested.example/verify')).body.state).toBe('verified');
    const late = await b.api('POST', '/api/domains/contested.example/verify');
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'domain_taken', field: 'domain' });
    // A new claim of a verified domain is refused outright; using it is refused too.
    const c = await b.api('POST', '/api/domains', { domain: 'verify.example.org' });
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('domain_taken');
    const use = await b.api('PATCH', '/api/tenant', { fromEmail: 'news@verify.example.org', bounceDomain: 'bounces.verify.example.org' });
    expect(use.body.error).toMatchObject({ code: 'unverified_domain', field: 'fromEmail' });
    expect((await b.api('POST', '/api/dkim', { selector: 'steal', domain: 'verify.example.org' })).body.error.code).toBe('unverified_domain');
    expect((await ownerQuery(app.db.url, "SELECT 1 FROM domains WHERE domain = 'contested.example' AND state = 'verified'")).length).toBe(1);
  });

  it('the gate refuses at send time (unverified_domain) once the From or envelope domain is not verified for the sender', async () => {
    expect((await a.api('PATCH', '/api/tenant', { fromEmail: 'billing@verify.example.org', bounceDomain: 'bounces.verify.example.org' })).status).toBe(200);
    await given(app, a).pendingContact('gate@example.org');
    const ok = await a.api('POST', '/api/invoices', invoice('T-GATE-1', 'gate@example.org'));
    expect((await waitForMessage(a, ok.body.id)).status).toBe('sent');
    const [mail] = mailsTo(app.sink.received, 'gate@example.org');
    expect(mail.parsed.from?.value[0].address).toBe('billing@verify.example.org');
    expect(mail.envelopeFrom).toMatch(/^bounces\+.+@bounces\.verify\.example\.org$/);

    // The tenant row edited behind the API's back (as the owner): B's domain as the envelope.
    await ownerQuery(app.db.url, "UPDATE tenants SET bounce_domain = 'bounces.beta.org' WHERE id = $1", [a.id]);
    const envelope = await a.api('POST', '/api/invoices', invoice('T-GATE-2', 'gate@example.org'));
    expect(await waitForMessage(a, envelope.body.id)).toMatchObject({ status: 'suppressed', reason: 'unverified_domain' });
    // …and B's domain as the From.
    await ownerQuery(app.db.url, "UPDATE tenants SET bounce_domain = NULL, from_email = 'news@beta.org' WHERE id = $1", [a.id]);
    const from = await a.api('POST', '/api/invoices', invoice('T-GATE-3', 'gate@example.org'));
    expect(await waitForMessage(a, from.body.id)).toMatchObject({ status: 'suppressed', reason: 'unverified_domain' });
    // A domain that stops being verified (the operator withdraws it) stops the mail as well.
    await ownerQuery(app.db.url, "UPDATE tenants SET from_email = 'billing@verify.example.org' WHERE id = $1", [a.id]);
    await ownerQuery(app.db.url, "UPDATE domains SET state = 'pending', verified_by = NULL, verified_at = NULL WHERE tenant_id = $1 AND domain = 'verify.example.org'", [a.id]);
    const withdrawn = await a.api('POST', '/api/invoices', invoice('T-GATE-4', 'gate@example.org'));
    expect(await waitForMessage(a, withdrawn.body.id)).toMatchObject({ status: 'suppressed', reason: 'unverified_domain' });
    expect(mailsTo(app.sink.received, 'gate@example.org')).toHaveLength(1);
    await ownerQuery(app.db.url, "UPDATE tenants SET from_email = 'news@acme.org' WHERE id = $1", [a.id]);
  });
});

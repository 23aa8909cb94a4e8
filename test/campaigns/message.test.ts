// What a campaign message looks like on the wire: RFC 8058 one-click headers covered by a DKIM
// signature that an independent verifier (mailauth) accepts, Feedback-ID, VERP envelope naming the
// message, Postgate's Message-ID, reply-to, postal footer, text part, and escaping of subscriber data.
import { authenticate } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyVerp } from '../../src/policy/tokens.js';
import { generateDkimKey, insertDkimKey, type DkimKey } from '../../src/tenants/dkim.js';
import { readUnsubscribeToken } from '../../src/unsubscribe/links.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { rawHeader, setTenant, waitForCampaign } from './helpers.js';

const { app, t } = useApp();
let key: DkimKey;

beforeAll(async () => {
  key = { domain: 'acme.org', selector: 'pg2025', ...await generateDkimKey() };
  await app.pg.deps.db.withTenant(t.id, (c) => insertDkimKey(c, t.id, 'acme.org', 'pg2025', key, { activate: true }));
  await setTenant(app, t.id, 'require_dkim = true');
});

function stubResolver(k: DkimKey) {
  return async (name: string, rrtype: string): Promise<string[][]> => {
    if (rrtype === 'TXT' && name.toLowerCase() === `${k.selector}._domainkey.${k.domain}`) return [[`v=DKIM1; k=rsa; p=${k.publicKey}`]];
    throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
  };
}

describe('campaign message', () => {
  it('carries RFC 8058 headers under a DKIM signature that verifies, Feedback-ID, VERP and the ledger Message-ID', async () => {
    const list = await given(app, t).defaultList();
    const emails = await given(app, t).contacts({ prefix: 'reader', n: 3, listId: list });
    await ownerQuery(app.db.url, `UPDATE contacts SET name = '<b>Bob & "Co"</b>', attributes = '{"city":"<script>x</script>"}' WHERE email = $1`, [emails[0]]);
    const templateId = await given(app, t).template();
    const campaign = await given(app, t).campaign(templateId, [list], { replyTo: 'team@acme.org' });
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBe(202);
    await waitForCampaign(t, campaign.id, (c) => c.status === 'completed');
    expect(app.sink.received).toHaveLength(3);

    const ledger = await ownerQuery<{ id: string; recipient: string; contact_id: string; message_id_header: string; subject: string }>(app.db.url,
      'SELECT id, recipient, contact_id, message_id_header, subject FROM messages WHERE campaign_id = $1', [campaign.id]);
    for (const m of app.sink.received) {
      const h = m.parsed.headers;
      const row = ledger.find((r) => r.recipient === m.envelopeTo[0]);
      expect(row).toBeDefined();
      // RFC 8058 one-click, https, per recipient, and the same link in the body.
      const lu = rawHeader(m.parsed.headerLines, 'list-unsubscribe');
      expect(lu).toMatch(/^<https:\/\/postgate\.test\/u\/[A-Za-z0-9_.-]+>$/);
      const url = lu.slice(1, -1);
      expect(rawHeader(m.parsed.headerLines, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
      // The link names this ledger message (its contact and campaign are read where the link is opened).
      expect(readUnsubscribeToken(app.pg.deps.tokens, url.split('/u/')[1])).toEqual({ tenantId: t.id, messageId: row!.id });
      expect(m.parsed.html).toContain(`href="${url}"`);
      expect(m.parsed.html).toContain(`href="${url}/preferences"`);
      // Feedback-ID names campaign and tenant; Message-ID is the ledger's; VERP names the message.
      expect(h.get('feedback-id')).toBe(`${campaign.id}:${t.id}:marketing:postgate`);
      expect(m.parsed.messageId).toBe(row!.message_id_header);
      expect(row!.message_id_header).toBe(`<${row!.id}@acme.org>`);
      const verp = /^bounces\+([a-z0-9-]+)@bounces\.postgate\.test$/.exec(m.envelopeFrom);
      expect(verp).not.toBeNull();
      expect(verifyVerp(app.pg.deps.tokens, verp![1])).toEqual({ ok: true, messageId: row!.id });
      // Identity, footer, text part.
      expect(m.parsed.from?.value[0].address).toBe('news@acme.org');
      expect((m.parsed.replyTo?.value ?? [])[0]?.address).toBe('team@acme.org');
      expect(m.parsed.html).toContain('1 Main Street, Springfield');
      expect(m.parsed.text).toContain(url);
      expect(m.parsed.text).toContain('Hello');
      expect(m.parsed.subject).toBe(row!.subject);
      // DKIM: an independent verifier, a stub DNS, and the one-click headers among those signed.
      const auth = await authenticate(m.raw, { resolver: stubResolver(key), disableArc: true, disableDmarc: true, disableBimi: true, ip: '127.0.0.1', sender: m.envelopeFrom, helo: 'localhost' });
      const dkim = auth.dkim.results[0];
      expect(dkim.status.result).toBe('pass');
      expect(dkim.signingDomain).toBe('acme.org');
      const h_ = /(?:^|;)\s*h=([^;]+)/.exec(rawHeader(m.parsed.headerLines, 'dkim-signature'));
      const signed = (h_?.[1] ?? '').replace(/\s+/g, '').toLowerCase().split(':');
      expect(signed).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'feedback-id', 'from', 'subject', 'message-id']));
      // …and the signature really covers them: a changed one-click target no longer verifies.
      const forged = Buffer.from(m.raw.toString('latin1').replace(url, `${url.slice(0, -2)}xx`), 'latin1');
      const bad = await authenticate(forged, { resolver: stubResolver(key), disableArc: true, disableDmarc: true, disableBimi: true, ip: '127.0.0.1', sender: m.envelopeFrom, helo: 'localhost' });
      expect(bad.dkim.results[0].status.result).not.toBe('pass');
    }
  });

  it('HTML-escapes subscriber data and leaves Postgate-built URLs intact', async () => {
    const bob = app.sink.received.find((m) => m.parsed.subject?.includes('Bob'));
    expect(bob).toBeDefined();
    expect(bob!.parsed.subject).toBe('Spring news for <b>Bob & "Co"</b>'); // a header, not HTML: kept literally
    expect(bob!.parsed.html).toContain('Hello &lt;b&gt;Bob &amp; &quot;Co&quot;&lt;/b&gt;');
    expect(bob!.parsed.html).toContain('City: &lt;script&gt;x&lt;/script&gt;');
    expect(bob!.parsed.html).not.toContain('<script>');
    expect(bob!.parsed.html).not.toMatch(/href="[^"]*&#x3D;/);
  });
});

// Issue 20: every link in every built-in mail, and the unsubscribe and preference links of campaign
// mail and of test sends, is under 100 characters with PUBLIC_URL https://news.example.com, shows no
// internal id, and works. End to end: asked for through the API, sent through the real gate and
// sender, read from the real SMTP sink; each capability link is then followed on the real server
// (rebased from PUBLIC_URL). Links mailed before issue 20 (the JSON token format) still work.
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import type { Received } from '../support/smtp-sink.js';
import { BUILTIN_KINDS, sendBuiltin } from './builtin-mails.js';

const PUBLIC_URL = 'https://news.example.com';
const { app, t } = useApp({ config: { PUBLIC_URL } });

const decode = (s: string): string => s.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=').replace(/&#x2F;/g, '/').replace(/&quot;/g, '"');

/** Every http(s) link a reader or a mail client can follow: the HTML's href and src, the text part's URLs, List-Unsubscribe. */
function linksOf(mail: Received): string[] {
  const html = String(mail.parsed.html || '');
  const attrs = [...html.matchAll(/\s(?:href|src)\s*=\s*"(https?:\/\/[^"]*)"/gi)].map((m) => decode(m[1]));
  const text = [...(mail.parsed.text ?? '').matchAll(/https?:\/\/[^\s<>"\])]+/g)].map((m) => m[0]);
  const header = [...listUnsubscribe(mail).matchAll(/<(https?:[^>]+)>/g)].map((m) => m[1]);
  return [...new Set([...attrs, ...text, ...header])];
}

/** The raw List-Unsubscribe header ('' when absent; mailparser's parsed form of it is an object). */
function listUnsubscribe(mail: Received): string {
  return mail.parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line.replace(/^[^:]*:\s*/, '').replace(/\r?\n[ \t]+/g, ' ') ?? '';
}

const capabilityLinks = (mail: Received): string[] => linksOf(mail).filter((l) => l.startsWith(`${PUBLIC_URL}/`) && /\/[aut]\//.test(l));
const rebased = (link: string): string => link.replace(PUBLIC_URL, app.url);

/** UUIDs of every row that stands behind a link: none may be readable in it (hex, or base64 of its bytes). */
function expectNothingInternal(link: string, ids: string[]): void {
  const token = new URL(link).pathname.split('/')[2];
  expect(token).not.toContain('.');
  for (const id of ids) {
    const bytes = Buffer.from(id.replace(/-/g, ''), 'hex');
    expect(link.toLowerCase()).not.toContain(id.replace(/-/g, '').slice(0, 8));
    for (let off = 0; off < 3; off++) expect(token).not.toContain(Buffer.concat([Buffer.alloc(off), bytes]).toString('base64url').slice(4, 16));
  }
}

async function idsOf(): Promise<string[]> {
  const rows = await ownerQuery<{ id: string }>(app.db.url, `SELECT id FROM messages UNION ALL SELECT id FROM contacts
    UNION ALL SELECT id FROM campaigns UNION ALL SELECT id FROM test_addresses UNION ALL SELECT id FROM tenants`);
  return rows.map((r) => r.id);
}

describe('links in mail are under 100 characters, opaque, and work', () => {
  const mails = new Map<string, Received>();

  beforeAll(async () => {
    // Branding puts the logo and the privacy policy's link in every built-in mail: their links count too.
    expect((await t.api('PATCH', '/api/tenant', { logoUrl: 'https://acme.org/logo.png', privacyUrl: 'https://acme.org/privacy' })).status).toBe(200);
    for (const kind of BUILTIN_KINDS) mails.set(kind, await sendBuiltin(app, t, kind, `${kind.replace(':', '-')}@inbox.example`));
  }, 120_000);

  it.each(BUILTIN_KINDS)('the built-in mail %s', async (kind) => {
    const mail = mails.get(kind) as Received;
    const links = linksOf(mail);
    if (kind === 'activation' || kind === 'test-address') expect(capabilityLinks(mail), links.join(' ')).toHaveLength(1);
    for (const link of links) expect(link.length, link).toBeLessThan(100);
    const ids = await idsOf();
    for (const link of capabilityLinks(mail)) expectNothingInternal(link, ids);
    if (kind === 'activation' || kind === 'test-address') {
      const [link] = capabilityLinks(mail);
      expect(link).toMatch(kind === 'activation' ? /^https:\/\/news\.example\.com\/a\/[A-Za-z0-9_-]{60,70}$/ : /^https:\/\/news\.example\.com\/t\/[A-Za-z0-9_-]{60,70}$/);
      expect((await fetch(rebased(link))).status).toBe(200); // the page shows what the link does (GET changes nothing)
    }
  });

  it('campaign mail and test sends: the unsubscribe and preference links (body and List-Unsubscribe)', async () => {
    const listId = await given(app, t).defaultList();
    const reader = await given(app, t).subscribedContact('reader@inbox.example');
    // A test address that is also a contact: its test send's link finds that contact.
    const tester = await given(app, t).subscribedContact('tester@inbox.example');
    const verification = capabilityLinks(await sendBuiltin(app, t, 'test-address', tester.email));
    const confirm = await fetch(rebased(verification[0]), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(confirm.status).toBe(200);

    const templateId = await given(app, t).template();
    const campaign = await given(app, t).campaign(templateId, [listId]);
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/test`, { emails: [tester.email] })).status).toBeLessThan(300);
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBeLessThan(300);
    const sent = await waitForMail(app, reader.email, 1, 30_000);
    const test = await waitForMail(app, tester.email, 3, 30_000); // the verification, the (earlier) built-in one, then the test send
    const testSend = mailsTo(app, tester.email).find((m) => (m.parsed.subject ?? '').startsWith('[TEST]')) ?? test;

    const ids = await idsOf();
    for (const mail of [sent, testSend]) {
      const links = capabilityLinks(mail);
      const unsubscribe = links.find((l) => /\/u\/[^/]+$/.test(l));
      const preferences = links.find((l) => l.endsWith('/preferences'));
      expect(unsubscribe, links.join(' ')).toBeDefined();
      expect(preferences, links.join(' ')).toBe(`${unsubscribe}/preferences`);
      expect(listUnsubscribe(mail)).toContain(`<${unsubscribe}>`);
      for (const link of linksOf(mail)) expect(link.length, link).toBeLessThan(100);
      for (const link of links) expectNothingInternal(link, ids);
      // The link names the message; the page finds the contact and the campaign's list.
      const page = await fetch(rebased(unsubscribe as string));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Newsletter');
      expect((await fetch(rebased(preferences as string))).status).toBe(200);
    }
    const oneClick = await fetch(rebased(capabilityLinks(sent).find((l) => /\/u\/[^/]+$/.test(l)) as string),
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(oneClick.status).toBe(200);
    const [s] = await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM subscriptions WHERE contact_id = $1 AND list_id = $2', [reader.id, listId]);
    expect(s.status).toBe('unsubscribed');
    const [record] = await ownerQuery<{ detail: Record<string, unknown> }>(app.db.url,
      "SELECT detail FROM consent_events WHERE contact_id = $1 AND source = 'one_click'", [reader.id]);
    expect(record.detail).toMatchObject({ campaignId: campaign.id });
  }, 90_000);
});

describe('links mailed before issue 20 (the JSON token format)', () => {
  /** A token as signToken wrote it before issue 20. */
  function legacyToken(p: string, tenantId: string, s: Record<string, string>, e: number): string {
    const keys = app.pg.deps.tokens;
    const body = Buffer.from(JSON.stringify({ p, t: tenantId, s, e, k: keys.current })).toString('base64url');
    return `${body}.${createHmac('sha256', keys.keys[keys.current]).update(body).digest('base64url')}`;
  }

  it('an activation link naming contact and message still confirms, once', async () => {
    await sendBuiltin(app, t, 'activation', 'old-link@inbox.example');
    const [m] = await ownerQuery<{ id: string; contact_id: string }>(app.db.url,
      "SELECT id, contact_id FROM messages WHERE recipient = 'old-link@inbox.example' AND kind = 'activation'");
    const link = `${app.url}/a/${legacyToken('activation', t.id, { c: m.contact_id, m: m.id }, Math.floor(Date.now() / 1000) + 86_400)}`;
    const post = () => fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(410);
    const [c] = await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [m.contact_id]);
    expect(c.status).toBe('active');
  }, 40_000);

  it('a test address verification link naming row and message still verifies', async () => {
    await sendBuiltin(app, t, 'test-address', 'old-tester@inbox.example');
    const [m] = await ownerQuery<{ id: string; data: { testAddressId: string } }>(app.db.url,
      "SELECT id, data FROM messages WHERE recipient = 'old-tester@inbox.example' AND kind = 'verification'");
    const link = `${app.url}/t/${legacyToken('test_address', t.id, { a: m.data.testAddressId, m: m.id }, Math.floor(Date.now() / 1000) + 86_400)}`;
    expect((await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' })).status).toBe(200);
    const [row] = await ownerQuery<{ state: string }>(app.db.url, 'SELECT state FROM test_addresses WHERE id = $1', [m.data.testAddressId]);
    expect(row.state).toBe('verified');
  }, 40_000);

  it('an unsubscribe link naming contact and campaign still unsubscribes', async () => {
    const listId = await given(app, t).defaultList();
    const c = await given(app, t).subscribedContact('old-reader@inbox.example');
    const link = `${app.url}/u/${legacyToken('unsubscribe', t.id, { c: c.id, m: '' }, 0)}`;
    expect((await fetch(`${link}/preferences`)).status).toBe(200);
    const r = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(r.status).toBe(200);
    const [s] = await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM subscriptions WHERE contact_id = $1 AND list_id = $2', [c.id, listId]);
    expect(s.status).toBe('unsubscribed');
  });
});

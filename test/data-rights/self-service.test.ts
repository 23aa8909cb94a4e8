// Self-service data rights over real HTTP, SMTP and PostgreSQL: from the preference page a person asks
// for their data or its erasure; the mail goes to their own address only, its link gives the same export
// as the API (JSON, and a readable summary), or, confirmed, runs the same erasure as the API and says
// what was kept. Expired, tampered and reused links change nothing; a fourth request in 24 hours is
// refused; every request is on record in the consent records.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { settled } from '../support/mail.js';
import { addressHash } from '../../src/consent/suppressions.js';
import { rightsToken } from '../../src/data-rights/self-service.js';
import { form, mailsTo, snapshot, unsubscribePath, waitForMail } from '../unsubscribe/helpers.js';
import { linkLengthAtNewsExample, rightsLink, spamScores } from './helpers.js';

const { app, t } = useApp();

const prefs = (id: string) => `${app.url}${unsubscribePath(app, t.id, id)}/preferences`;
const ask = (id: string, kind: 'export' | 'erasure', headers: Record<string, string> = {}) =>
  form(`${app.url}${unsubscribePath(app, t.id, id)}/my-data`, `request=${kind}`, headers);

async function consentActions(contactId: string): Promise<{ action: string; source: string }[]> {
  return ownerQuery(app.db.url, `SELECT action, source FROM consent_events WHERE contact_id = $1 ORDER BY id`, [contactId]);
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const post = (url: string) => form(url, '');

describe('"Your data" on the preference page', () => {
  it('shows the section with its two buttons, posting to /my-data', async () => {
    const c = await given(app, t).subscribedContact('section@example.org');
    const page = await get(prefs(c.id));
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h2 id="your-data">Your data</h2>');
    expect(page.text).toMatch(/<form method="post" action="\/u\/[^"]+\/my-data">/);
    expect(page.text).toContain('<button type="submit" name="request" value="export" class="secondary">Email me my data</button>');
    expect(page.text).toContain('<button type="submit" name="request" value="erasure" class="secondary">Delete my data</button>');
  });
});

describe('"Email me my data"', () => {
  it('mails the contact alone a link; the link gives a summary and the JSON the API gives; both steps are on record', async () => {
    const c = await given(app, t).subscribedContact('Export.Me@example.org', { name: 'Ada Export', attributes: { city: 'Lyon' } });
    await given(app, t).subscribedContact('bystander@example.org');
    const before = app.sink.received.length;
    const asked = await ask(c.id, 'export');
    expect(asked.status).toBe(200);
    expect(asked.text).toContain('Check your inbox');
    expect(asked.text).toContain('Ex•••@example.org');
    expect(asked.text).toContain('The link works for 24 hours.');

    const mail = await waitForMail(app, c.email);
    await settled(app);
    expect(app.sink.received.length - before).toBe(1); // nobody else got anything
    expect(mail.envelopeTo).toEqual([c.email]);
    expect(mail.parsed.subject).toBe('Your data at Acme');
    expect(mail.parsed.text).toContain('Hello Ada Export,');
    const [row] = await ownerQuery<{ kind: string; template: string; status: string }>(app.db.url,
      `SELECT kind, template, status FROM messages WHERE contact_id = $1 AND template = 'data-export'`, [c.id]);
    expect(row).toEqual({ kind: 'legal', template: 'data-export', status: 'sent' });

    const link = rightsLink(app, mail);
    expect(linkLengthAtNewsExample(mail)).toBeLessThan(100);
    const summary = await get(link);
    expect(summary.status).toBe(200);
    expect(summary.text).toContain('<title>Your data at Acme – Acme</title>');
    expect(summary.text).toContain('Export.Me@example.org');
    expect(summary.text).toContain('Ada Export');
    expect(summary.text).toContain('<dt>city</dt><dd>Lyon</dd>');
    expect(summary.text).toContain('Newsletter: subscribed');
    expect(summary.text).toContain('Download my data (JSON)');
    expect(summary.text).toContain(`action="${new URL(link).pathname}/json"`);
    expect((await consentActions(c.id)).map((e) => e.action)).not.toContain('export_download'); // the page alone is no download

    const file = await get(`${link}/json`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(file.headers.get('content-disposition')).toBe(`attachment; filename="my-data-${c.id}.json"`);
    const mine = JSON.parse(file.text);
    const api = await t.api('GET', `/api/contacts/${c.id}/export`);
    expect(api.status).toBe(200);
    const { exportedAt: _a, ...fromLink } = mine;
    const { exportedAt: _b, ...fromApi } = api.body;
    expect(fromLink).toEqual(fromApi);
    expect(fromLink.contact.email).toBe('Export.Me@example.org');
    // The kept body of the mail holds a placeholder, never the link itself.
    const token = new URL(link).pathname.split('/')[2];
    expect(file.text).not.toContain(token);

    await get(`${link}/json`); // a second download is not recorded again
    expect((await consentActions(c.id)).filter((e) => e.action.startsWith('export'))).toEqual([
      { action: 'export_request', source: 'preferences' }, { action: 'export_download', source: 'self_service' },
    ]);
  });

  it('speaks the browser\'s language when the contact has none, and the contact\'s own locale first', async () => {
    const c = await given(app, t).subscribedContact('deutsch@example.org');
    const asked = await ask(c.id, 'export', { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' });
    expect(asked.status).toBe(200);
    expect(asked.text).toContain('<html lang="de" dir="ltr">');
    expect(asked.text).toContain('Bitte sehen Sie in Ihrem Posteingang nach');
    const mail = await waitForMail(app, c.email);
    expect(mail.parsed.subject).toBe('Ihre Daten bei Acme');
    expect(mail.parsed.html).toContain('lang="de-DE"');
    expect(mail.parsed.text).toContain('Der Link ist 24 Stunden lang gültig.');

    await ownerQuery(app.db.url, `UPDATE contacts SET locale = 'fr' WHERE id = $1`, [c.id]);
    const summary = await get(rightsLink(app, mail), { 'accept-language': 'de' });
    expect(summary.text).toContain('<html lang="fr" dir="ltr">');
    expect(summary.text).toContain('Télécharger mes données (JSON)');
  });
});

describe('"Delete my data"', () => {
  it('mails a confirmation link; confirming erases as the API does and says what was kept; the link then changes nothing', async () => {
    const c = await given(app, t).subscribedContact('erase.me@example.org', { name: 'Eve Erase' });
    const asked = await ask(c.id, 'erasure');
    expect(asked.status).toBe(200);
    expect(asked.text).toContain('Nothing is deleted until you confirm.');
    const mail = await waitForMail(app, c.email);
    expect(mail.envelopeTo).toEqual([c.email]);
    expect(mail.parsed.subject).toBe('Confirm the deletion of your data at Acme');
    const link = rightsLink(app, mail);
    expect(linkLengthAtNewsExample(mail)).toBeLessThan(100);
    expect(new URL(link).pathname).toMatch(/^\/erase\//);

    const preview = await get(link);
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('erase.me@example.org');
    expect(preview.text).toContain('Delete my data now');
    expect((await ownerQuery(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [c.id]))[0].status).toBe('active'); // GET changes nothing

    const done = await post(link);
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your data has been deleted');
    expect(done.text).toContain('salted one-way hash');
    const [contact] = await ownerQuery<{ status: string; email: string | null; name: string | null }>(app.db.url,
      'SELECT status, email, name FROM contacts WHERE id = $1', [c.id]);
    expect(contact).toEqual({ status: 'erased', email: null, name: null });
    const [{ salt }] = await ownerQuery<{ salt: Buffer }>(app.db.url, 'SELECT hash_salt AS salt FROM tenants WHERE id = $1', [t.id]);
    const kept = await ownerQuery(app.db.url, 'SELECT scope, reason FROM suppressions WHERE address_hash = $1', [addressHash(salt, c.email)]);
    expect(kept).toEqual([{ scope: 'marketing', reason: 'erased' }]);
    expect((await t.api('GET', `/api/contacts/${c.id}/export`)).status).toBe(404);
    expect(await consentActions(c.id)).toEqual(expect.arrayContaining([
      { action: 'erasure_request', source: 'preferences' }, { action: 'erase', source: 'self_service' },
    ]));

    const before = await snapshot(app);
    const again = await post(link);
    expect(again.status).toBe(410);
    expect(again.text).toContain('This link has already been used');
    expect((await get(link)).status).toBe(410);
    expect(await snapshot(app)).toEqual(before);
  });
});

describe('links that change nothing', () => {
  it('an expired export or erasure link (signed with a past expiry) is refused with 410', async () => {
    const c = await given(app, t).subscribedContact('late@example.org');
    await ask(c.id, 'erasure');
    await ask(c.id, 'export');
    await waitForMail(app, c.email, 2);
    await settled(app);
    const rows = await ownerQuery<{ id: string; template: string }>(app.db.url,
      `SELECT id, template FROM messages WHERE contact_id = $1 AND template LIKE 'data-%'`, [c.id]);
    const past = new Date(Date.now() - 60_000).toISOString();
    const tokenOf = (kind: 'export' | 'erasure') => rightsToken(app.pg.deps.tokens, kind,
      { id: rows.find((r) => r.template === `data-${kind}`)!.id, tenantId: t.id, contactId: c.id }, past);
    const before = await snapshot(app);
    const erase = await post(`${app.url}/erase/${tokenOf('erasure')}`);
    expect(erase.status).toBe(410);
    expect(erase.text).toContain('This link has expired');
    expect((await get(`${app.url}/erase/${tokenOf('erasure')}`)).status).toBe(410);
    expect((await get(`${app.url}/data/${tokenOf('export')}`)).status).toBe(410);
    expect((await get(`${app.url}/data/${tokenOf('export')}/json`)).status).toBe(410);
    expect(await snapshot(app)).toEqual(before);
  });

  it('a tampered link, or one of the other kind, is refused with 400', async () => {
    const c = await given(app, t).subscribedContact('tamper@example.org');
    await ask(c.id, 'export');
    const link = rightsLink(app, await waitForMail(app, c.email));
    const token = new URL(link).pathname.split('/')[2];
    const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect((await get(`${app.url}/data/${flipped}`)).status).toBe(400);
    const before = await snapshot(app);
    const wrongKind = await post(`${app.url}/erase/${token}`);
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.text).toContain('This link is not valid');
    expect(await snapshot(app)).toEqual(before);
  });
});

describe('a form that is not the page\'s own', () => {
  it('on a valid link, says the request was not understood (400), not that the link is invalid; nothing recorded', async () => {
    const c = await given(app, t).subscribedContact('odd.form@example.org');
    for (const body of ['', 'request=foo', 'request=export&request=erasure']) {
      const r = await form(`${app.url}${unsubscribePath(app, t.id, c.id)}/my-data`, body);
      expect(r.status, body).toBe(400);
      expect(r.text, body).toContain('This request was not understood');
    }
    expect((await consentActions(c.id)).map((e) => e.action).filter((a) => a.endsWith('_request'))).toEqual([]);
  });
});

describe('an address that takes no mail', () => {
  it('is told at once that no link can be mailed (409, whom to write to); nothing is queued, recorded or counted', async () => {
    const c = await given(app, t).subscribedContact('suppressed.person@example.org');
    expect((await t.api('POST', '/api/suppressions', { address: c.email, scope: 'all', reason: 'manual' })).status).toBeLessThan(300);
    const asked = await ask(c.id, 'export');
    expect(asked.status).toBe(409);
    expect(asked.text).toContain('no longer receives email from Acme');
    const queued = await ownerQuery(app.db.url, `SELECT 1 FROM messages WHERE contact_id = $1 AND template LIKE 'data-%'`, [c.id]);
    expect(queued).toHaveLength(0);
    expect((await consentActions(c.id)).map((e) => e.action).filter((a) => a.endsWith('_request'))).toEqual([]);
  });
});

describe('rate limit', () => {
  it('takes three requests per contact in 24 hours and refuses the fourth with a clear 429 page', async () => {
    const c = await given(app, t).subscribedContact('eager@example.org');
    for (const kind of ['export', 'erasure', 'export'] as const) expect((await ask(c.id, kind)).status).toBe(200);
    const fourth = await ask(c.id, 'erasure');
    expect(fourth.status).toBe(429);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(80_000);
    expect(fourth.text).toContain('we send at most 3 such emails a day');
    await waitForMail(app, c.email, 3);
    await settled(app);
    expect(mailsTo(app, c.email)).toHaveLength(3);
    expect((await consentActions(c.id)).map((e) => e.action).filter((a) => a.endsWith('_request'))).toEqual(['export_request', 'erasure_request', 'export_request']);
  });

  it('holds under concurrency: of six requests at once, exactly three go through', async () => {
    const c = await given(app, t).subscribedContact('racer@example.org');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(c.id, i % 2 ? 'export' : 'erasure')));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 429, 429, 429]);
    await settled(app);
    const [{ n }] = await ownerQuery<{ n: number }>(app.db.url, `SELECT count(*)::int AS n FROM messages WHERE contact_id = $1 AND kind = 'legal'`, [c.id]);
    expect(n).toBe(3);
  });

  it('counts per contact: another contact is not affected', async () => {
    const c = await given(app, t).subscribedContact('calm@example.org');
    expect((await ask(c.id, 'export')).status).toBe(200);
  });
});

describe('the mails on SpamAssassin (local rules)', () => {
  it('score 0.0 in English and German, branded', async () => {
    expect((await t.api('PATCH', '/api/tenant', { logoUrl: 'https://acme.org/logo.png', accentColor: '#0f766e', privacyUrl: 'https://acme.org/privacy' })).status).toBe(200);
    const en = await given(app, t).subscribedContact('sa.en@example.org', { name: 'Sam English' });
    const de = await given(app, t).subscribedContact('sa.de@example.org', { name: 'Sabine Deutsch' });
    await ownerQuery(app.db.url, `UPDATE contacts SET locale = 'de-DE' WHERE id = $1`, [de.id]);
    for (const c of [en, de]) { await ask(c.id, 'export'); await ask(c.id, 'erasure'); }
    const mails = [await waitForMail(app, en.email, 2), await waitForMail(app, de.email, 2)];
    const raws = [...mailsTo(app, en.email), ...mailsTo(app, de.email)].map((m) => m.raw);
    expect(mails[1].parsed.subject).toContain('Acme');
    expect(mailsTo(app, de.email).map((m) => m.parsed.subject).sort()).toEqual(['Bestätigen Sie die Löschung Ihrer Daten bei Acme', 'Ihre Daten bei Acme']);
    const scores = await spamScores(raws);
    expect(scores).toHaveLength(4);
    for (const s of scores) expect(s.score === 0 ? 0 : s.score, `rules hit: ${s.tests}`).toBe(0);
  }, 60_000);
});

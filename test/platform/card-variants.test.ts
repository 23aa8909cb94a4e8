// Card numbers however they are written (issue 14): refused with 422 card_data_rejected where a person
// sends them (API body, query string, path), redacted where a third party or a header does — the
// confirm page's User-Agent (consent records), an inbound report's diagnostic (bounces and the
// message timeline), a relay's SMTP reply (messages.smtp_response, events, bounces). Real
// PostgreSQL, HTTP and SMTP.
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { CARD_REDACTION } from '../../src/policy/cards.js';
import { enqueueMessage, getMessage } from '../../src/mail/ledger.js';
import { consent, linkOf, post, waitForMail } from '../consent/helpers.js';
import { dsn, onTwoLists, registerProbe, sendProbe } from '../bounces/helpers.js';

const REFUSED_AT_RELAY = 'card-relay@example.net';
const RELAY_REPLY = 'Mailbox closed; account 4111.1111.1111.1111 cancelled';
const { app, t } = useApp({
  sink: { onRcpt: (address) => (address === REFUSED_AT_RELAY ? { code: 550, message: RELAY_REPLY } : null) },
});
beforeAll(() => { registerProbe(app); });

const fw = (s: string): string => s.replace(/\d/g, (d) => String.fromCodePoint(0xff10 + Number(d)));
const arabic = (s: string): string => s.replace(/\d/g, (d) => String.fromCodePoint(0x0660 + Number(d)));
const VARIANTS: Array<[string, string]> = [
  ['two spaces', '4111  1111  1111  1111'],
  ['dots', '4111.1111.1111.1111'],
  ['tabs', '4111\t1111\t1111\t1111'],
  ['NBSP', '4111\u00a01111\u00a01111\u00a01111'],
  ['narrow NBSP', '4111\u202f1111\u202f1111\u202f1111'],
  ['full-width digits', fw('4111111111111111')],
  ['Arabic-Indic digits', arabic('4111 1111 1111 1111')],
  ['Devanagari digits', '4111111111111111'.replace(/\d/g, (d) => String.fromCodePoint(0x0966 + Number(d)))],
  ['zero-width spaces', '4111\u200b1111\u200b1111\u200b1111'],
  ['ZWJ and word joiner', '4111\u200d1111\u20601111\ufeff1111'],
  ['soft hyphens', '4111\u00ad1111\u00ad1111\u00ad1111'],
];
/** Any spelling of the test card's digits left in stored text: ASCII, full-width or Arabic-Indic. */
const LEAK = /4111|５５５５|４１１１|٤١١١|1111[\s.\u00a0]+1111/;

describe('refused where a person sends it', () => {
  it.each(VARIANTS)('in a body: %s', async (_what, card) => {
    const r = await t.api('POST', '/api/contacts', { email: 'card-body@example.org', name: `Pat ${card}` });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'card_data_rejected', field: 'body.name' });
  });

  it.each(VARIANTS)('in a query string: %s', async (_what, card) => {
    const r = await t.api('GET', `/api/messages?recipient=${encodeURIComponent(card)}`);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'card_data_rejected', field: 'query.recipient' });
  });

  it.each(VARIANTS)('in a path: %s', async (_what, card) => {
    const r = await t.api('GET', `/api/contacts/${encodeURIComponent(card)}`);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'card_data_rejected', field: 'path' });
  });

  it('stores none of them', async () => {
    expect(await ownerQuery(app.db.url, "SELECT id FROM contacts WHERE email = 'card-body@example.org'")).toEqual([]);
  });
});

describe('redacted where a header or a third party sends it', () => {
  it('the confirm page keeps the User-Agent with the card number removed', async () => {
    const address = 'card-ua@example.org';
    const r = await t.api('POST', '/api/contacts', { email: address, name: 'Ua', newsletter: true, consent });
    expect(r.status).toBe(201);
    const link = linkOf(app, await waitForMail(app, address));
    const done = await post(link, 'Mozilla/5.0 (pay 4111.1111.1111.1111; x  5555  5555  5555  4444\u00a0) Gecko');
    expect(done.status).toBe(200);
    const rows = await ownerQuery<{ user_agent: string | null }>(app.db.url,
      "SELECT user_agent FROM consent_events WHERE contact_id = $1 AND action = 'confirm'", [r.body.id]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.user_agent).toBe(`Mozilla/5.0 (pay ${CARD_REDACTION}; x  ${CARD_REDACTION}\u00a0) Gecko`);
  });

  it('the confirm page reads a UTF-8 User-Agent as UTF-8 before redacting it (full-width digits, ideographic spaces)', async () => {
    const address = 'card-ua-utf8@example.org';
    const r = await t.api('POST', '/api/contacts', { email: address, name: 'Ua', newsletter: true, consent });
    expect(r.status).toBe(201);
    const link = new URL(linkOf(app, await waitForMail(app, address)));
    const ua = `Browser/1.0 (Zoë; ${fw('4111')}\u3000${fw('1111')}\u3000${fw('1111')}\u3000${fw('1111')})`;
    // The header goes out as its UTF-8 bytes (fetch refuses non-latin1 header values; a browser or curl sends bytes).
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: link.hostname, port: link.port, path: link.pathname, method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0', 'user-agent': Buffer.from(ua, 'utf8').toString('latin1') } },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const rows = await ownerQuery<{ user_agent: string | null }>(app.db.url,
      "SELECT user_agent FROM consent_events WHERE contact_id = $1 AND action = 'confirm'", [r.body.id]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.user_agent).toBe(`Browser/1.0 (Zoë; ${CARD_REDACTION})`);
    const history = await t.api('GET', `/api/contacts/${r.body.id}/consent`);
    expect(JSON.stringify(history.body)).not.toMatch(LEAK);
  });

  it('an inbound report keeps its diagnostic with the card number removed, in the bounce and on the timeline', async () => {
    const email = 'card-dsn@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'cards:dsn');
    const diagnostic = `smtp; 550 5.1.1 <${email}>: refused, card 4111  1111  1111  1111 and 5555.5555.5555.4444 on file`;
    const res = await t.api('POST', '/api/inbound', dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string, diagnostic }),
      { 'content-type': 'message/rfc822' });
    expect(res.status).toBe(202);
    expect(JSON.stringify(res.body)).not.toMatch(LEAK);
    const [bounce] = await ownerQuery<{ diagnostic: string; raw: Buffer | null; raw_withheld: string | null }>(app.db.url,
      'SELECT diagnostic, raw, raw_withheld FROM bounces WHERE message_id = $1', [sent.id]);
    expect(bounce.diagnostic).toContain(`refused, card ${CARD_REDACTION} and ${CARD_REDACTION} on file`);
    expect(bounce).toMatchObject({ raw: null, raw_withheld: 'card_data' });
    const stored = await ownerQuery(app.db.url, `SELECT b.*, e.detail, m.smtp_response FROM bounces b
      JOIN messages m ON m.id = b.message_id JOIN message_events e ON e.message_id = m.id WHERE m.id = $1`, [sent.id]);
    expect(stored.length).toBeGreaterThan(1);
    expect(JSON.stringify(stored)).not.toMatch(LEAK);
    expect(JSON.stringify(stored)).toContain(CARD_REDACTION);
  });

  it('a relay’s SMTP reply is kept with the card number removed (message, timeline, bounce)', async () => {
    const contact = await given(app, t).subscribedContact(REFUSED_AT_RELAY, onTwoLists(REFUSED_AT_RELAY));
    const { message: m } = await app.pg.deps.db.withTenant(t.id, (c) => enqueueMessage(c, {
      tenantId: t.id, purpose: 'cards:relay', kind: 'account', contactId: contact.id, recipient: REFUSED_AT_RELAY, template: 'bounce-probe', data: {},
    }));
    const failed = await waitFor(async () => {
      const cur = await app.pg.deps.db.withTenant(t.id, (c) => getMessage(c, m.id));
      return cur?.status === 'failed' ? cur : null;
    }, { timeout: 10_000, message: () => 'the refused message never failed' });
    expect(failed.smtpResponse).toContain(CARD_REDACTION);
    await waitFor(async () => (await ownerQuery(app.db.url, 'SELECT id FROM bounces WHERE message_id = $1', [m.id])).length > 0 || null,
      { timeout: 10_000, message: () => 'no bounce recorded for the 5xx' });
    const stored = await ownerQuery(app.db.url, `SELECT m.smtp_response, e.detail, b.diagnostic FROM messages m
      JOIN message_events e ON e.message_id = m.id LEFT JOIN bounces b ON b.message_id = m.id WHERE m.id = $1`, [m.id]);
    expect(JSON.stringify(stored)).not.toMatch(LEAK);
    expect(JSON.stringify(stored.map((r) => r.diagnostic))).toContain(CARD_REDACTION);
  });
});

// POST /api/inbound (raw RFC 822 reports from an MTA pipe or relay), the bounce list, raw retention
// and the cross-tenant guarantee: a key can only ever affect its own tenant's messages and contacts.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';
import { autoReply, contactState, dsn, message, onTwoLists, registerProbe, sendProbe } from './helpers.js';

const MAX = 32 * 1024;
const { app, t: a, tenant } = useApp({ config: { INBOUND_MAX_BYTES: MAX }, tenant: { name: 'A' } });
const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });

beforeAll(() => { registerProbe(app); });

const RAW = { 'content-type': 'message/rfc822' };

describe('POST /api/inbound', () => {
  it('takes a raw DSN, finds the message by its VERP To: header and suppresses the contact', async () => {
    const email = 'api-hard@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, a, contact.id, email, 'api:hard');
    const res = await a.api('POST', '/api/inbound', dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string }), RAW);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: 'hard', status: '5.1.1', recipient: email });
    expect(res.body.bounces).toEqual([expect.objectContaining({ messageId: sent.id, contactId: contact.id, matchedBy: 'verp', action: 'suppressed', duplicate: false })]);
    expect((await message(app, a, sent.id)).status).toBe('bounced');
    expect((await contactState(app, contact.id, email)).status).toBe('suppressed');

    const again = await a.api('POST', '/api/inbound', dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string, id: 'x' }), RAW);
    expect(again.status).toBe(202);
    const list = await a.api('GET', `/api/bounces?messageId=${sent.id}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    const raw = await fetch(`${app.url}/api/bounces/${list.body.items[0].id}/raw`, { headers: { authorization: `Bearer ${a.key}` } });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^message\/rfc822/);
    expect(await raw.text()).toContain('Final-Recipient: rfc822; api-hard@example.net');
  });

  it('falls back to the original Message-ID, then to Final-Recipient', async () => {
    const email = 'api-byid@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const { message: sent } = await sendProbe(app, a, contact.id, email, 'api:byid');
    const byId = await a.api('POST', '/api/inbound', dsn({ to: 'bounces@relay.example', finalRecipient: email, messageId: sent.messageIdHeader as string }), RAW);
    expect(byId.body.bounces[0]).toMatchObject({ messageId: sent.id, contactId: contact.id, matchedBy: 'message_id' });

    const other = 'api-byrcpt@example.net';
    const c2 = await given(app, a).subscribedContact(other, onTwoLists(other));
    const byRcpt = await a.api('POST', '/api/inbound', dsn({ to: 'bounces@relay.example', finalRecipient: other, messageId: '<unknown@elsewhere.example>' }), RAW);
    expect(byRcpt.body.bounces[0]).toMatchObject({ messageId: null, contactId: c2.id, matchedBy: 'recipient', action: 'suppressed' });
    expect((await contactState(app, c2.id, other)).suppressed).toEqual([{ scope: 'all', reason: 'hard_bounce' }]);
  });

  it('never lets one tenant affect another tenant’s messages or contacts', async () => {
    const email = 'victim@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, a, contact.id, email, 'api:victim');
    const before = await contactState(app, contact.id, email);

    const viaVerp = await b.api('POST', '/api/inbound', dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string }), RAW);
    expect(viaVerp.status).toBe(404);
    const viaTo = await b.api('POST', `/api/inbound?to=${encodeURIComponent(mail.envelopeFrom)}`, dsn({ to: 'x@relay.example', finalRecipient: email, messageId: '<n@x>' }), RAW);
    expect(viaTo.status).toBe(404);
    const viaHeader = await b.api('POST', '/api/inbound', dsn({ to: 'x@relay.example', finalRecipient: email, messageId: sent.messageIdHeader as string }), RAW);
    expect(viaHeader.status).toBe(202);
    expect(viaHeader.body.bounces[0]).toMatchObject({ messageId: null, contactId: null, matchedBy: 'none' });
    const token = unsubscribeToken(app.pg.deps.tokens, { tenantId: a.id, contactId: contact.id, campaignId: null });
    const viaMailto = await b.api('POST', `/api/inbound?to=${encodeURIComponent(`unsubscribe+${token}@bounces.postgate.localhost`)}`, 'unsubscribe', { 'content-type': 'text/plain' });
    expect(viaMailto.body.unsubscribes ?? []).toEqual([]);

    expect(await contactState(app, contact.id, email)).toEqual(before);
    expect((await message(app, a, sent.id)).status).toBe('sent');
    expect(await ownerQuery(app.db.url, 'SELECT tenant_id FROM bounces WHERE tenant_id = $1 AND message_id = $2', [a.id, sent.id])).toEqual([]);
    expect((await b.api('GET', `/api/bounces?messageId=${sent.id}`)).body.items).toEqual([]);

    // The same long-form mailto token through its own tenant's key does unsubscribe.
    const own = await a.api('POST', `/api/inbound?to=${encodeURIComponent(`unsubscribe+${token}@bounces.postgate.localhost`)}`, 'unsubscribe', { 'content-type': 'text/plain' });
    expect(own.status).toBe(202);
    expect(own.body.unsubscribes).toEqual([{ contactId: contact.id, changedListIds: [...contact.lists].sort() }]);
  });

  it('refuses oversized, empty, JSON, unauthenticated and under-scoped submissions', async () => {
    const big = await a.api('POST', '/api/inbound', 'x'.repeat(MAX + 1), RAW);
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('body_too_large');
    const empty = await a.api('POST', '/api/inbound', '', RAW);
    expect(empty.status).toBe(422);
    const json = await a.api('POST', '/api/inbound', { raw: 'x' });
    expect(json.status).toBe(415);
    const anon = await fetch(`${app.url}/api/inbound`, { method: 'POST', headers: RAW, body: 'x' });
    expect(anon.status).toBe(401);
    const key = (await a.api('POST', '/api/keys', { scopes: ['transactional'] })).body.key;
    const scoped = await fetch(`${app.url}/api/inbound`, { method: 'POST', headers: { ...RAW, authorization: `Bearer ${key}` }, body: 'x' });
    expect(scoped.status).toBe(403);
    const garbage = await a.api('POST', '/api/inbound', '\u0001\u0002 not a message \u00ff', { 'content-type': 'application/octet-stream' });
    expect(garbage.status).toBe(202);
    expect(garbage.body).toMatchObject({ kind: 'unknown' });
  });

  it('keeps the raw report without the confirm and unsubscribe tokens it quotes (also across quoted-printable soft breaks)', async () => {
    const email = 'api-quoted@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, a, contact.id, email, 'api:quoted');
    const token = unsubscribeToken(app.pg.deps.tokens, { tenantId: a.id, contactId: contact.id, campaignId: null });
    const quoted = `Confirm: ${app.url}/a/${'Q'.repeat(30)}.${'w'.repeat(43)}\nUnsubscribe: ${app.url}/u/${token.slice(0, 30)}=\n${token.slice(30)}\n`;
    const report = dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string, id: 'quoted' }).replace('--dsn-quoted--', `--dsn-quoted\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quoted.replace(/\n/g, '\r\n')}--dsn-quoted--`);
    expect((await a.api('POST', '/api/inbound', report, RAW)).status).toBe(202);
    const [row] = await ownerQuery<{ raw: Buffer | null }>(app.db.url, 'SELECT raw FROM bounces WHERE message_id = $1', [sent.id]);
    const kept = (row.raw as Buffer).toString('latin1');
    expect(kept).toContain('Final-Recipient: rfc822; api-quoted@example.net');
    expect(kept).toContain('/a/[link removed]');
    expect(kept).toContain('/u/[link removed]');
    expect(kept).not.toContain('Q'.repeat(30));
    expect(kept).not.toContain(token.slice(0, 30));
    expect(kept).not.toContain(token.slice(30));
  });

  it('keeps the raw report for the retention period, never when it holds a card number', async () => {
    const email = 'api-ooo@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, a, contact.id, email, 'api:ooo');
    const ooo = autoReply({ to: mail.envelopeFrom, from: email, inReplyTo: sent.messageIdHeader as string });
    const withCard = ooo.replace('with limited access to email.', 'please charge 4111 1111 1111 1111 meanwhile.');
    expect((await a.api('POST', '/api/inbound', ooo, RAW)).body.kind).toBe('autoreply');
    expect((await a.api('POST', '/api/inbound', withCard, RAW)).body.kind).toBe('autoreply');
    const rows = await ownerQuery<{ id: string; raw: Buffer | null; raw_withheld: string | null; days: number }>(app.db.url,
      `SELECT id, raw, raw_withheld, round(extract(epoch FROM raw_expires_at - received_at) / 86400)::int AS days FROM bounces WHERE message_id = $1 ORDER BY received_at`, [sent.id]);
    expect(rows.map((r) => [r.raw !== null, r.raw_withheld, r.days])).toEqual([[true, null, 30], [false, 'card_data', null]]);
    const stored = await ownerQuery(app.db.url, 'SELECT status, reason, diagnostic, recipient, feedback_type, raw FROM bounces WHERE message_id = $1', [sent.id]);
    expect(JSON.stringify(stored)).not.toMatch(/4111/);

    await ownerQuery(app.db.url, `UPDATE bounces SET raw_expires_at = now() - interval '1 minute' WHERE id = $1`, [rows[0].id]);
    await app.pg.deps.db.withSystem((c) => c.query('SELECT purge_expired()'));
    const [after] = await ownerQuery(app.db.url, 'SELECT raw, kind, status, recipient FROM bounces WHERE id = $1', [rows[0].id]);
    expect(after).toMatchObject({ raw: null, kind: 'autoreply', recipient: email });
  });
});

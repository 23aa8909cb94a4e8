// Bounces over real SMTP: Postgate sends through the sink (its envelope sender is the VERP address),
// the report comes back to the inbound listener over TCP, and the contact, subscriptions, ledger and
// suppression list change as they must — or, for auto-replies and refused input, do not.
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { sleep, waitFor } from '../support/wait.js';
import { ownerQuery } from '../support/db.js';
import { enqueueMessage, messageEvents } from '../../src/mail/ledger.js';
import { unsubscribeMailto } from '../../src/bounces/mailto.js';
import { verpAddress } from '../../src/mail/sender.js';
import { arf, autoReply, contactState, deliver, dsn, listenerPort, message, onTwoLists, registerProbe, sendProbe } from './helpers.js';

const MAX = 64 * 1024;
const { app, t } = useApp({
  config: { INBOUND_MAX_BYTES: MAX },
  sink: { onRcpt: (a) => (a.startsWith('refused') ? { code: 550, message: `5.1.1 <${a}>: Recipient address rejected: User unknown` } : null) },
});
let port: number;

beforeAll(() => {
  registerProbe(app);
  port = listenerPort(app);
});

async function events(id: string): Promise<string[]> {
  return app.pg.deps.db.withTenant(t.id, async (c) => (await messageEvents(c, id)).map((e) => e.type));
}

async function bouncesOf(messageId: string): Promise<any[]> {
  return ownerQuery(app.db.url, 'SELECT kind, status, matched_by, action, source, raw IS NOT NULL AS raw_kept, recipient FROM bounces WHERE message_id = $1 ORDER BY received_at', [messageId]);
}

async function smtpError(p: Promise<unknown>): Promise<number | undefined> {
  try { await p; } catch (err) { return (err as { responseCode?: number }).responseCode; }
  throw new Error('expected the SMTP server to refuse');
}

describe('inbound SMTP listener', () => {
  it('a hard bounce for a message Postgate sent suppresses the contact, and later mail to it is refused', async () => {
    const email = 'gone@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:hard');
    expect(mail.envelopeFrom).toMatch(/^bounces\+[a-z0-9-]+@bounces\.postgate\.test$/);
    expect(mail.envelopeTo).toEqual([email]);

    const reply = await deliver(port, [mail.envelopeFrom], dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string }));
    expect(reply).toMatch(/^250/);

    expect((await message(app, t, sent.id)).status).toBe('bounced');
    expect(await events(sent.id)).toEqual(['queued', 'sending', 'sent', 'bounced']);
    expect(await bouncesOf(sent.id)).toEqual([{ kind: 'hard', status: '5.1.1', matched_by: 'verp', action: 'suppressed', source: 'smtp', raw_kept: true, recipient: email }]);
    const state = await contactState(app, contact.id, email);
    expect(state.status).toBe('suppressed');
    expect(state.suppressed).toEqual([{ scope: 'all', reason: 'hard_bounce' }]);
    expect(state.consent).toEqual([{ action: 'suppress', source: 'bounce' }]);

    // Mail must stop: the next message to that address is refused by the gate, nothing reaches the sink.
    const before = app.sink.received.length;
    await expect(sendProbe(app, t, contact.id, email, 'probe:hard:again')).rejects.toThrow(/ended suppressed/);
    expect(app.sink.received.length).toBe(before);
  });

  it('a complaint unsubscribes the contact from every list and suppresses marketing', async () => {
    const email = 'angry@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:complaint');
    await deliver(port, [mail.envelopeFrom], arf({ to: mail.envelopeFrom, recipient: email, messageId: sent.messageIdHeader as string }));

    expect((await message(app, t, sent.id)).status).toBe('complained');
    const state = await contactState(app, contact.id, email);
    expect(state.status).toBe('active');
    expect(state.subs).toEqual(contact.lists.map((l) => ({ list_id: l, status: 'unsubscribed' })).sort((a, b) => a.list_id.localeCompare(b.list_id)));
    expect(state.suppressed).toEqual([{ scope: 'marketing', reason: 'complaint' }]);
    expect(state.consent).toEqual([
      { action: 'opt_out', source: 'complaint' }, { action: 'opt_out', source: 'complaint' }, { action: 'suppress', source: 'complaint' },
    ]);
    expect((await bouncesOf(sent.id))[0]).toMatchObject({ kind: 'complaint', action: 'unsubscribed' });
  });

  it('an auto-reply changes nothing; it is only recorded', async () => {
    const email = 'away@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:ooo');
    const before = await contactState(app, contact.id, email);
    await deliver(port, [mail.envelopeFrom], autoReply({ to: mail.envelopeFrom, from: email, inReplyTo: sent.messageIdHeader as string }), email);

    expect(await contactState(app, contact.id, email)).toEqual(before);
    expect((await message(app, t, sent.id)).status).toBe('sent');
    expect(await events(sent.id)).toEqual(['queued', 'sending', 'sent', 'autoreply']);
    expect((await bouncesOf(sent.id))[0]).toMatchObject({ kind: 'autoreply', action: 'recorded' });
  });

  it('soft bounces are counted per message; the third within the window suppresses', async () => {
    const email = 'full@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const soft = async (n: number) => {
      const { message: sent, mail } = await sendProbe(app, t, contact.id, email, `probe:soft:${n}`);
      const report = dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string, status: '5.2.2',
        diagnostic: 'smtp; 552 5.2.2 Mailbox full', id: `soft${n}` });
      await deliver(port, [mail.envelopeFrom], report);
      return { sent, mail, report };
    };
    const first = await soft(1);
    // The same report delivered twice (an MTA retrying) counts once.
    await deliver(port, [first.mail.envelopeFrom], first.report);
    expect(await bouncesOf(first.sent.id)).toHaveLength(1);
    await soft(2);
    expect((await contactState(app, contact.id, email)).status).toBe('active');
    expect((await contactState(app, contact.id, email)).suppressed).toEqual([]);
    const third = await soft(3);
    expect((await message(app, t, third.sent.id)).status).toBe('sent');
    expect(await events(third.sent.id)).toContain('soft_bounce');
    const state = await contactState(app, contact.id, email);
    expect(state.status).toBe('suppressed');
    expect(state.suppressed).toEqual([{ scope: 'all', reason: 'soft_bounces' }]);
    expect((await bouncesOf(third.sent.id))[0]).toMatchObject({ kind: 'soft', action: 'suppressed' });
  });

  it('refuses recipients that are not valid VERP addresses with 550 (never a relay)', async () => {
    const email = 'valid@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { mail } = await sendProbe(app, t, contact.id, email, 'probe:forge');
    const token = mail.envelopeFrom.slice('bounces+'.length, mail.envelopeFrom.indexOf('@'));
    const flipped = token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    const otherMessage = verpAddress({ current: 'k1', keys: { k1: 'another-secret-key-0123456789' } }, { id: t.id, bounceDomain: null }, contact.id, 'bounces.postgate.localhost');
    for (const to of ['postmaster@bounces.postgate.localhost', 'someone@example.org', `bounces+${flipped}@bounces.postgate.localhost`,
      'bounces+@bounces.postgate.localhost', otherMessage, `unsubscribe+${token}@bounces.postgate.localhost`]) {
      expect(await smtpError(deliver(port, [to], dsn({ to, finalRecipient: email, messageId: '<x@acme.org>' }))), to).toBe(550);
    }
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM bounces WHERE recipient = $1', [email])).toEqual([]);
  });

  it('accepts an oversized message, keeping only its first INBOUND_MAX_BYTES, and keeps serving', async () => {
    const email = 'big@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:big');
    const padding = `X-Padding: ${'y'.repeat(900)}\r\n`.repeat(Math.ceil((MAX * 2) / 900));
    const huge = padding + dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string });
    expect(await deliver(port, [mail.envelopeFrom], huge)).toMatch(/^250/); // truncated to padding only: nothing to act on
    expect(await bouncesOf(sent.id)).toEqual([expect.objectContaining({ kind: 'unknown', matched_by: 'verp', raw_kept: true })]);
    await deliver(port, [mail.envelopeFrom], dsn({ to: mail.envelopeFrom, finalRecipient: email, messageId: sent.messageIdHeader as string }));
    expect((await message(app, t, sent.id)).status).toBe('bounced');
  });

  it('survives malformed input: garbage messages are recorded as unknown, garbage commands are answered', async () => {
    const email = 'garbage@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:garbage');
    const garbage = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe, 0]), Buffer.from('\r\n\r\n--\r\nContent-Type: multipart/report; boundary=\r\n\u0000\r\n')]);
    expect(await deliver(port, [mail.envelopeFrom], garbage)).toMatch(/^250/);
    expect(await bouncesOf(sent.id)).toEqual([expect.objectContaining({ kind: 'unknown', action: 'recorded' })]);
    expect((await message(app, t, sent.id)).status).toBe('sent');
    expect((await contactState(app, contact.id, email)).status).toBe('active');

    const replies = await rawSession(port, ['EHLO x', '\u0000\u00ff junk', 'RCPT TO:<a@b>', 'MAIL FROM:<>', `RCPT TO:<${'z'.repeat(5000)}@x>`, 'DATA', 'QUIT']);
    expect(replies).toMatch(/^220 /);
    expect(replies).toMatch(/\r\n221 /);
    expect(await deliver(port, [mail.envelopeFrom], autoReply({ to: mail.envelopeFrom, from: email, inReplyTo: '<x@y>' }))).toMatch(/^250/);
  });

  it('mail to the unsubscribe+<token> address unsubscribes the contact from every list', async () => {
    const email = 'mailto@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const to = unsubscribeMailto(app.pg.deps.tokens, { bounceDomain: null }, contact.id, 'bounces.postgate.localhost');
    expect(to.indexOf('@')).toBeLessThanOrEqual(64);
    await deliver(port, [to], `From: ${email}\r\nTo: ${to}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n`, email);
    const state = await contactState(app, contact.id, email);
    expect((state.subs as { status: string }[]).map((s) => s.status)).toEqual(['unsubscribed', 'unsubscribed']);
    expect(state.consent).toEqual([{ action: 'opt_out', source: 'mailto' }, { action: 'opt_out', source: 'mailto' }]);
    expect(state.suppressed).toEqual([]);
  });

  it('a 5xx at send time is handled like a received hard bounce', async () => {
    const email = 'refused@example.net';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: m } = await app.pg.deps.db.withTenant(t.id, (c) => enqueueMessage(c, {
      tenantId: t.id, purpose: 'probe:refused', kind: 'account', contactId: contact.id, recipient: email, template: 'bounce-probe', data: {},
    }));
    await waitFor(async () => (await contactState(app, contact.id, email)).status === 'suppressed', { timeout: 10_000, message: 'contact not suppressed' });
    const failed = await message(app, t, m.id);
    expect(failed.smtpResponse).toMatch(/^550 5\.1\.1 /);
    expect(failed.status).toBe('bounced');
    expect(await events(m.id)).toEqual(['queued', 'sending', 'failed', 'bounced']);
    expect(await bouncesOf(m.id)).toEqual([{ kind: 'hard', status: '5.1.1', matched_by: 'ledger', action: 'suppressed', source: 'send', raw_kept: false, recipient: email }]);
    expect((await contactState(app, contact.id, email)).suppressed).toEqual([{ scope: 'all', reason: 'hard_bounce' }]);
  });
});

/** Speaks raw SMTP lines to the listener and returns everything it answered. */
function rawSession(p: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(p, '127.0.0.1');
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { out += d; });
    socket.once('data', async () => {
      for (const l of lines) { socket.write(`${l}\r\n`, 'latin1'); await sleep(30); }
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(out));
    setTimeout(() => { socket.destroy(); }, 5_000);
  });
}

// The trial inputs (test/fixtures/trials, see its README): reports that Postgate once got wrong,
// each standing for a kind of fault. Classified on their own, and delivered over real SMTP to the
// real listener for messages Postgate really sent.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { messageEvents } from '../../src/mail/ledger.js';
import { classifyMessage } from '../../src/bounces/classify.js';
import { contactState, deliver, listenerPort, message, onTwoLists, registerProbe, sendProbe } from './helpers.js';
import { invoice, mailsTo, waitForMessage } from '../transactional/helpers.js';

const TRIALS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'trials');
const trial = (name: string): string => readFileSync(path.join(TRIALS, name), 'latin1');

const { app, t } = useApp();
let port: number;

beforeAll(() => {
  registerProbe(app);
  port = listenerPort(app);
});

const bouncesOf = (contactId: string) => ownerQuery(app.db.url,
  'SELECT kind, reason, action FROM bounces WHERE contact_id = $1 ORDER BY received_at', [contactId]);
const eventTypes = async (id: string) => app.pg.deps.db.withTenant(t.id, async (c) => (await messageEvents(c, id)).map((e) => e.type));

describe('trial files, classified', () => {
  it('a delay notice is a delay, not a failure', async () => {
    const c = await classifyMessage(trial('delay-warning.eml'));
    expect(c.recipients.map((r) => [r.action, r.reason])).toEqual([['delayed', 'delayed']]);
    expect(c.kind).not.toBe('hard');
  });
  it('a not-spam feedback report is feedback, not a complaint', async () => {
    const c = await classifyMessage(trial('arf-not-spam.eml'));
    expect([c.kind, c.reason, c.feedbackType]).toEqual(['feedback', 'feedback', 'not-spam']);
  });
  it('the reply inside X-Supplementary-Info is evidence: hard, user unknown', async () => {
    const c = await classifyMessage(trial('supplementary-info.eml'));
    expect([c.kind, c.reason, c.recipient]).toEqual(['hard', 'userunknown', 'someone@example.com']);
  });
});

describe('trial files over SMTP', () => {
  it('three delay notices for three delivered messages leave the contact active; the next invoice is delivered', async () => {
    const email = 'slow.mx@example.com';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    for (const n of [1, 2, 3]) {
      const { message: sent, mail } = await sendProbe(app, t, contact.id, email, `probe:delay:${n}`);
      const report = trial('delay-warning.eml').replace(/bounces\+REPLACE-WITH-A-VERP-TOKEN@bounces\.postgate\.localhost/g, mail.envelopeFrom);
      expect(await deliver(port, [mail.envelopeFrom], report)).toMatch(/^250/);
      expect((await message(app, t, sent.id)).status).toBe('sent');
      expect(await eventTypes(sent.id)).toEqual(['queued', 'sending', 'sent', 'delayed']);
    }
    const state = await contactState(app, contact.id, email);
    expect(state.status).toBe('active');
    expect(state.suppressed).toEqual([]);
    expect(await bouncesOf(contact.id)).toEqual([]);

    const r = await t.api('POST', '/api/invoices', invoice('T-AFTER-DELAYS', email));
    expect(r.status).toBe(202);
    expect((await waitForMessage(t, r.body.id)).status).toBe('sent');
    expect(mailsTo(app.sink.received, email).some((m) => m.parsed.subject?.startsWith('Invoice T-AFTER-DELAYS'))).toBe(true);
  });

  it('a not-spam feedback report is recorded and changes no subscription', async () => {
    const email = 'arf.notspam@example.com';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const before = await contactState(app, contact.id, email);
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:notspam');
    const report = trial('arf-not-spam.eml').replace('<ea5b864e-0d41-4ec5-9450-d4d73639dfbd@qa-sender.org>', sent.messageIdHeader as string);
    expect(await deliver(port, [mail.envelopeFrom], report)).toMatch(/^250/);
    expect(await bouncesOf(contact.id)).toEqual([{ kind: 'feedback', reason: 'feedback', action: 'recorded' }]);
    const after = await contactState(app, contact.id, email);
    expect(after).toEqual(before);
    expect((await message(app, t, sent.id)).status).toBe('sent');
    expect(await eventTypes(sent.id)).toEqual(['queued', 'sending', 'sent', 'feedback']);
  });

  it('a DSN whose only reply sits in X-Supplementary-Info suppresses the address as a hard bounce', async () => {
    const email = 'someone@example.com';
    const contact = await given(app, t).subscribedContact(email, onTwoLists(email));
    const { message: sent, mail } = await sendProbe(app, t, contact.id, email, 'probe:supplementary');
    expect(await deliver(port, [mail.envelopeFrom], trial('supplementary-info.eml'))).toMatch(/^250/);
    expect(await bouncesOf(contact.id)).toEqual([{ kind: 'hard', reason: 'userunknown', action: 'suppressed' }]);
    expect((await message(app, t, sent.id)).status).toBe('bounced');
    expect((await contactState(app, contact.id, email)).status).toBe('suppressed');
  });
});

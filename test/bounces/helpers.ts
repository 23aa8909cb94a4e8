// Helpers for the bounce tests: a probe renderer and contacts on two lists so Postgate really sends a
// message through the SMTP sink; RFC 3464 DSNs, RFC 5965 ARF complaints and auto-replies built like
// real MTAs and mailbox providers build them; delivery to the inbound listener over SMTP.
import nodemailer from 'nodemailer';
import type { TestApp, TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { enqueueMessage, getMessage, type LedgerMessage } from '../../src/mail/ledger.js';
import { inboundListenerPort } from '../../src/bounces/module.js';
import type { Received } from '../support/smtp-sink.js';
import type { SubscribedOptions } from '../support/given.js';
import { waitFor } from '../support/wait.js';

/** Registers the 'bounce-probe' template: a plain account notice. Once per app. */
export function registerProbe(app: TestApp): void {
  app.pg.deps.renderers.register('bounce-probe', async (ctx) => ({
    rendered: { subject: `Account notice ${ctx.message.purpose}`, html: '<p>Your account changed.</p>', text: 'Your account changed.' },
  }));
}

export function listenerPort(app: TestApp): number {
  const port = inboundListenerPort(app.pg.deps);
  if (!port) throw new Error('inbound listener not running');
  return port;
}

/** For given().subscribedContact: Pat, on the default list and on a second list of its own. */
export const onTwoLists = (email: string): SubscribedOptions => ({ name: 'Pat', lists: ['default', { name: `Offers ${email}` }] });

export async function message(app: TestApp, t: TestTenant, id: string): Promise<LedgerMessage> {
  return app.pg.deps.db.withTenant(t.id, async (c) => (await getMessage(c, id)) as LedgerMessage);
}

/** Postgate sends an account notice to the contact through the sink; resolves once the ledger says 'sent'. */
export async function sendProbe(app: TestApp, t: TestTenant, contactId: string, email: string, purpose: string): Promise<{ message: LedgerMessage; mail: Received }> {
  const { message: m } = await app.pg.deps.db.withTenant(t.id, (c) => enqueueMessage(c, {
    tenantId: t.id, purpose, kind: 'account', contactId, recipient: email, template: 'bounce-probe', data: {},
  }));
  let cur: LedgerMessage | undefined;
  return waitFor(async () => {
    cur = await message(app, t, m.id);
    const mail = app.sink.received.find((r) => r.parsed.messageId === cur?.messageIdHeader);
    if (cur.status === 'sent' && mail) return { message: cur, mail };
    if (cur.status !== 'queued' && cur.status !== 'sending' && cur.status !== 'sent') throw new Error(`probe ${purpose} ended ${cur.status}`);
    return null;
  }, { timeout: 10_000, message: () => `probe ${purpose} still ${cur?.status}` });
}

/** Delivers a raw message over SMTP; resolves with the server's reply, rejects with its error (responseCode). */
export async function deliver(port: number, to: string[], raw: string | Buffer, from = ''): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5_000 });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    return String(info.response);
  } finally {
    transport.close();
  }
}

const CRLF = (s: string) => s.replace(/\r?\n/g, '\r\n');

/** The returned headers of the original message, as MTAs put them in a DSN or ARF report. */
function originalHeaders(o: { messageId: string; to: string; from?: string; subject?: string }): string {
  return `From: ${o.from ?? 'Acme News <news@acme.org>'}\nTo: ${o.to}\nSubject: ${o.subject ?? 'Account notice'}\nMessage-ID: ${o.messageId}\nDate: Mon, 3 Jun 2024 10:00:00 +0000\n`;
}

export interface DsnOptions {
  to: string; finalRecipient: string; messageId: string; status?: string; action?: string; diagnostic?: string; id?: string;
  /** The whole original message, returned base64-encoded in a message/rfc822 part instead of its headers. */
  original?: Buffer;
}

/** An RFC 3464 delivery status notification (multipart/report; report-type=delivery-status). */
export function dsn(o: DsnOptions): string {
  const b = `dsn-${o.id ?? Math.random().toString(36).slice(2)}`;
  const status = o.status ?? '5.1.1';
  const diagnostic = o.diagnostic ?? `smtp; 550 ${status} <${o.finalRecipient}>: Recipient address rejected: User unknown in virtual mailbox table`;
  return CRLF(`Return-Path: <>
Received: from mx.example.net by mx.bounces.test; Mon, 3 Jun 2024 10:00:05 +0000
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: ${o.to}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 3 Jun 2024 10:00:05 +0000
Message-ID: <${b}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"

--${b}
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<${o.finalRecipient}>: ${diagnostic.replace(/^smtp; /, '')}

--${b}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon, 3 Jun 2024 10:00:04 +0000

Final-Recipient: rfc822; ${o.finalRecipient}
Original-Recipient: rfc822; ${o.finalRecipient}
Action: ${o.action ?? 'failed'}
Status: ${status}
Remote-MTA: dns; mail.example.net
Diagnostic-Code: ${diagnostic}

--${b}
${o.original ? `Content-Type: message/rfc822
Content-Transfer-Encoding: base64

${o.original.toString('base64').replace(/.{1,76}/g, '$&\n')}` : `Content-Type: text/rfc822-headers

${originalHeaders({ messageId: o.messageId, to: o.finalRecipient })}`}
--${b}--
`);
}

/** An RFC 5965 ARF abuse report, as a mailbox provider's feedback loop sends it. */
export function arf(o: { to: string; recipient: string; messageId: string }): string {
  const b = 'arf-boundary-1';
  return CRLF(`From: Feedback Loop <fbl@isp.example.net>
To: ${o.to}
Subject: FW: Account notice
Date: Mon, 3 Jun 2024 11:00:00 +0000
Message-ID: <arf-${Math.random().toString(36).slice(2)}@isp.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"

--${b}
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 192.0.2.1 on Mon, 3 Jun 2024.

--${b}
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <bounces@acme.org>
Original-Rcpt-To: <${o.recipient}>
Arrival-Date: Mon, 3 Jun 2024 10:00:00 +0000
Source-IP: 192.0.2.1

--${b}
Content-Type: message/rfc822

${originalHeaders({ messageId: o.messageId, to: o.recipient })}
Your account changed.
--${b}--
`);
}

/** An out-of-office reply (RFC 3834 Auto-Submitted), sent to the envelope sender. */
export function autoReply(o: { to: string; from: string; inReplyTo: string }): string {
  return CRLF(`From: Pat <${o.from}>
To: ${o.to}
Subject: Out of Office: Account notice
Date: Mon, 3 Jun 2024 10:01:00 +0000
Message-ID: <ooo-${Math.random().toString(36).slice(2)}@example.net>
In-Reply-To: ${o.inReplyTo}
Auto-Submitted: auto-replied
X-Autoreply: yes
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday, 10 June, with limited access to email.
`);
}

/** Everything a bounce may change for a contact, to compare before and after. */
export async function contactState(app: TestApp, contactId: string, email: string): Promise<Record<string, unknown>> {
  const [contact] = await ownerQuery(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [contactId]);
  const subs = await ownerQuery(app.db.url, 'SELECT list_id, status FROM subscriptions WHERE contact_id = $1 ORDER BY list_id', [contactId]);
  const consent = await ownerQuery(app.db.url, 'SELECT action, source FROM consent_events WHERE contact_id = $1 ORDER BY id', [contactId]);
  const suppressed = await ownerQuery(app.db.url, `SELECT s.scope, s.reason FROM suppressions s JOIN tenants t ON t.id = s.tenant_id
    WHERE s.tenant_id = (SELECT tenant_id FROM contacts WHERE id = $2)
      AND s.address_hash = encode(sha256(t.hash_salt || convert_to(lower($1), 'UTF8')), 'hex') ORDER BY s.scope`, [email, contactId]);
  return { status: contact?.status, subs, consent, suppressed };
}

// Inbound reports that quote a real activation mail (issue 14): an RFC 3834 auto-reply and an RFC 3464
// DSN sent to the activation mail's VERP return path, quoting its confirm link in base64, in escaped
// quoted-printable, or plainly. Whatever the transfer encoding, no stored raw report holds the token:
// a report that still holds one once decoded is withheld (raw_withheld 'capability_link'), a plain
// quote is kept with the token replaced; the classification is stored either way. Real HTTP, SMTP
// and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { consent, linkOf, waitForMail } from '../consent/helpers.js';
import type { Received } from '../support/smtp-sink.js';
import { dsn } from './helpers.js';

const { app, t } = useApp();
const RAW = { 'content-type': 'message/rfc822' };
const CRLF = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const base64Lines = (b: Buffer): string => b.toString('base64').replace(/.{1,76}/g, '$&\n');
/** Quoted-printable with every character escaped (=XX), as some encoders write non-ASCII text. */
const qpEscaped = (s: string): string => Buffer.from(s, 'utf8').toString('hex').toUpperCase().replace(/../g, '=$&').replace(/.{1,72}/g, '$&=\n');

interface Activation { contactId: string; mail: Received; link: string; token: string }

async function activation(address: string): Promise<Activation> {
  const r = await t.api('POST', '/api/contacts', { email: address, name: 'Quoted', newsletter: true, consent });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const mail = await waitForMail(app, address, 1, 30_000);
  const link = linkOf(app, mail);
  return { contactId: r.body.id as string, mail, link, token: link.slice(link.lastIndexOf('/') + 1) };
}

function autoReplyQuoting(a: Activation, from: string, cte: 'base64' | 'quoted-printable' | '7bit'): string {
  const body = `I am away until Monday.\n\n> Please confirm your subscription:\n> ${a.link}\n`;
  const encoded = cte === 'base64' ? base64Lines(Buffer.from(body, 'utf8')) : cte === 'quoted-printable' ? qpEscaped(body) : body;
  return CRLF(`From: Quoted <${from}>
To: ${a.mail.envelopeFrom}
Subject: Auto: Confirm your subscription
Date: Mon, 3 Jun 2024 10:01:00 +0000
Message-ID: <ooo-${Math.random().toString(36).slice(2)}@example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: ${cte}

${encoded}`);
}

/** A DSN returning the whole original message in a base64-encoded message/rfc822 part. */
function dsnQuotingBase64(a: Activation, recipient: string): string {
  return dsn({ to: a.mail.envelopeFrom, finalRecipient: recipient, messageId: a.mail.parsed.messageId ?? '<unknown@postgate.test>', original: a.mail.raw });
}

async function bounceOf(contactId: string): Promise<{ id: string; kind: string; raw: Buffer | null; raw_withheld: string | null }> {
  const rows = await ownerQuery<{ id: string; kind: string; raw: Buffer | null; raw_withheld: string | null }>(app.db.url,
    'SELECT b.id, b.kind, b.raw, b.raw_withheld FROM bounces b JOIN messages m ON m.id = b.message_id WHERE m.contact_id = $1', [contactId]);
  expect(rows).toHaveLength(1);
  return rows[0];
}

/** Neither the raw endpoint nor the contact export (bounces[].raw, decoded) holds the token. */
async function expectNoToken(a: Activation, bounceId: string): Promise<void> {
  const raw = await fetch(`${app.url}/api/bounces/${bounceId}/raw`, { headers: { authorization: `Bearer ${t.key}` } });
  const rawText = await raw.text();
  expect(rawText).not.toContain(a.token);
  const exported = await t.api('GET', `/api/contacts/${a.contactId}/export`);
  expect(exported.status).toBe(200);
  const text = JSON.stringify(exported.body);
  expect(text).not.toContain(a.token);
  for (const b of exported.body.bounces as Array<{ raw: string | null }>) {
    if (b.raw === null) continue;
    for (const form of [b.raw, Buffer.from(b.raw, 'base64').toString('latin1')]) expect(form).not.toContain(a.token);
  }
}

describe('a report quoting a real activation link', () => {
  it.each([
    ['an auto-reply in base64', 'base64'],
    ['an auto-reply in escaped quoted-printable', 'quoted-printable'],
  ] as const)('%s: the raw is withheld, the classification stored, no token anywhere', async (_what, cte) => {
    const address = `cap-${cte}@example.org`;
    const a = await activation(address);
    const res = await t.api('POST', '/api/inbound', autoReplyQuoting(a, address, cte), RAW);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: 'autoreply' });
    expect(JSON.stringify(res.body)).not.toContain(a.token);
    const bounce = await bounceOf(a.contactId);
    expect(bounce).toMatchObject({ kind: 'autoreply', raw: null, raw_withheld: 'capability_link' });
    const raw = await t.api('GET', `/api/bounces/${bounce.id}/raw`);
    expect(raw.status).toBe(404);
    expect(raw.body.error).toMatchObject({ code: 'not_found', rawWithheld: 'capability_link' });
    expect(raw.body.error.message).toMatch(/withheld/);
    const listed = await t.api('GET', `/api/bounces?contactId=${a.contactId}`);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: bounce.id, kind: 'autoreply', rawKept: false, rawWithheld: 'capability_link' })]);
    await expectNoToken(a, bounce.id);
  });

  it('a DSN returning the message in a base64 message/rfc822 part: withheld, the hard bounce recorded', async () => {
    const address = 'cap-dsn@example.org';
    const a = await activation(address);
    expect(a.mail.raw.toString('latin1')).toMatch(/\/a\/|=2Fa=2F|\/a=\r?\n/); // the quoted mail holds the link
    const res = await t.api('POST', '/api/inbound', dsnQuotingBase64(a, address), RAW);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ kind: 'hard', status: '5.1.1' });
    const bounce = await bounceOf(a.contactId);
    expect(bounce).toMatchObject({ kind: 'hard', raw: null, raw_withheld: 'capability_link' });
    await expectNoToken(a, bounce.id);
  });

  it('a plain quote is kept, with the token replaced', async () => {
    const address = 'cap-plain@example.org';
    const a = await activation(address);
    const res = await t.api('POST', '/api/inbound', autoReplyQuoting(a, address, '7bit'), RAW);
    expect(res.status).toBe(202);
    const bounce = await bounceOf(a.contactId);
    expect(bounce).toMatchObject({ kind: 'autoreply', raw_withheld: null });
    const kept = (bounce.raw as Buffer).toString('latin1');
    expect(kept).toContain('/a/[link removed]');
    expect(kept).not.toContain(a.token);
    await expectNoToken(a, bounce.id);
  });
});

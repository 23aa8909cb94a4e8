// Test helper: each kind of Postgate's built-in mail asked for through the public API, as a client
// would (a signup, an invoice, a notice of each kind, a test address), and read back from the real
// SMTP sink. Used by the SpamAssassin, localisation and browser tests of the built-in mails.
import type { TestApp, TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { consent, waitForMail } from '../support/mail.js';
import type { Received } from '../support/smtp-sink.js';

export const BUILTIN_KINDS = ['activation', 'invoice', 'notice:account', 'notice:legal', 'notice:support', 'notice:technical', 'test-address'] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

export interface SendOptions {
  /** The contact's stored locale (activation: given at signup, POST /api/contacts; invoice and notices: stored on the contact). */
  contactLocale?: string;
  /** The request's own locale (invoice, notices). */
  locale?: string;
  /** The notice body (plain text); default a neutral reference number. */
  body?: string;
}

async function ok(r: Promise<{ status: number; body: unknown }>, what: string): Promise<void> {
  const res = await r;
  if (res.status !== 201 && res.status !== 202) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/** An invoice dated 30 November 2026 in EUR: 1 × 1,000.00 + 2 × 117.25 + VAT 19 % (234.56). */
export function invoiceBody(transactionId: string, address: string, locale?: string): Record<string, unknown> {
  return {
    transactionId, contact: address, currency: 'EUR', issuedAt: '2026-11-30', ...(locale ? { locale } : {}),
    lines: [{ description: 'Plan A', quantity: 1, unitAmount: 100_000 }, { description: 'Seat', quantity: 2, unitAmount: 11_725 }],
    taxes: [{ name: 'VAT', rate: 19, amount: 23_456 }], total: 146_906,
  };
}

/**
 * Asks for one built-in mail of `kind` to `address` (a fresh address per call) through the API and
 * returns it as the SMTP sink received it.
 */
export async function sendBuiltin(app: TestApp, t: TestTenant, kind: BuiltinKind, address: string, o: SendOptions = {}): Promise<Received> {
  const contactLocale = o.contactLocale ? { locale: o.contactLocale } : {};
  if (kind === 'activation') {
    await ok(t.api('POST', '/api/contacts', { email: address, name: 'Ada Lovelace', newsletter: true, consent, ...contactLocale }), 'signup');
  } else if (kind === 'test-address') {
    await ok(t.api('POST', '/api/test-addresses', { email: address }), 'test address');
  } else {
    const c = await given(app, t).pendingContact(address, { name: 'Ada Lovelace' });
    if (o.contactLocale) await ownerQuery(app.db.url, 'UPDATE contacts SET locale = $2 WHERE id = $1', [c.id, o.contactLocale]);
    const locale = o.locale ? { locale: o.locale } : {};
    if (kind === 'invoice') await ok(t.api('POST', '/api/invoices', invoiceBody(`T-${address.split("@")[0]}`, address, o.locale)), 'invoice');
    else {
      const data = { body: o.body ?? 'Ref. 4711-2026', actionUrl: 'https://acme.org/account', ...(kind === 'notice:support' ? { ticketId: 4711 } : {}) };
      await ok(t.api('POST', '/api/messages', { kind: kind.slice('notice:'.length), contact: address, data, ...locale }), 'notice');
    }
  }
  return waitForMail(app, address, 1, 30_000);
}

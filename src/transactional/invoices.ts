// Invoices: one email per completed transaction. The total must equal the lines plus taxes (exact,
// in minor units), the request is idempotent on transactionId (ledger purpose invoice:<id>), and the
// renderer writes the invoice in its locale (the request's, else the contact's, else the tenant's
// default: mail/builtin.ts) and formats every amount and the date with Intl in that same locale.
import { DomainError } from '../domain-error.js';
import { renderMessage } from '../mail/render.js';
import type { LedgerMessage } from '../mail/ledger.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { type AmountLine, expectedTotal, formatIssuedDate, formatMoney, formatQuantity, formatRate, isSafe } from './money.js';
import type { InvoiceInput } from './requests.js';
import { refusalError } from './submit.js';
import type { SubmissionBatcher } from './batch.js';
import { compiledTemplate } from './templates.js';
import { brandView, commonWords, mailTranslator, words } from '../mail/builtin.js';
import type { Translator } from '../i18n/translate.js';

/** What an invoice row keeps in its ledger `data` (the renderer's input). */
export type InvoiceData = Omit<InvoiceInput, 'contact'>;

/** 422 total_mismatch (with expected, got, difference) unless total = Σ quantity × unitAmount + Σ taxes. */
export function assertTotal(inv: { lines: readonly AmountLine[]; taxes: readonly { amount: number }[]; total: number }): void {
  const { subtotal, total } = expectedTotal(inv.lines, inv.taxes);
  if (!isSafe(subtotal) || !isSafe(total)) {
    throw new DomainError('amount_out_of_range', 'the invoice amounts exceed the largest exact integer (2^53 - 1 minor units)', 'lines');
  }
  const got = BigInt(inv.total);
  if (got !== total) {
    throw new DomainError('total_mismatch', `total is ${got} but the lines plus taxes come to ${total} (difference ${got - total})`, 'total',
      { expected: Number(total), got: inv.total, difference: Number(got - total) });
  }
}

export interface InvoiceResult { status: 200 | 202; message: LedgerMessage }

/** Queues the invoice email (group commit with concurrent requests: transactional/batch.ts); 202 created, 200 replayed; 409/422 as DomainError. */
export async function createInvoice(batcher: SubmissionBatcher, tenantId: string, inv: InvoiceInput): Promise<InvoiceResult> {
  assertTotal(inv);
  const { contact, ...data } = inv;
  const r = await batcher.submit({
    tenantId, purpose: `invoice:${inv.transactionId}`, kind: 'invoice', template: 'invoice', contact,
    request: inv, data: { invoice: data }, keyField: 'transactionId',
  });
  if (r.outcome === 'refused') throw refusalError(r.message);
  return { status: r.outcome === 'created' ? 202 : 200, message: r.message };
}

// ---- rendering -----------------------------------------------------------------------------------

function readInvoiceData(data: Record<string, unknown>): InvoiceData {
  const inv = data.invoice as InvoiceData | undefined;
  if (!inv || typeof inv !== 'object' || !Array.isArray(inv.lines)) throw new Error('invoice data is gone (erased?)');
  return inv;
}

/**
 * The Handlebars view of an invoice in `tr`'s language: every word from the catalogue, every amount,
 * quantity, rate and the date formatted by Intl in `tr.locale` (never a locale other than the words').
 */
export function invoiceView(inv: InvoiceData, ctx: Pick<RenderContext, 'tenant' | 'contact'>, tr: Translator): Record<string, unknown> {
  const locale = tr.locale;
  const money = (minor: number | bigint) => formatMoney(minor, inv.currency, locale);
  const label = (l: string, value: string) => tr.t('mail.label', { label: l, value });
  const { subtotal } = expectedTotal(inv.lines, inv.taxes);
  const brand = brandView(ctx.tenant, tr);
  const total = money(inv.total);
  const i18n = invoiceWords(tr, { tenant: ctx.tenant.name, name: ctx.contact?.name ?? null, transactionId: inv.transactionId,
    currency: inv.currency, total, date: formatIssuedDate(inv.issuedAt, locale) });
  const taxes = inv.taxes.map((t) => {
    const name = t.rate === undefined ? t.name : `${t.name} (${formatRate(t.rate, locale)})`;
    return { name: t.name, rate: t.rate === undefined ? null : formatRate(t.rate, locale), amount: money(t.amount), line: label(name, money(t.amount)) };
  });
  return {
    ...brand, i18n,
    contactName: ctx.contact?.name ?? null, email: ctx.contact?.email ?? null,
    transactionId: inv.transactionId, currency: inv.currency, issuedDate: formatIssuedDate(inv.issuedAt, locale),
    lines: inv.lines.map((l) => ({
      description: l.description, quantity: formatQuantity(l.quantity, locale),
      unitPrice: money(l.unitAmount), amount: money(BigInt(l.quantity) * BigInt(l.unitAmount)),
    })),
    subtotal: money(subtotal), taxes, total,
    subtotalLine: label(i18n.subtotal, money(subtotal)), totalLine: label(i18n.total, total),
    privacyLine: brand.privacyUrl ? label(i18n.privacy, brand.privacyUrl) : null,
  };
}

interface InvoiceFacts { tenant: string; name: string | null; transactionId: string; currency: string; total: string; date: string }

/** Every word of an invoice mail in `tr`'s language (the date and total already formatted in its locale). */
export function invoiceWords(tr: Translator, f: InvoiceFacts): Record<string, string> {
  return {
    ...commonWords(tr, f.name),
    ...words(tr, {
      subject: ['mail.invoice.subject', { transactionId: f.transactionId, tenant: f.tenant }],
      preview: ['mail.invoice.preview', { transactionId: f.transactionId, total: f.total }],
      intro: ['mail.invoice.intro', { transactionId: f.transactionId, date: f.date }],
      description: ['mail.invoice.description'], quantity: ['mail.invoice.quantity'], unitPrice: ['mail.invoice.unitPrice'],
      amount: ['mail.invoice.amount'], subtotal: ['mail.invoice.subtotal'], total: ['mail.invoice.total', { currency: f.currency }],
      keep: ['mail.invoice.keep'], footer: ['mail.invoice.footer'],
    }),
  };
}

/** The 'invoice' renderer: in the request's locale, else the contact's, else the tenant's default. */
export async function renderInvoice(ctx: RenderContext): Promise<RenderOutput> {
  const inv = readInvoiceData(ctx.message.data);
  const tr = await mailTranslator(ctx, inv.locale, ctx.contact?.locale, ctx.tenant.defaultLocale);
  const template = await compiledTemplate('invoice');
  return { rendered: renderMessage(template, invoiceView(inv, ctx, tr)) };
}

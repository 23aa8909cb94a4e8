// Invoices: one email per completed transaction. The total must equal the lines plus taxes (exact,
// in minor units), the request is idempotent on transactionId (ledger purpose invoice:<id>), and the
// renderer formats every amount with Intl for the invoice's locale and currency.
import { DomainError } from '../domain-error.js';
import { renderMessage } from '../mail/render.js';
import type { LedgerMessage } from '../mail/ledger.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { type AmountLine, expectedTotal, formatIssuedDate, formatMoney, formatQuantity, formatRate, isSafe } from './money.js';
import type { InvoiceInput } from './requests.js';
import { refusalError } from './submit.js';
import type { SubmissionBatcher } from './batch.js';
import { compiledTemplate } from './templates.js';

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

/** The Handlebars view of an invoice: every amount already formatted for its locale and currency. */
export function invoiceView(inv: InvoiceData, ctx: Pick<RenderContext, 'tenant' | 'contact'>): Record<string, unknown> {
  const money = (minor: number | bigint) => formatMoney(minor, inv.currency, inv.locale);
  const { subtotal } = expectedTotal(inv.lines, inv.taxes);
  return {
    tenantName: ctx.tenant.name, fromName: ctx.tenant.fromName, postalAddress: ctx.tenant.postalAddress,
    contactName: ctx.contact?.name ?? null, email: ctx.contact?.email ?? null,
    transactionId: inv.transactionId, currency: inv.currency, issuedDate: formatIssuedDate(inv.issuedAt, inv.locale),
    lines: inv.lines.map((l) => ({
      description: l.description, quantity: formatQuantity(l.quantity, inv.locale),
      unitPrice: money(l.unitAmount), amount: money(BigInt(l.quantity) * BigInt(l.unitAmount)),
    })),
    subtotal: money(subtotal),
    taxes: inv.taxes.map((t) => ({ name: t.name, rate: t.rate === undefined ? null : formatRate(t.rate, inv.locale), amount: money(t.amount) })),
    total: money(inv.total),
  };
}

export async function renderInvoice(ctx: RenderContext): Promise<RenderOutput> {
  const template = await compiledTemplate('invoice');
  return { rendered: renderMessage(template, invoiceView(readInvoiceData(ctx.message.data), ctx)) };
}

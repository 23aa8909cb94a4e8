// Helpers for the transactional tests: contacts and suppressions written through the app's own
// tenant-scoped pool, invoice payloads, and waiting on a message's status through the API.
import { expect } from 'vitest';
import type { TestApp, TestTenant } from '../support/app.js';
import { upsertContact, type ContactRow } from '../../src/consent/contacts.js';
import { addSuppression } from '../../src/consent/suppressions.js';
import type { Received } from '../support/smtp-sink.js';

export async function addContact(app: TestApp, t: TestTenant, email: string, name: string | null = null): Promise<ContactRow> {
  return app.pg.deps.db.withTenant(t.id, async (c) => (await upsertContact(c, t.id, { email, name, attributes: {} })).contact);
}

export async function suppress(app: TestApp, t: TestTenant, email: string): Promise<void> {
  await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, email, 'all', 'hard_bounce'));
}

export function invoice(transactionId: string, contact: unknown, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    transactionId, contact, currency: 'EUR', issuedAt: '2024-05-31',
    lines: [{ description: 'Annual plan', quantity: 1, unitAmount: 100_000 }, { description: 'Extra seat', quantity: 2, unitAmount: 11_725 }],
    taxes: [{ name: 'VAT', rate: 0, amount: 0 }],
    total: 123_450,
    ...over,
  };
}

const FINAL = ['sent', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled'];

/** Polls GET /api/messages/:id until the message reaches a final status (or `status`). */
export async function waitForMessage(t: TestTenant, id: string, status?: string, timeoutMs = 10_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await t.api('GET', `/api/messages/${id}`);
    expect(r.status).toBe(200);
    if (status ? r.body.status === status : FINAL.includes(r.body.status)) return r.body;
    if (Date.now() > until) throw new Error(`message ${id} still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

export function mailsTo(received: Received[], address: string): Received[] {
  return received.filter((m) => m.envelopeTo.includes(address));
}

export const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

// Helpers for the transactional tests: suppressions written through the app's own tenant-scoped
// pool, invoice payloads, and waiting on a message's status through the API. (Contacts: given.ts.)
import { expect } from 'vitest';
import type { TestApp, TestTenant } from '../support/app.js';
import { addSuppression } from '../../src/consent/suppressions.js';
import type { Received } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait.js';

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
  let last: any;
  return waitFor(async () => {
    const r = await t.api('GET', `/api/messages/${id}`);
    expect(r.status).toBe(200);
    last = r.body;
    return (status ? r.body.status === status : FINAL.includes(r.body.status)) && r.body;
  }, { timeout: timeoutMs, interval: 50, message: () => `message ${id} still ${last?.status}` });
}

export function mailsTo(received: Received[], address: string): Received[] {
  return received.filter((m) => m.envelopeTo.includes(address));
}

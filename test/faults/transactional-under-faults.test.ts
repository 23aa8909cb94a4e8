// The single-message path (invoices and notices: ledger → dispatcher → sender) through the same
// faults as the campaign test: 10% temporary failures, connections dropped in the middle of DATA and
// after acceptance. Every accepted request is delivered; extra copies only where the server accepted
// the DATA and dropped the connection before its 250.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { startFaultSmtp, type FaultSmtp } from '../support/fault-smtp.js';
import { waitFor } from '../support/wait.js';
import { query, report } from './helpers.js';

const N = 300;
let smtp: FaultSmtp;

beforeAll(async () => {
  smtp = await startFaultSmtp({ seed: 31337, tempFailRate: 0.1, dropRate: 0.03, dropAfterAcceptRate: 0.03 });
});
afterAll(async () => { await smtp?.close(); }); // after useApp's afterAll has stopped the app (after hooks run last-registered first)
const { app, t } = useApp(() => ({ config: { SMTP_URL: smtp.url, RETRY_BASE_SECONDS: 0.05, MAX_ATTEMPTS: 20 } }));

it(`${N} notices and invoices through temporary failures and dropped connections: every accepted one delivered, duplicates only after a dropped 250`, async () => {
  await query(app.db.url, `INSERT INTO contacts (tenant_id, email, email_key, name, status) SELECT $1, 'buyer' || i || '@inbox.example', 'buyer' || i || '@inbox.example', 'Buyer ' || i, 'active'
    FROM generate_series(1, 20) AS i`, [t.id]);
  const ids: string[] = [];
  for (let i = 0; i < N; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => {
      const n = i + j;
      return n % 2
        ? t.api('POST', '/api/messages', { kind: 'account', contact: `buyer${n % 20 + 1}@inbox.example`, idempotencyKey: `n-${n}`, data: { body: `Notice ${n}` } })
        : t.api('POST', '/api/invoices', { transactionId: `T-${n}`, contact: `buyer${n % 20 + 1}@inbox.example`, currency: 'EUR', issuedAt: '2024-05-31',
          lines: [{ description: 'Plan', quantity: 1, unitAmount: 1000 + n }], total: 1000 + n });
    }));
    for (const r of batch) { expect(r.status, JSON.stringify(r.body)).toBe(202); ids.push(r.body.id); }
  }
  let open = N;
  await waitFor(async () => {
    open = (await query<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE id = ANY($1::uuid[]) AND status <> 'sent'", [ids]))[0].n;
    return open === 0;
  }, { timeout: 90_000, interval: 200 }).catch(() => undefined); // the expectation below says how many are left
  expect(open).toBe(0);
  expect(new Set(ids).size).toBe(N);
  for (const id of ids) expect(smtp.accepted.has(id), id).toBe(true);
  expect(smtp.accepted.size).toBe(N);
  for (const [id, count] of smtp.accepted) expect({ id, count }).toEqual({ id, count: (smtp.droppedAfterAccept.get(id) ?? 0) + 1 });
  expect(smtp.stats.tempFailures + smtp.stats.droppedMidData).toBeGreaterThan(N * 0.05);
  report('transactional under faults', {
    messages: N, accepted: [...smtp.accepted.values()].reduce((a, b) => a + b, 0), duplicates: smtp.duplicateCount(),
    dropsAfterAccept: smtp.stats.droppedAfterAccept, dropsMidData: smtp.stats.droppedMidData, temporaryFailures: smtp.stats.tempFailures,
  });
}, 120_000);

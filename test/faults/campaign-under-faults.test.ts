// A 5,000-recipient campaign through an SMTP server that fails 10% of attempts temporarily (421 and
// 451, at RCPT or after DATA), drops 2% of connections in the middle of DATA and 1% right after it
// accepted the message. Every subscriber must receive it; the only duplicates allowed are the ones
// where the server accepted the message and dropped the connection before the 250 (counted); the
// ledger must match what the server accepted. Real PostgreSQL, real SMTP over TCP, real HTTP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { startFaultSmtp, type FaultSmtp } from '../support/fault-smtp.js';
import { given } from '../support/given.js';
import { fastTenant, ledgerCounts, query, reconcile, report, startCampaign, waitForCompletion } from './helpers.js';

const RECIPIENTS = 5000;
let smtp: FaultSmtp;

beforeAll(async () => {
  smtp = await startFaultSmtp({ seed: 20240531, tempFailRate: 0.1, tempCodes: [421, 451], dropRate: 0.02, dropAfterAcceptRate: 0.01 });
});
afterAll(async () => { await smtp?.close(); }); // after useApp's afterAll has stopped the app (after hooks run last-registered first)
const { app, t } = useApp(() => ({ config: { SMTP_URL: smtp.url, RETRY_BASE_SECONDS: 0.05, MAX_ATTEMPTS: 20, SMTP_POOL_SIZE: 8 } }));

it(`delivers a ${RECIPIENTS}-recipient campaign exactly once per subscriber through temporary failures and dropped connections`, async () => {
  await fastTenant(t.api);
  const list = await given(app, t).defaultList();
  await given(app, t).contacts({ prefix: 'reader', n: RECIPIENTS, listId: list, city: false });
  const t0 = Date.now();
  const campaignId = await startCampaign(t.api, list);
  await waitForCompletion(app.db.url, campaignId, 150_000);
  const seconds = (Date.now() - t0) / 1000;

  // The ledger: every recipient sent, nothing failed, nothing left behind.
  const ledger = await ledgerCounts(app.db.url, campaignId);
  expect(ledger).toEqual({ total: RECIPIENTS, byStatus: { sent: RECIPIENTS } });
  const progress = (await t.api('GET', `/api/campaigns/${campaignId}`)).body.progress;
  expect(progress).toMatchObject({ audience: RECIPIENTS, sent: RECIPIENTS, failed: 0, queued: 0, deferred: 0, sending: 0 });

  // The faults really happened.
  expect(smtp.stats.tempFailures).toBeGreaterThan(RECIPIENTS * 0.05);
  expect(smtp.stats.droppedMidData).toBeGreaterThan(0);
  expect(smtp.stats.droppedAfterAccept).toBeGreaterThan(0);

  // Every subscriber received it: one distinct message per address.
  const addresses = new Set(smtp.messages.flatMap((m) => m.rcpt));
  expect(addresses.size).toBe(RECIPIENTS);
  for (let i = 1; i <= RECIPIENTS; i++) expect(addresses.has(`reader${i}@inbox.example`)).toBe(true);

  // Duplicates only where the connection dropped after DATA was accepted: exactly one extra copy per such drop.
  for (const [id, count] of smtp.accepted) expect({ id, count }).toEqual({ id, count: (smtp.droppedAfterAccept.get(id) ?? 0) + 1 });

  // The ledger matches the server.
  const r = await reconcile(app.db.url, campaignId, smtp);
  expect(r.acceptedNotSent).toEqual([]);
  expect(r.sentNotAccepted).toEqual([]);
  expect(r.unexplained).toEqual([]);
  expect(r.reclaimedMessages).toBe(0);
  expect(r.distinctAccepted).toBe(RECIPIENTS);
  expect(r.duplicates).toBe(smtp.stats.droppedAfterAccept);
  expect(r.dropAfterAcceptDuplicates).toBe(r.duplicates);

  // Each temporary failure or drop the client saw became a deferral in the ledger's timeline.
  const [{ deferrals }] = await query<{ deferrals: number }>(app.db.url, `SELECT count(*)::int AS deferrals FROM message_events e
    JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.type = 'deferred'`, [campaignId]);
  expect(deferrals).toBeGreaterThan(0);
  report('5000-recipient campaign under faults', {
    seconds: seconds.toFixed(1), perSecond: (RECIPIENTS / seconds).toFixed(0), sent: r.ledgerSent, accepted: r.totalAccepted,
    deferrals, duplicates: r.duplicates, duplicatedMessages: r.duplicatedMessages, dropsAfterAccept: smtp.stats.droppedAfterAccept,
    dropsMidData: smtp.stats.droppedMidData, temporaryFailures: smtp.stats.tempFailures, smtpConnections: smtp.stats.connections,
  });
}, 180_000);

// Process-level faults: real `postgate worker` processes (node bin/postgate.js worker) on one
// campaign, killed with SIGKILL mid-campaign, stopped with SIGTERM, or three at once. The web API
// runs in this process; the workers only share the database. Counts come from the ledger and from
// what the SMTP server accepted.
import { afterEach, describe, expect, it } from 'vitest';
import { FLUSH_SIZE, IN_FLIGHT_PER_CONNECTION } from '../../src/campaigns/module.js';
import { useApp, type TestTenant } from '../support/app.js';
import { given } from '../support/given.js';
import { startFaultSmtp, type FaultSmtp } from '../support/fault-smtp.js';
import { killAll, startProcess, type PostgateProcess } from '../support/processes.js';
import {
  fastTenant, ledgerCounts, query, reconcile, report, startCampaign, waitForCompletion,
} from './helpers.js';

const SMTP_POOL_SIZE = 5;
const WORKER_ENV = { SEND_LEASE_SECONDS: '5', RETRY_BASE_SECONDS: '0.05', MAX_ATTEMPTS: '20', SMTP_POOL_SIZE: String(SMTP_POOL_SIZE) };
/** What one worker can have handed to SMTP without the ledger knowing: its SMTP slots and one unflushed batch of outcomes. */
const IN_FLIGHT_PER_WORKER = SMTP_POOL_SIZE * IN_FLIGHT_PER_CONNECTION + FLUSH_SIZE;
const { app } = useApp({ roles: { worker: false, inbound: false }, tenant: false });
let smtp: FaultSmtp | null = null;

afterEach(async () => {
  await killAll();
  // A test that failed half-way must not leave a running campaign for the next test's workers.
  await query(app.db.url, "UPDATE campaigns SET status = 'cancelled' WHERE status IN ('running', 'scheduled', 'paused')");
  await smtp?.close();
  smtp = null;
});

async function campaignOf(n: number, prefix: string): Promise<{ t: TestTenant; list: string }> {
  const t = await app.tenant();
  await fastTenant(t.api);
  const list = await given(app, t).defaultList();
  await given(app, t).contacts({ prefix, n, listId: list, city: false });
  return { t, list };
}

function worker(s: FaultSmtp, env: Record<string, string> = {}): Promise<PostgateProcess> {
  return startProcess('worker', { databaseUrl: app.db.url, smtpUrl: s.url, env: { ...WORKER_ENV, ...env } });
}

async function sendingRows(campaignId: string): Promise<number> {
  return (await query<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE campaign_id = $1 AND status = 'sending'", [campaignId]))[0].n;
}

describe('worker processes and a campaign', () => {
  it('kill -9 of a worker mid-campaign, then a new worker: nothing lost, duplicates bounded by the messages in flight at the kill', async () => {
    const N = 2000;
    smtp = await startFaultSmtp({ seed: 7, slowMs: [5, 25] });
    const { t, list } = await campaignOf(N, 'kill');
    const first = await worker(smtp);
    const campaignId = await startCampaign(t.api, list, 'Kill -9');
    await smtp.waitForDistinct(N / 4, 60_000);
    await first.kill9();
    const acceptedAtKill = smtp.accepted.size;
    // What the ledger still shows as 'sending' belongs to the dead worker: it may or may not have gone out.
    const inFlight = await sendingRows(campaignId);
    const sentAtKill = (await ledgerCounts(app.db.url, campaignId)).byStatus.sent ?? 0;
    expect(acceptedAtKill).toBeLessThan(N);

    const t0 = Date.now();
    const second = await worker(smtp);
    await waitForCompletion(app.db.url, campaignId, 90_000);
    const recoverySeconds = (Date.now() - t0) / 1000;
    expect(second.alive()).toBe(true);

    expect(await ledgerCounts(app.db.url, campaignId)).toEqual({ total: N, byStatus: { sent: N } });
    const r = await reconcile(app.db.url, campaignId, smtp);
    expect(r.distinctAccepted).toBe(N); // nothing lost
    expect(r.acceptedNotSent).toEqual([]);
    expect(r.sentNotAccepted).toEqual([]);
    expect(r.unexplained).toEqual([]);
    expect(r.reclaimedMessages).toBe(inFlight); // exactly the dead worker's rows were taken over
    expect(r.duplicates).toBeLessThanOrEqual(inFlight); // rows leased by the dead worker
    expect(r.duplicates).toBeLessThanOrEqual(IN_FLIGHT_PER_WORKER); // of which only those really handed to SMTP
    expect(r.duplicates).toBe(r.reclaimDuplicates);
    report('kill -9 mid-campaign', {
      recipients: N, acceptedAtKill, sentInLedgerAtKill: sentAtKill, inFlightAtKill: inFlight, reclaimed: r.reclaimedMessages,
      duplicates: r.duplicates, recoverySeconds: recoverySeconds.toFixed(1),
    });
  }, 150_000);

  it('SIGTERM of a worker mid-campaign finishes what it has in flight: nothing left sending, no duplicate after a new worker takes over', async () => {
    const N = 1500;
    smtp = await startFaultSmtp({ seed: 11, slowMs: [5, 25] });
    const { t, list } = await campaignOf(N, 'term');
    const first = await worker(smtp);
    const campaignId = await startCampaign(t.api, list, 'SIGTERM');
    await smtp.waitForDistinct(N / 4, 60_000);
    await first.stop(30_000);
    const exit = await first.exited;
    const leftSending = await sendingRows(campaignId);
    expect({ exit, leftSending }, first.output()).toEqual({ exit: { code: 0, signal: null }, leftSending: 0 });

    await worker(smtp);
    await waitForCompletion(app.db.url, campaignId, 90_000);
    expect(await ledgerCounts(app.db.url, campaignId)).toEqual({ total: N, byStatus: { sent: N } });
    const r = await reconcile(app.db.url, campaignId, smtp);
    expect(r.distinctAccepted).toBe(N);
    expect(r.unexplained).toEqual([]);
    expect(r.reclaimedMessages).toBe(0);
    expect(r.duplicates).toBe(0);
    report('SIGTERM mid-campaign', { recipients: N, leftSending, reclaimed: r.reclaimedMessages, duplicates: r.duplicates });
  }, 150_000);

  it('a live worker keeps the leases of the messages it claimed while they wait for a slow SMTP server: no reclaim, no duplicate', async () => {
    // 120 ms per message over 5 SMTP connections: the 400 rows a worker claims at once (2 drain jobs ×
    // 2 lanes × 100) take about 10 s to go out, twice the 5 s lease. Only a dead worker's rows may be taken over.
    const N = 400;
    smtp = await startFaultSmtp({ seed: 5, slowMs: 60 });
    const { t, list } = await campaignOf(N, 'slow');
    const w = await worker(smtp);
    const campaignId = await startCampaign(t.api, list, 'Slow relay');
    const seconds = (await waitForCompletion(app.db.url, campaignId, 90_000)) / 1000;
    expect(w.alive(), w.output()).toBe(true);
    expect(await ledgerCounts(app.db.url, campaignId)).toEqual({ total: N, byStatus: { sent: N } });
    const r = await reconcile(app.db.url, campaignId, smtp);
    report('slow SMTP, one live worker, 5 s lease', { recipients: N, seconds: seconds.toFixed(1), reclaimed: r.reclaimedMessages, duplicates: r.duplicates });
    expect(r).toMatchObject({ distinctAccepted: N, reclaimedMessages: 0, duplicates: 0, unexplained: [], acceptedNotSent: [], sentNotAccepted: [] });
  }, 150_000);

  it('three worker processes on one campaign: no recipient gets two copies', async () => {
    const N = 3000;
    smtp = await startFaultSmtp({ seed: 3, slowMs: [1, 8] });
    const { t, list } = await campaignOf(N, 'three');
    // A lease long enough that a loaded machine (CI runs the suite's files in parallel) never lets a
    // live worker's lease lapse: this test is about sharing; lease renewal has its own test above.
    const live = { SEND_LEASE_SECONDS: '60' };
    const workers = await Promise.all([worker(smtp, live), worker(smtp, live), worker(smtp, live)]);
    const campaignId = await startCampaign(t.api, list, 'Three workers');
    const seconds = (await waitForCompletion(app.db.url, campaignId, 120_000)) / 1000;
    for (const w of workers) expect(w.alive(), w.output()).toBe(true);

    expect(await ledgerCounts(app.db.url, campaignId)).toEqual({ total: N, byStatus: { sent: N } });
    expect(smtp.duplicates()).toEqual([]);
    const perRecipient = new Map<string, number>();
    for (const m of smtp.messages) for (const to of m.rcpt) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    expect(perRecipient.size).toBe(N);
    expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
    const r = await reconcile(app.db.url, campaignId, smtp);
    expect(r).toMatchObject({ distinctAccepted: N, duplicates: 0, reclaimedMessages: 0, acceptedNotSent: [], sentNotAccepted: [] });

    // They really shared it: the 'sent' events name the worker process that sent each message.
    const shares = await query<{ worker: string; n: number }>(app.db.url, `SELECT e.detail->>'worker' AS worker, count(*)::int AS n
      FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.type = 'sent' GROUP BY 1 ORDER BY 2 DESC`, [campaignId]);
    const pids = new Set(workers.map((w) => String(w.pid)));
    expect(shares.every((s) => pids.has(s.worker.split(':').pop() as string))).toBe(true);
    expect(shares.length).toBeGreaterThanOrEqual(2);
    report('three workers', { recipients: N, seconds: seconds.toFixed(1), perWorker: shares.map((s) => s.n), duplicates: r.duplicates });
  }, 150_000);
});

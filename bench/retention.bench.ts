// Retention under load: a campaign of N recipients (the campaign bench's DKIM-signed newsletter, one
// `postgate worker` process, counting sink in its own process) sent to the same audience: once to warm
// the worker up, alone, while the retention sweep (src/retention.ts, batches of RETENTION_BENCH_BATCH rows, each its
// own transaction) purges a backlog of K expired message bodies and K expired feed events seeded with
// SQL, and alone again. Prints msg/s of each round, the ratio with/without the purge, the purge rate
// (rows/s), its batches and the longest single purge transaction. Its own embedded PostgreSQL, fsync
// off. Then the same backlog once more, purged unbatched in one transaction (the reference: its length
// is the lock and snapshot a sweep held before migration 079). The worker's own 15-minute maintenance cron is unscheduled, so only the measured sweep purges.
// Run: npx tsx bench/run.ts retention   (RETENTION_BENCH_N recipients, default 20000;
//   RETENTION_BENCH_ROWS expired bodies and as many events, default 500000;
//   RETENTION_BENCH_BATCH rows per purge statement, default 2000; RETENTION_BENCH_BODY_BYTES, default 2048)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { materialiseAudience } from '../src/campaigns/audience.js';
import { createDb, type Db } from '../src/platform/db.js';
import type { Postgate } from '../src/main.js';
import { QUEUES } from '../src/platform/queue.js';
import { retentionSteps, runRetention, type RetentionReport } from '../src/retention.js';
import type { PostgateProcess } from '../test/support/processes.js';
import { startBenchPostgres } from './support.js';
import {
  campaignStatus, cores, CountingSink, createCampaign, markRunning, owner, prepareAudience, queueStart, sleep, startController, startWorkers, type Audience,
} from './fleet.js';

const SEED_STEP = 100_000;

/** K finished marketing messages of the tenant, each with a body that expired a day ago, and K feed events 40 days old. */
async function seedBacklog(url: string, tenantId: string, k: number, bodyBytes: number, tag: string): Promise<void> {
  for (let from = 1; from <= k; from += SEED_STEP) {
    const to = Math.min(k, from + SEED_STEP - 1);
    await owner(url, `WITH m AS (
        INSERT INTO messages (tenant_id, purpose, kind, recipient, template, status, sent_at, created_at)
        SELECT $1, 'campaign:' || $5 || ':' || i, 'marketing', 'reader' || i || '@old.example', 'campaign', 'sent', now() - interval '40 days', now() - interval '40 days'
        FROM generate_series($2::int, $3::int) AS i RETURNING id)
      INSERT INTO message_bodies (message_id, tenant_id, html, text, expires_at)
      SELECT id, $1, '<p>' || left(repeat(md5(id::text), ($4::int / 32) + 1), $4::int) || '</p>', 'old body', now() - interval '1 day' FROM m`,
    [tenantId, from, to, bodyBytes, tag]);
    await owner(url, `INSERT INTO events (tenant_id, type, at, data)
      SELECT $1, 'import.finished', now() - interval '40 days', jsonb_build_object('importId', 'old-' || i) FROM generate_series($2::int, $3::int) AS i`,
    [tenantId, from, to]);
  }
  await owner(url, 'VACUUM ANALYZE messages, message_bodies, events');
}

interface Round { label: string; rate: number; seconds: number; lost: number; dup: number }
interface Ctx { p: Postgate; db: Db; sink: CountingSink; audience: Audience; n: number }

/** One campaign (materialised before timing): rate from the start job to the sink's last accept. */
async function round(ctx: Ctx, label: string): Promise<Round> {
  const campaign = await createCampaign(ctx.db, ctx.audience);
  await materialiseAudience(ctx.db, await markRunning(ctx.db, campaign));
  await ctx.sink.expect(ctx.n);
  const t0 = Date.now();
  await queueStart(ctx.p, campaign);
  const t = await ctx.sink.waitFor(ctx.n, 30 * 60_000);
  while (await campaignStatus(ctx.db, campaign) !== 'completed') await sleep(100);
  const final = await ctx.sink.tally();
  return { label, rate: ctx.n / ((t.last - t0) / 1000), seconds: (t.last - t0) / 1000, lost: final.losses, dup: final.duplicates };
}

const line = (r: Round) => console.log(`${r.label.padEnd(34)} ${r.rate.toFixed(0).padStart(5)} msg/s  (${r.seconds.toFixed(1)} s; duplicates ${r.dup}, lost ${r.lost})`);

function purgeLine(r: RetentionReport): string {
  const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
  return `purged ${rows} rows (${Object.entries(r.rows).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${(r.elapsedMs / 1000).toFixed(1)} s: `
    + `${(rows / (r.elapsedMs / 1000)).toFixed(0)} rows/s, ${r.batches} batches, longest purge transaction ${r.longestBatchMs.toFixed(0)} ms${r.done ? '' : ' (budget spent, not done)'}`;
}

export default async function retentionBench(): Promise<void> {
  const n = Number(process.env.RETENTION_BENCH_N ?? 20_000);
  const k = Number(process.env.RETENTION_BENCH_ROWS ?? 500_000);
  const batchRows = Number(process.env.RETENTION_BENCH_BATCH ?? 2000);
  const bodyBytes = Number(process.env.RETENTION_BENCH_BODY_BYTES ?? 2048);
  console.log(`cores: ${cores()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${n} recipients per round, one worker process `
    + `(SMTP pool 5), DKIM rsa-2048 on; backlog ${k} expired bodies (~${bodyBytes} B) + ${k} expired events; purge batches of ${batchRows} rows`);
  const cluster = await startBenchPostgres('postgate_retention');
  const sink = await CountingSink.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-retention-'));
  let p: Postgate | null = null;
  let worker: PostgateProcess | null = null;
  const db = createDb(cluster.url, { max: 4 });
  const sweepDb = createDb(cluster.url, { max: 1 });
  try {
    p = await startController(cluster.url, sink.url, dataDir);
    const audience = await prepareAudience(db, cluster.url, n);
    const s0 = Date.now();
    await seedBacklog(cluster.url, audience.tenantId, k, bodyBytes, 'old');
    console.log(`backlog seeded in ${((Date.now() - s0) / 1000).toFixed(1)} s`);
    [worker] = await startWorkers(1, cluster.url, sink.url);
    await p.deps.boss.unschedule(QUEUES.maintenance); // the worker's cron must not purge in the rounds without the sweep
    const ctx: Ctx = { p, db, sink, audience, n };
    const warm = await round(ctx, 'warm-up (not counted)'); // a fresh worker's first campaign is slower (JIT, caches)
    const before = await round(ctx, 'campaign alone (before)');
    const t0 = Date.now();
    const sweep = runRetention(sweepDb, retentionSteps({ EVENTS_RETENTION_DAYS: 30 }), { batchRows, budgetMs: 3_600_000 });
    const during = await round(ctx, 'campaign while the sweep purges');
    const campaignEnd = Date.now();
    const report = await sweep;
    const after = await round(ctx, 'campaign alone (after)');
    for (const r of [warm, before, during, after]) line(r);
    console.log(`ratio with the sweep / without: ${(during.rate / ((before.rate + after.rate) / 2)).toFixed(2)}`);
    console.log(purgeLine(report));
    const overlap = Math.min(report.elapsedMs, campaignEnd - t0) / (campaignEnd - t0);
    if (overlap < 1) console.log(`note: the sweep ran during ${(overlap * 100).toFixed(0)} % of the campaign (a larger RETENTION_BENCH_ROWS covers it all)`);
    // the reference: the same backlog purged as before migration 079, one statement and one transaction
    await seedBacklog(cluster.url, audience.tenantId, k, bodyBytes, 'older');
    const u0 = Date.now();
    const [{ n: gone }] = await owner<{ n: string }>(cluster.url, 'SELECT (purge_expired_bodies(NULL) + purge_expired_events(30, NULL))::text AS n');
    const u = (Date.now() - u0) / 1000;
    console.log(`the same backlog unbatched (one transaction, as before migration 079): ${gone} rows in ${u.toFixed(1)} s, ${(Number(gone) / u).toFixed(0)} rows/s; `
      + `longest transaction batched / unbatched: ${(report.longestBatchMs / 1000 / u).toFixed(3)}`);
  } finally {
    await worker?.stop();
    await p?.stop();
    await sweepDb.close();
    await db.close();
    sink.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

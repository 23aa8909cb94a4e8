// A million recipients, fsync ON: N subscribed contacts loaded by generate_series (secondary indexes
// of contacts and subscriptions dropped for the load and rebuilt after, as a bulk load would), then
// the campaign's audience materialised (timed: goal < 30 s for 1,000,000), then one `postgate worker`
// process sends for a fixed window. Prints throughput, the worker's RSS (sampled each second, its
// peak and whether it stays flat; goal < 300 MB), and the database bytes per recipient (ledger +
// events + campaign figures: messages, message_events, events, campaign_stats_*), split into what
// materialising costs per recipient and what sending adds per message sent. Sending all N would take
// hours on a small machine: the time for the whole campaign is extrapolated from the window's rate.
// The cluster is durable (fsync, synchronous_commit, full_page_writes on) with max_wal_size=2GB.
// Materialisation runs as the runtime login (row-level security on), as the start job does.
// Run: npx tsx bench/run.ts million   (MILLION_BENCH_N, default 1000000; MILLION_BENCH_SECONDS, default 60;
// MILLION_BENCH_LANES, default MATERIALISE_LANES: key ranges materialised at once;
// MILLION_BENCH_WORKER_NODE_OPTIONS: NODE_OPTIONS of the worker process, e.g. a V8 heap limit)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MATERIALISE_CHUNK, MATERIALISE_LANES, materialiseAudience } from '../src/campaigns/audience.js';
import type { Campaign } from '../src/campaigns/campaigns-store.js';
import type { Postgate } from '../src/main.js';
import { createDb } from '../src/platform/db.js';
import type { PostgateProcess } from '../test/support/processes.js';
import { startBenchPostgres } from './support.js';
import {
  cores, CountingSink, cpuSplit, CpuSampler, createCampaign, ledgerCounts, markRunning, mb, owner, postgresPids,
  prepareAudience, queueStart, rssOf, sleep, startController, startWorkers,
} from './fleet.js';

const MEASURED_TABLES = ['messages', 'message_events', 'events', 'campaign_stats_hours', 'campaign_stats_links'];

/** Bytes on disk (heap, indexes, TOAST) of each measured table. */
async function tableBytes(url: string): Promise<Record<string, number>> {
  const rows = await owner<{ t: string; b: string }>(url, 'SELECT t, pg_total_relation_size(t::regclass)::text AS b FROM unnest($1::text[]) AS t', [MEASURED_TABLES]);
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.b)]));
}

function perRow(after: Record<string, number>, before: Record<string, number>, rows: number): string {
  const parts = MEASURED_TABLES.map((t) => [t, (after[t] - before[t]) / Math.max(1, rows)] as const).filter(([, b]) => b > 0);
  const total = parts.reduce((a, [, b]) => a + b, 0);
  return `${total.toFixed(0)} B (${parts.map(([t, b]) => `${t} ${b.toFixed(0)}`).join(', ')})`;
}

/** Loads the audience with the secondary indexes of contacts and subscriptions dropped, then rebuilds them. */
async function bulkAudience(db: ReturnType<typeof createDb>, url: string, n: number) {
  const indexes = await owner<{ name: string; def: string }>(url, `SELECT indexname AS name, indexdef AS def FROM pg_indexes
    WHERE schemaname = 'public' AND tablename IN ('contacts', 'subscriptions')
      AND indexname NOT IN (SELECT conname FROM pg_constraint)`);
  for (const i of indexes) await owner(url, `DROP INDEX ${i.name}`);
  try { return await prepareAudience(db, url, n); } finally {
    for (const i of indexes) await owner(url, i.def);
    await owner(url, 'ANALYZE contacts; ANALYZE subscriptions; CHECKPOINT');
  }
}

/** RSS samples of a process each second until `stop()`; the series is kept for flatness. */
function sampleRss(pid: number): { stop(): Promise<number[]> } {
  const series: number[] = [];
  let running = true;
  const loop = (async () => { while (running) { series.push((await rssOf(pid)).rss); await sleep(1000); } })();
  return { async stop() { running = false; await loop; return series; } };
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

interface Materialised { rows: number; seconds: number; cpuUsPerRow: number; line: string }

/** Materialises `campaign`'s audience in `lanes` key ranges, timed, with PostgreSQL's CPU per row. */
async function timedMaterialise(p: Postgate, clusterDir: string, campaign: Campaign, lanes: number): Promise<Materialised> {
  const mcpu = new CpuSampler({ postgres: () => postgresPids(clusterDir), controller: () => [process.pid] });
  await mcpu.start();
  const m0 = Date.now();
  const rows = await materialiseAudience(p.deps.db, campaign, MATERIALISE_CHUNK, lanes);
  const seconds = (Date.now() - m0) / 1000;
  const split = await mcpu.stop();
  const cpuUsPerRow = ((split.cpu.postgres ?? 0) * 1e6) / Math.max(1, rows);
  return { rows, seconds, cpuUsPerRow, line: `${rows} rows in ${seconds.toFixed(1)} s (${(rows / seconds).toFixed(0)} rows/s; `
    + `${((seconds * 1_000_000) / Math.max(1, rows)).toFixed(1)} s per million at this rate); PostgreSQL ${cpuUsPerRow.toFixed(0)} µs CPU per row; CPU: ${cpuSplit(split)}` };
}

export default async function millionBench(): Promise<void> {
  const n = Number(process.env.MILLION_BENCH_N ?? 1_000_000);
  const windowSeconds = Number(process.env.MILLION_BENCH_SECONDS ?? 60);
  const lanes = Number(process.env.MILLION_BENCH_LANES ?? MATERIALISE_LANES);
  console.log(`cores: ${cores()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${n} recipients, send window ${windowSeconds} s, `
    + 'one worker process (SMTP pool 5, DKIM rsa-2048); PostgreSQL fsync ON, synchronous_commit on, max_wal_size=2GB');
  const cluster = await startBenchPostgres('postgate_million', { durable: true, flags: ['-c', 'max_wal_size=2GB'] });
  const sink = await CountingSink.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-million-'));
  const p = await startController(cluster.url, sink.url, dataDir);
  const db = createDb(cluster.url, { max: 4 });
  let worker: PostgateProcess | null = null;
  try {
    const l0 = Date.now();
    const audience = await bulkAudience(db, cluster.url, n);
    console.log(`loaded ${n} subscribed contacts in ${((Date.now() - l0) / 1000).toFixed(1)} s (generate_series, indexes rebuilt after; set-up, not Postgate)`);
    const nodeOptions = process.env.MILLION_BENCH_WORKER_NODE_OPTIONS; // e.g. "--max-old-space-size=160 --max-semi-space-size=2"
    [worker] = await startWorkers(1, cluster.url, sink.url, nodeOptions ? { NODE_OPTIONS: nodeOptions } : {});
    if (nodeOptions) console.log(`worker NODE_OPTIONS: ${nodeOptions}`);
    const campaign = await markRunning(db, await createCampaign(db, audience));
    const empty = await tableBytes(cluster.url);
    const m = await timedMaterialise(p, cluster.dir, campaign, lanes);
    const materialised = m.rows;
    console.log(`audience materialised (${lanes} key ranges at once): ${m.line}; goal < 30 s for 1,000,000`);
    const afterMaterialise = await tableBytes(cluster.url);
    console.log(`database per recipient, materialised: ${perRow(afterMaterialise, empty, materialised)}`);

    await sink.expect(n);
    await sleep(1000);
    const idle = await rssOf(worker.pid);
    const rss = sampleRss(worker.pid);
    const cpu = new CpuSampler({ 'node worker': () => [worker!.pid], postgres: () => postgresPids(cluster.dir), sink: () => [sink.pid] }, 1000);
    await queueStart(p, campaign);
    const first = await sink.waitFor(1, 120_000);
    await cpu.start();
    await sleep(windowSeconds * 1000);
    const inWindow = (await sink.tally()).distinct - first.distinct;
    const split = await cpu.stop();
    const series = await rss.stop();
    const hwm = (await rssOf(worker.pid)).hwm;
    await worker.stop(60_000); // graceful: sends in flight finish and are recorded, the rest is handed back
    worker = null;
    const rate = inWindow / windowSeconds;
    const tally = await sink.tally();
    const ledger = await ledgerCounts(cluster.url, campaign.id);
    const sent = ledger.sent ?? 0;
    console.log(`throughput, one worker: ${rate.toFixed(0)} msg/s over ${windowSeconds} s (${inWindow} messages); the whole ${n} would take `
      + `~${(n / Math.max(rate, 0.001) / 3600).toFixed(1)} h at this rate (extrapolated, not measured); CPU: ${cpuSplit(split)}; `
      + `CPU ms per message: ${Object.entries(split.cpu).map(([k, v]) => `${k} ${((v * 1000) / Math.max(1, inWindow)).toFixed(2)}`).join(', ')}`);
    const tail = Math.min(10, Math.floor(series.length / 3));
    console.log(`worker RSS: ${mb(idle.rss)} idle before the campaign, sampled max ${mb(Math.max(...series))}, VmHWM ${mb(hwm)} (goal < 300 MB); `
      + `first ${tail} s avg ${mb(avg(series.slice(0, tail)))}, last ${tail} s avg ${mb(avg(series.slice(-tail)))}; `
      + `every 10 s: ${series.filter((_, i) => i % 10 === 0).map((b) => (b / 1024 / 1024).toFixed(0)).join(' ')} MB`);
    const afterSend = await tableBytes(cluster.url);
    console.log(`database per message sent (added by sending): ${perRow(afterSend, afterMaterialise, sent)}`);
    const total = Object.values(afterSend).reduce((a, b) => a + b, 0) - Object.values(empty).reduce((a, b) => a + b, 0);
    const perSent = (Object.values(afterSend).reduce((a, b) => a + b, 0) - Object.values(afterMaterialise).reduce((a, b) => a + b, 0)) / Math.max(1, sent);
    const perMat = (Object.values(afterMaterialise).reduce((a, b) => a + b, 0) - Object.values(empty).reduce((a, b) => a + b, 0)) / Math.max(1, materialised);
    console.log(`database now ${mb(total)} for ${materialised} materialised and ${sent} sent; a fully sent campaign ~${(perMat + perSent).toFixed(0)} B per recipient `
      + `(~${mb((perMat + perSent) * 1_000_000)} per million; extrapolated)`);
    const ok = tally.duplicates === 0 && tally.strays === 0 && tally.distinct === sent;
    console.log(`${ok ? 'correctness' : 'CORRECTNESS'}: sink ${tally.distinct} recipients, ${tally.duplicates} duplicates, ${tally.strays} strays; ledger sent ${sent} `
      + `(${JSON.stringify(ledger)})`);
  } finally {
    await worker?.stop();
    await p.stop();
    await db.close();
    sink.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

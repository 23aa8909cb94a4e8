// Many workers: one campaign of N recipients (the campaign bench's DKIM-signed newsletter) drained by
// 1, 2 and 4 `postgate worker` processes in turn, each round a fresh campaign to the same audience.
// Prints msg/s, the ratio to 1 worker, and the duplicates, losses and strays counted by recipient at
// the sink (a child process, so it does not share a worker's event loop), and where the CPU went
// (worker processes, PostgreSQL, sink, this controller) from /proc, since on a small machine
// PostgreSQL and the sink share the cores with the workers. Its own embedded PostgreSQL, fsync OFF
// (durability is million.bench.ts's subject; here it would only add disk waits).
// Run: npx tsx bench/run.ts workers   (WORKERS_BENCH_N, default 20000; WORKERS_BENCH_COUNTS, default 1,2,4)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { materialiseAudience } from '../src/campaigns/audience.js';
import { createDb, type Db } from '../src/platform/db.js';
import type { Postgate } from '../src/main.js';
import type { PostgateProcess } from '../test/support/processes.js';
import { startBenchPostgres, type BenchCluster } from './support.js';
import {
  campaignStatus, cores, CountingSink, cpuSplit, CpuSampler, createCampaign, ledgerCounts, markRunning, postgresPids,
  prepareAudience, queueStart, sleep, startController, startWorkers, type Audience,
} from './fleet.js';

interface Round { cpuMsPerMsg: Record<string, number>; workers: number; rate: number; steady: number; seconds: number; materialise: number; dup: number; lost: number; strays: number; sentInLedger: number; split: string }

async function round(ctx: { p: Postgate; db: Db; cluster: BenchCluster; sink: CountingSink; audience: Audience; n: number; workers: PostgateProcess[] }): Promise<Round> {
  const { db, sink, n } = ctx;
  const campaign = await createCampaign(db, ctx.audience);
  const m0 = Date.now();
  await materialiseAudience(ctx.p.deps.db, await markRunning(db, campaign));
  const materialise = (Date.now() - m0) / 1000;
  await sink.expect(n);
  const sampler = new CpuSampler({
    'node workers': () => ctx.workers.map((w) => w.pid), postgres: () => postgresPids(ctx.cluster.dir),
    sink: () => [sink.pid], controller: () => [process.pid],
  });
  await sampler.start();
  const t0 = Date.now();
  await queueStart(ctx.p, campaign);
  const t = await sink.waitFor(n, 30 * 60_000);
  const cpu = await sampler.stop();
  while (await campaignStatus(db, campaign) !== 'completed') await sleep(100);
  await sleep(1000); // a late duplicate would arrive here
  const final = await sink.tally();
  const seconds = (t.last - t0) / 1000;
  return {
    workers: ctx.workers.length, rate: n / seconds, steady: (n - 1) / Math.max(0.001, (t.last - t.first) / 1000), seconds, materialise,
    dup: final.duplicates, lost: final.losses, strays: final.strays, sentInLedger: (await ledgerCounts(ctx.cluster.url, campaign.id)).sent ?? 0,
    split: cpuSplit(cpu), cpuMsPerMsg: Object.fromEntries(Object.entries(cpu.cpu).map(([k, s]) => [k, (s * 1000) / n])),
  };
}

export default async function workersBench(): Promise<void> {
  const n = Number(process.env.WORKERS_BENCH_N ?? 20_000);
  const counts = (process.env.WORKERS_BENCH_COUNTS ?? '1,2,4').split(',').map(Number).filter((c) => c > 0).sort((a, b) => a - b);
  console.log(`cores (os.availableParallelism): ${cores()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; `
    + `${n} recipients per round, worker processes ${counts.join(', ')}; SMTP pool 5 per worker, DKIM rsa-2048 on; PostgreSQL fsync off; sink in its own process`);
  const cluster = await startBenchPostgres('postgate_workers');
  const sink = await CountingSink.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-workers-'));
  const p = await startController(cluster.url, sink.url, dataDir);
  const db = createDb(cluster.url, { max: 4 });
  const workers: PostgateProcess[] = [];
  try {
    const audience = await prepareAudience(db, cluster.url, n);
    const rounds: Round[] = [];
    for (const c of counts) {
      workers.push(...await startWorkers(c - workers.length, cluster.url, sink.url));
      await sleep(2000); // the new processes finish their start-up work (template pool, pg-boss) before the clock runs
      const r = await round({ p, db, cluster, sink, audience, n, workers });
      rounds.push(r);
      console.log(`${String(r.workers).padStart(2)} worker(s): ${r.rate.toFixed(0).padStart(5)} msg/s start to last (${r.steady.toFixed(0)} first to last), `
        + `x${(r.rate / rounds[0].rate).toFixed(2)} vs 1 worker; ${r.seconds.toFixed(1)} s; duplicates ${r.dup}, losses ${r.lost}, strays ${r.strays}, `
        + `ledger sent ${r.sentInLedger}/${n}; materialised in ${r.materialise.toFixed(2)} s (not timed)`);
      console.log(`   CPU during the round: ${r.split}; CPU ms per message: ${Object.entries(r.cpuMsPerMsg).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    }
    const two = rounds.find((r) => r.workers === 2);
    if (two) console.log(`scaling 2 workers / 1: x${(two.rate / rounds[0].rate).toFixed(2)} (goal >= 1.8 when neither the sink nor PostgreSQL shares the cores; here they do: see the CPU split)`);
    // What the cores allow once nobody else uses them: a worker process (one event loop) at most one
    // core, and every process kind together at most all cores, from round 1's CPU per message.
    const perMsg = rounds[0].cpuMsPerMsg;
    const allMs = Object.entries(perMsg).filter(([k]) => k !== 'controller').reduce((a, [, v]) => a + v, 0);
    const ceiling = (k: number) => Math.min((k * 1000) / perMsg['node workers'], (cores() * 1000) / allMs);
    console.log(`CPU-bound ceiling on ${cores()} idle cores (round 1's CPU per message, controller excluded): `
      + counts.map((k) => `${k} worker(s) ${ceiling(k).toFixed(0)} msg/s (x${(ceiling(k) / ceiling(1)).toFixed(2)})`).join(', '));
    const bad = rounds.filter((r) => r.dup || r.lost || r.strays);
    console.log(bad.length ? `CORRECTNESS: ${bad.length} round(s) with duplicates, losses or strays` : 'correctness: zero duplicates, zero losses in every round');
  } finally {
    for (const w of workers) await w.stop();
    await p.stop();
    await db.close();
    sink.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

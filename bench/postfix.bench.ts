// Through a real relay: one campaign of N recipients (the campaign bench's DKIM-signed newsletter) sent
// by a `postgate worker` process to a private Postfix instance (Debian's postfix, started here from a
// temp config directory, bench/postfix-relay.ts) that relays everything to the counting sink, timed
// until the sink has all N; then the same campaign (a fresh one to the same audience) straight to the
// sink, before and after, so drift in the machine's load shows. Prints msg/s of both, the ratio, and
// duplicates and losses counted by recipient at the sink. Its own embedded PostgreSQL, fsync off.
// Postfix runs with its defaults for queueing and delivery concurrency (default_destination_concurrency_limit
// 20, in_flow_delay 1s), default_process_limit POSTFIX_BENCH_PROCS (default 100); no DNS, no TLS.
// Needs root and the postfix package (apt-get install -y postfix); without them it says so and skips.
// Run: npx tsx bench/run.ts postfix   (POSTFIX_BENCH_N, default 20000)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { materialiseAudience } from '../src/campaigns/audience.js';
import { createDb, type Db } from '../src/platform/db.js';
import type { Postgate } from '../src/main.js';
import { freePort, startBenchPostgres } from './support.js';
import {
  campaignStatus, cores, CountingSink, createCampaign, markRunning, prepareAudience, queueStart, sleep, startController, startWorkers, type Audience,
} from './fleet.js';
import { postfixUnavailable, startPostfixRelay, type PostfixRelay } from './postfix-relay.js';

interface Round { label: string; rate: number; seconds: number; dup: number; lost: number }

interface Ctx { p: Postgate; db: Db; url: string; sink: CountingSink; audience: Audience; n: number }

/** One campaign through a fresh worker process relaying to `smtpUrl`: rate from the start job to the sink's last accept. */
async function round(ctx: Ctx, label: string, smtpUrl: string): Promise<Round> {
  const { db, sink, n } = ctx;
  const [worker] = await startWorkers(1, ctx.url, smtpUrl);
  try {
    const campaign = await createCampaign(db, ctx.audience);
    await materialiseAudience(db, await markRunning(db, campaign));
    await sink.expect(n);
    const t0 = Date.now();
    await queueStart(ctx.p, campaign);
    const t = await sink.waitFor(n, 30 * 60_000);
    while (await campaignStatus(db, campaign) !== 'completed') await sleep(100);
    await sleep(1000); // a late duplicate would arrive here
    const final = await sink.tally();
    const seconds = (t.last - t0) / 1000;
    return { label, rate: n / seconds, seconds, dup: final.duplicates, lost: final.losses };
  } finally {
    await worker.stop();
  }
}

const line = (r: Round) => console.log(`${r.label.padEnd(30)} ${r.rate.toFixed(0).padStart(5)} msg/s  (${r.seconds.toFixed(1)} s; duplicates ${r.dup}, lost ${r.lost})`);

export default async function postfixBench(): Promise<void> {
  const why = await postfixUnavailable();
  if (why) { console.log(`skipped: ${why}`); return; }
  const n = Number(process.env.POSTFIX_BENCH_N ?? 20_000);
  const procs = Number(process.env.POSTFIX_BENCH_PROCS ?? 100);
  console.log(`cores: ${cores()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${n} recipients per round, one worker `
    + `process (SMTP pool 5), DKIM rsa-2048 on; Postfix default_process_limit ${procs}; sink in its own process`);
  const cluster = await startBenchPostgres('postgate_postfix');
  const sink = await CountingSink.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-postfix-'));
  let relay: PostfixRelay | null = null;
  let p: Postgate | null = null;
  const db = createDb(cluster.url, { max: 4 });
  // Ctrl-C: the Postfix master is a daemon of its own and would outlive this process
  const stopRelay = () => { void (relay?.stop() ?? Promise.resolve()).finally(() => process.exit(130)); };
  process.once('SIGINT', stopRelay);
  try {
    relay = await startPostfixRelay(os.tmpdir(), await freePort(), Number(new URL(sink.url).port), procs);
    p = await startController(cluster.url, sink.url, dataDir);
    const audience = await prepareAudience(db, cluster.url, n);
    const ctx: Ctx = { p, db, url: cluster.url, sink, audience, n };
    const direct1 = await round(ctx, 'direct to the sink (before)', sink.url);
    const viaPostfix = await round(ctx, 'through Postfix to the sink', relay.url);
    const direct2 = await round(ctx, 'direct to the sink (after)', sink.url);
    for (const r of [direct1, viaPostfix, direct2]) line(r);
    console.log(`ratio through Postfix / direct: ${(viaPostfix.rate / ((direct1.rate + direct2.rate) / 2)).toFixed(2)}`);
    if (viaPostfix.lost || viaPostfix.dup) console.log(`Postfix log tail:\n${(await relay.log()).slice(-3000)}`);
  } finally {
    process.off('SIGINT', stopRelay);
    await relay?.stop();
    await p?.stop();
    await db.close();
    sink.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

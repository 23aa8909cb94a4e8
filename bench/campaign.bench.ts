// Campaign delivery benchmark: a campaign to 20,000 subscribers through a Postgate worker to a local
// SMTP sink with DKIM on, against plain pooled nodemailer sending the same rendered messages (same
// pool size, same DKIM, same in-flight window) to the same sink in the same run; then peak RSS of a
// worker process for 20,000 and 100,000 recipients. Its own embedded PostgreSQL (fsync off).
// The sink runs in a child process (counts only, no parsing), so it does not share the sender's CPU.
// Run: npx tsx bench/run.ts campaign   (CAMPAIGN_BENCH_N / CAMPAIGN_BENCH_RSS override the sizes;
// CAMPAIGN_BENCH_BASELINE=0 runs Postgate alone, for a profile: node --cpu-prof --import tsx bench/run.ts campaign)
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchPostgres } from './support.js';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { loadConfig, type Config } from '../src/config.js';
import { startPostgate, type Postgate } from '../src/main.js';
import { createDb, type Db } from '../src/platform/db.js';
import { createLogger } from '../src/platform/log.js';
import { QUEUES } from '../src/platform/queue.js';
import { compileTemplate } from '../src/mail/render.js';
import { createTenant, getTenant, type Tenant } from '../src/tenants/store.js';
import { activeDkimKey, generateDkimKey, insertDkimKey } from '../src/tenants/dkim.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { applyCampaignEvent, getCampaign, insertCampaign } from '../src/campaigns/campaigns-store.js';
import { fromDomain } from '../src/campaigns/compliance.js';
import { withCompliantFooter } from '../src/campaigns/content.js';
import { prepareRecipient, type BatchContext } from '../src/campaigns/recipient.js';
import { DKIM_SIGNED_HEADERS } from '../src/mail/compose.js';
import type { ClaimedRow } from '../src/campaigns/claim.js';
import { insertTemplate } from '../src/campaigns/templates-store.js';
import { materialiseAudience } from '../src/campaigns/audience.js';
import { Semaphore } from '../src/campaigns/batching.js';
import { IN_FLIGHT_PER_CONNECTION } from '../src/campaigns/module.js';

const SELF = fileURLToPath(import.meta.url);
const SINK_FLAG = '--campaign-bench-sink';
const WORKER_FLAG = '--campaign-bench-rss-worker';
const POOL_SIZE = 5;
/** A round whose sink count has not moved for this long has stalled (ms). */
const STALL_MS = 60_000;
const TOKEN_KEYS = 'bench:campaign-bench-secret-0123456789';

import { NEWSLETTER_MJML } from './newsletter.js';

// ---- the sink (child process) ------------------------------------------------------------------

interface SinkStats { count: number; first: number; last: number }
type SinkMessage = { port: number } | SinkStats;

async function runSink(): Promise<void> {
  let stats: SinkStats = { count: 0, first: 0, last: 0 };
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, size: 50 * 1024 * 1024, maxClients: 100,
    onData(stream, _session, cb) {
      stream.on('end', () => {
        const now = Date.now();
        stats.count++; stats.last = now; if (!stats.first) stats.first = now;
        cb();
      });
      stream.resume();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.send?.({ port: (server.server.address() as net.AddressInfo).port });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'stats') process.send?.(stats);
    if (m.cmd === 'reset') { stats = { count: 0, first: 0, last: 0 }; process.send?.(stats); }
  });
}

class Sink {
  private constructor(private readonly child: ChildProcess, readonly url: string, readonly port: number) {}

  static async start(): Promise<Sink> {
    const child = fork(SELF, [SINK_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve) => child.once('message', (m: SinkMessage) => resolve((m as { port: number }).port)));
    return new Sink(child, `smtp://127.0.0.1:${port}`, port);
  }

  private ask(cmd: string): Promise<SinkStats> {
    return new Promise((resolve) => { this.child.once('message', (m: SinkMessage) => resolve(m as SinkStats)); this.child.send({ cmd }); });
  }

  stats(): Promise<SinkStats> { return this.ask('stats'); }
  reset(): Promise<SinkStats> { return this.ask('reset'); }

  /** Waits until the sink counted `n`; throws at `timeoutMs`, or after STALL_MS without a new message (a stalled sender says so instead of waiting half an hour). */
  async waitFor(n: number, timeoutMs: number): Promise<SinkStats> {
    const until = Date.now() + timeoutMs;
    let seen = -1;
    let movedAt = Date.now();
    for (;;) {
      const s = await this.stats();
      if (s.count >= n) return s;
      if (s.count !== seen) { seen = s.count; movedAt = Date.now(); }
      if (Date.now() > until || Date.now() - movedAt > STALL_MS) throw new Error(`sink got ${s.count} of ${n} (${Date.now() > until ? 'timed out' : `no new message for ${STALL_MS / 1000} s`})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void { this.child.kill('SIGTERM'); }
}

// ---- database and data ---------------------------------------------------------------------------

async function owner<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query<T>(sql, params)).rows; } finally { await c.end(); }
}

function benchConfig(dbUrl: string, smtpUrl: string, dataDir: string): Config {
  return loadConfig({}, {
    DATABASE_URL: dbUrl, SMTP_URL: smtpUrl, DATA_DIR: dataDir, PORT: 0, INBOUND_SMTP_PORT: 0, LOG_LEVEL: 'error',
    PUBLIC_URL: 'https://postgate.bench', TOKEN_KEYS, SMTP_POOL_SIZE: POOL_SIZE,
    BOUNCE_DOMAIN: 'bounces.postgate.bench', SMTP_REQUIRE_TLS: false, // the bench sink is plain SMTP
  });
}

interface Prepared { tenantId: string; campaignId: string }

/** A tenant with DKIM required and a key, n subscribed contacts (one statement), and a running campaign. */
async function prepareCampaign(db: Db, dbUrl: string, n: number): Promise<Prepared> {
  const tenantId = randomUUID();
  await createTenant(db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org', postalAddress: 'Acme Ltd, 1 Main St, Springfield' }, tenantId);
  const pair = await generateDkimKey();
  await db.withTenant(tenantId, async (c) => { await vouchDomain(c, tenantId, 'acme.org'); await insertDkimKey(c, tenantId, 'acme.org', 'bench', pair, { activate: true }); });
  await owner(dbUrl, 'UPDATE tenants SET require_dkim = true, send_rate_per_second = 100000 WHERE id = $1', [tenantId]);
  await owner(dbUrl, `WITH l AS (SELECT id FROM lists WHERE tenant_id = $1 AND is_default),
      c AS (INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status, verified_at)
        SELECT $1, 'reader' || i || '@inbox.example', 'reader' || i || '@inbox.example', 'Reader ' || i,
          jsonb_build_object('city', 'City ' || (i % 50)), 'active', now() FROM generate_series(1, $2::int) AS i RETURNING id)
    INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, c.id, l.id, 'subscribed' FROM c, l`, [tenantId, n]);
  await owner(dbUrl, 'ANALYZE');
  const campaignId = await db.withTenant(tenantId, async (c) => {
    const list = (await c.query<{ id: string }>('SELECT id FROM lists WHERE is_default')).rows[0].id;
    const t = await insertTemplate(c, tenantId, 'Weekly', { mjml: NEWSLETTER_MJML, subject: 'Your weekly digest, {{name}}', text: null });
    const cmp = await insertCampaign(c, tenantId, { name: 'Weekly digest', subject: t.subject, templateId: t.id, templateVersion: 1, listIds: [list], replyTo: null, sendAt: null });
    return cmp.id;
  });
  return { tenantId, campaignId };
}

async function startCampaign(p: Postgate, c: Prepared): Promise<void> {
  await p.deps.db.withTenant(c.tenantId, (tx) => applyCampaignEvent(tx, c.campaignId, { type: 'start' }));
  await p.deps.boss.send(QUEUES.campaignStart, { tenantId: c.tenantId, campaignId: c.campaignId });
}

/** Resumes the campaign paused after its materialisation (see campaignBench) and queues its start job. */
async function resumeCampaign(p: Postgate, c: Prepared): Promise<void> {
  await p.deps.db.withTenant(c.tenantId, (tx) => applyCampaignEvent(tx, c.campaignId, { type: 'resume' }));
  await p.deps.boss.send(QUEUES.campaignStart, { tenantId: c.tenantId, campaignId: c.campaignId });
}

async function campaignStatus(p: Postgate, c: Prepared): Promise<string> {
  return p.deps.db.withTenant(c.tenantId, async (tx) => (await getCampaign(tx, c.campaignId))?.status ?? 'missing');
}

// ---- the baseline ------------------------------------------------------------------------------------

/** The same messages Postgate built (same template, data, headers, DKIM), rendered before timing. */
async function renderAll(p: Postgate, c: Prepared): Promise<SendMailOptions[]> {
  return p.deps.db.withTenant(c.tenantId, async (tx) => {
    const tenant = (await getTenant(tx, c.tenantId)) as Tenant;
    const campaign = (await getCampaign(tx, c.campaignId))!;
    const compiled = await compileTemplate(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: campaign.subject, text: null }));
    const ctx: BatchContext = {
      tenant, campaign: { id: campaign.id, name: campaign.name }, replyTo: tenant.replyTo, compiled, dkim: await activeDkimKey(tx, fromDomain(tenant)), domains: { verified: ['acme.org'], envelope: null },
      fromDomain: fromDomain(tenant), publicUrl: p.config.PUBLIC_URL, bounceDomain: p.config.BOUNCE_DOMAIN, tokens: p.deps.tokens,
    };
    const rows = (await tx.query<ClaimedRow>(`SELECT m.id, m.recipient, m.attempts, false AS reclaimed, ct.id AS "contactId",
        ct.status AS "contactStatus", ct.email, ct.name, ct.attributes, 'subscribed' AS subscription, false AS "suppressedAll", false AS "suppressedMarketing"
      FROM messages m JOIN contacts ct ON ct.id = m.contact_id WHERE m.campaign_id = $1 ORDER BY m.id`, [c.campaignId])).rows;
    return rows.map((row) => {
      const out = prepareRecipient(ctx, row);
      if (out.kind !== 'mail') throw new Error(`baseline message refused: ${out.reason}`);
      // The baseline builds and signs with nodemailer itself: the options without Postgate's raw bytes, with nodemailer's DKIM.
      const { raw: _prebuilt, ...mail } = out.mail;
      const key = ctx.dkim!;
      return { ...mail, dkim: { domainName: key.domain, keySelector: key.selector, privateKey: key.privateKey, headerFieldNames: DKIM_SIGNED_HEADERS } };
    });
  });
}

async function sendBaseline(messages: SendMailOptions[], port: number): Promise<number> {
  const transport = nodemailer.createTransport({ pool: true, maxConnections: POOL_SIZE, maxMessages: 1000, host: '127.0.0.1', port, secure: false });
  const window = new Semaphore(POOL_SIZE * IN_FLIGHT_PER_CONNECTION);
  const t0 = Date.now();
  await Promise.all(messages.map(async (m) => {
    await window.acquire();
    try { await transport.sendMail(m); } finally { window.release(); }
  }));
  transport.close();
  return t0;
}

// ---- peak RSS (child process running only a worker) -------------------------------------------------

async function runRssWorker(): Promise<void> {
  const [dbUrl, smtpUrl, tenantId, campaignId] = process.argv.slice(3);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-worker-'));
  const p = await startPostgate(benchConfig(dbUrl, smtpUrl, dataDir), { web: false, worker: true, inbound: false }, { log: createLogger('error', false) });
  await new Promise((r) => setTimeout(r, 1000));
  const idle = process.memoryUsage().rss;
  let peak = idle;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
  const c = { tenantId, campaignId };
  const t0 = Date.now();
  await startCampaign(p, c);
  while (await campaignStatus(p, c) !== 'completed') await new Promise((r) => setTimeout(r, 250));
  const seconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const maxRss = process.resourceUsage().maxRSS * 1024;
  await p.stop();
  process.send?.({ peakSampled: peak, maxRss, seconds, idle });
}

interface RssFigures { peakSampled: number; maxRss: number; seconds: number; idle: number }

async function measureRss(dbUrl: string, sink: Sink, c: Prepared): Promise<RssFigures> {
  const child = fork(SELF, [WORKER_FLAG, dbUrl, sink.url, c.tenantId, c.campaignId], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = await new Promise<RssFigures>((resolve, reject) => {
    child.once('message', (m: RssFigures) => resolve(m));
    child.once('exit', (code) => reject(new Error(`rss worker exited with ${code}`)));
  });
  child.kill('SIGTERM');
  return result;
}

// ---- the benchmark -----------------------------------------------------------------------------------

/** CPU ms of one RSA-2048 PKCS#1 v1.5 SHA-256 signature (a DKIM signature's cost), median of 5 runs of 100. */
function rsaSignatureMs(): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.alloc(1024, 'h');
  const runs = Array.from({ length: 5 }, () => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < 100; i++) sign('sha256', data, privateKey);
    return cpuSeconds(c0) * 1000 / 100;
  });
  return runs.sort((a, b) => a - b)[2];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const cpuSeconds = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6; };

interface Timed { rate: number; seconds: number; cpu: number }

/** Plain nodemailer, pre-rendered messages: rate from first send to the sink's last accepted. */
async function baselineRound(messages: SendMailOptions[], sink: Sink): Promise<Timed> {
  await sink.reset();
  const cpu0 = process.cpuUsage();
  const t0 = await sendBaseline(messages, sink.port);
  const s = await sink.waitFor(messages.length, 30 * 60_000);
  const seconds = (s.last - t0) / 1000;
  return { rate: messages.length / seconds, seconds, cpu: cpuSeconds(cpu0) };
}

/** The campaign through Postgate: materialisation + drain, until the sink accepted the last one. */
async function postgateRound(p: Postgate, c: Prepared, n: number, sink: Sink, materialiseSeconds: number): Promise<Timed> {
  await sink.reset();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await resumeCampaign(p, c);
  const s = await sink.waitFor(n, 30 * 60_000);
  const seconds = materialiseSeconds + (s.last - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  while (await campaignStatus(p, c) !== 'completed') await new Promise((r) => setTimeout(r, 100));
  return { rate: n / seconds, seconds, cpu };
}

export default async function campaignBench(): Promise<void> {
  const n = Number(process.env.CAMPAIGN_BENCH_N ?? 20_000);
  const rssSizes = (process.env.CAMPAIGN_BENCH_RSS ?? '20000,100000').split(',').filter(Boolean).map(Number);
  const withBaseline = process.env.CAMPAIGN_BENCH_BASELINE !== '0';
  console.log(`cpus: ${os.cpus().length}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; SMTP pool ${POOL_SIZE}, `
    + `in flight ${POOL_SIZE * IN_FLIGHT_PER_CONNECTION}, DKIM rsa-2048 on, MJML newsletter, text part derived per recipient`);
  const cluster = await startBenchPostgres('postgate_bench');
  const sink = await Sink.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-'));
  let p: Postgate | null = await startPostgate(benchConfig(cluster.url, sink.url, dataDir), { web: false, worker: true, inbound: false }, { log: createLogger(process.env.CAMPAIGN_BENCH_LOG === 'warn' ? 'warn' : 'error', false) });
  const db = createDb(cluster.url, { max: 2 });
  try {
    const c = await prepareCampaign(db, cluster.url, n);
    // The audience is materialised first (timed, and counted in Postgate's figure) so that the
    // baseline can send exactly the messages Postgate will build for the same ledger rows.
    const m0 = Date.now();
    const campaign = await db.withTenant(c.tenantId, async (tx) => applyCampaignEvent(tx, c.campaignId, { type: 'start' }));
    await materialiseAudience(db, campaign!);
    const materialiseSeconds = (Date.now() - m0) / 1000;
    // Paused until Postgate's round: a running campaign without a live drain is what the recovery
    // sweep restarts, and at 20,000 recipients it did so during the first baseline round (the sink
    // then counted Postgate's mail in nodemailer's round, and Postgate's own round found nothing left).
    await db.withTenant(c.tenantId, (tx) => applyCampaignEvent(tx, c.campaignId, { type: 'pause', reason: { by: 'manual' } }));
    if (!withBaseline) { // profiling Postgate alone (CAMPAIGN_BENCH_BASELINE=0): no nodemailer rounds, no ratio
      const alone = await postgateRound(p, c, n, sink, materialiseSeconds);
      const rsa = rsaSignatureMs();
      console.log(`postgate campaign ${alone.rate.toFixed(0)} msg/s (${alone.seconds.toFixed(1)} s); CPU per message: postgate ${(alone.cpu * 1000 / n).toFixed(2)} ms `
        + `= ${(alone.cpu * 1000 / n / rsa).toFixed(2)} RSA-2048 signatures of ${rsa.toFixed(2)} ms in this run (no baseline run)`);
      return;
    }
    const messages = await renderAll(p, c);
    const bytes = messages.reduce((a, m) => a + String(m.html).length + String(m.text).length, 0) / messages.length;
    console.log(`${n} recipients, ~${(bytes / 1024).toFixed(0)} KiB of HTML + text each; audience materialised in ${materialiseSeconds.toFixed(2)} s`);

    // Baseline before and after, so drift in the machine's load shows and averages out.
    const b1 = await baselineRound(messages, sink);
    const pg1 = await postgateRound(p, c, n, sink, materialiseSeconds);
    const b2 = await baselineRound(messages, sink);
    messages.length = 0;
    const base = (b1.rate + b2.rate) / 2;
    const line = (label: string, t: Timed) => console.log(`${label.padEnd(26)} ${t.rate.toFixed(0).padStart(5)} msg/s  (${t.seconds.toFixed(1)} s, ${(t.cpu * 1000 / n).toFixed(2)} ms CPU/msg in this process)`);
    line('nodemailer (before)', b1);
    line('postgate campaign', pg1);
    line('nodemailer (after)', b2);
    console.log(`ratio postgate / nodemailer: ${(pg1.rate / base).toFixed(2)} (goal >= 0.8, aim 0.9)`);
    const cpuBase = ((b1.cpu + b2.cpu) / 2) * 1000 / n;
    const cpuPg = pg1.cpu * 1000 / n;
    console.log(`CPU per message: nodemailer ${cpuBase.toFixed(2)} ms, postgate ${cpuPg.toFixed(2)} ms; `
      + `ratio nodemailer / postgate: ${(cpuBase / cpuPg).toFixed(2)} (goal >= 1.9, postgate <= 3 ms)`);
    const rsa = rsaSignatureMs(); // the machine's speed now: under load every figure above grows, this one too
    console.log(`one RSA-2048 signature: ${rsa.toFixed(2)} ms in this run; postgate spends ${(cpuPg / rsa).toFixed(2)} of them per message, nodemailer ${(cpuBase / rsa).toFixed(2)}`);

    await p.stop(); // from here on, only the measured worker process may take campaign jobs
    p = null;
    for (const size of rssSizes) {
      const rc = await prepareCampaign(db, cluster.url, size);
      await sink.reset();
      const r = await measureRss(cluster.url, sink, rc);
      console.log(`peak RSS of a worker process, ${size} recipients: ${mb(r.maxRss)} (maxRSS; sampled ${mb(r.peakSampled)}; `
        + `${mb(r.idle)} idle before the campaign), ${r.seconds.toFixed(1)} s, ${(size / r.seconds).toFixed(0)} msg/s`);
    }
  } finally {
    await p?.stop();
    await db.close();
    sink.stop();
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === SINK_FLAG) await runSink();
else if (process.argv[2] === WORKER_FLAG) { await runRssWorker(); process.exit(0); }

// Invoice latency and CPU: from the API's 202 to the SMTP sink's acceptance (end of DATA), with DKIM
// (RSA-2048) on, at fixed request rates for a fixed time each. Postgate (web + worker roles) runs in
// this process against its own embedded PostgreSQL (fsync off); the load generator and the SMTP sink
// run together in a child process, so the CPU this process uses is Postgate's alone, and 202 and
// acceptance are stamped by the same clock. Requests are fired open-loop on a fixed schedule; each
// message is matched at the sink by its X-Postgate-Message header (the ledger id the 202 returns).
//
// Printed per rate: invoices answered and delivered, the achieved rate (delivered / time from the
// first request to the last acceptance), p50/p95/p99 202 → SMTP, request latency, and CPU ms per
// invoice of this process and of PostgreSQL (all its processes, /proc), and PostgreSQL round trips and
// commits per invoice (group commit of requests and batched sending make them fall as the rate
// grows: src/transactional/batch.ts, mail/sender.ts processMany). Then a sequential phase (one
// invoice in flight at a time) splits this process's CPU per invoice by stage (src/platform/stages.ts),
// with the nodemailer build and DKIM signature measured apart on a captured invoice (same options).
//
//   TX_BENCH_RATES=20,100,300   request rates (per second), each one phase
//   TX_BENCH_SECONDS=10         seconds per phase
//   TX_BENCH_SPLIT_N=200        invoices of the sequential stage-split phase (0: skip it)
//   TX_BENCH_SHOW_SQL=0         how many of the most frequent statements of that phase to print (per invoice)
//   TX_BENCH_SEND_CONCURRENCY, TX_BENCH_SMTP_POOL_SIZE   SEND_CONCURRENCY, SMTP_POOL_SIZE (default: config)
//   TX_BENCH_WORKERS=0          0: the web and worker roles in this process; N: this process is the web
//                               role only and N `worker`-role processes send (one core each; their CPU,
//                               read from /proc, is added to the Postgate figure; no stage split then)
// CPU profile: NODE_OPTIONS=--cpu-prof npx tsx bench/run.ts transactional, then
//   npx tsx bench/profile-top.ts <the .cpuprofile written in the working directory>
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { startBenchPostgres } from './support.js';
import { loadConfig, type RawConfig } from '../src/config.js';
import { startPostgate, type Postgate } from '../src/main.js';
import { createLogger } from '../src/platform/log.js';
import { enterStage, startStageClock, stopStageClock, type Stage } from '../src/platform/stages.js';
import { createTenant } from '../src/tenants/store.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { generateDkimKey, insertDkimKey } from '../src/tenants/dkim.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { upsertContact } from '../src/consent/contacts.js';

const SELF = fileURLToPath(import.meta.url);
const CHILD_FLAG = '--transactional-bench-client';
const CONTACTS = 50;
const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const RATES = env('TX_BENCH_RATES', '20,100,300').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(env('TX_BENCH_SECONDS', '10'));
const SPLIT_N = Number(env('TX_BENCH_SPLIT_N', '200'));
const WORKERS = Number(env('TX_BENCH_WORKERS', '0'));
const WORKER_FLAG = '--transactional-bench-worker';
const optionalInt = (name: string) => (process.env[name] ? { [name.replace('TX_BENCH_', '')]: Number(process.env[name]) } : {});

// ---- the child: load generator and SMTP sink -----------------------------------------------------

/** Wall clock in ms shared by both processes of one machine. */
const clockMs = () => performance.timeOrigin + performance.now();

interface PhaseRequest { cmd: 'phase'; url: string; key: string; rate: number; seconds: number; prefix: string; sequential: boolean }
interface PhaseResult {
  total: number; answered: number; delivered: number; firstPostAt: number; lastAcceptAt: number;
  latencies: number[]; requestMs: number[]; errors: string[];
}

function invoiceBody(id: string, n: number): string {
  return JSON.stringify({
    transactionId: id, contact: `buyer${n % CONTACTS}@example.org`, currency: 'EUR', locale: n % 2 ? 'de-DE' : 'en', issuedAt: '2024-05-31',
    lines: [{ description: 'Annual plan', quantity: 1, unitAmount: 100_000 }, { description: 'Extra seat', quantity: 2, unitAmount: 11_725 }],
    taxes: [{ name: 'VAT', rate: 20, amount: 24_690 }], total: 148_140,
  });
}

async function runClient(): Promise<void> {
  const accepted = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, maxClients: 200,
    onData(stream, _session, cb) {
      let head = '';
      stream.on('data', (c: Buffer) => { if (head.length < 16_384) head += c.toString('latin1'); });
      stream.on('end', () => {
        const at = clockMs();
        const m = /^X-Postgate-Message:\s*([0-9a-f-]{36})/im.exec(head);
        if (m) { accepted.set(m[1], at); waiters.get(m[1])?.(); }
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.send?.({ port: (server.server.address() as net.AddressInfo).port });
  process.on('message', (req: PhaseRequest) => { void phase(req, accepted, waiters).then((r) => process.send?.(r)); });
}

async function post(req: PhaseRequest, i: number): Promise<{ id: string; at: number; ms: number } | string> {
  const t0 = clockMs();
  const res = await fetch(`${req.url}/api/invoices`, {
    method: 'POST', headers: { authorization: `Bearer ${req.key}`, 'content-type': 'application/json' }, body: invoiceBody(`${req.prefix}-${i}`, i),
  });
  const at = clockMs();
  const body = await res.json() as { id?: string };
  return res.status === 202 && body.id ? { id: body.id, at, ms: at - t0 } : `HTTP ${res.status}`;
}

async function phase(req: PhaseRequest, accepted: Map<string, number>, waiters: Map<string, () => void>): Promise<PhaseResult> {
  const total = req.sequential ? req.rate : Math.round(req.rate * req.seconds);
  const started = clockMs();
  const inflight: Promise<{ id: string; at: number; ms: number } | string>[] = [];
  for (let i = 0; i < total; i++) {
    if (req.sequential) {
      const r = await post(req, i);
      if (typeof r !== 'string' && !accepted.has(r.id)) await new Promise<void>((resolve) => { waiters.set(r.id, resolve); setTimeout(resolve, 10_000); });
      inflight.push(Promise.resolve(r));
      continue;
    }
    const wait = started + (i * 1000) / req.rate - clockMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(post(req, i).catch((err: Error) => err.message));
  }
  const results = await Promise.all(inflight);
  const ok = results.filter((r): r is { id: string; at: number; ms: number } => typeof r !== 'string');
  const deadline = clockMs() + 60_000;
  while (ok.some((r) => !accepted.has(r.id)) && clockMs() < deadline) await new Promise((r) => setTimeout(r, 20));
  const done = ok.filter((r) => accepted.has(r.id));
  return {
    total, answered: ok.length, delivered: done.length, firstPostAt: started,
    lastAcceptAt: Math.max(...done.map((r) => accepted.get(r.id) as number)),
    latencies: done.map((r) => (accepted.get(r.id) as number) - r.at), requestMs: ok.map((r) => r.ms),
    errors: [...new Set(results.filter((r): r is string => typeof r === 'string'))].slice(0, 5),
  };
}

class Client {
  private constructor(private readonly child: ChildProcess, readonly smtpUrl: string) {}

  static async start(): Promise<Client> {
    const child = fork(SELF, [CHILD_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
    return new Client(child, `smtp://127.0.0.1:${port}`);
  }

  run(req: Omit<PhaseRequest, 'cmd'>): Promise<PhaseResult> {
    return new Promise((resolve) => { this.child.once('message', (m: PhaseResult) => resolve(m)); this.child.send({ cmd: 'phase', ...req }); });
  }

  stop(): void { this.child.kill('SIGTERM'); }
}

// ---- CPU of PostgreSQL ---------------------------------------------------------------------------

const TICK_MS = 10; // USER_HZ 100 on Linux

/** CPU ms used so far by the postmaster whose data directory is `dir`, and its live children (/proc). */
async function postgresCpuMs(dir: string): Promise<number> {
  const stats: { pid: number; ppid: number; ms: number; cmd: string }[] = [];
  for (const p of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = (await readFile(`/proc/${p}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      stats.push({ pid: Number(p), ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * TICK_MS, cmd });
    } catch { /* gone */ }
  }
  const master = stats.find((s) => s.cmd.includes(dir) && /postgres/.test(s.cmd));
  if (!master) return NaN;
  return stats.filter((s) => s.pid === master.pid || s.ppid === master.pid).reduce((a, s) => a + s.ms, 0);
}

/** CPU ms used so far by process `pid` (/proc; NaN once it is gone). */
async function pidCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch { return NaN; }
}

// ---- worker-role processes (TX_BENCH_WORKERS) ----------------------------------------------------

/** The child: a Postgate with the worker role only, on the bench's configuration; stops on any message. */
async function runWorker(): Promise<void> {
  const config = loadConfig({}, JSON.parse(process.env.TX_BENCH_WORKER_CONFIG ?? '{}') as Partial<RawConfig>);
  const app = await startPostgate(config, { web: false, worker: true, inbound: false }, { log: createLogger('silent', false) });
  process.once('message', () => { void app.stop().then(() => process.exit(0)); });
  process.send?.({ ready: true });
}

/** Starts one worker-role process and waits until it is sending. */
async function startWorker(raw: Partial<RawConfig>): Promise<ChildProcess> {
  const child = fork(SELF, [WORKER_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, TX_BENCH_WORKER_CONFIG: JSON.stringify(raw) } });
  await new Promise<void>((resolve, reject) => { child.once('message', () => resolve()); child.once('exit', (code) => reject(new Error(`bench worker exited (${code})`))); });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

// ---- figures -------------------------------------------------------------------------------------

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(label: string, values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${v.toFixed(1)} ms`;
  return `${label}: n=${s.length} p50=${f(pct(s, 50))} p95=${f(pct(s, 95))} p99=${f(pct(s, 99))} max=${f(s[s.length - 1] ?? NaN)}`;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

interface Rig { app: Postgate; client: Client; key: string; pgDir: string; workers: ChildProcess[] }

/** CPU ms used so far by the worker-role processes. */
async function workersCpuMs(rig: Rig): Promise<number> {
  let ms = 0;
  for (const w of rig.workers) ms += await pidCpuMs(w.pid as number);
  return ms;
}

/**
 * Round trips to PostgreSQL from now until stop(): every query a pg client of this process sends (the
 * LISTEN connections' too), `commits` the COMMITs among them, `kinds` counted by the statement's first 60 characters.
 */
function countQueries(): { kinds: Map<string, number>; stop(): { queries: number; commits: number } } {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  let queries = 0;
  const kinds = new Map<string, number>();
  proto.query = function counted(this: unknown, ...args: unknown[]) {
    queries++;
    const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: unknown } | null)?.text ?? '?');
    const k = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
    return query.apply(this, args);
  };
  return { kinds, stop: () => { proto.query = query; return { queries, commits: kinds.get('COMMIT') ?? 0 }; } };
}

/** One open-loop phase at `rate` per second: latencies, achieved rate, CPU and round trips per invoice. */
async function ratePhase(rig: Rig, rate: number, prefix: string): Promise<void> {
  const pg0 = await postgresCpuMs(rig.pgDir);
  const w0 = await workersCpuMs(rig);
  const cpu0 = process.cpuUsage();
  const counter = countQueries();
  const r = await rig.client.run({ url: rig.app.url as string, key: rig.key, rate, seconds: SECONDS, prefix, sequential: false });
  const cpu = cpuMs(process.cpuUsage(cpu0));
  const { queries, commits } = counter.stop();
  const workersMs = (await workersCpuMs(rig)) - w0;
  const pgMs = (await postgresCpuMs(rig.pgDir)) - pg0;
  const lat = [...r.latencies].sort((a, b) => a - b);
  const achieved = r.delivered / ((r.lastAcceptAt - r.firstPostAt) / 1000);
  console.log(`${r.total} invoices at ${rate}/s over ${SECONDS} s: ${r.answered} answered 202, ${r.delivered} delivered; achieved ${achieved.toFixed(1)}/s${r.errors.length ? `; errors: ${r.errors.join(', ')}` : ''}`);
  console.log(summary('  202 → SMTP acceptance', lat));
  console.log(summary('  POST /api/invoices → 202', r.requestMs));
  const split = rig.workers.length ? ` (web ${(cpu / r.total).toFixed(2)}, ${rig.workers.length} worker${rig.workers.length > 1 ? 's' : ''} ${(workersMs / r.total).toFixed(2)})` : '';
  console.log(`  CPU per invoice: Postgate process${rig.workers.length ? 'es' : ''} ${((cpu + workersMs) / r.total).toFixed(2)} ms${split}, PostgreSQL ${(pgMs / r.total).toFixed(2)} ms`);
  // Group commit of requests and batched sending: fewer statements and commits per invoice as the rate grows.
  // Counted in this process: with worker processes, the web role's only.
  console.log(`  PostgreSQL per invoice${rig.workers.length ? ' (web role only)' : ''}: ${(queries / r.total).toFixed(2)} round trips, ${(commits / r.total).toFixed(2)} commits`);
  const ok = r.delivered === r.total && pct(lat, 95) < 1000;
  console.log(`  p95 < 1 s with every invoice delivered: ${ok ? 'met' : 'NOT met'}`);
}

/**
 * nodemailer's build alone and build + DKIM of one captured invoice, CPU ms each (mean of n). A
 * message composed as finished `raw` bytes (the pre-encoded builder signs in compose) is built and
 * signed inside the compose stage: then both are 0 here and compose holds them.
 */
async function buildAndDkim(mail: SendMailOptions, n: number): Promise<{ build: number; dkim: number }> {
  if (mail.raw) return { build: 0, dkim: 0 };
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const { dkim: _dkim, ...plain } = mail as SendMailOptions & { dkim?: unknown };
  const time = async (m: SendMailOptions) => {
    await transport.sendMail(m);
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await transport.sendMail(m);
    return cpuMs(process.cpuUsage(t0)) / n;
  };
  const build = await time(plain);
  return { build, dkim: (await time(mail)) - build };
}

/** One invoice in flight at a time; this process's CPU charged to the stage running. */
async function splitPhase(rig: Rig, captured: SendMailOptions[]): Promise<void> {
  const server = rig.app.httpServer as import('node:http').Server;
  const [listener] = server.listeners('request') as ((req: unknown, res: import('node:http').ServerResponse) => void)[];
  const wrapped = (req: unknown, res: import('node:http').ServerResponse) => { enterStage('http'); res.once('finish', () => enterStage('other')); listener(req, res); };
  server.removeListener('request', listener);
  server.on('request', wrapped);
  const counter = countQueries();
  const { kinds } = counter;
  startStageClock();
  const cpu0 = process.cpuUsage();
  const r = await rig.client.run({ url: rig.app.url as string, key: rig.key, rate: SPLIT_N, seconds: 0, prefix: 'S', sequential: true });
  const total = cpuMs(process.cpuUsage(cpu0));
  const micros = stopStageClock();
  const queries = counter.stop().queries;
  server.removeListener('request', wrapped);
  server.on('request', listener);
  const per = (s: Stage) => micros[s] / 1000 / r.total;
  const { build, dkim } = captured[0] ? await buildAndDkim(captured[0], 200) : { build: NaN, dkim: NaN };
  const raw = Boolean(captured[0]?.raw);
  console.log(`stage split (sequential, ${r.delivered}/${r.total} delivered; CPU ms per invoice of the Postgate process, total ${(total / r.total).toFixed(2)}):`);
  const rows: [string, number][] = [
    ['HTTP and validation (auth, body, zod, response)', per('http')],
    ['ledger transaction (request: contact, enqueue)', per('ledger')],
    ['claim (dispatcher)', per('claim')],
    ['prepare (message, tenant, facts, markSendingMany)', per('prepare')],
    ['render', per('render')],
    [raw ? 'compose (headers, VERP, MIME build and DKIM: raw)' : 'compose (headers, VERP)', per('compose')],
    ...(raw ? [] : [['nodemailer MIME build (measured apart)', build], ['DKIM (measured apart)', dkim]] as [string, number][]),
    ['SMTP (hand-over, less build and DKIM)', per('smtp') - build - dkim],
    ['record outcome (sent, body, dequeue)', per('record')],
    ['other (timers, wake-ups, between stages)', per('other')],
  ];
  for (const [label, ms] of rows) console.log(`  ${label.padEnd(50)} ${ms.toFixed(3)} ms`);
  console.log(`  PostgreSQL round trips per invoice: ${(queries / r.total).toFixed(1)}; the most frequent statements:`);
  for (const [k, n] of [...kinds].sort((x, y) => y[1] - x[1]).slice(0, Number(env('TX_BENCH_SHOW_SQL', '0')))) console.log(`    ${(n / r.total).toFixed(2)}  ${k}`);
  console.log(summary('  202 → SMTP (sequential)', r.latencies));
}

export default async function bench(): Promise<void> {
  const db = await startBenchPostgres('bench');
  const client = await Client.start();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-'));
  const raw: Partial<RawConfig> = {
    DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: 0, PUBLIC_URL: 'https://postgate.bench', SMTP_URL: client.smtpUrl,
    LOG_LEVEL: 'silent', TOKEN_KEYS: 'k1:bench-secret-key-0123456789', INBOUND_SMTP_PORT: 0,
    BOUNCE_DOMAIN: 'bounces.postgate.bench', SMTP_REQUIRE_TLS: false, // the bench sink is plain SMTP
    ...optionalInt('TX_BENCH_SEND_CONCURRENCY'), ...optionalInt('TX_BENCH_SMTP_POOL_SIZE'),
  };
  const config = loadConfig({}, raw);
  const app = await startPostgate(config, { web: true, worker: WORKERS === 0, inbound: false }, { log: createLogger('silent', false) });
  const workers: ChildProcess[] = [];
  const captured: SendMailOptions[] = [];
  const send = app.deps.mailer.send.bind(app.deps.mailer);
  app.deps.mailer.send = (m) => { if (!captured.length) captured.push(m); return send(m); }; // keeps one composed invoice for the build/DKIM split
  try {
    const tenantId = randomUUID();
    await createTenant(app.deps.db, { name: 'Bench', fromEmail: 'billing@bench.org', fromName: 'Bench', replyTo: 'help@bench.org', postalAddress: '1 Main St' }, tenantId);
    const pair = await generateDkimKey();
    await app.deps.db.withTenant(tenantId, async (c) => {
      await vouchDomain(c, tenantId, 'bench.org'); // the operator vouches (sending domains)
      await insertDkimKey(c, tenantId, 'bench.org', 'bench', pair, { activate: true });
    });
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    await owner.query('UPDATE tenants SET require_dkim = true WHERE id = $1', [tenantId]);
    await owner.end();
    const { key } = await app.deps.db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['transactional']));
    await app.deps.db.withTenant(tenantId, async (c) => {
      for (let i = 0; i < CONTACTS; i++) await upsertContact(c, tenantId, { email: `buyer${i}@example.org`, name: `Buyer ${i}`, attributes: {} });
    });
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorker(raw));
    const rig: Rig = { app, client, key, pgDir: db.dir, workers };
    console.log(`${os.availableParallelism()} cores; DKIM RSA-2048; SEND_CONCURRENCY ${config.SEND_CONCURRENCY}, SMTP_POOL_SIZE ${config.SMTP_POOL_SIZE}; `
      + (WORKERS ? `web role in this process, ${WORKERS} worker-role process${WORKERS > 1 ? 'es' : ''}` : 'web and worker roles in this process'));
    // Warm-up (connections, template compilation, JIT), not measured.
    await client.run({ url: app.url as string, key, rate: 20, seconds: 0, prefix: 'W', sequential: true });
    if (!WORKERS && !captured[0]?.dkim && !/^DKIM-Signature:/im.test(String(captured[0]?.raw ?? ''))) console.log('  (warning: the captured invoice is not DKIM-signed)');
    for (const rate of RATES) await ratePhase(rig, rate, `R${rate}`);
    if (SPLIT_N > 0 && !WORKERS) await splitPhase(rig, captured);
  } finally {
    await Promise.all(workers.map(stopWorker));
    await app.stop();
    client.stop();
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes(CHILD_FLAG)) void runClient();
if (process.argv.includes(WORKER_FLAG)) void runWorker();

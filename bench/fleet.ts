// Shared by the scale-out benchmarks (workers.bench.ts, million.bench.ts): a counting SMTP sink in a
// child process that tallies every recipient (duplicates, losses, strays), the campaign set-up through
// the owner connection (a tenant with DKIM, N subscribed contacts loaded by generate_series), a
// controller Postgate (migrations, pg-boss, no worker role) that materialises and starts campaigns,
// real `postgate worker` processes, and /proc sampling of CPU time and RSS per process kind.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../src/config.js';
import { startPostgate, type Postgate } from '../src/main.js';
import type { Db } from '../src/platform/db.js';
import { createLogger } from '../src/platform/log.js';
import { QUEUES } from '../src/platform/queue.js';
import { createTenant } from '../src/tenants/store.js';
import { generateDkimKey, insertDkimKey } from '../src/tenants/dkim.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { applyCampaignEvent, getCampaign, insertCampaign, type Campaign } from '../src/campaigns/campaigns-store.js';
import { insertTemplate } from '../src/campaigns/templates-store.js';
import { startProcess, TEST_TOKEN_KEYS, type PostgateProcess } from '../test/support/processes.js';

const SELF = fileURLToPath(import.meta.url);
const SINK_FLAG = '--fleet-bench-sink';
/** Recipients are reader<i>@inbox.example, i = 1..N (the sink counts them by i). */
const RECIPIENT = /^reader(\d+)@inbox\.example$/;

import { NEWSLETTER_MJML } from './newsletter.js';

// ---- the counting sink (child process) ---------------------------------------------------------

/** What the sink saw since its last `expect`: messages, recipients by index, and the first and last accept (epoch ms). */
export interface SinkTally { messages: number; distinct: number; duplicates: number; strays: number; losses: number; first: number; last: number }

function runCountingSink(): void {
  let counts = new Uint8Array(1);
  let tally: SinkTally = { messages: 0, distinct: 0, duplicates: 0, strays: 0, losses: 0, first: 0, last: 0 };
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, size: 50 * 1024 * 1024, maxClients: 200,
    onData(stream, session, cb) {
      stream.on('end', () => {
        const now = Date.now();
        tally.messages++; tally.last = now; if (!tally.first) tally.first = now;
        for (const r of session.envelope.rcptTo) {
          const i = Number(RECIPIENT.exec(r.address.toLowerCase())?.[1] ?? 0);
          if (i < 1 || i >= counts.length) { tally.strays++; continue; }
          if (counts[i] === 0) tally.distinct++; else tally.duplicates++;
          if (counts[i] < 255) counts[i]++;
        }
        cb();
      });
      stream.resume();
    },
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.server.address() as net.AddressInfo).port }));
  process.on('message', (m: { cmd: 'expect' | 'tally'; n?: number }) => {
    if (m.cmd === 'expect') {
      counts = new Uint8Array((m.n ?? 0) + 1);
      tally = { messages: 0, distinct: 0, duplicates: 0, strays: 0, losses: 0, first: 0, last: 0 };
    }
    process.send?.({ ...tally, losses: counts.length - 1 - tally.distinct });
  });
}

/** The counting sink's handle: `expect(n)` resets it for recipients 1..n; `tally()` reads it. */
export class CountingSink {
  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  get pid(): number { return this.child.pid as number; }

  static async start(): Promise<CountingSink> {
    const child = fork(SELF, [SINK_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
    return new CountingSink(child, `smtp://127.0.0.1:${port}`);
  }

  private ask(cmd: 'expect' | 'tally', n?: number): Promise<SinkTally> {
    return new Promise((resolve) => { this.child.once('message', (m: SinkTally) => resolve(m)); this.child.send({ cmd, n }); });
  }

  expect(n: number): Promise<SinkTally> { return this.ask('expect', n); }
  tally(): Promise<SinkTally> { return this.ask('tally'); }

  /** Waits until `n` distinct recipients arrived; throws after `timeoutMs` naming how many did. */
  async waitFor(n: number, timeoutMs: number): Promise<SinkTally> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const t = await this.tally();
      if (t.distinct >= n) return t;
      if (Date.now() > until) throw new Error(`sink got ${t.distinct} of ${n} recipients`);
      await sleep(100); // the sink stamps its last accept itself: the poll only ends the wait
    }
  }

  stop(): void { this.child.kill('SIGTERM'); }
}

// ---- database set-up -------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One statement (or several, in one session) as the owner (superuser of the bench cluster). */
export async function owner<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query<T>(sql, params)).rows; } finally { await c.end(); }
}

/** A controller Postgate: migrates the cluster and starts pg-boss, runs no worker, web or inbound role. */
export async function startController(ownerUrl: string, smtpUrl: string, dataDir: string): Promise<Postgate> {
  const config = loadConfig({}, {
    DATABASE_URL: ownerUrl, SMTP_URL: smtpUrl, DATA_DIR: dataDir, PORT: 0, INBOUND_SMTP_PORT: 0, LOG_LEVEL: 'error',
    PUBLIC_URL: 'https://postgate.test', TOKEN_KEYS: TEST_TOKEN_KEYS, BOUNCE_DOMAIN: 'bounces.postgate.test', SMTP_REQUIRE_TLS: false,
  });
  return startPostgate(config, { web: false, worker: false, inbound: false }, { log: createLogger('error', false) });
}

export interface Audience { tenantId: string; listId: string }

/**
 * A tenant that requires DKIM (RSA-2048 key active) with `n` subscribed contacts
 * reader1..readerN@inbox.example on its default list, loaded by generate_series in statements of
 * `step` rows as the owner. Returns the tenant and its list.
 */
export async function prepareAudience(db: Db, ownerUrl: string, n: number, step = 200_000): Promise<Audience> {
  const tenantId = randomUUID();
  await createTenant(db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org', postalAddress: 'Acme Ltd, 1 Main St, Springfield' }, tenantId);
  const pair = await generateDkimKey();
  await db.withTenant(tenantId, async (c) => { await vouchDomain(c, tenantId, 'acme.org'); await insertDkimKey(c, tenantId, 'acme.org', 'bench', pair, { activate: true }); });
  await owner(ownerUrl, 'UPDATE tenants SET require_dkim = true, send_rate_per_second = 100000 WHERE id = $1', [tenantId]);
  const listId = (await owner<{ id: string }>(ownerUrl, 'SELECT id FROM lists WHERE tenant_id = $1 AND is_default', [tenantId]))[0].id;
  for (let from = 1; from <= n; from += step) {
    await owner(ownerUrl, `WITH c AS (INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status, verified_at)
        SELECT $1, 'reader' || i || '@inbox.example', 'reader' || i || '@inbox.example', 'Reader ' || i,
          jsonb_build_object('city', 'City ' || (i % 50)), 'active', now() FROM generate_series($3::int, $4::int) AS i RETURNING id)
      INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, c.id, $2, 'subscribed' FROM c`,
    [tenantId, listId, from, Math.min(n, from + step - 1)]);
  }
  await owner(ownerUrl, 'ANALYZE');
  return { tenantId, listId };
}

/** A draft campaign of the newsletter to the audience's list; returns it. */
export async function createCampaign(db: Db, a: Audience): Promise<Campaign> {
  return db.withTenant(a.tenantId, async (c) => {
    const t = await insertTemplate(c, a.tenantId, `Weekly ${randomUUID().slice(0, 8)}`, { mjml: NEWSLETTER_MJML, subject: 'Your weekly digest, {{name}}', text: null });
    return insertCampaign(c, a.tenantId, { name: 'Weekly digest', subject: t.subject, templateId: t.id, templateVersion: 1, listIds: [a.listId], replyTo: null, sendAt: null });
  });
}

/** Marks the campaign running (the API's 'start'); returns the running campaign. */
export async function markRunning(db: Db, c: Campaign): Promise<Campaign> {
  const running = await db.withTenant(c.tenantId, (tx) => applyCampaignEvent(tx, c.id, { type: 'start' }));
  if (!running) throw new Error('campaign did not start');
  return running;
}

/** Queues the campaign's start job (a worker fans out its drains; the audience is materialised already or then). */
export async function queueStart(p: Postgate, c: Campaign): Promise<void> {
  await p.deps.boss.send(QUEUES.campaignStart, { tenantId: c.tenantId, campaignId: c.id });
}

/** The campaign's status as the ledger's owner module sees it. */
export async function campaignStatus(db: Db, c: Campaign): Promise<string> {
  return db.withTenant(c.tenantId, async (tx) => (await getCampaign(tx, c.id))?.status ?? 'missing');
}

/** Ledger rows of the campaign by status (owner connection: a count, no personal data). */
export async function ledgerCounts(ownerUrl: string, campaignId: string): Promise<Record<string, number>> {
  const rows = await owner<{ status: string; n: number }>(ownerUrl, 'SELECT status, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY status', [campaignId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** `postgate worker` processes (bin/postgate.js, as test/support/processes.ts starts them) relaying to the sink. */
export async function startWorkers(n: number, ownerUrl: string, smtpUrl: string, env: Record<string, string> = {}): Promise<PostgateProcess[]> {
  const out: PostgateProcess[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await startProcess('worker', { databaseUrl: ownerUrl, smtpUrl, timeoutMs: 120_000, env: { SMTP_POOL_SIZE: '5', LOG_LEVEL: 'warn', ...env } }));
  }
  return out;
}

// ---- /proc sampling ---------------------------------------------------------------------------------

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds (0 when it is gone). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch { return 0; }
}

/** Resident set size (VmRSS) and its peak (VmHWM) in bytes; zeros when the process is gone. */
export async function rssOf(pid: number): Promise<{ rss: number; hwm: number }> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch { return { rss: 0, hwm: 0 }; }
}

/** The postmaster of a cluster folder and every process it forked (backends, checkpointer, WAL writer, …). */
export async function postgresPids(clusterDir: string): Promise<number[]> {
  const postmaster = Number((await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children = await readFile(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').catch(() => '');
  return [postmaster, ...children.split(' ').filter(Boolean).map(Number)];
}

export type PidSource = () => number[] | Promise<number[]>;

/**
 * CPU seconds per process kind over a window: every `everyMs` each kind's processes are read from
 * /proc and each pid's growth since it was first seen in the window is kept (a process that ends
 * loses its last interval; one born in the window counts from its birth).
 */
export class CpuSampler {
  private readonly first = new Map<string, Map<number, number>>();
  private readonly last = new Map<string, Map<number, number>>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private t0 = 0;
  private t1 = 0;

  constructor(private readonly kinds: Record<string, PidSource>, private readonly everyMs = 500) {}

  async start(): Promise<void> {
    this.t0 = Date.now();
    await this.sample(true);
    this.timer = setInterval(() => { if (!this.busy) void this.sample(false); }, this.everyMs);
  }

  private async sample(initial: boolean): Promise<void> {
    this.busy = true;
    try {
      for (const [kind, source] of Object.entries(this.kinds)) {
        const first = this.first.get(kind) ?? new Map<number, number>();
        const last = this.last.get(kind) ?? new Map<number, number>();
        for (const pid of await source()) {
          const s = await cpuSecondsOf(pid);
          if (s === 0 && !last.has(pid)) continue;
          if (!first.has(pid)) first.set(pid, initial ? s : 0);
          if (s > 0) last.set(pid, s);
        }
        this.first.set(kind, first);
        this.last.set(kind, last);
      }
    } finally { this.busy = false; }
  }

  /** Stops sampling; CPU seconds per kind and the wall seconds of the window. */
  async stop(): Promise<{ wall: number; cpu: Record<string, number> }> {
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await sleep(10);
    await this.sample(false);
    this.t1 = Date.now();
    const cpu: Record<string, number> = {};
    for (const kind of Object.keys(this.kinds)) {
      const first = this.first.get(kind) ?? new Map<number, number>();
      let total = 0;
      for (const [pid, s] of this.last.get(kind) ?? []) total += s - (first.get(pid) ?? 0);
      cpu[kind] = total;
    }
    return { wall: (this.t1 - this.t0) / 1000, cpu };
  }
}

/** "node workers 1.52 cores (61 %), postgres 0.8 cores (32 %), …": CPU per kind as cores used and share of all CPU used. */
export function cpuSplit(r: { wall: number; cpu: Record<string, number> }): string {
  const all = Object.values(r.cpu).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(r.cpu).map(([k, s]) => `${k} ${(s / r.wall).toFixed(2)} cores (${((s / all) * 100).toFixed(0)} %)`).join(', ');
}

export const cores = (): number => os.availableParallelism();
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

if (process.argv[2] === SINK_FLAG) runCountingSink();

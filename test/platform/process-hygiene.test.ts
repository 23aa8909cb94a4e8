// Process hygiene of the real `postgate start` on the embedded PostgreSQL, seen from outside as a
// terminal, a process manager and an operator see it: Ctrl-C (SIGINT to the whole foreground process
// group, through `npm start`) and SIGTERM during a running campaign whose relay is slow stop in < 5 s
// without a warning storm and leave no process behind (read from /proc); claimed mail is deferred,
// never left 'sending'; a second Ctrl-C exits at once; a start that fails (port taken) stops the
// database it started and says so in one line; a start after a crash adopts the database the dead
// run left behind and stops it at the end; a stale postmaster.pid does not stop a start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';
import { startEmbeddedPostgres } from '../../src/platform/embedded-postgres.js';
import { createLogger } from '../../src/platform/log.js';
import { readPostmasterLock } from '../../src/platform/postmaster.js';
import { audience, NEWSLETTER_MJML } from '../support/given.js';
import { TEST_TOKEN_KEYS } from '../support/processes.js';
import { sleep, waitFor } from '../support/wait.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const bin = path.join(root, 'bin', 'postgate.js');
/** The bound the issue sets for a stop during a campaign. */
const STOP_BOUND_MS = 5000;
/** More than this many warn-or-worse log lines after a signal is a warning storm (one for a slow relay's aborted sends is fine). */
const MAX_WARN_LINES = 3;

let base: string;
let dataDir: string;
let sink: SlowSink;

// ---------- the process table (/proc) ----------

interface Proc { pid: number; ppid: number; pgid: number; args: string }

function processTable(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue; // exited, not yet reaped: not running
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), ppid: Number(f[1]), pgid: Number(f[2]), args });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** The postmaster of DATA_DIR and the server processes it runs (its children), as they are now. */
function databaseProcesses(): Proc[] {
  const table = processTable();
  const masters = table.filter((p) => p.args.includes(path.join(dataDir, 'pg')));
  return [...masters, ...table.filter((p) => masters.some((m) => m.pid === p.ppid))];
}

/** Processes still running out of those seen, plus any in the given process groups or naming DATA_DIR. */
function leftovers(seen: Proc[], groups: number[]): Proc[] {
  return processTable().filter((p) => seen.some((s) => s.pid === p.pid) || groups.includes(p.pgid) || p.args.includes(dataDir));
}

// ---------- a relay that takes a minute to answer DATA ----------

interface SlowSink { port: number; dataStarted: () => number; close(): Promise<void> }

async function slowSink(delayMs: number): Promise<SlowSink> {
  let started = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, closeTimeout: 100,
    onData(stream, _session, cb) {
      started++;
      stream.resume();
      stream.on('end', () => { setTimeout(() => cb(), delayMs).unref(); });
    },
  });
  server.on('error', () => undefined); // clients closed mid-DATA (the aborts under test)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.server.address() as net.AddressInfo).port,
    dataStarted: () => started,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------- the service ----------

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/**
 * The environment of `postgate` for this file's DATA_DIR: nothing inherited from the runner's
 * configuration. HYGIENE_LOG=debug shows each stop step with its time (stopParts in src/main.ts).
 */
function envFor(port: number, relayed = true): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(configSchema.shape)) delete env[k];
  return {
    ...env, DATA_DIR: dataDir, PORT: String(port), INBOUND_SMTP_PORT: '0', LOG_LEVEL: process.env.HYGIENE_LOG ?? 'info', TOKEN_KEYS: TEST_TOKEN_KEYS,
    PUBLIC_URL: 'https://postgate.test', BOUNCE_DOMAIN: 'bounces.postgate.test', RETRY_BASE_SECONDS: '0.2', SEND_LEASE_SECONDS: '10',
    ...(relayed ? { SMTP_URL: `smtp://127.0.0.1:${sink.port}`, SMTP_REQUIRE_TLS: 'false' } : {}),
  };
}

interface Service {
  child: ChildProcess; port: number; output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Spawns `postgate start` (or `npm start`) as a terminal would: the leader of a process group of its
 * own (detached), so the test can signal the whole group as Ctrl-C does.
 */
function spawnService(via: 'node' | 'npm', env: NodeJS.ProcessEnv, port: number): Service {
  const child = via === 'npm'
    ? spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [bin, 'start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  return { child, port, output: () => out, exited };
}

async function startService(via: 'node' | 'npm' = 'node', relayed = true): Promise<Service> {
  const port = await freePort();
  const svc = spawnService(via, envFor(port, relayed), port);
  await waitFor(() => {
    if (svc.output().includes('Postgate is running')) return true;
    if (svc.child.exitCode !== null) throw new Error(`exited early: ${svc.output()}`);
    return false;
  }, { timeout: 90_000, interval: 100, message: () => `no start banner: ${svc.output()}` });
  return svc;
}

/** Prints what was measured (kept in the run's output, for the issue's figures). */
function report(label: string, figures: Record<string, unknown>): void {
  console.log(`[process-hygiene] ${label}: ${Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`);
}

/** pino's JSON lines at warn or worse in `text`. */
function warnLines(text: string): string[] {
  return text.split('\n').filter((l) => { try { return (JSON.parse(l) as { level?: number }).level! >= 40; } catch { return false; } });
}

/** The superuser URL of the embedded cluster (DATA_DIR/pg.json), to look at the ledger from outside. */
async function ownerUrl(): Promise<string> {
  const saved = JSON.parse(await readFile(path.join(dataDir, 'pg.json'), 'utf8')) as { password: string; port: number };
  const port = readPostmasterLock(path.join(dataDir, 'pg'))?.port ?? saved.port;
  return `postgres://postgres:${encodeURIComponent(saved.password)}@127.0.0.1:${port}/postgate`;
}

/** The parts of API answers this file reads. */
interface Answer { id?: string; items?: { id: string; isDefault: boolean }[] }

async function api(svc: Service, key: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: Answer | null }> {
  const res = await fetch(`http://127.0.0.1:${svc.port}${p}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as Answer | null };
}

let campaignId = '';

/** A tenant made with the CLI while the service runs, 3 000 subscribers, a template, a campaign started. */
async function startCampaign(svc: Service): Promise<void> {
  const before = readPostmasterLock(path.join(dataDir, 'pg'))?.pid;
  const made = spawnSync(process.execPath, [bin, 'tenant', 'create', '--name', 'Hygiene', '--from-email', 'news@postgate-hygiene.org',
    '--from-name', 'Hygiene', '--reply-to', 'hello@postgate-hygiene.org', '--postal-address', '1 Main St, Town', '--json'],
  { cwd: root, env: { ...envFor(svc.port), LOG_LEVEL: 'warn' }, encoding: 'utf8' });
  expect(made.status, made.stderr).toBe(0);
  // The CLI used the cluster the service owns and left it running.
  expect(readPostmasterLock(path.join(dataDir, 'pg'))?.pid).toBe(before);
  expect((await fetch(`http://127.0.0.1:${svc.port}/readyz`)).status).toBe(200);
  const { tenantId, apiKey } = JSON.parse(made.stdout) as { tenantId: string; apiKey: string };
  const lists = await api(svc, apiKey, 'GET', '/api/lists');
  const listId = lists.body!.items!.find((l) => l.isDefault)!.id;
  await audience(await ownerUrl(), tenantId, { prefix: 'reader', n: 3000, listId });
  const tpl = await api(svc, apiKey, 'POST', '/api/templates', { name: 'News', mjml: NEWSLETTER_MJML, subject: 'News for {{name}}' });
  expect(tpl.status, JSON.stringify(tpl.body)).toBe(201);
  const campaign = await api(svc, apiKey, 'POST', '/api/campaigns', { name: 'Long', subject: 'News', templateId: tpl.body!.id, listIds: [listId] });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  campaignId = campaign.body!.id!;
  const started = await api(svc, apiKey, 'POST', `/api/campaigns/${campaignId}/start`);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
}

/** Waits until `n` more messages are in DATA at the slow relay than before: sends in flight. */
async function sendsInFlight(svc: Service, n: number): Promise<void> {
  const from = sink.dataStarted();
  await waitFor(() => sink.dataStarted() >= from + n, { timeout: 60_000, interval: 50, message: () => `no sends in flight: ${svc.output().slice(-3000)}` });
}

/** Signals (the group, or the process), and measures how long until the process has exited. */
async function stopBy(svc: Service, signal: NodeJS.Signals, target: 'group' | 'process'): Promise<{ ms: number; code: number | null; after: string }> {
  const mark = svc.output().length;
  const t0 = Date.now();
  process.kill(target === 'group' ? -svc.child.pid! : svc.child.pid!, signal);
  const done = await Promise.race([svc.exited, sleep(30_000).then(() => null)]);
  if (!done) svc.child.kill('SIGKILL');
  return { ms: (done?.at ?? Date.now()) - t0, code: done?.code ?? null, after: svc.output().slice(mark) };
}

async function messageStatuses(): Promise<Record<string, number>> {
  const handle = await startEmbeddedPostgres(dataDir, createLogger('silent', false));
  try {
    const client = new pg.Client({ connectionString: handle.url });
    await client.connect();
    try {
      const rows = (await client.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY status', [campaignId])).rows;
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    } finally { await client.end(); }
  } finally {
    await handle.stop();
  }
}

beforeAll(async () => {
  // Run as root, PostgreSQL runs as 'postgres', which must traverse the data directory's parents.
  base = await mkdtemp(path.join(os.tmpdir(), 'postgate-hygiene-'));
  await chmod(base, 0o711);
  dataDir = path.join(base, 'data');
  sink = await slowSink(60_000);
});

afterAll(async () => {
  for (const p of databaseProcesses()) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  await sink?.close();
  await rm(base, { recursive: true, force: true });
});

describe('postgate start and its embedded PostgreSQL', () => {
  it('Ctrl-C on `npm start` during a campaign stops within 5 s, without a warning storm, leaving no process; claimed mail is deferred', async () => {
    const svc = await startService('npm');
    // The database runs in a process group of its own: a terminal's Ctrl-C does not reach it.
    const db = databaseProcesses();
    expect(db.length).toBeGreaterThan(0);
    expect(db.every((p) => p.pgid !== svc.child.pid)).toBe(true);
    await startCampaign(svc);
    await sendsInFlight(svc, 3);
    const seen = [...databaseProcesses(), ...processTable().filter((p) => p.pgid === svc.child.pid)];

    const stop = await stopBy(svc, 'SIGINT', 'group');
    expect(stop.ms, stop.after).toBeLessThan(STOP_BOUND_MS);
    expect(warnLines(stop.after).length, stop.after).toBeLessThanOrEqual(MAX_WARN_LINES);
    await waitFor(() => leftovers(seen, [svc.child.pid!]).length === 0, { timeout: 2000, message: () => JSON.stringify(leftovers(seen, [svc.child.pid!])) });

    // No row was left 'sending': the aborted sends were recorded (deferred) before the database stopped.
    const statuses = await messageStatuses();
    report('Ctrl-C (npm start, group SIGINT)', { stopMs: stop.ms, warnLines: warnLines(stop.after).length, inFlightAtRelay: sink.dataStarted(), statuses });
    expect(statuses.sending ?? 0, JSON.stringify(statuses)).toBe(0);
    expect(statuses.deferred ?? 0, JSON.stringify(statuses)).toBeGreaterThanOrEqual(3);
    expect(statuses.sent ?? 0).toBe(0);
    expect(databaseProcesses()).toEqual([]);
  }, 240_000);

  it('SIGTERM during the campaign stops within 5 s too, and leaves no process', async () => {
    const svc = await startService('node');
    await sendsInFlight(svc, 3); // the campaign goes on where it stopped
    const seen = databaseProcesses();
    const stop = await stopBy(svc, 'SIGTERM', 'process');
    report('SIGTERM', { stopMs: stop.ms, warnLines: warnLines(stop.after).length });
    expect(stop.code).toBe(0);
    expect(stop.ms, stop.after).toBeLessThan(STOP_BOUND_MS);
    expect(warnLines(stop.after).length, stop.after).toBeLessThanOrEqual(MAX_WARN_LINES);
    await waitFor(() => leftovers(seen, [svc.child.pid!]).length === 0, { timeout: 2000, message: () => JSON.stringify(leftovers(seen, [svc.child.pid!])) });
  }, 120_000);

  it('a second Ctrl-C exits at once, and the database still stops', async () => {
    const svc = await startService('node');
    await sendsInFlight(svc, 3);
    const seen = databaseProcesses();
    const t0 = Date.now();
    process.kill(-svc.child.pid!, 'SIGINT');
    await sleep(1200); // a person's second press (the stop is still waiting for the slow relay)
    expect(svc.child.exitCode).toBeNull();
    const t1 = Date.now();
    process.kill(-svc.child.pid!, 'SIGINT');
    const done = await svc.exited;
    report('second Ctrl-C', { exitAfterSecondMs: done.at - t1, code: done.code });
    expect(done.at - t1).toBeLessThan(1000);
    expect(done.at - t0).toBeLessThan(STOP_BOUND_MS);
    expect(done.code).toBe(130);
    await waitFor(() => leftovers(seen, [svc.child.pid!]).length === 0, { timeout: 5000, message: () => JSON.stringify(leftovers(seen, [svc.child.pid!])) });
  }, 120_000);

  it('a start that fails (the HTTP port is taken) says so in one line, exits non-zero and stops the database it started', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, () => resolve()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const svc = spawnService('node', envFor(port, false), port);
      let seen: Proc[] = [];
      const watching = setInterval(() => { const now = databaseProcesses(); if (now.length) seen = now; }, 50);
      const done = await Promise.race([svc.exited, sleep(90_000).then(() => null)]);
      clearInterval(watching);
      expect(done, svc.output()).not.toBeNull();
      report('port taken', { code: done!.code, stderr: svc.output().split('\n').filter((l) => l.startsWith('postgate:')) });
      expect(done!.code).not.toBe(0);
      expect(seen.length, 'the database was started').toBeGreaterThan(0);
      const stderr = svc.output().split('\n').filter((l) => l.startsWith('postgate:'));
      expect(stderr, svc.output()).toHaveLength(1);
      expect(stderr[0]).toMatch(new RegExp(`^postgate: cannot listen on port ${port} \\(PORT\\): it is already in use`));
      expect(warnLines(svc.output()), svc.output()).toEqual([]);
      expect(leftovers(seen, [svc.child.pid!])).toEqual([]);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('a start after a crash (the node process killed) adopts the database left running, and its stop leaves nothing', async () => {
    const crashed = await startService('node', false);
    const master = readPostmasterLock(path.join(dataDir, 'pg'))!.pid;
    process.kill(crashed.child.pid!, 'SIGKILL');
    await crashed.exited;
    await sleep(300);
    // Its own process group: the database outlived the process that started it.
    expect(databaseProcesses().map((p) => p.pid)).toContain(master);

    const next = await startService('node', false);
    expect(next.output()).toMatch(/adopting it/);
    expect(readPostmasterLock(path.join(dataDir, 'pg'))!.pid).toBe(master);
    const seen = databaseProcesses();
    const stop = await stopBy(next, 'SIGTERM', 'process');
    expect(stop.code).toBe(0);
    report('stop after adopting', { stopMs: stop.ms });
    expect(stop.ms, stop.after).toBeLessThan(STOP_BOUND_MS);
    await waitFor(() => leftovers(seen, [next.child.pid!]).length === 0, { timeout: 2000, message: () => JSON.stringify(leftovers(seen, [next.child.pid!])) });
  }, 180_000);

  it('a stale postmaster.pid whose pid now belongs to another process does not stop a start', async () => {
    expect(databaseProcesses()).toEqual([]);
    // A crash of the whole machine leaves the lock file; after a reboot its pid is some other process (here: this test).
    await writeFile(path.join(dataDir, 'pg', 'postmaster.pid'), `${process.pid}\n${path.join(dataDir, 'pg')}\n1700000000\n5433\n/tmp\n127.0.0.1\n  5433001   0\nready   \n`);
    const svc = await startService('node', false);
    expect(readPostmasterLock(path.join(dataDir, 'pg'))!.pid).not.toBe(process.pid);
    const seen = databaseProcesses();
    const stop = await stopBy(svc, 'SIGTERM', 'process');
    expect(stop.code).toBe(0);
    await waitFor(() => leftovers(seen, [svc.child.pid!]).length === 0, { timeout: 2000, message: () => JSON.stringify(leftovers(seen, [svc.child.pid!])) });
  }, 120_000);
});

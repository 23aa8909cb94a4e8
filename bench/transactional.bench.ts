// Invoice latency: from the API's 202 to the SMTP server's acceptance, at 20 requests per second.
// Starts its own embedded PostgreSQL (fsync off), a real Postgate (web + worker roles) and an SMTP
// sink over TCP, all in this process (one clock). Requests are fired open-loop on a fixed schedule;
// each message is matched at the sink by its X-Postgate-Message header (the ledger id the 202 returns).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBenchPostgres } from './support.js';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../src/config.js';
import { startPostgate } from '../src/main.js';
import { createLogger } from '../src/platform/log.js';
import { createTenant } from '../src/tenants/store.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { upsertContact } from '../src/consent/contacts.js';

const RATE = 20;            // requests per second
const SECONDS = 15;
const CONTACTS = 50;
const HEADROOM_RATE = 100;  // a second, informative phase: how it behaves at 5× the target rate
const HEADROOM_SECONDS = 5;

type Sent = { id: string; at: number; requestMs: number };
type Post = (i: number | string) => Promise<Sent | null>;

/** Fires rate × seconds invoices open-loop on a fixed schedule and reports 202 → SMTP acceptance. */
async function phase(post: Post, accepted: Map<string, number>, rate: number, seconds: number, prefix: string, target: boolean): Promise<void> {
  const total = rate * seconds;
  const started = performance.now();
  const inflight: Promise<Sent | null>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(post(`${prefix}${i}`));
  }
  const results = (await Promise.all(inflight)).filter((r): r is Sent => r !== null);
  const deadline = performance.now() + 30_000;
  while (results.some((r) => !accepted.has(r.id)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const latencies = results.filter((r) => accepted.has(r.id)).map((r) => (accepted.get(r.id) as number) - r.at).sort((a, b) => a - b);
  console.log(`${total} invoices at ${rate}/s over ${seconds} s; ${results.length} answered 202; ${latencies.length} accepted by the SMTP sink`);
  console.log(summary('  202 → SMTP acceptance', latencies));
  console.log(summary('  POST /api/invoices → 202', results.map((r) => r.requestMs)));
  if (target) {
    const ok = latencies.length === total && pct(latencies, 50) < 300 && pct(latencies, 95) < 1000;
    console.log(`  target p50 < 300 ms and p95 < 1 s with every message delivered: ${ok ? 'met' : 'NOT met'}`);
  }
}

/** A sink that notes when it accepted each message (end of DATA), keyed by X-Postgate-Message. */
async function startSink(onAccepted: (ledgerId: string, at: number) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const at = performance.now();
        const head = Buffer.concat(chunks).toString('latin1', 0, 64 * 1024);
        const m = /^X-Postgate-Message:\s*([0-9a-f-]{36})/im.exec(head);
        if (m) onAccepted(m[1], at);
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const fmt = (v: number) => `${v.toFixed(1)} ms`;

function summary(label: string, values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `${label}: n=${s.length} p50=${fmt(pct(s, 50))} p95=${fmt(pct(s, 95))} p99=${fmt(pct(s, 99))} max=${fmt(s[s.length - 1] ?? NaN)}`;
}

export default async function bench(): Promise<void> {
  const db = await startBenchPostgres('bench');
  const accepted = new Map<string, number>();
  const sink = await startSink((id, at) => accepted.set(id, at));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-'));
  const config = loadConfig({}, {
    DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: 0, PUBLIC_URL: 'https://postgate.bench', SMTP_URL: sink.url,
    LOG_LEVEL: 'silent', TOKEN_KEYS: 'k1:bench-secret-key-0123456789', INBOUND_SMTP_PORT: 0,
    BOUNCE_DOMAIN: 'bounces.postgate.bench', SMTP_REQUIRE_TLS: false, // the bench sink is plain SMTP
  });
  const app = await startPostgate(config, { web: true, worker: true, inbound: false }, { log: createLogger('silent', false) });
  try {
    const tenantId = randomUUID();
    await createTenant(app.deps.db, { name: 'Bench', fromEmail: 'billing@bench.org', fromName: 'Bench', replyTo: 'help@bench.org', postalAddress: '1 Main St' }, tenantId);
    await app.deps.db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'bench.org')); // the operator vouches (sending domains)
    const { key } = await app.deps.db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['transactional']));
    await app.deps.db.withTenant(tenantId, async (c) => {
      for (let i = 0; i < CONTACTS; i++) await upsertContact(c, tenantId, { email: `buyer${i}@example.org`, name: `Buyer ${i}`, attributes: {} });
    });
    const post: Post = async (i) => {
      const n = Math.abs(Number.parseInt(String(i).replace(/\D/g, ''), 10) || 0);
      const t0 = performance.now();
      const res = await fetch(`${app.url}/api/invoices`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          transactionId: `B-${i}`, contact: `buyer${n % CONTACTS}@example.org`, currency: 'EUR', locale: n % 2 ? 'de-DE' : 'en', issuedAt: '2024-05-31',
          lines: [{ description: 'Annual plan', quantity: 1, unitAmount: 100_000 }, { description: 'Extra seat', quantity: 2, unitAmount: 11_725 }],
          taxes: [{ name: 'VAT', rate: 20, amount: 24_690 }], total: 148_140,
        }),
      });
      const at = performance.now();
      const body = await res.json() as { id?: string };
      if (res.status !== 202 || !body.id) { console.log(`request ${i}: HTTP ${res.status}`); return null; }
      return { id: body.id, at, requestMs: at - t0 };
    };

    // Warm-up (connections, template compilation), not measured.
    const warm = await Promise.all([post('W1'), post('W2')]);
    const warmUntil = performance.now() + 10_000;
    while (warm.some((w) => w && !accepted.has(w.id)) && performance.now() < warmUntil) await new Promise((r) => setTimeout(r, 20));

    await phase(post, accepted, RATE, SECONDS, 'B', true);
    await phase(post, accepted, HEADROOM_RATE, HEADROOM_SECONDS, 'H', false);
  } finally {
    await app.stop();
    await sink.close();
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// Webhook deliveries: events appended to the feed (in small transactions, as the ledger writes them)
// → fan-out → claim → signed POST to a loopback receiver. Prints deliveries per second for a burst
// of 5,000 events, event-to-delivery latency (the event's `at` → receipt) for the burst and for a
// steady 50 events/s, and a baseline measured in the same run: raw signed POSTs through the same
// filtering agent to the same receiver at the same concurrency (the outbox's cost as a ratio).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startBenchPostgres } from './support.js';
import { loadConfig } from '../src/config.js';
import { startPostgate } from '../src/main.js';
import { createLogger } from '../src/platform/log.js';
import { createTenant } from '../src/tenants/store.js';
import { appendEvent } from '../src/events/feed.js';
import { createEndpoint } from '../src/webhooks/store.js';
import { newSecret } from '../src/webhooks/urls.js';
import { WebhookClient, payloadOf } from '../src/webhooks/send.js';

const BURST = 5000;
const PER_TX = 10;          // events per appending transaction
const WRITERS = 8;          // appending transactions at once
const STEADY_RATE = 50;     // events per second in the latency phase
const STEADY_SECONDS = 10;
const CONCURRENCY = 16;     // WEBHOOK_CONCURRENCY, and the baseline's

interface Receipt { at: number; eventAt: number }

async function startReceiver(): Promise<{ url: string; receipts: Map<string, Receipt>; close(): Promise<void> }> {
  const receipts = new Map<string, Receipt>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const at = Date.now();
      const id = String(req.headers['webhook-id']);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
      if (!receipts.has(id)) receipts.set(id, { at, eventAt: Date.parse(body.timestamp) });
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, receipts,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function latencies(receipts: Map<string, Receipt>, ids: Set<string>): string {
  const l = [...receipts].filter(([id]) => ids.has(id)).map(([, r]) => r.at - r.eventAt).sort((a, b) => a - b);
  return `n=${l.length} p50=${pct(l, 50)} ms p95=${pct(l, 95)} ms max=${l[l.length - 1]} ms`;
}

async function waitAll(receipts: Map<string, Receipt>, n: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (receipts.size < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return receipts.size >= n;
}

export default async function bench(): Promise<void> {
  const db = await startBenchPostgres('bench');
  const rx = await startReceiver();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-'));
  const config = loadConfig({}, {
    DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: 0, LOG_LEVEL: 'silent', TOKEN_KEYS: 'k1:bench-secret-key-0123456789',
    INBOUND_SMTP_PORT: 0, BOUNCE_DOMAIN: 'bounces.postgate.bench', WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_CONCURRENCY: CONCURRENCY,
  });
  const app = await startPostgate(config, { web: false, worker: true, inbound: false }, { log: createLogger('silent', false) });
  try {
    const tenantId = randomUUID();
    const d = app.deps.db;
    await createTenant(d, { name: 'Bench', fromEmail: 'news@bench.org', fromName: 'Bench', replyTo: 'help@bench.org', postalAddress: '1 Main St' }, tenantId);
    const secret = newSecret();
    await d.withTenant(tenantId, (c) => createEndpoint(c, tenantId, { url: rx.url, types: ['*'], description: null, enabled: true, secret }));
    const append = (n: number, tag: string) => d.withTenant(tenantId, async (c) => {
      for (let i = 0; i < n; i++) await appendEvent(c, tenantId, { type: 'message.sent', messageId: randomUUID(), data: { purpose: `${tag}:${i}`, kind: 'account', recipient: 'x@example.org' } });
    });

    // Burst: 5,000 events from WRITERS concurrent writers, PER_TX per transaction.
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: WRITERS }, async () => {
      while (next < BURST) { next += PER_TX; await append(PER_TX, 'burst'); }
    }));
    const written = Date.now();
    const all = await waitAll(rx.receipts, BURST, 120_000);
    const done = Math.max(...[...rx.receipts.values()].map((r) => r.at));
    const burstIds = new Set(rx.receipts.keys());
    const rate = (rx.receipts.size * 1000) / (done - t0);
    console.log(`burst: ${BURST} events written in ${written - t0} ms; ${rx.receipts.size} delivered${all ? '' : ' (NOT all)'} in ${done - t0} ms: ${rate.toFixed(0)} deliveries/s`);
    console.log(`  event → delivery (burst, queueing included): ${latencies(rx.receipts, burstIds)}`);

    // Steady: STEADY_RATE events per second, one per transaction.
    const before = rx.receipts.size;
    const s0 = Date.now();
    for (let i = 0; i < STEADY_RATE * STEADY_SECONDS; i++) {
      const wait = s0 + (i * 1000) / STEADY_RATE - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      void append(1, 'steady');
    }
    await waitAll(rx.receipts, before + STEADY_RATE * STEADY_SECONDS, 30_000);
    const steadyIds = new Set([...rx.receipts.keys()].filter((id) => !burstIds.has(id)));
    console.log(`steady ${STEADY_RATE} events/s for ${STEADY_SECONDS} s: event → delivery ${latencies(rx.receipts, steadyIds)}`);

    // Baseline: the same signed POSTs through the same agent, no database in between.
    const client = new WebhookClient({ allowPrivate: true, timeoutMs: 10_000 });
    const payload = payloadOf({ id: '1', type: 'message.sent', at: new Date().toISOString(), data: { purpose: 'baseline' } });
    let sent = 0;
    const b0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (sent < BURST) { const n = sent++; await client.post(rx.url, secret, `base_${n}`, payload); }
    }));
    const baseRate = (BURST * 1000) / (Date.now() - b0);
    client.close();
    console.log(`baseline: ${BURST} raw signed POSTs at concurrency ${CONCURRENCY}: ${baseRate.toFixed(0)} POSTs/s; webhooks reach ${(rate / baseRate * 100).toFixed(0)} % of it`);
  } finally {
    await app.stop();
    await rx.close();
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

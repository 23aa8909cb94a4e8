// Load: 200 concurrent clients POSTing transactional notices (/api/messages, kind technical, each with
// its own idempotency key) for 30 s with autocannon, against a real `postgate web` process, a
// `postgate worker` process, their own embedded PostgreSQL (fsync off) and a counting SMTP sink (no
// parsing: it reads the X-Postgate-Message header of what it accepts). Reports requests per second,
// p50/p99 latency, errors and non-2xx answers, then waits until the ledger shows every accepted (202)
// message sent and compares with what the sink received. Stops by itself.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { startBenchPostgres } from './support.js';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { MIGRATIONS_DIR } from '../src/main.js';
import { createDb, migrate } from '../src/platform/db.js';
import { upsertContact } from '../src/consent/contacts.js';
import { createTenant } from '../src/tenants/store.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { killAll, startProcess } from '../test/support/processes.js';

const CONNECTIONS = 200;
const SECONDS = 30;
const CONTACTS = 50;
const DRAIN_TIMEOUT_MS = 10 * 60_000;
/** The worker's dispatcher and SMTP pool (the defaults, 8 and 5, are sized for a small installation). */
const WORKER_ENV = { SEND_CONCURRENCY: '32', SMTP_POOL_SIZE: '10', LOG_LEVEL: 'warn' };

interface Histogram { average: number; p2_5: number; p50: number; p90: number; p99: number; max: number }
interface Result {
  requests: Histogram & { total: number }; latency: Histogram; duration: number; errors: number; timeouts: number; non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface RequestSpec {
  method: string; path: string; headers: Record<string, string>;
  setupRequest(req: { body?: string }, context: Record<string, unknown>): { body?: string };
  onResponse(status: number, body: string, context: Record<string, unknown>): void;
}
type Autocannon = (opts: { url: string; connections: number; duration: number; requests: RequestSpec[]; timeout?: number }) => Promise<Result>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;


/** Counts what it accepts, by ledger id (the X-Postgate-Message header); no MIME parsing. */
async function startCountingSink(): Promise<{ url: string; received: Map<string, number>; close(): Promise<void> }> {
  const received = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, maxClients: 1000,
    onData(stream, _session, cb) {
      let head = '';
      stream.on('data', (c: Buffer) => { if (head.length < 16_384) head += c.toString('latin1'); });
      stream.on('end', () => {
        const id = /^X-Postgate-Message:\s*([0-9a-f-]{36})/im.exec(head)?.[1] ?? 'unknown';
        received.set(id, (received.get(id) ?? 0) + 1);
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

export default async function bench(): Promise<void> {
  const db = await startBenchPostgres('load');
  const sink = await startCountingSink();
  try {
    await migrate(db.url, MIGRATIONS_DIR);
    const tenantId = randomUUID();
    const appDb = createDb(db.url, { max: 2 });
    let key: string;
    try {
      await createTenant(appDb, { name: 'Load', fromEmail: 'ops@loadbench.org', fromName: 'Load', replyTo: 'help@loadbench.org', postalAddress: '1 Main St' }, tenantId);
      await appDb.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'loadbench.org')); // the operator vouches (sending domains)
      key = (await appDb.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['transactional']))).key;
      await appDb.withTenant(tenantId, async (c) => {
        for (let i = 0; i < CONTACTS; i++) await upsertContact(c, tenantId, { email: `user${i}@load.example`, name: `User ${i}`, attributes: {} });
      });
    } finally {
      await appDb.close();
    }
    const web = await startProcess('web', { databaseUrl: db.url, smtpUrl: sink.url, env: { LOG_LEVEL: 'warn' } });
    await startProcess('worker', { databaseUrl: db.url, smtpUrl: sink.url, env: WORKER_ENV });

    const accepted = new Set<string>();
    let n = 0;
    const run = `${Date.now().toString(36)}`;
    const request: RequestSpec = {
      method: 'POST', path: '/api/messages',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      setupRequest(req) {
        const i = n++;
        return { ...req, body: JSON.stringify({
          kind: 'technical', contact: `user${i % CONTACTS}@load.example`, idempotencyKey: `load-${run}-${i}`,
          data: { subject: `Maintenance window #${i}`, body: 'The service will be briefly unavailable tonight between 02:00 and 02:15 UTC.' },
        }) };
      },
      onResponse(status, body) {
        if (status !== 202) return;
        try { accepted.add((JSON.parse(body) as { id: string }).id); } catch { /* counted as non-2xx elsewhere */ }
      },
    };
    // Warm-up (connections, template compilation), not measured.
    await autocannon({ url: web.url as string, connections: 10, duration: 2, requests: [request] });
    const warm = accepted.size;

    console.log(`${CONNECTIONS} connections, ${SECONDS} s, POST /api/messages (kind technical, unique idempotency keys)`);
    const runStart = Date.now();
    const deliveredBefore = sink.received.size;
    const r = await autocannon({ url: web.url as string, connections: CONNECTIONS, duration: SECONDS, requests: [request], timeout: 30 });
    const deliveredDuringLoad = sink.received.size - deliveredBefore;
    const statuses = Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => `${code}×${s.count}`).join(' ');
    console.log(`  requests: ${r.requests.total} in ${r.duration} s = ${r.requests.average.toFixed(0)} req/s (p50 ${r.requests.p50}/s, slowest second ${r.requests.p2_5}/s)`);
    console.log(`  latency:  p50 ${ms(r.latency.p50)}  p90 ${ms(r.latency.p90)}  p99 ${ms(r.latency.p99)}  max ${ms(r.latency.max)}  mean ${ms(r.latency.average)}`);
    console.log(`  errors: ${r.errors} (timeouts ${r.timeouts})  non-2xx: ${r.non2xx}  status codes: ${statuses}`);

    // Every accepted message must reach the sink: wait for the ledger, then compare.
    const t0 = Date.now();
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    let open = -1;
    try {
      while (Date.now() - t0 < DRAIN_TIMEOUT_MS) {
        open = (await owner.query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE status NOT IN ('sent', 'failed', 'suppressed', 'cancelled', 'bounced', 'complained')")).rows[0].n;
        if (open === 0) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      const ledger = Object.fromEntries((await owner.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM messages GROUP BY status')).rows.map((x) => [x.status, x.n]));
      const drainSeconds = (Date.now() - t0) / 1000;
      const missing = [...accepted].filter((id) => !sink.received.has(id)).length;
      const duplicates = [...sink.received.values()].reduce((a, c) => a + c - 1, 0);
      const total = accepted.size;
      console.log(`  accepted (202): ${total} (${total - warm} during the measured run); ledger: ${JSON.stringify(ledger)}`);
      console.log(`  delivered to the sink: ${sink.received.size} distinct, ${missing} accepted but not delivered, ${duplicates} duplicates; last delivery ${drainSeconds.toFixed(1)} s after the load ended${open > 0 ? ` (${open} still open at the timeout)` : ''}`);
      const deliverySeconds = (Date.now() - runStart) / 1000;
      console.log(`  delivery: ${deliveredDuringLoad} during the ${SECONDS} s load, ${((sink.received.size - deliveredBefore) / deliverySeconds).toFixed(0)} msg/s from start of load to last delivery`);
      console.log(`  zero errors: ${r.errors === 0 && r.non2xx === 0 ? 'yes' : 'NO'}; every accepted message delivered: ${missing === 0 && open === 0 ? 'yes' : 'NO'}`);
    } finally {
      await owner.end();
    }
  } finally {
    await killAll();
    await sink.close();
    await db.stop();
  }
}

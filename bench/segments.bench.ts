// Segment count benchmark: 1,000,000 generated contacts in one tenant (plus 100,000 in another, so row
// security has rows to hide), attributes of mixed types (a number stored as a string for 10% of them,
// missing for another 10%), subscriptions on 2 lists. Each representative segment is counted as the
// API counts it (countSegment: the runtime role postgate_app under RLS, statement timeout on), and
// compared with a baseline measured in the same run: `SELECT count(*) FROM contacts` under the same
// role and tenant. Its own embedded PostgreSQL (fsync off). Target: every count < 1 s.
// Run: npx tsx bench/run.ts segments   (SEGMENT_BENCH_N overrides the size)
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startBenchPostgres } from './support.js';
import { migrate } from '../src/platform/db.js';
import { createDb } from '../src/platform/db.js';
import { createTenant } from '../src/tenants/store.js';
import { countSegment } from '../src/audience/segments.js';
import { parseSegmentFilter } from '../src/audience/segment-filter.js';
import { projectRoot } from '../src/config.js';

const N = Number(process.env.SEGMENT_BENCH_N ?? 1_000_000);
const RUNS = 5;

/** A tenant with n contacts and lists A and B, and another tenant with n/10; returns the lists. */
export async function seed(url: string, tenantId: string, other: string, n = N): Promise<{ listA: string; listB: string }> {
  const db = createDb(url, { max: 1 });
  try {
    for (const [id, name] of [[tenantId, 'Acme'], [other, 'Other']]) {
      await createTenant(db, { name, fromEmail: 'news@acme.org', fromName: name, replyTo: 'support@acme.org', postalAddress: '1 Main St' }, id);
    }
  } finally {
    await db.close();
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const lists = await c.query<{ id: string }>(`INSERT INTO lists (tenant_id, name) VALUES ($1, 'A'), ($1, 'B') RETURNING id`, [tenantId]);
    const [listA, listB] = lists.rows.map((r) => r.id);
    // A bulk load: the secondary indexes (those of the migrations) are dropped and built again after it.
    const indexes = (await c.query<{ name: string; def: string }>(`SELECT indexname AS name, indexdef AS def FROM pg_indexes
      WHERE tablename IN ('contacts', 'subscriptions') AND indexdef NOT LIKE 'CREATE UNIQUE%'`)).rows;
    for (const i of indexes) await c.query(`DROP INDEX ${i.name}`);
    await insertContacts(c, tenantId, n, listA, listB);
    await insertContacts(c, other, Math.round(n / 10), null, null);
    await c.query("SET maintenance_work_mem = '512MB'");
    for (const i of indexes) await c.query(i.def);
    await c.query('VACUUM ANALYZE contacts');
    await c.query('VACUUM ANALYZE subscriptions');
    return { listA, listB };
  } finally {
    await c.end();
  }
}

/** n contacts with mixed attributes (generate_series, one statement), subscribed to A (1 in 2) and B (1 in 5: half unconfirmed). */
async function insertContacts(c: pg.Client, tenantId: string, n: number, listA: string | null, listB: string | null): Promise<void> {
  await c.query(`WITH ins AS (
      INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status, verified_at, created_at)
      SELECT $1::uuid, 'c' || g || '@t' || left($1::text, 8) || '.example', 'c' || g || '@t' || left($1::text, 8) || '.example', 'Contact ' || g,
        jsonb_strip_nulls(jsonb_build_object(
          'n', g,
          'plan', (ARRAY['free', 'pro', 'team', 'free'])[1 + g % 4],
          'age', CASE WHEN g % 10 = 0 THEN to_jsonb((18 + g % 60)::text) WHEN g % 10 = 1 THEN NULL ELSE to_jsonb(18 + g % 60) END,
          'city', (ARRAY['Berlin', 'Köln', 'Paris', 'Lyon', 'Madrid', 'Roma', 'Oslo'])[1 + g % 7],
          'tags', CASE WHEN g % 3 = 0 THEN '["vip", "beta"]'::jsonb WHEN g % 3 = 1 THEN '["beta"]'::jsonb ELSE '[]'::jsonb END,
          'score', (g::bigint * 7919) % 100,
          'vip', g % 50 = 0)),
        CASE WHEN g % 20 = 0 THEN 'pending' ELSE 'active' END,
        CASE WHEN g % 20 = 0 THEN NULL ELSE now() - (g % 1000) * interval '1 day' END,
        now() - (g % 1000) * interval '1 day' - interval '1 hour'
      FROM generate_series(1, $2::int) g
      RETURNING id, tenant_id, (attributes->>'n')::int AS g)
    INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
    SELECT ins.tenant_id, ins.id, l.list, CASE WHEN l.list = $4::uuid AND ins.g % 10 = 5 THEN 'unconfirmed' ELSE 'subscribed' END
    FROM ins CROSS JOIN (VALUES ($3::uuid, 2), ($4::uuid, 5)) AS l(list, every)
    WHERE l.list IS NOT NULL AND ins.g % l.every = 0`, [tenantId, n, listA, listB]);
}

/** CPU time (user + system) of a local process in milliseconds, from /proc (Linux USER_HZ = 100); NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

interface Timing { best: number; median: number; n: number; serialCpu: number }

/**
 * `fn` as the runtime role of `tenantId` (RLS on), RUNS times: wall milliseconds (best, median) as the
 * API runs it (parallel workers allowed), and the median CPU milliseconds of one serial run in the
 * backend (max_parallel_workers_per_gather = 0), a figure a loaded machine inflates far less than wall time.
 */
async function timed(c: pg.Client, tenantId: string, fn: (c: pg.Client) => Promise<number>): Promise<Timing> {
  const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const ms: number[] = [];
  const cpu: number[] = [];
  let n = 0;
  for (let i = 0; i < RUNS * 2; i++) {
    const serial = i % 2 === 1;
    await c.query('BEGIN');
    await c.query('SET LOCAL ROLE postgate_app');
    if (serial) await c.query('SET LOCAL max_parallel_workers_per_gather = 0');
    await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    const t0 = performance.now();
    const c0 = cpuMs(backend);
    n = await fn(c);
    if (serial) cpu.push(cpuMs(backend) - c0); else ms.push(performance.now() - t0);
    await c.query('COMMIT');
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return { best: Math.min(...ms), median: median(ms), n, serialCpu: median(cpu) };
}

export default async function main(): Promise<void> {
  const cluster = await startBenchPostgres('segments');
  try {
    await migrate(cluster.url, path.join(projectRoot, 'migrations'));
    const tenantId = randomUUID();
    const t0 = performance.now();
    const { listA, listB } = await seed(cluster.url, tenantId, randomUUID());
    console.log(`seeded ${N.toLocaleString('en')} contacts (+${Math.round(N / 10).toLocaleString('en')} of another tenant), 2 lists, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const since = new Date(Date.now() - 90 * 86_400_000).toISOString();
    const segments: [string, unknown][] = [
      ['plan = pro', { attribute: 'plan', op: 'eq', value: 'pro' }],
      ['list A and age 25–40 (mistyped ages skipped)', { all: [{ list: listA }, { attribute: 'age', op: 'between', value: [25, 40] }] }],
      ['city in [Berlin, Köln] or tags contains vip', { any: [{ attribute: 'city', op: 'in', value: ['Berlin', 'Köln'] }, { attribute: 'tags', op: 'contains', value: 'vip' }] }],
      ['active, created in 90 days, not vip, on list B', { all: [{ status: 'active' }, { field: 'createdAt', op: 'after', value: since },
        { not: { attribute: 'vip', op: 'eq', value: true } }, { list: listB }] }],
      ['score >= 90 and plan in [pro, team]', { all: [{ attribute: 'score', op: 'gte', value: 90 }, { attribute: 'plan', op: 'in', value: ['pro', 'team'] }] }],
      ['city in 1,000 values (hashed)', { attribute: 'city', op: 'in', value: [...Array.from({ length: 999 }, (_, i) => `Town ${i}`), 'Oslo'] }],
    ];
    const c = new pg.Client({ connectionString: cluster.url });
    await c.connect();
    try {
      const base = await timed(c, tenantId, async (q) => (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM contacts')).rows[0].n);
      console.log(`load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs; wall times are of the parallel plan the API runs, cpu of a serial run`);
      console.log(`baseline SELECT count(*) FROM contacts (RLS): ${base.n.toLocaleString('en')} rows, best ${base.best.toFixed(0)} ms, median ${base.median.toFixed(0)} ms, cpu ${base.serialCpu} ms`);
      for (const [label, raw] of segments) {
        const filter = parseSegmentFilter(raw);
        const r = await timed(c, tenantId, (q) => countSegment(q, filter));
        const verdict = r.median < 1000 ? 'ok' : 'OVER 1 s';
        console.log(`  ${label}: ${r.n.toLocaleString('en')} contacts, best ${r.best.toFixed(0)} ms, median ${r.median.toFixed(0)} ms `
          + `(${(r.median / base.median).toFixed(2)}× baseline), cpu ${r.serialCpu} ms (${(r.serialCpu / base.serialCpu).toFixed(2)}×) ${verdict}`);
      }
    } finally {
      await c.end();
    }
  } finally {
    await cluster.stop();
  }
}

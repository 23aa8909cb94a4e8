// The retention sweep (src/retention.ts, migration 079): expired bodies, events, finished webhook
// deliveries, raw bounces and Idempotency-Key rows go in batches of RETENTION_BATCH_ROWS, each its own transaction; unexpired rows
// stay; the time budget ends a sweep early and the next goes on; a row another transaction holds is
// skipped, not waited for; and a writer touching the expired rows keeps going while a sweep runs (it
// waits at most one batch, never the whole purge).
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useApp } from './support/app.js';
import { ownerQuery } from './support/db.js';
import { retentionSteps, runRetention } from '../src/retention.js';

const BATCH = 250; // rows per purge statement in the load test (one transaction each)
const { app, t } = useApp({ smtp: false, roles: { web: true, worker: false, inbound: false } });

/** `n` finished invoices of tenant `t` with a body expiring `expiresIn` (SQL interval) from now; returns their ids. */
async function seedBodies(n: number, expiresIn: string, tag: string): Promise<string[]> {
  const rows = await ownerQuery<{ id: string }>(app.db.url, `WITH m AS (
      INSERT INTO messages (tenant_id, purpose, kind, recipient, template, status, data)
      SELECT $1, 'invoice:' || $3 || ':' || i, 'invoice', 'buyer' || i || '@example.com', 'invoice', 'sent', '{"lines":[1]}'
      FROM generate_series(1, $2::int) AS i RETURNING id)
    INSERT INTO message_bodies (message_id, tenant_id, html, text, expires_at)
    SELECT id, $1, '<p>body</p>', 'body', now() + $4::interval FROM m RETURNING message_id AS id`, [t.id, n, tag, expiresIn]);
  return rows.map((r) => r.id);
}

async function seedEvents(n: number, age: string): Promise<void> {
  await ownerQuery(app.db.url, `INSERT INTO events (tenant_id, type, at, data)
    SELECT $1, 'import.finished', now() - $3::interval, jsonb_build_object('importId', 'seed-' || i) FROM generate_series(1, $2::int) AS i`, [t.id, n, age]);
}

const count = async (sql: string, params: unknown[] = []) => Number((await ownerQuery<{ n: string }>(app.db.url, sql, params))[0].n);
const bodies = (ids: string[]) => count('SELECT count(*) AS n FROM message_bodies WHERE message_id = ANY($1::uuid[])', [ids]);
const sweep = (batchRows: number, budgetMs = 60_000) =>
  runRetention(app.pg.deps.db, retentionSteps(app.pg.config), { batchRows, budgetMs });

describe('the retention sweep', () => {
  it('removes expired rows in batches of its own transactions and leaves unexpired ones', async () => {
    const old = await seedBodies(1200, '-1 day', 'old');
    const fresh = await seedBodies(50, '1 day', 'fresh');
    await seedEvents(700, '40 days');
    await seedEvents(30, '10 days');
    await ownerQuery(app.db.url, `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, method, path, status, expires_at)
      VALUES ($1, 'gone', 'f', 'POST', '/api/x', 'completed', now() - interval '1 hour'), ($1, 'kept', 'f', 'POST', '/api/x', 'completed', now() + interval '1 hour')`, [t.id]);
    const [ep] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO webhook_endpoints (tenant_id, url, types, secret, enabled, cursor_txid, cursor_id)
      VALUES ($1, 'https://hooks.example/x', '{*}', 'whsec_x', false, 0, 0) RETURNING id`, [t.id]);
    await ownerQuery(app.db.url, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, status, created_at, finished_at)
      SELECT $1, $2, i, CASE WHEN i <= 300 OR i > 310 THEN 'delivered' ELSE 'pending' END, now() - interval '41 days',
        CASE WHEN i <= 300 THEN now() - interval '40 days' WHEN i > 310 THEN now() - interval '1 day' END
      FROM generate_series(1, 320) AS i`, [t.id, ep.id]);
    await ownerQuery(app.db.url, `INSERT INTO bounces (tenant_id, kind, source, matched_by, raw, raw_hash, raw_expires_at)
      VALUES ($1, 'hard', 'api', 'none', 'old raw', 'h1', now() - interval '1 day'), ($1, 'hard', 'api', 'none', 'new raw', 'h2', now() + interval '1 day')`, [t.id]);
    // A console session that ended two days ago goes; one still live stays. Throttle windows over an hour old go.
    const [staff] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO staff_users (tenant_id, email, role) VALUES ($1, 'swept@example.org', 'admin') RETURNING id`, [t.id]);
    await ownerQuery(app.db.url, `INSERT INTO staff_sessions (token_hash, tenant_id, user_id, csrf_token, idle_until, expires_at) VALUES
      ('\\x01', $1, $2, 'c', now() - interval '2 days', now() - interval '1 day'), ('\\x02', $1, $2, 'c', now() + interval '1 hour', now() + interval '1 day')`, [t.id, staff.id]);
    await ownerQuery(app.db.url, `INSERT INTO staff_login_throttle (client, window_start, attempts) VALUES ('192.0.2.1', now() - interval '2 hours', 3), ('192.0.2.1', now(), 1)`);

    const report = await sweep(250);

    expect(report.done).toBe(true);
    expect(report.rows).toEqual({ bodies: 1200, events: 700, webhookDeliveries: 300, idempotencyKeys: 1, rawBounces: 1, staffSessions: 1, loginThrottle: 1 });
    // 1200 bodies in batches of 250: 5 batches (the last short); 700 events: 3; 300 deliveries: 2; each other kind: 1
    expect(report.batches).toBe(5 + 3 + 2 + 1 + 1 + 1 + 1);
    expect(await count('SELECT count(*) AS n FROM staff_sessions WHERE user_id = $1', [staff.id])).toBe(1);
    expect(await count('SELECT count(*) AS n FROM staff_login_throttle', [])).toBe(1);
    expect(report.longestBatchMs).toBeGreaterThan(0);
    expect(await bodies(old)).toBe(0);
    expect(await bodies(fresh)).toBe(50);
    expect(await count(`SELECT count(*) AS n FROM events WHERE tenant_id = $1 AND type = 'import.finished' AND at < now() - interval '30 days'`, [t.id])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM events WHERE tenant_id = $1 AND type = 'import.finished'`, [t.id])).toBe(30);
    // finished and old go; pending (however old) and recently finished stay
    expect(await count(`SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1`, [ep.id])).toBe(20);
    expect(await count(`SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = $1`, [t.id])).toBe(1);
    expect(await count(`SELECT count(*) AS n FROM bounces WHERE tenant_id = $1 AND raw IS NOT NULL`, [t.id])).toBe(1);
    // the body's trigger (migration 020) still forgets a finished invoice's render input, only for purged bodies
    expect(await count(`SELECT count(*) AS n FROM messages WHERE id = ANY($1::uuid[]) AND data = '{}'::jsonb`, [old])).toBe(1200);
    expect(await count(`SELECT count(*) AS n FROM messages WHERE id = ANY($1::uuid[]) AND data = '{}'::jsonb`, [fresh])).toBe(0);
  });

  it('stops at its time budget, and the next sweep goes on', async () => {
    const old = await seedBodies(600, '-1 day', 'budget');
    const first = await sweep(100, 1);
    expect(first.done).toBe(false);
    expect(first.batches).toBe(1);
    expect(first.rows.bodies).toBe(100);
    expect(await bodies(old)).toBe(500);
    const second = await sweep(100);
    expect(second.done).toBe(true);
    expect(second.rows.bodies).toBe(500);
    expect(await bodies(old)).toBe(0);
  });

  it('skips a row another transaction holds instead of waiting for it', async () => {
    const [held, ...rest] = await seedBodies(20, '-1 day', 'held');
    const holder = new pg.Client({ connectionString: app.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM message_bodies WHERE message_id = $1 FOR UPDATE', [held]);
      const report = await sweep(1000, 10_000);
      expect(report.done).toBe(true);
      expect(await bodies(rest)).toBe(0);
      expect(await bodies([held])).toBe(1);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    await sweep(1000);
    expect(await bodies([held])).toBe(0);
  });

  it('lets a writer of the expired rows go on while a large purge runs (it waits one batch at most)', async () => {
    const old = await seedBodies(5_000, '-1 day', 'load');
    const writer = new pg.Client({ connectionString: app.db.url });
    await writer.connect();
    let running = true;
    const latencies: number[] = [];
    // Touches a random expired body, one autocommit statement at a time, and inserts a new row, as an
    // erasure or the ledger would meanwhile. A row the purge has locked makes the writer wait until
    // that purge transaction ends.
    const writes = (async () => {
      while (running) {
        const t0 = Date.now();
        await writer.query('UPDATE message_bodies SET text = text WHERE message_id = $1', [old[Math.floor(Math.random() * old.length)]]);
        await writer.query(`INSERT INTO events (tenant_id, type, data) VALUES ($1, 'import.finished', '{"importId":"live"}')`, [t.id]);
        latencies.push(Date.now() - t0);
      }
    })();
    try {
      const report = await sweep(BATCH);
      running = false;
      await writes;
      // a row the writer held at the moment its batch came is left for the next sweep
      expect(report.rows.bodies + (await sweep(BATCH)).rows.bodies).toBe(5_000);
      expect(report.batches).toBeGreaterThanOrEqual(5_000 / BATCH);
      // writes kept completing during the sweep, none waiting for long: one transaction over all 5,000
      // rows would hold the first locked row the writer touches until its end (most of the sweep)
      expect(latencies.length).toBeGreaterThanOrEqual(5);
      expect(Math.max(...latencies)).toBeLessThan(report.elapsedMs / 2);
    } finally {
      running = false;
      await writes.catch(() => undefined);
      await writer.end();
    }
    expect(await bodies(old)).toBe(0);
  });
});

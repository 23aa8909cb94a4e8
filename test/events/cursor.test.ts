// The feed's (txid, id) cursor under concurrent writers: 100,000 events written by overlapping
// transactions that commit out of order are paged through with no gap and no repeat, and an event
// whose transaction began first but commits last is never skipped by a reader that already saw a
// later one. Also: the reads use the (tenant_id, txid, id) index under row security.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { sleep } from '../support/wait.js';
import { appendEvent, FEED_SCAN_ROWS, FEED_SQL, purgeExpiredEvents } from '../../src/events/feed.js';

const { app, t, tenant } = useApp({ smtp: false, roles: { web: true, worker: false, inbound: false } });

const quiet = tenant({ name: 'Quiet' });

/** Every event GET /api/events gives tenant `tt` from `after`, page by page, until nothing is new. */
async function drain(after: string | undefined, seen: string[], tt: TestTenant = t): Promise<string> {
  let cursor = after;
  for (;;) {
    const r = await tt.api('GET', `/api/events?limit=1000${cursor ? `&after=${cursor}` : ''}`);
    expect(r.status).toBe(200);
    for (const e of r.body.items) seen.push(e.id);
    if (r.body.items.length === 0) return r.body.nextCursor;
    cursor = r.body.nextCursor;
  }
}

async function ownerClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: app.db.url });
  await c.connect();
  return c;
}

describe('the feed cursor', () => {
  it('pages through 100,000 events from overlapping transactions without gaps or repeats', async () => {
    const messageId = await given(app, t).queuedMessage({ kind: 'technical', template: 'notice', recipient: 'cursor@example.org', data: { body: 'x' } });
    const WRITERS = 4, TXS = 5, ROWS = 5000; // 4 × 5 × 5,000 = 100,000
    const clients = await Promise.all(Array.from({ length: WRITERS }, ownerClient));
    let writing = true;
    const writers = Promise.all(clients.map(async (c, w) => {
      for (let x = 0; x < TXS; x++) {
        await c.query('BEGIN');
        const from = (w * TXS + x) * ROWS;
        await c.query(`INSERT INTO message_events (tenant_id, message_id, type, detail)
          SELECT $1, $2, 'delivery_report', jsonb_build_object('status', i::text) FROM generate_series($3::int, $4::int) AS i`, [t.id, messageId, from + 1, from + ROWS]);
        await sleep(((w * 7 + x * 13) % 5) * 40); // the transactions overlap and commit in a shuffled order
        await c.query('COMMIT');
      }
    })).finally(() => { writing = false; });
    const seen: string[] = [];
    let cursor: string | undefined;
    const t0 = Date.now();
    while (writing) { cursor = await drain(cursor, seen); await sleep(20); }
    await writers;
    await Promise.all(clients.map((c) => c.end()));
    // every transaction has ended: once the horizon passes them, the rest appears
    let all: { id: string }[] = [];
    for (let i = 0; i < 200; i++) {
      cursor = await drain(cursor, seen);
      all = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id::text AS id FROM events WHERE tenant_id = $1 ORDER BY events.txid, events.id', [t.id]);
      if (seen.length >= all.length) break;
      await sleep(50);
    }
    const ms = Date.now() - t0;
    expect(all.length).toBeGreaterThanOrEqual(100_000);
    expect(new Set(seen).size).toBe(seen.length); // no repeats
    expect(seen).toEqual(all.map((r) => r.id)); // no gaps, in feed order
    console.log(`read ${seen.length} events in ${ms} ms while they were written`);
  }, 120_000);

  it('never skips an event whose transaction began first but commits after a later one', async () => {
    const start = await drain(undefined, [], quiet);
    const db = app.pg.deps.db;
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      for (const c of [first, second]) { await c.query('BEGIN'); await c.query("SELECT set_config('app.tenant_id', $1, true)", [quiet.id]); }
      await appendEvent(first, quiet.id, { type: 'import.finished', data: { importId: 'first' } });
      await appendEvent(second, quiet.id, { type: 'import.finished', data: { importId: 'second' } });
      await second.query('COMMIT'); // the later id commits first
      const early = await quiet.api('GET', `/api/events?after=${start}`);
      expect(early.body.items).toEqual([]); // hidden until the first transaction ends
      expect(early.body.nextCursor).toBe(start);
      await first.query('COMMIT');
      const seen: { importId: string }[] = [];
      for (let i = 0; i < 100 && seen.length < 2; i++) {
        const r = await quiet.api('GET', `/api/events?after=${start}`);
        seen.splice(0, seen.length, ...r.body.items.map((e: { data: { importId: string } }) => e.data));
        await sleep(20);
      }
      expect(seen).toEqual([{ importId: 'first' }, { importId: 'second' }]);
    } finally {
      await first.query('ROLLBACK').catch(() => undefined);
      await second.query('ROLLBACK').catch(() => undefined);
      first.release(); second.release();
    }
  });

  it('purges events older than EVENTS_RETENTION_DAYS in the maintenance sweep (no tenant set)', async () => {
    await ownerQuery(app.db.url, `INSERT INTO events (tenant_id, type, at, data) VALUES ($1, 'import.finished', now() - interval '31 days', '{"importId":"old"}'),
      ($1, 'import.finished', now() - interval '29 days', '{"importId":"kept"}')`, [quiet.id]);
    const n = await app.pg.deps.db.withSystem((c) => purgeExpiredEvents(c, app.pg.config.EVENTS_RETENTION_DAYS));
    expect(n).toBeGreaterThanOrEqual(1);
    const left = await ownerQuery<{ id: string }>(app.db.url, `SELECT data->>'importId' AS id FROM events WHERE tenant_id = $1 AND type = 'import.finished' AND data ? 'importId' ORDER BY events.id`, [quiet.id]);
    expect(left.map((r) => r.id)).not.toContain('old');
    expect(left.map((r) => r.id)).toContain('kept');
  });

  it('reads through the (tenant_id, txid, id) index as the runtime role, filtered or not', async () => {
    // after the 100,000 rows above (analyzed, as autovacuum would), from the middle of the feed
    await ownerQuery(app.db.url, 'ANALYZE events');
    for (const types of [null, ['message.sent']]) {
      const plan = await app.pg.deps.db.withTenant(t.id, async (c) => (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${FEED_SQL}`,
        ['0', '50000', types ? FEED_SCAN_ROWS : 100, types, 100])).rows.map((r) => r['QUERY PLAN']).join('\n'));
      expect(plan).toMatch(/Index (Only )?Scan using events_feed/);
      // PostgreSQL 17 names the tenant's InitPlan output `(InitPlan 1).col1`; 13–16 name it `$0`.
      expect(plan).toMatch(/Index Cond: \(\(tenant_id = (\(InitPlan \d+\)\.col1|\$\d+)\) AND \(ROW\(txid, id\) > ROW/);
      expect(plan).not.toMatch(/Sort Key: events\.|Seq Scan/);
    }
  });
});

// PostgreSQL access: one pool that logs in as the runtime login (a plain member of postgate_app, bound
// by every tenant policy: src/platform/roles.ts), transactions scoped to one tenant, and the migration
// runner (run as the URL's owner).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { isUuid } from '../policy/ids.js';
import type { Logger } from './log.js';

export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.PoolClient, 'query'>;

export const APP_ROLE = 'postgate_app';

export class NotFound extends Error {}

export interface Db {
  pool: pg.Pool;
  /** The connection string the pool logs in with (the runtime login's; it holds a password). */
  url: string;
  /** The same login straight to PostgreSQL, for session connections (LISTEN): DATABASE_DIRECT_URL's, else `url`. */
  directUrl: string;
  /** A transaction in which only rows of this tenant are visible or writable. */
  withTenant<T>(tenantId: string, fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** A transaction with no tenant: sees no client rows; for dispatch tables and definer lookups. */
  withSystem<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** One statement with no tenant, in a transaction of its own (one round trip, no BEGIN/COMMIT): a claim, a definer lookup. */
  systemQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>>;
  close(): Promise<void>;
}

/** Callbacks to run once the transaction of a client commits (dropped on rollback). */
const commitHooks = new WeakMap<object, (() => void)[]>();

/** Runs `fn` after the transaction `c` belongs to commits; at once when `c` is not in a db transaction. */
export function afterCommit(c: Queryable, fn: () => void): void {
  const hooks = commitHooks.get(c);
  if (hooks) hooks.push(fn); else fn();
}

/**
 * A pool logging in with `url` as it is: no `-c role=` startup parameter (PgBouncer refuses it, and a
 * session default is left by one SET ROLE NONE). Row-level security holds only when `url` is the
 * runtime login (prepareDatabase in src/platform/roles.ts returns it); an owner or superuser URL sees
 * every tenant's rows. Every query runs in a transaction (or alone), so `url` may go through PgBouncer
 * in transaction pooling; `opts.directUrl` (default `url`) is where session connections go.
 */
export function createDb(url: string, opts: { max?: number; log?: Logger; directUrl?: string } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, connectionTimeoutMillis: 10_000 });
  // Once close() has begun, an idle connection closed by the server (a stop shutting the database down) is expected.
  let closing = false;
  pool.on('error', (err) => {
    if (closing) opts.log?.debug({ err: err.message }, 'idle database connection closed while closing');
    else opts.log?.warn({ err: err.message }, 'idle database connection failed');
  });
  async function tx<T>(tenantId: string | null, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    // A checked-out client has no error listener of the pool's: if the server goes away between two
    // queries (a restart, a killed backend), its 'error' event would crash the process. Note it; the
    // next query fails, the transaction rolls back, and the broken client is dropped on release.
    let broken: Error | undefined;
    const onError = (err: Error) => { broken = err; opts.log?.warn({ err: err.message }, 'database connection lost during a transaction'); };
    client.on('error', onError);
    try {
      // One round trip: BEGIN and the tenant as one simple query (withTenant checked that it is a
      // UUID, so it is safe to write in; a simple query of two statements passes PgBouncer too).
      await client.query(tenantId === null ? 'BEGIN' : `BEGIN; SELECT set_config('app.tenant_id', '${tenantId}', true)`);
      const hooks: (() => void)[] = [];
      commitHooks.set(client, hooks);
      const result = await fn(client);
      await client.query('COMMIT');
      commitHooks.delete(client);
      for (const hook of hooks) hook();
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      commitHooks.delete(client);
      client.off('error', onError);
      client.release(broken);
    }
  }
  return {
    pool,
    url,
    directUrl: opts.directUrl ?? url,
    withTenant(tenantId, fn) {
      if (!isUuid(tenantId)) return Promise.reject(new NotFound('tenant'));
      return tx(tenantId, fn);
    },
    withSystem: (fn) => tx(null, fn),
    // A pooled connection outside a transaction has no app.tenant_id (it is only ever set transaction-local).
    systemQuery: <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => pool.query<R>(sql, params),
    close: () => { closing = true; return pool.end(); },
  };
}

/** Readiness: the database answers and the schema is migrated (send_queue exists; LIMIT 0 reads no row). */
export async function databaseReady(db: Db): Promise<void> {
  await db.withSystem(async (c) => {
    await c.query('SELECT 1');
    await c.query('SELECT 1 FROM send_queue LIMIT 0');
  });
}

/** Applies migrations/NNN_*.sql in order, each in a transaction, under an advisory lock. */
export async function migrate(url: string, migrationsDir: string, log?: Logger): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(7403921)');
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const files = (await readdir(migrationsDir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(path.join(migrationsDir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
      log?.info({ migration: file }, 'migration applied');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7403921)').catch(() => undefined);
    await client.end();
  }
  return applied;
}

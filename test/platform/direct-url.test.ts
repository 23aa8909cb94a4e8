// DATABASE_URL and DATABASE_DIRECT_URL (issue 18): the pool's transactions go to DATABASE_URL
// (PgBouncer in transaction pooling, in the PgBouncer suite), every session connection (the
// dispatchers' LISTEN, pg-boss) to DATABASE_DIRECT_URL, both as the runtime login. Each URL is
// tagged with its own application_name and the server's pg_stat_activity (and, behind PgBouncer,
// its admin console's SHOW CLIENTS) tells which connection came through which.
// Embedded run: provisioned mode, the direct URL derived from DATABASE_DIRECT_URL with the
// provisioned login. PgBouncer suite (.ci/standalone-pg.sh): split mode, DATABASE_URL through PgBouncer.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/main.js';
import { createLogger } from '../../src/platform/log.js';
import { useApp } from '../support/app.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { appDatabaseEnv, externalPg } from '../support/external-pg.js';
import { waitFor } from '../support/wait.js';

/** `url` with application_name set (kept by the pool, pg-boss and the listener alike; PgBouncer passes it on). */
function tagged(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

interface Backend { usename: string; application_name: string; query: string }

/** Every other client backend on the database at `url` (a superuser URL), as pg_stat_activity shows it. */
function backends(url: string): Promise<Backend[]> {
  return ownerQuery<Backend>(url, `SELECT usename, application_name, query FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`);
}

/** SHOW CLIENTS on PgBouncer's admin console (simple query protocol), as the admin of POSTGATE_TEST_PG_ADMIN_URL. */
async function pgbouncerClients(adminUrl: string, hostPort: string): Promise<{ database: string; user: string; application_name: string }[]> {
  const u = new URL(adminUrl);
  u.host = hostPort;
  u.pathname = '/pgbouncer';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try { return (await c.query<{ database: string; user: string; application_name: string }>('SHOW CLIENTS')).rows; } finally { await c.end(); }
}

describe('DATABASE_URL for the pool, DATABASE_DIRECT_URL for session connections', () => {
  let db: TestDatabase;
  afterAll(async () => { await db?.drop(); });
  const { app, t } = useApp(async () => {
    db = await createTestDatabase();
    const env = appDatabaseEnv(db.url);
    return { database: db, config: { ...env, DATABASE_URL: tagged(env.DATABASE_URL, 'pg_pooled'), DATABASE_DIRECT_URL: tagged(env.DATABASE_DIRECT_URL ?? env.DATABASE_URL, 'pg_direct') } };
  });

  it('LISTEN and pg-boss come in through the direct URL, the pool through DATABASE_URL, all as the runtime login', async () => {
    const login = decodeURIComponent(new URL(app.pg.deps.db.url).username);
    expect(app.pg.deps.db.directUrl).not.toBe(app.pg.deps.db.url);
    // Pool traffic (a list written, read back) and a pg-boss job sent through pg-boss's own pool.
    const r = await t.api('POST', '/api/lists', { name: 'Direct' });
    expect(r.status).toBe(201);
    expect((await t.api('GET', `/api/lists/${r.body.id}`)).status).toBe(200);
    expect(await app.pg.deps.boss.send('maintenance', {})).toBeTruthy();
    let seen: Backend[] = [];
    await waitFor(async () => {
      seen = await backends(db.url);
      return seen.some((b) => b.application_name === 'pg_pooled') && seen.filter((b) => /^LISTEN /.test(b.query)).length === 2;
    }, { timeout: 10_000, message: () => `backends: ${JSON.stringify(seen)}` });
    const listens = seen.filter((b) => /^LISTEN /.test(b.query));
    expect(listens.map((b) => [b.query, b.application_name]).sort()).toEqual([['LISTEN postgate_events', 'pg_direct'], ['LISTEN postgate_send', 'pg_direct']]);
    // pg-boss's own pool: its connections are direct ones that are not the listeners.
    expect(seen.filter((b) => b.application_name === 'pg_direct' && !/^LISTEN /.test(b.query)).length).toBeGreaterThan(0);
    expect([...new Set(seen.map((b) => b.usename))]).toEqual([login]);
    const ext = externalPg();
    const untagged = seen.filter((b) => b.application_name !== 'pg_direct' && b.application_name !== 'pg_pooled');
    // Behind PgBouncer a server connection it has just opened carries no application_name until it is
    // linked to a client (it then SETs the client's): only pooled connections can be such, never a LISTEN.
    if (ext) expect(untagged.filter((b) => /^LISTEN /.test(b.query)), JSON.stringify(seen)).toEqual([]);
    else expect(untagged, JSON.stringify(seen)).toEqual([]);
    if (ext) {
      // Behind PgBouncer: the pool's clients are PgBouncer's (for this database, as the runtime login); no direct one is.
      const clients = (await pgbouncerClients(ext.adminUrl, ext.pgbouncer)).filter((c) => c.database === db.name);
      expect(clients.length).toBeGreaterThan(0);
      expect([...new Set(clients.map((c) => `${c.user} ${c.application_name}`))]).toEqual([`${login} pg_pooled`]);
      expect(new URL(app.pg.deps.db.url).host).toBe(ext.pgbouncer);
    }
  });
});

describe('configuration', () => {
  it('refuses DATABASE_DIRECT_URL without DATABASE_URL, naming both', async () => {
    const config = loadConfig({}, { DATA_DIR: '/nonexistent-postgate', DATABASE_DIRECT_URL: 'postgres://rt:pw@127.0.0.1:1/postgate' });
    const failed = await openDatabase(config, createLogger('silent', false)).then(() => null, (err: unknown) => err);
    expect(failed).toBeInstanceOf(ConfigError);
    expect((failed as Error).message).toBe('invalid configuration: DATABASE_DIRECT_URL is set but DATABASE_URL (the pooled login) is not');
  });

  it('keeps DATABASE_DIRECT_URL out of error messages (it holds a password)', () => {
    expect(() => loadConfig({ DATABASE_DIRECT_URL: 'mysql://rt:secret@db/x' }, { DATA_DIR: '/tmp' })).toThrow(/^invalid configuration: DATABASE_DIRECT_URL must be a URL \(postgres: or postgresql:\)$/);
  });
});

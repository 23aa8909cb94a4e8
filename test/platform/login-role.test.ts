// The service's own login role (src/platform/roles.ts): every run-time connection logs in as a plain
// member of postgate_app, so no statement (SET ROLE NONE, RESET ROLE, SET ROLE postgres) leaves
// row-level security. Provisioned (a privileged DATABASE_URL) and split (DATABASE_URL the runtime
// login, DATABASE_OWNER_URL the owner), against the real cluster of the test run.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { useApp, startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { killAll, startProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { loginProblem, runtimeRoleName, RUNTIME_ROLE_COMMENT, withLogin } from '../../src/platform/roles.js';

const consent = { text: 'Yes, send me the newsletter.', source: 'test' };

/** Reads every tenant-bound table the way an injected statement would, after `escape`, inside tenant `as`. */
async function visibleTenants(c: pg.ClientBase, escape: string, as: string): Promise<{ tenants: string[]; lists: string[] }> {
  await c.query('BEGIN');
  try {
    await c.query(escape);
    await c.query("SELECT set_config('app.tenant_id', $1, true)", [as]);
    const tenants = (await c.query<{ id: string }>('SELECT id FROM tenants')).rows.map((r) => r.id);
    const lists = (await c.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM lists')).rows.map((r) => r.tenant_id);
    return { tenants, lists };
  } finally {
    await c.query('ROLLBACK');
  }
}

/**
 * The logins of every other connection to the database at `url`, once the connections tests just
 * closed have gone (a backend leaves pg_stat_activity a moment after its client ends).
 */
async function loginsOf(url: string): Promise<string[]> {
  const read = async () => (await ownerQuery<{ usename: string }>(url,
    `SELECT usename FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)).map((r) => r.usename);
  let seen: string[] = [];
  await waitFor(async () => { seen = [...new Set(await read())].sort(); return seen.length === 1; }, { timeout: 3000 }).catch(() => undefined);
  return seen;
}

const ESCAPES = ['SET ROLE NONE', 'RESET ROLE', 'SET LOCAL ROLE NONE', 'SET SESSION AUTHORIZATION DEFAULT', 'RESET ALL'];

describe('provisioned: a privileged DATABASE_URL (the test cluster superuser)', () => {
  const { app, t: a, tenant } = useApp({ tenant: { name: 'A' } });
  const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });

  it('the pool logs in as <database>_runtime: no superuser, no BYPASSRLS, owns nothing, member of postgate_app', async () => {
    const role = runtimeRoleName(app.db.name);
    const [me] = (await app.pg.deps.db.pool.query<{ login: string; current: string; super: boolean; bypass: boolean; owned: number; member: boolean; comment: string }>(
      `SELECT session_user AS login, current_user AS current, r.rolsuper AS super, r.rolbypassrls AS bypass,
         (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned, pg_has_role(r.oid, 'postgate_app', 'USAGE') AS member,
         shobj_description(r.oid, 'pg_authid') AS comment
       FROM pg_roles r WHERE r.rolname = session_user`)).rows;
    expect(me).toEqual({ login: role, current: role, super: false, bypass: false, owned: 0, member: true, comment: RUNTIME_ROLE_COMMENT });
    expect(new URL(app.pg.deps.db.url).username).toBe(role);
    expect(new URL(app.pg.deps.db.url).password).not.toBe('');
  });

  it.each(ESCAPES)('from the app\'s pool, `%s` then a tenant\'s queries still see only that tenant', async (escape) => {
    const c = await app.pg.deps.db.pool.connect();
    try {
      expect(await visibleTenants(c, escape, a.id)).toEqual({ tenants: [a.id], lists: [a.id] });
      expect(await visibleTenants(c, escape, b.id)).toEqual({ tenants: [b.id], lists: [b.id] });
      // Without a tenant: nothing at all.
      await c.query(escape);
      expect((await c.query('SELECT id FROM tenants')).rowCount).toBe(0);
      expect((await c.query('SELECT id FROM contacts')).rowCount).toBe(0);
    } finally {
      await c.query('RESET ALL').catch(() => undefined);
      c.release();
    }
  });

  it('from a raw connection with the runtime URL: SET ROLE to the superuser or the owner is refused; instance_settings stays unreadable', async () => {
    const c = new pg.Client({ connectionString: app.pg.deps.db.url });
    await c.connect();
    try {
      await expect(c.query('SET ROLE postgres')).rejects.toThrow(/permission denied to set role/);
      await expect(c.query('SET SESSION AUTHORIZATION postgres')).rejects.toThrow(/permission denied/);
      await c.query('SET ROLE NONE');
      await expect(c.query('SELECT value FROM instance_settings')).rejects.toThrow(/permission denied/);
      await c.query('SET ROLE postgate_app'); // allowed, and changes nothing
      expect(await visibleTenants(c, 'RESET ROLE', a.id)).toEqual({ tenants: [a.id], lists: [a.id] });
      await expect(c.query('INSERT INTO lists (tenant_id, name) VALUES ($1, $2)', [b.id, 'sneaky'])).rejects.toThrow(/row-level security/);
      await expect(c.query('ALTER TABLE tenants DISABLE ROW LEVEL SECURITY')).rejects.toThrow(/must be owner/);
      await expect(c.query('CREATE ROLE sneaky SUPERUSER')).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
    }
  });

  it('no connection of the running app (pool, pg-boss, dispatcher LISTEN) logs in as anything but the runtime login', async () => {
    expect(await loginsOf(app.db.url)).toEqual([runtimeRoleName(app.db.name)]);
    const listeners = await ownerQuery(app.db.url, `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN postgate_send'`);
    expect(listeners.length).toBe(1);
  });

  it('pg-boss runs as the runtime login: createQueue, send, work, schedule, maintenance; a new queue\'s partition is the owner\'s', async () => {
    const boss = app.pg.deps.boss;
    const name = `login-role-${randomBytes(4).toString('hex')}`;
    await boss.createQueue(name);
    const got: unknown[] = [];
    await boss.work<{ n: number }>(name, { pollingIntervalSeconds: 0.5 }, async ([job]) => { got.push(job.data); });
    await boss.send(name, { n: 7 });
    await waitFor(() => got.length > 0, { timeout: 10_000 });
    expect(got).toEqual([{ n: 7 }]);
    await boss.schedule(name, '*/5 * * * *');
    expect(await ownerQuery(app.db.url, 'SELECT cron FROM pgboss.schedule WHERE name = $1', [name])).toEqual([{ cron: '*/5 * * * *' }]);
    const owners = await ownerQuery<{ owner: string }>(app.db.url,
      `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgboss'`);
    expect(owners).toEqual([{ owner: 'postgres' }]);
    await boss.unschedule(name);
    await boss.maintain(); // the supervisor's expire / archive / drop, as the runtime login
    expect(await boss.getQueueSize(name)).toBe(0);
  });

  it('an API call that writes and reads, and its activation mail, go through the runtime login', async () => {
    const r = await a.api('POST', '/api/contacts', { email: 'runtime-login@example.org', name: 'Rita', newsletter: true, consent });
    expect(r.status).toBe(201);
    expect((await a.api('GET', `/api/contacts/${r.body.id}`)).body.email).toBe('runtime-login@example.org');
    expect((await b.api('GET', `/api/contacts/${r.body.id}`)).status).toBe(404);
    await waitFor(() => app.sink.received.some((m) => m.envelopeTo.includes('runtime-login@example.org')), { timeout: 15_000 });
  });

  it('stores the password once: a second Postgate on the same database reuses it and the first keeps connecting', async () => {
    const before = await ownerQuery<{ value: string }>(app.db.url, "SELECT value FROM instance_settings WHERE name = 'runtime_login'");
    const verifier = await ownerQuery(app.db.url, 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [runtimeRoleName(app.db.name)]);
    const second = await startTestApp({ database: app.db, roles: { worker: false, inbound: false } });
    try {
      expect(second.pg.deps.db.url).toBe(app.pg.deps.db.url);
      expect(await ownerQuery(app.db.url, "SELECT value FROM instance_settings WHERE name = 'runtime_login'")).toEqual(before);
      // The password was not applied again (the verifier, salt included, is unchanged).
      expect(await ownerQuery(app.db.url, 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [runtimeRoleName(app.db.name)])).toEqual(verifier);
      const fresh = new pg.Client({ connectionString: app.pg.deps.db.url });
      await fresh.connect();
      await fresh.end();
    } finally {
      await second.stop();
    }
  });
});

describe('provisioned: processes starting at once on a fresh database', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('three Postgates started together agree on one login and one password; all of them work', async () => {
    const apps = await Promise.all([1, 2, 3].map((i) => startTestApp({ database: db, roles: { worker: i === 1, inbound: false } })));
    try {
      expect(new Set(apps.map((x) => x.pg.deps.db.url)).size).toBe(1);
      for (const x of apps) expect((await x.pg.deps.db.pool.query<{ u: string }>('SELECT current_user AS u')).rows[0].u).toBe(runtimeRoleName(db.name));
      expect(await ownerQuery(db.url, "SELECT count(*)::int AS n FROM instance_settings WHERE name = 'runtime_login'")).toEqual([{ n: 1 }]);
    } finally {
      for (const x of apps) await x.stop();
    }
  }, 60_000);

  it('refuses to take over a role of that name Postgate did not create', async () => {
    const other = await createTestDatabase();
    const role = runtimeRoleName(other.name);
    await ownerQuery(other.url, `CREATE ROLE ${role} LOGIN`);
    try {
      await expect(startTestApp({ database: other })).rejects.toThrow(new RegExp(`^DATABASE_URL: a role ${role} exists that Postgate did not create`));
      expect(await ownerQuery(other.url, 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).toEqual([{ rolpassword: null }]);
    } finally {
      await other.drop(); // drops the role too
    }
  });
});

describe('split: DATABASE_URL is the runtime login, DATABASE_OWNER_URL the owner', () => {
  const suffix = randomBytes(4).toString('hex');
  const runtime = `split_rt_${suffix}`;
  const password = randomBytes(12).toString('base64url');
  const roles: string[] = [];
  let db: TestDatabase;
  let app: TestApp | undefined;
  const admin = () => inject('pgAdminUrl');

  /** As the operator would (README "External PostgreSQL"). */
  async function operatorRole(name: string, extra = ''): Promise<string> {
    roles.push(name);
    await ownerQuery(admin(), `CREATE ROLE ${name} LOGIN PASSWORD '${password}' ${extra}`);
    await ownerQuery(admin(), `GRANT postgate_app TO ${name}`);
    return withLogin(db.url, name, password);
  }

  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => {
    await app?.stop();
    await killAll();
    await db.drop();
    for (const r of roles) await ownerQuery(admin(), `DROP OWNED BY ${r} CASCADE`).catch(() => undefined);
    for (const r of roles) await ownerQuery(admin(), `DROP ROLE IF EXISTS ${r}`);
  });

  it('a superuser DATABASE_URL with DATABASE_OWNER_URL set: `postgate web` refuses with one line naming DATABASE_URL', async () => {
    const failed = await startProcess('web', { databaseUrl: db.url, env: { DATABASE_OWNER_URL: db.url }, timeoutMs: 30_000 }).then(() => null, (err: Error) => err.message);
    const lines = (failed ?? '').split('\n').slice(1).filter((l) => l.trim() !== '');
    expect(lines).toEqual(['postgate: DATABASE_URL must log in as Postgate\'s own runtime role, but "postgres" is a superuser; see README "External PostgreSQL"']);
  }, 40_000);

  it('refuses a login that owns a table, has BYPASSRLS, or is not a member of postgate_app', async () => {
    const owning = await operatorRole(`split_own_${suffix}`);
    await ownerQuery(db.url, `CREATE TABLE owned_by_runtime (x int); ALTER TABLE owned_by_runtime OWNER TO split_own_${suffix}`);
    await expect(startTestApp({ database: db, config: { DATABASE_URL: owning, DATABASE_OWNER_URL: db.url } }))
      .rejects.toThrow(/^DATABASE_URL must log in as Postgate's own runtime role, but "split_own_\w+" owns public\.owned_by_runtime \(owners are not bound by row-level security\)/);
    const bypass = await operatorRole(`split_bypass_${suffix}`, 'BYPASSRLS');
    await expect(startTestApp({ database: db, config: { DATABASE_URL: bypass, DATABASE_OWNER_URL: db.url } })).rejects.toThrow(/"split_bypass_\w+" has BYPASSRLS/);
    roles.push(`split_lone_${suffix}`);
    await ownerQuery(admin(), `CREATE ROLE split_lone_${suffix} LOGIN PASSWORD '${password}'`);
    await expect(startTestApp({ database: db, config: { DATABASE_URL: withLogin(db.url, `split_lone_${suffix}`, password), DATABASE_OWNER_URL: db.url } }))
      .rejects.toThrow(/is not a member of postgate_app \(GRANT postgate_app TO split_lone_\w+\)/);
  });

  it('with a proper runtime login: migrations as the owner, everything else as the login, an API call writes and reads end to end', async () => {
    const url = await operatorRole(runtime);
    app = await startTestApp({ database: db, config: { DATABASE_URL: url, DATABASE_OWNER_URL: db.url } });
    expect(app.pg.deps.db.url).toBe(url);
    const t = await app.tenant();
    const r = await t.api('POST', '/api/contacts', { email: 'split@example.org', name: 'Sam', newsletter: true, consent });
    expect(r.status).toBe(201);
    expect((await t.api('GET', `/api/contacts/${r.body.id}`)).body.email).toBe('split@example.org');
    await waitFor(() => app?.sink.received.some((m) => m.envelopeTo.includes('split@example.org')), { timeout: 15_000 });
    expect(await loginsOf(db.url)).toEqual([runtime]);
    // Nothing was provisioned: no <database>_runtime role, no stored password.
    expect(await ownerQuery(db.url, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [runtimeRoleName(db.name)])).toEqual([]);
    expect(await ownerQuery(db.url, "SELECT 1 FROM instance_settings WHERE name = 'runtime_login'")).toEqual([]);
  });

  it('with only DATABASE_URL (the runtime login): starts on a migrated schema, loading the stored token keys through the definer function', async () => {
    const url = withLogin(db.url, runtime, password);
    const web = await startTestApp({ database: db, config: { DATABASE_URL: url, TOKEN_KEYS: undefined }, roles: { worker: false, inbound: false } });
    try {
      const stored = await ownerQuery<{ value: string }>(db.url, "SELECT value FROM instance_settings WHERE name = 'token_keys'");
      expect(stored.length).toBe(1);
      expect(web.pg.deps.tokens.keys).toEqual(Object.fromEntries(stored[0].value.split(',').map((p) => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)])));
      const t = await web.tenant();
      expect((await t.api('GET', '/api/tenant')).status).toBe(200);
    } finally {
      await web.stop();
    }
  });

  it('with only DATABASE_URL (the runtime login) and a migration pending: refuses with one line', async () => {
    await ownerQuery(db.url, "DELETE FROM schema_migrations WHERE name = '067_login_role.sql'");
    try {
      await expect(startTestApp({ database: db, config: { DATABASE_URL: withLogin(db.url, runtime, password) } }))
        .rejects.toThrow(/^DATABASE_URL is Postgate's runtime login, which cannot migrate, and 1 migration\(s\) are pending \(067_login_role\.sql…\): run `postgate migrate` with DATABASE_OWNER_URL set$/);
    } finally {
      await ownerQuery(db.url, "INSERT INTO schema_migrations (name) VALUES ('067_login_role.sql')");
    }
  });
});

describe('loginProblem', () => {
  const fit = { login: 'rt', superuser: false, bypassRls: false, privilegedRole: null, ownedRelations: 0, ownedExample: null, appMember: true };
  it('accepts a plain member of postgate_app and names the first problem otherwise', () => {
    expect(loginProblem(fit)).toBeNull();
    expect(loginProblem({ ...fit, superuser: true })).toBe('is a superuser');
    expect(loginProblem({ ...fit, privilegedRole: 'admin' })).toBe('can act as admin, a superuser or BYPASSRLS role');
    expect(loginProblem({ ...fit, ownedRelations: 3, ownedExample: 'public.x' })).toBe('owns public.x and 2 more (owners are not bound by row-level security)');
  });
  it('names roles per database, within PostgreSQL\'s 63 bytes', () => {
    expect(runtimeRoleName('postgate')).toBe('postgate_runtime');
    expect(runtimeRoleName('My-DB')).toMatch(/^postgate_runtime_[0-9a-f]{12}$/);
    expect(runtimeRoleName('x'.repeat(63)).length).toBeLessThanOrEqual(63);
  });
});

// The service's own login role. Every runtime connection (the pool, pg-boss, the dispatcher's LISTEN)
// logs in as a role that is not a superuser, has NOBYPASSRLS, owns no table and is a member of
// postgate_app: SET ROLE NONE / RESET ROLE leave it with postgate_app's rights and no more, so no
// statement can leave row-level security. No `options: -c role=` startup parameter (PgBouncer
// refuses it). Two ways to get that login:
//   - provisioned: DATABASE_URL (or the embedded cluster) is the owner; Postgate creates the login
//     (`<database>_runtime`) with a generated password stored once in instance_settings (owner-only);
//   - split: DATABASE_URL is the operator's runtime login, DATABASE_OWNER_URL the migration role.
// The owner is used only at start (migrations, pg-boss's schema, the login); never at run time.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import pg from 'pg';
import { ConfigError } from '../config.js';
import { APP_ROLE, migrate } from './db.js';
import type { Logger } from './log.js';
import { installQueue } from './queue.js';
import { storedRuntimeLogin } from './secrets.js';

/** Held (on the owner connection) while one process prepares a database: migrations, queue schema, login. */
const PREPARE_LOCK = 7403922;
/** Written on the roles Postgate creates: a role of that name without it is someone else's and left alone. */
export const RUNTIME_ROLE_COMMENT = 'Postgate runtime login (managed by Postgate: a plain member of postgate_app)';

/**
 * The database's logins: the owner (migrations; null when only the runtime login is given; a direct
 * connection: it holds session advisory locks) and the runtime login (null: provisioned).
 */
export interface DatabaseLogins {
  ownerUrl: string | null;
  /** The runtime login as the pool reaches it (DATABASE_URL: PgBouncer, say); null: provisioned. */
  runtimeUrl: string | null;
  /** The runtime login straight to PostgreSQL (DATABASE_DIRECT_URL), for LISTEN and pg-boss; absent or null: runtimeUrl. */
  runtimeDirectUrl?: string | null;
  /** Provisioned: DATABASE_URL as given (the owner, maybe through PgBouncer), from which the runtime login's pooled URL is derived; absent or null: ownerUrl. */
  ownerPooledUrl?: string | null;
}

/** Where run-time connections go: `pooled` for the pool's transactions, `direct` for session connections (LISTEN, pg-boss); the same login. */
export interface RuntimeUrls { pooled: string; direct: string }

/** What a login may do beyond postgate_app, read from the catalogs as that login. */
export interface LoginInspection {
  login: string;
  superuser: boolean;
  bypassRls: boolean;
  /** A superuser or BYPASSRLS role it can SET ROLE to or inherits from, if any. */
  privilegedRole: string | null;
  /** Tables, views and sequences (outside the system schemas) it owns or could act as the owner of. */
  ownedRelations: number;
  /** One of them (schema.name), for the message. */
  ownedExample: string | null;
  /** Inherits postgate_app's privileges (false when postgate_app does not exist yet). */
  appMember: boolean;
}

/**
 * The role name Postgate provisions for a database: `<database>_runtime` for plain names (63 bytes
 * at most, PostgreSQL's limit), else `postgate_runtime_<12 hex of SHA-256(database)>`. Roles are
 * cluster-wide; one per database keeps databases of one cluster (tests) from sharing a password.
 */
export function runtimeRoleName(database: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(database) && database.length <= 55) return `${database}_runtime`;
  return `postgate_runtime_${createHash('sha256').update(database).digest('hex').slice(0, 12)}`;
}

/**
 * A SCRAM-SHA-256 verifier for `password` (RFC 5802, RFC 7677; PostgreSQL's stored format
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64). Given to CREATE/ALTER ROLE
 * so the password itself never appears in a statement (nor in a server log). The password must be
 * ASCII without control characters (SASLprep is then the identity): Postgate's are base64url.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('scramVerifier: the password must be printable ASCII');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `url` with another user and password (host, port, database and parameters such as sslmode kept). */
export function withLogin(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** A SQL string literal (standard_conforming_strings on): for utility statements, which take no parameters. */
function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

async function connected<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try { return await fn(client); } finally { await client.end().catch(() => undefined); }
}

/** Reads, as the login of `c` (its session user: what SET ROLE NONE returns to), what that login may do. */
export async function inspectLogin(c: pg.ClientBase): Promise<LoginInspection> {
  const r = await c.query<{ login: string; superuser: boolean; bypass: boolean; privileged: string | null; owned: number; example: string | null; member: boolean }>(
    `WITH me AS (SELECT oid, rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = session_user),
     owned AS (
       SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, me
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' AND pg_has_role(me.oid, c.relowner, 'MEMBER'))
     SELECT me.rolname AS login, me.rolsuper AS superuser, me.rolbypassrls AS bypass,
       (SELECT o.rolname FROM pg_roles o WHERE (o.rolsuper OR o.rolbypassrls) AND o.oid <> me.oid AND pg_has_role(me.oid, o.oid, 'MEMBER') LIMIT 1) AS privileged,
       (SELECT count(*) FROM owned)::int AS owned, (SELECT min(name) FROM owned) AS example,
       coalesce((SELECT pg_has_role(me.oid, a.oid, 'USAGE') FROM pg_roles a WHERE a.rolname = $1), false) AS member
     FROM me`, [APP_ROLE]);
  const row = r.rows[0];
  return { login: row.login, superuser: row.superuser, bypassRls: row.bypass, privilegedRole: row.privileged,
    ownedRelations: row.owned, ownedExample: row.example, appMember: row.member };
}

/** Why a login is unfit to be the runtime login (one clause), or null when it is fit. Pure. */
export function loginProblem(i: LoginInspection): string | null {
  if (i.superuser) return 'is a superuser';
  if (i.bypassRls) return 'has BYPASSRLS';
  if (i.privilegedRole) return `can act as ${i.privilegedRole}, a superuser or BYPASSRLS role`;
  if (i.ownedRelations > 0) return `owns ${i.ownedExample}${i.ownedRelations > 1 ? ` and ${i.ownedRelations - 1} more` : ''} (owners are not bound by row-level security)`;
  if (!i.appMember) return `is not a member of ${APP_ROLE} (GRANT ${APP_ROLE} TO ${i.login})`;
  return null;
}

/** Refuses (ConfigError, one line naming `variable`) a runtime URL whose login could leave row-level security. */
export async function assertRuntimeLogin(url: string, variable: string): Promise<void> {
  const i = await connected(url, inspectLogin);
  const problem = loginProblem(i);
  if (problem) {
    throw new ConfigError(`${variable} must log in as Postgate's own runtime role, but "${i.login}" ${problem}; see README "External PostgreSQL"`);
  }
}

/**
 * Which logins DATABASE_URL (and DATABASE_OWNER_URL) stand for. With an owner URL: split, checked at
 * prepare. Without: DATABASE_URL is the runtime login itself when it is fit for it (the operator ran
 * `postgate migrate` with the owner), otherwise it is taken as the owner and the login is provisioned.
 * `directUrl` (DATABASE_DIRECT_URL) is DATABASE_URL's login straight to PostgreSQL when DATABASE_URL
 * goes through a pooler: the login is inspected there, and a provisioned owner migrates there (its
 * advisory locks are session locks); the runtime login's direct URL is derived from it.
 */
export async function databaseLogins(databaseUrl: string, ownerUrl: string | undefined, directUrl?: string): Promise<DatabaseLogins> {
  const runtimeDirectUrl = directUrl ?? null;
  if (ownerUrl) return { ownerUrl, runtimeUrl: databaseUrl, runtimeDirectUrl };
  const fit = loginProblem(await connected(directUrl ?? databaseUrl, inspectLogin)) === null;
  return fit ? { ownerUrl: null, runtimeUrl: databaseUrl, runtimeDirectUrl }
    : { ownerUrl: directUrl ?? databaseUrl, runtimeUrl: null, ownerPooledUrl: databaseUrl };
}

interface StoredLogin { role: string; password: string }

/**
 * As the owner (connection `c`, inside PREPARE_LOCK): creates the runtime login if missing, makes
 * it a member of postgate_app, and makes its password the one stored in instance_settings, which is
 * generated once: a second process starting at once reads the same one back, never replaces it.
 * Returns the login (role and password; the owner URL with them logs in). Throws ConfigError when
 * the owner may not create roles, or when a role of that name exists that Postgate did not create.
 */
async function provisionLogin(c: pg.Client, ownerUrl: string): Promise<StoredLogin> {
  const { rows: [{ db }] } = await c.query<{ db: string }>('SELECT current_database() AS db');
  const candidate: StoredLogin = { role: runtimeRoleName(db), password: randomBytes(24).toString('base64url') };
  const stored = await storedRuntimeLogin(c, candidate);
  const ident = c.escapeIdentifier(stored.role);
  const state = async () => (await c.query<{ comment: string | null; unsafe: boolean; member: boolean }>(
    `SELECT shobj_description(r.oid, 'pg_authid') AS comment, (r.rolsuper OR r.rolbypassrls OR NOT r.rolcanlogin OR NOT r.rolinherit) AS unsafe,
       pg_has_role(r.oid, $2, 'USAGE') AS member
     FROM pg_roles r WHERE r.rolname = $1`, [stored.role, APP_ROLE])).rows[0];
  let role = await state();
  if (!role) {
    try {
      await c.query(`CREATE ROLE ${ident} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT PASSWORD ${literal(scramVerifier(stored.password))}`);
      await c.query(`COMMENT ON ROLE ${ident} IS ${literal(RUNTIME_ROLE_COMMENT)}`);
    } catch (err) {
      if ((err as { code?: string }).code === '42501') {
        throw new ConfigError(`DATABASE_URL cannot create Postgate's runtime login role ${stored.role} (it needs CREATEROLE): `
          + 'grant it, or create the role yourself and set DATABASE_OWNER_URL (see README "External PostgreSQL")');
      }
      throw err;
    }
    role = await state();
  } else if (role.comment !== RUNTIME_ROLE_COMMENT) {
    throw new ConfigError(`DATABASE_URL: a role ${stored.role} exists that Postgate did not create; drop or rename it, `
      + 'or give Postgate its runtime login yourself with DATABASE_OWNER_URL (see README "External PostgreSQL")');
  }
  // Roles are cluster-wide and outlive a database: undo what was given to it by hand that would let it leave RLS.
  if (role.unsafe) await c.query(`ALTER ROLE ${ident} NOSUPERUSER NOBYPASSRLS LOGIN INHERIT`);
  if (!role.member) await c.query(`GRANT ${c.escapeIdentifier(APP_ROLE)} TO ${ident}`);
  const runtimeUrl = withLogin(ownerUrl, stored.role, stored.password);
  // The stored password is applied only when it does not already log in: a running process of
  // another database sharing this role (a cloned database) is never cut off, and no statement
  // carrying a verifier is run at every start.
  if (!(await logsIn(runtimeUrl))) await c.query(`ALTER ROLE ${ident} PASSWORD ${literal(scramVerifier(stored.password))}`);
  return stored;
}

async function logsIn(url: string): Promise<boolean> {
  try {
    await connected(url, (c) => c.query('SELECT 1'));
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') return false; // invalid_password
    throw err;
  }
}

/** Refuses to start on a schema older than the code (a process holding only the runtime login cannot migrate). */
async function assertMigrated(runtimeUrl: string, migrationsDir: string): Promise<void> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d+_.+\.sql$/.test(f));
  const applied = await connected(runtimeUrl, async (c) => new Set((await c.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name)))
    .catch((err: { code?: string }) => {
      // No table yet, or one from before 067 that the runtime login may not read: nothing counts as applied.
      if (err.code === '42P01' || err.code === '42501') return new Set<string>();
      throw err;
    });
  const missing = files.filter((f) => !applied.has(f)).sort();
  if (missing.length > 0) {
    throw new ConfigError(`DATABASE_URL is Postgate's runtime login, which cannot migrate, and ${missing.length} migration(s) are pending `
      + `(${missing[0]}…): run \`postgate migrate\` with DATABASE_OWNER_URL set`);
  }
}

/**
 * Makes the database ready and returns the runtime URL every run-time connection uses (the pooled
 * one: see prepareRuntime for both).
 */
export async function prepareDatabase(logins: DatabaseLogins, migrationsDir: string, log?: Logger): Promise<string> {
  return (await prepareRuntime(logins, migrationsDir, log)).pooled;
}

/**
 * Makes the database ready and returns the runtime login's URLs: pooled (the pool) and direct
 * (LISTEN, pg-boss; the same as pooled unless DATABASE_DIRECT_URL is set). With an owner: under a
 * session advisory lock on the owner's (direct) connection (processes starting together wait for
 * each other), applies the migrations, installs pg-boss's schema and queues, and provisions the
 * runtime login unless given. Then, in every mode, checks the runtime login on both URLs
 * (ConfigError naming DATABASE_URL or DATABASE_DIRECT_URL otherwise).
 */
export async function prepareRuntime(logins: DatabaseLogins, migrationsDir: string, log?: Logger): Promise<RuntimeUrls> {
  let urls = logins.runtimeUrl ? { pooled: logins.runtimeUrl, direct: logins.runtimeDirectUrl ?? logins.runtimeUrl } : null;
  const ownerUrl = logins.ownerUrl;
  if (ownerUrl) {
    urls = await connected(ownerUrl, async (c) => {
      await c.query('SELECT pg_advisory_lock($1)', [PREPARE_LOCK]);
      try {
        await migrate(ownerUrl, migrationsDir, log);
        await installQueue(ownerUrl, log);
        if (urls) return urls;
        const login = await provisionLogin(c, ownerUrl);
        return { pooled: withLogin(logins.ownerPooledUrl ?? ownerUrl, login.role, login.password), direct: withLogin(ownerUrl, login.role, login.password) };
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [PREPARE_LOCK]).catch(() => undefined);
      }
    });
  } else if (urls) {
    await assertMigrated(urls.direct, migrationsDir);
  }
  if (!urls) throw new ConfigError('DATABASE_URL is required');
  await assertRuntimeLogin(urls.pooled, 'DATABASE_URL');
  if (urls.direct !== urls.pooled) await assertRuntimeLogin(urls.direct, 'DATABASE_DIRECT_URL');
  log?.info({ login: decodeURIComponent(new URL(urls.pooled).username), direct: urls.direct !== urls.pooled }, 'run-time connections log in as the runtime login');
  return urls;
}

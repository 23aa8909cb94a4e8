// External mode of the integration tests (.ci/standalone-pg.sh, `npm run test:pgbouncer`): a
// standalone PostgreSQL server, not the embedded one, reached through PgBouncer in transaction
// pooling. Driven by the environment; without it every test runs on the embedded cluster as before.
//
//   POSTGATE_TEST_PG_ADMIN_URL  a superuser straight to the server, database `postgres` (creates databases)
//   POSTGATE_TEST_PGBOUNCER     host:port of PgBouncer in front of that server (a wildcard [databases] entry)
//   POSTGATE_TEST_PG_OWNER      user:password of the schema owner (not a superuser; owns every test database)
//   POSTGATE_TEST_PG_RUNTIME    user:password of Postgate's runtime login (a plain member of postgate_app,
//                               known to PgBouncer's auth_file)
//
// The app under test then runs split (README "External PostgreSQL"): DATABASE_OWNER_URL the owner
// (direct), DATABASE_URL the runtime login through PgBouncer, DATABASE_DIRECT_URL the runtime login direct.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/platform/db.js';
import { withLogin } from '../../src/platform/roles.js';
import { MIGRATIONS_DIR } from '../../src/main.js';

export interface ExternalPg {
  adminUrl: string;
  /** host:port of PgBouncer. */
  pgbouncer: string;
  owner: { user: string; password: string };
  runtime: { user: string; password: string };
}

function credentials(variable: string): { user: string; password: string } {
  const v = process.env[variable] ?? '';
  const i = v.indexOf(':');
  if (i <= 0) throw new Error(`${variable} must be user:password (external test mode: POSTGATE_TEST_PG_ADMIN_URL is set)`);
  return { user: v.slice(0, i), password: v.slice(i + 1) };
}

/** The external server from the environment, or null (embedded mode). Throws naming the variable when it is incomplete. */
export function externalPg(): ExternalPg | null {
  const adminUrl = process.env.POSTGATE_TEST_PG_ADMIN_URL;
  if (!adminUrl) return null;
  const pgbouncer = process.env.POSTGATE_TEST_PGBOUNCER ?? '';
  if (!/^[^:]+:\d+$/.test(pgbouncer)) throw new Error('POSTGATE_TEST_PGBOUNCER must be host:port (external test mode: POSTGATE_TEST_PG_ADMIN_URL is set)');
  return { adminUrl, pgbouncer, owner: credentials('POSTGATE_TEST_PG_OWNER'), runtime: credentials('POSTGATE_TEST_PG_RUNTIME') };
}

/** `url` with its database replaced. */
function onDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Global setup in external mode: makes `postgate_template` (again, if a previous run left one),
 * owned by the owner login and migrated by it, so every object in it is the owner's, never the superuser's.
 */
export async function setupExternal(project: TestProject, ext: ExternalPg): Promise<() => Promise<void>> {
  const template = 'postgate_template';
  const admin = new pg.Client({ connectionString: ext.adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${template} OWNER ${pg.escapeIdentifier(ext.owner.user)}`);
  } finally {
    await admin.end();
  }
  await migrate(withLogin(onDatabase(ext.adminUrl, template), ext.owner.user, ext.owner.password), MIGRATIONS_DIR);
  project.provide('pgAdminUrl', ext.adminUrl);
  project.provide('pgTemplate', template);
  return async () => {
    const c = new pg.Client({ connectionString: ext.adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    await c.end();
  };
}

/** The clause that makes a test database the owner login's in external mode ('' when embedded). */
export function ownerClause(): string {
  const ext = externalPg();
  return ext ? ` OWNER ${pg.escapeIdentifier(ext.owner.user)}` : '';
}

/** Postgate's database configuration, as the environment gives it. */
export interface AppDatabaseEnv { DATABASE_URL: string; DATABASE_OWNER_URL?: string; DATABASE_DIRECT_URL?: string }

/**
 * The database configuration of an app under test on `url` (a test database's superuser URL,
 * TestDatabase.url). Embedded mode: DATABASE_URL = `url` (Postgate provisions its runtime login).
 * External mode, for a URL on the admin's server and login: split, the runtime login through PgBouncer.
 */
export function appDatabaseEnv(url: string): AppDatabaseEnv {
  const ext = externalPg();
  if (!ext) return { DATABASE_URL: url };
  const u = new URL(url);
  const admin = new URL(ext.adminUrl);
  if (u.host !== admin.host || u.username !== admin.username) return { DATABASE_URL: url };
  const direct = withLogin(url, ext.runtime.user, ext.runtime.password);
  const pooled = new URL(direct);
  pooled.host = ext.pgbouncer;
  return { DATABASE_URL: pooled.toString(), DATABASE_OWNER_URL: withLogin(url, ext.owner.user, ext.owner.password), DATABASE_DIRECT_URL: direct };
}

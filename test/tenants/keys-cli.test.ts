// `postgate key create | list | revoke` as a process (the real CLI, DATABASE_URL pointing at a fresh
// test database): the same rules as /api/keys; the secret is printed by create only, once.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/platform/db.js';
import { findApiKey } from '../../src/tenants/api-keys.js';
import { hashApiKey } from '../../src/platform/http.js';
import { tenantRow } from '../support/given.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { killAll, runCli, startProcess, type CliResult } from '../support/processes.js';

let database: TestDatabase;
let db: Db;
let dataDir: string;
let tenant: string;
let other: string;

function cli(...args: string[]): Promise<CliResult> {
  return runCli(['key', ...args], { DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
}

const newTenant = (name: string) => tenantRow(db, name);

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { max: 2 });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-keys-cli-'));
  tenant = await newTenant('Acme');
  other = await newTenant('Other');
});
afterAll(async () => {
  await killAll();
  await db?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('postgate key', () => {
  it('creates named and expiring keys, lists them without secrets, revokes one (401 from then on), keeps the last admin key', async () => {
    const [admin, limited] = await Promise.all([
      cli('create', '--tenant', tenant, '--scopes', 'admin', '--name', 'ops laptop', '--json'),
      cli('create', '--tenant', tenant, '--scopes', 'subscribers,campaigns', '--expires-in-days', '7', '--json'),
    ]);
    expect(admin.status, admin.stderr).toBe(0);
    expect(limited.status, limited.stderr).toBe(0);
    const a = JSON.parse(admin.stdout);
    const l = JSON.parse(limited.stdout);
    expect(a).toMatchObject({ scopes: ['admin'], name: 'ops laptop', expiresAt: null });
    expect(a.apiKey).toMatch(/^pg_/);
    expect(Date.parse(l.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(await findApiKey(db, hashApiKey(a.apiKey))).toMatchObject({ tenantId: tenant, keyId: a.keyId, scopes: ['admin'] });

    const [listed, text, foreign] = await Promise.all([cli('list', '--tenant', tenant, '--json'), cli('list', '--tenant', tenant), cli('list', '--tenant', other, '--json')]);
    expect(listed.status, listed.stderr).toBe(0);
    const items = JSON.parse(listed.stdout).items;
    expect(items.map((k: { id: string }) => k.id).sort()).toEqual([a.keyId, l.keyId].sort());
    expect(items.find((k: { id: string }) => k.id === a.keyId)).toMatchObject({ name: 'ops laptop', state: 'live', revokedAt: null, prefix: a.apiKey.slice(0, 7) });
    for (const out of [listed.stdout, text.stdout]) {
      expect(out).not.toContain(a.apiKey);
      expect(out).not.toContain(l.apiKey);
    }
    expect(text.stdout).toContain(a.keyId);
    expect(text.stdout).toContain('name: ops laptop');
    expect(JSON.parse(foreign.stdout).items).toEqual([]);

    // Another tenant's key: not found; the last live admin key: refused; a non-admin key: revoked
    // (independent of each other, so run side by side: each CLI start costs seconds).
    const [wrongTenant, last, revoked] = await Promise.all([
      cli('revoke', '--tenant', other, '--key', a.keyId),
      cli('revoke', '--tenant', tenant, '--key', a.keyId),
      cli('revoke', '--tenant', tenant, '--key', l.keyId, '--json'),
    ]);
    expect(wrongTenant.status).toBe(2);
    expect(wrongTenant.stderr).toContain('not_found (--key)');
    expect(last.status).toBe(2);
    expect(last.stderr).toContain('last_admin_key (--key)');
    expect(await findApiKey(db, hashApiKey(a.apiKey))).not.toBeNull();

    expect(revoked.status, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id: l.keyId, state: 'revoked' });
    expect(await findApiKey(db, hashApiKey(l.apiKey))).toBeNull();
    const [row] = await ownerQuery<{ revoked_at: Date | null }>(database.url, 'SELECT revoked_at FROM api_keys WHERE id = $1', [l.keyId]);
    expect(row.revoked_at).not.toBeNull();
  }, 300_000);

  it('refuses bad options with one line and the usage', async () => {
    const [noScope, badDays, noKey, badScope] = await Promise.all([
      cli('create', '--tenant', tenant),
      cli('create', '--tenant', tenant, '--scopes', 'admin', '--expires-in-days', '0'),
      cli('revoke', '--tenant', tenant),
      cli('create', '--tenant', tenant, '--scopes', 'root'),
    ]);
    expect(noScope.status).toBe(2);
    expect(noScope.stderr).toContain('--scopes is required');
    expect(badDays.status).toBe(2);
    expect(badDays.stderr).toContain('(--expires-in-days)');
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toContain('--key is required');
    expect(badScope.status).toBe(2);
    expect(badScope.stderr).toContain("unknown scope 'root'");
  }, 240_000);
});

describe('the first start with an external DATABASE_URL', () => {
  it('writes the admin key to DATA_DIR/first-admin-key (0600, replacing a stale file), prints only the path, logs nothing of it, and never again', async () => {
    const fresh = await createTestDatabase();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-first-key-'));
    const file = path.join(dir, 'first-admin-key');
    try {
      await writeFile(file, 'stale\n', { mode: 0o644 });
      const first = await startProcess('start', { databaseUrl: fresh.url, env: { DATA_DIR: dir, LOG_LEVEL: 'debug' }, timeoutMs: 60_000 });
      expect(first.output()).toContain(`Admin API key written to ${file}`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const key = (await readFile(file, 'utf8')).trim();
      expect(key).toMatch(/^pg_[A-Za-z0-9_-]{32}$/);
      const res = await fetch(`${first.url}/api/tenant`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      const [row] = await ownerQuery<{ name: string; scopes: string[] }>(fresh.url, 'SELECT name, scopes FROM api_keys');
      expect(row).toMatchObject({ name: 'first start', scopes: ['admin'] });
      await first.stop();
      // stdout and the (debug) log, through the stop: neither the key nor its secret part.
      expect(first.output()).not.toContain(key);
      expect(first.output()).not.toContain(key.slice(7));

      const second = await startProcess('start', { databaseUrl: fresh.url, env: { DATA_DIR: dir }, timeoutMs: 60_000 });
      expect(second.output()).not.toContain('Admin API key');
      await second.stop();
      expect((await readFile(file, 'utf8')).trim()).toBe(key);
      expect(await ownerQuery(fresh.url, 'SELECT id FROM api_keys')).toHaveLength(1);
    } finally {
      await fresh.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

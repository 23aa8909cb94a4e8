// Tenant segregation: through the API, and in the database itself with a query missing its filter.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';

const { app, t: a, tenant } = useApp({ tenant: { name: 'A' } });
const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });

describe('tenant isolation', () => {
  it('shows each key only its own tenant', async () => {
    expect((await a.api('GET', '/api/tenant')).body.name).toBe('A');
    expect((await b.api('GET', '/api/tenant')).body.name).toBe('B');
  });

  it('refuses a missing or unknown key with a JSON error', async () => {
    const none = await fetch(`${app.url}/api/tenant`);
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
    const forged = await fetch(`${app.url}/api/tenant`, { headers: { authorization: `Bearer pg_${'x'.repeat(32)}` } });
    expect(forged.status).toBe(401);
  });

  it('a raw query without a tenant filter sees only the current tenant, and nothing without one', async () => {
    const client = new pg.Client({ connectionString: app.pg.deps.db.url }); // the app's runtime login (test/platform/login-role.test.ts)
    await client.connect();
    try {
      const none = await client.query('SELECT id FROM tenants');
      expect(none.rowCount).toBe(0);
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
      const rows = (await client.query<{ id: string }>('SELECT id FROM tenants')).rows.map((r) => r.id);
      expect(rows).toEqual([a.id]);
      const lists = (await client.query<{ tenant_id: string }>('SELECT tenant_id FROM lists')).rows;
      expect(lists.length).toBeGreaterThan(0);
      expect(lists.every((l) => l.tenant_id === a.id)).toBe(true);
      await expect(client.query('INSERT INTO lists (tenant_id, name) VALUES ($1, $2)', [b.id, 'sneaky'])).rejects.toThrow(/row-level security/);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('stores API keys only as hashes', async () => {
    const rows = await ownerQuery<{ key_hash: Buffer; prefix: string }>(app.db.url, 'SELECT key_hash, prefix FROM api_keys');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const dump = JSON.stringify(await ownerQuery(app.db.url, 'SELECT * FROM api_keys'));
    expect(dump).not.toContain(a.key);
    expect(dump).not.toContain(b.key);
    expect(rows.every((r) => r.key_hash.length === 32 && r.prefix.length < 10)).toBe(true);
  });

  it('enforces key scopes', async () => {
    const limited = await a.api('POST', '/api/keys', { scopes: ['transactional'] });
    expect(limited.status).toBe(201);
    const res = await fetch(`${app.url}/api/tenant`, { headers: { authorization: `Bearer ${limited.body.key}` } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('forbidden_scope');
  });

  it('validates the sender identity: reply-to must be a real, non-no-reply address', async () => {
    const noreply = await a.api('PATCH', '/api/tenant', { replyTo: 'no-reply@acme.org' });
    expect(noreply.status).toBe(422);
    expect(noreply.body.error.field).toBe('replyTo');
    const reserved = await a.api('PATCH', '/api/tenant', { replyTo: 'someone@example.com' });
    expect(reserved.status).toBe(422);
    const injected = await a.api('PATCH', '/api/tenant', { fromName: 'Evil\r\nBcc: x@y.org' });
    expect(injected.status).toBe(422);
    expect(injected.body.error.field).toBe('fromName');
    const ok = await a.api('PATCH', '/api/tenant', { replyTo: 'Help@Acme.ORG', postalAddress: '2 Side Road, Shelbyville' });
    expect(ok.status).toBe(200);
    expect(ok.body.replyTo).toBe('Help@acme.org');
  });

  it('generates a DKIM key and returns the DNS record', async () => {
    const res = await a.api('POST', '/api/dkim', { selector: 'pg1' });
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('pending'); // signs only once its record resolves (test/tenants/dkim-rotation.test.ts)
    expect(res.body.dnsRecord).toMatch(/^pg1\._domainkey\.acme\.org\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{1,237}"( "[A-Za-z0-9+/=]{1,255}")+$/);
  });
});

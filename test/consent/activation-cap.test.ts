// The activation cap counts the MAILBOX (issue 16): +tags and, for gmail.com / googlemail.com, dots
// are one mailbox, so three activation mails per mailbox per 24 hours in all; and the API's per-tenant
// hourly ceiling (ACTIVATION_TENANT_PER_HOUR, set low here). Real HTTP, PostgreSQL and SMTP sink.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { mailboxKey } from '../../src/policy/addresses.js';
import { consent, mailsTo, waitForMail } from './helpers.js';
import { settled } from '../support/mail.js';

const CEILING = 10;
const { app, t, tenant } = useApp({ config: { ACTIVATION_TENANT_PER_HOUR: CEILING } });
const busy = tenant({ name: 'Busy' });
const quiet = tenant({ name: 'Quiet' });

const register = (who: typeof t, email: string) => who.api('POST', '/api/contacts', { email, newsletter: true, consent });

describe('the mailbox cap', () => {
  it('gives victim+1 … victim+4 three activation mails in total, and the 4th a 429', async () => {
    const rs = [];
    for (const n of [1, 2, 3, 4]) rs.push(await register(t, `victim+${n}@example.org`));
    expect(rs.map((r) => r.status)).toEqual([201, 201, 201, 429]);
    expect(rs[3].body.error).toMatchObject({ code: 'rate_limited', field: 'email' });
    expect(Number(rs[3].headers.get('retry-after'))).toBeGreaterThan(80_000);
    const plain = await register(t, 'Victim@example.org');
    expect(plain.status).toBe(429); // the bare address is the same mailbox
    await settled(app);
    const received = [1, 2, 3, 4].flatMap((n) => mailsTo(app, `victim+${n}@example.org`)).length + mailsTo(app, 'victim@example.org').length;
    expect(received).toBe(3);
  });

  it('treats gmail dots and googlemail.com as one mailbox', async () => {
    const rs = [];
    for (const a of ['j.doe@gmail.com', 'jdoe+x@googlemail.com', 'J.D.O.E@gmail.com', 'jd.oe@gmail.com']) rs.push((await register(t, a)).status);
    expect(rs).toEqual([201, 201, 201, 429]);
  });

  it('does not join different mailboxes: dots elsewhere, other names, other tenants', async () => {
    for (const n of [1, 2, 3]) expect((await register(t, `j.doe+${n}@example.net`)).status).toBe(201);
    expect((await register(t, 'jdoe@example.net')).status).toBe(201); // no dot rule outside gmail
    expect((await register(busy, 'victim+9@example.org')).status).toBe(201); // another tenant's cap
    await waitForMail(app, 'jdoe@example.net');
  });

  it('counts through the index, and the SQL key is the TypeScript key', async () => {
    const samples = ['Victim+1@Example.org', 'a.b+c@googlemail.com', 'A.B@gmail.com', '+x@example.org', 'x+@example.org', 'first.last@example.org'];
    const rows = await ownerQuery<{ k: string }>(app.db.url, 'SELECT mailbox_key(a) AS k FROM unnest($1::text[]) WITH ORDINALITY AS u(a, i) ORDER BY i', [samples]);
    expect(rows.map((r) => r.k)).toEqual(samples.map(mailboxKey));
    // The count mailbox_activations() runs (as its owner: no row-level security), over 5,000 older
    // activation messages of other mailboxes of the tenant: one range of the expression index.
    await ownerQuery(app.db.url, `INSERT INTO messages (tenant_id, purpose, kind, recipient, template, status, created_at)
      SELECT $1, 'activation:filler:' || g, 'activation', 'filler' || g || '@example.com', 'activation', 'sent', now() - interval '2 days'
      FROM generate_series(1, 5000) g`, [t.id]);
    await ownerQuery(app.db.url, 'ANALYZE messages');
    const plan = await ownerQuery<{ 'QUERY PLAN': string }>(app.db.url, `EXPLAIN ANALYZE SELECT count(*) FROM messages WHERE tenant_id = $1
      AND kind = 'activation' AND mailbox_key(recipient) = $2 AND created_at > now() - interval '24 hours'`, [t.id, 'victim@example.org']);
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('Index Scan using messages_activation_mailbox');
    expect(Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1])).toBeLessThan(20);
  });

  it('counts, through mailbox_activations(), only the current tenant\'s mail, as the runtime role', async () => {
    const c = new pg.Client({ connectionString: app.db.url });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL ROLE postgate_app');
      const count = async (tenant: string, current: string) => {
        await c.query("SELECT set_config('app.tenant_id', $1, true)", [current]);
        return (await c.query("SELECT n FROM mailbox_activations($1, 'victim@example.org', now() - interval '1 day')", [tenant])).rows[0].n;
      };
      expect(await count(t.id, t.id)).toBe(3);
      expect(await count(t.id, busy.id)).toBe(0); // another tenant's transaction learns nothing
      expect(await count(busy.id, busy.id)).toBe(1);
    } finally {
      await c.query('ROLLBACK');
      await c.end();
    }
  });
});

describe('the per-tenant hourly ceiling of the API', () => {
  it(`refuses the ${CEILING + 1}th activation of a tenant in an hour with 429, and queues nothing for it`, async () => {
    const [{ n: before }] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND kind = 'activation'", [busy.id]);
    const statuses = [];
    for (let i = before; i < CEILING; i++) statuses.push((await register(busy, `reader${i}@example.com`)).status);
    expect(statuses.every((s) => s === 201)).toBe(true);
    const over = await register(busy, 'one-more@example.com');
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'rate_limited', field: null });
    const retry = Number(over.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(3000);
    expect(retry).toBeLessThanOrEqual(3600);
    const contacts = await ownerQuery(app.db.url, "SELECT id FROM contacts WHERE tenant_id = $1 AND email_key = 'one-more@example.com'", [busy.id]);
    expect(contacts).toEqual([]);
    expect((await register(quiet, 'elsewhere@example.com')).status).toBe(201); // another tenant is under its own ceiling
  });
});

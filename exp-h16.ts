import pg from 'pg';
import { startBenchPostgres } from './bench/support.js';
import { migrate } from './src/platform/db.js';
import { MIGRATIONS_DIR } from './src/main.js';

const N = Number(process.env.N ?? 100000), B = 2000;
const cl = await startBenchPostgres('exp');
try {
  await migrate(cl.url, MIGRATIONS_DIR);
  const c = new pg.Client({ connectionString: cl.url }); await c.connect();
  const T = '0b5e7a52-3c1d-4e8f-9a6b-2d4c6e8f0a1b';
  await c.query(`INSERT INTO tenants (id, name, from_email, from_name, reply_to, postal_address) VALUES ($1,'A','a@b.c','A','a@b.c','x')`, [T]).catch(async (e) => { console.log(e.message); });
  const L = (await c.query(`INSERT INTO lists (tenant_id, name, is_default) VALUES ($1,'L',true) RETURNING id`, [T])).rows[0].id;
  const time = async (label: string, fn: (from: number) => Promise<unknown>, off = 0) => {
    const t0 = performance.now();
    for (let i = 0; i < N; i += B) { await c.query('BEGIN'); await fn(off + i); await c.query('COMMIT'); }
    console.log(label.padEnd(50), ((performance.now() - t0) / 1000).toFixed(2), 's');
  };
  const contactsSql = (from: number) => c.query(`INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status)
    SELECT $1, 'reader'||i||'@example'||(i%97)||'.org', 'reader'||i||'@example'||(i%97)||'.org', 'Reader '||i, jsonb_build_object('city','Berlin','score',i%100), 'active'
    FROM generate_series($2::int, $2::int + ${B - 1}) i`, [T, from]);
  await time('contacts all indexes', contactsSql, 0);
  await c.query('DROP INDEX contacts_name_trgm');
  await time('contacts without name trgm', contactsSql, 1_000_000);
  await c.query('DROP INDEX contacts_email_key_trgm');
  await time('contacts without both trgm', contactsSql, 2_000_000);
  await c.query(`CREATE INDEX contacts_email_key_trgm ON contacts USING gin (email_key gin_trgm_ops) WITH (fastupdate = off)`);
  await time('contacts email trgm fastupdate off', contactsSql, 3_000_000);
  await c.query('DROP INDEX contacts_email_key_trgm');
  await c.query(`CREATE INDEX contacts_combined_trgm ON contacts USING gin ((email_key || ' ' || coalesce(lower(name), '')) gin_trgm_ops)`);
  await time('contacts one combined trgm', contactsSql, 4_000_000);
  await c.query('DROP INDEX contacts_combined_trgm');
  const ids = (await c.query(`SELECT id FROM contacts ORDER BY created_at LIMIT ${N}`)).rows.map((r) => r.id);
  await time('subscriptions', (from) => c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, u, $2, 'subscribed' FROM unnest($3::uuid[]) u`, [T, L, ids.slice(from, from + B)]));
  const big = (i: string) => `jsonb_build_object('importId','6c3f2a1e-7b4d-4e8f-9a6b-2d4c6e8f0a1b','row',${i},'line',${i}+1,'from',null,'to','subscribed','attested',true,'attestation',jsonb_build_object('by','5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b','source','bench: signup form export','date',null),'consentAt','2024-01-11T10:00:00.000Z','consentSource',null,'sourceIp','198.51.100.1')`;
  const small = (i: string) => `jsonb_build_object('importId','6c3f2a1e-7b4d-4e8f-9a6b-2d4c6e8f0a1b','row',${i},'consentAt','2024-01-11T10:00:00.000Z')`;
  const ev = (d: (i: string) => string) => (from: number) => c.query(`INSERT INTO consent_events (tenant_id, contact_id, list_id, action, source, ip, text_hash, detail)
    SELECT $1, u, $2, 'import', 'import', '198.51.100.1'::inet, 'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', ${d('o::int')} FROM unnest($3::uuid[]) WITH ORDINALITY AS x(u, o)`, [T, L, ids.slice(from % N, from % N + B)]);
  await time('consent_events big detail', ev(big));
  await time('consent_events small detail', ev(small));
  console.log(await c.query(`SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN ('contacts','consent_events','subscriptions')`).then((r) => r.rows));
  await c.end();
} finally { await cl.stop(); }
process.exit(0);

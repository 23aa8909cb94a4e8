// Token keys shared by every process of one installation: TOKEN_KEYS when given, otherwise a key
// generated once and kept in the database (instance_settings, readable only by the owner role; the
// runtime login reaches that one row through the SECURITY DEFINER instance_token_keys(), 067).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TokenKeys } from '../policy/tokens.js';

export function parseTokenKeys(spec: string): TokenKeys {
  const pairs = spec.split(',').map((p) => { const i = p.indexOf(':'); return [p.slice(0, i), p.slice(i + 1)] as const; });
  return { current: pairs[0][0], keys: Object.fromEntries(pairs) };
}

/**
 * TOKEN_KEYS parsed when configured; otherwise the installation's stored keys, generated (k1, 32
 * random bytes, base64url) and stored by the first process to ask. `url` is the runtime login (or
 * any role granted postgate_app): processes started with only DATABASE_URL load them too.
 */
export async function loadTokenKeys(url: string, configured: string | undefined): Promise<TokenKeys> {
  if (configured) return parseTokenKeys(configured);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ value: string }>('SELECT instance_token_keys($1) AS value', [`k1:${randomBytes(32).toString('base64url')}`]);
    return parseTokenKeys(r.rows[0].value);
  } finally {
    await client.end();
  }
}

/**
 * The runtime login's name and password kept in instance_settings ('runtime_login', JSON
 * {role, password}; owner-only, src/platform/roles.ts): the stored one, or `candidate` stored first
 * if there is none. `c` is an owner connection; concurrent callers all get the first one stored.
 */
export async function storedRuntimeLogin(c: Pick<pg.ClientBase, 'query'>, candidate: { role: string; password: string }): Promise<{ role: string; password: string }> {
  await c.query(`INSERT INTO instance_settings (name, value) VALUES ('runtime_login', $1) ON CONFLICT (name) DO NOTHING`, [JSON.stringify(candidate)]);
  const r = await c.query<{ value: string }>(`SELECT value FROM instance_settings WHERE name = 'runtime_login'`);
  return JSON.parse(r.rows[0].value) as { role: string; password: string };
}

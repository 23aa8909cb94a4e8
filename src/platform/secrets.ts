// Token keys shared by every process of one installation: TOKEN_KEYS when given, otherwise a key
// generated once and kept in the database (instance_settings, readable only by the owner role).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TokenKeys } from '../policy/tokens.js';

export function parseTokenKeys(spec: string): TokenKeys {
  const pairs = spec.split(',').map((p) => { const i = p.indexOf(':'); return [p.slice(0, i), p.slice(i + 1)] as const; });
  return { current: pairs[0][0], keys: Object.fromEntries(pairs) };
}

export async function loadTokenKeys(ownerUrl: string, configured: string | undefined): Promise<TokenKeys> {
  if (configured) return parseTokenKeys(configured);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`INSERT INTO instance_settings (name, value) VALUES ('token_keys', $1) ON CONFLICT (name) DO NOTHING`,
      [`k1:${randomBytes(32).toString('base64url')}`]);
    const r = await client.query<{ value: string }>(`SELECT value FROM instance_settings WHERE name = 'token_keys'`);
    return parseTokenKeys(r.rows[0].value);
  } finally {
    await client.end();
  }
}

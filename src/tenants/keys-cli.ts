// `postgate key create | list | revoke`, and the first-start admin key file: the CLI face of
// api-keys.ts (the same rules as /api/keys: expiry, the last live admin key is not revoked). Errors:
// a usage error for a missing or bad option or an unknown tenant; a domain error is one line with
// its code and the option at fault. The secret is printed only by `key create`, once; the first
// start's key goes to a 0600 file, never to stdout or the log (stdout is the service log under a
// Procfile or systemd).
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DomainError } from '../domain-error.js';
import type { Db } from '../platform/db.js';
import { SCOPES, type Scope } from '../platform/http.js';
import { isUuid } from '../policy/ids.js';
import { createApiKey, createFirstAdminKey, expiryOf, listApiKeys, revokeApiKey, type ApiKeyView } from './api-keys.js';
import { tenantExists } from './store.js';

export interface KeyCliIo {
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  usage(message: string): Error;
  out(text: string): void;
}

/** The file, in DATA_DIR, the first start writes the default tenant's admin key to. */
export const FIRST_ADMIN_KEY_FILE = 'first-admin-key';

/** live, revoked or expired (at `now`). */
export function keyState(k: Pick<ApiKeyView, 'revokedAt' | 'expiresAt'>, now = new Date()): 'live' | 'revoked' | 'expired' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'live';
}

const iso = (d: Date | null): string => (d ? d.toISOString() : '-');

function line(k: ApiKeyView): string {
  return [k.id, `${k.prefix}…`, keyState(k).padEnd(7), k.scopes.join(',').padEnd(20), `created ${iso(k.createdAt)}`,
    `last used ${iso(k.lastUsedAt)}`, `expires ${iso(k.expiresAt)}`, k.revokedAt ? `revoked ${iso(k.revokedAt)}` : '', k.name ? `name: ${k.name}` : '']
    .filter(Boolean).join('  ');
}

/** A domain error as one line naming the option at fault (`id` is --key, the expiry fields are --expires-in-days). */
function asCliError(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  const option = err.field === 'id' ? 'key' : err.field?.startsWith('expires') ? 'expires-in-days' : err.field;
  const message = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  return new Error(`${err.code}${option ? ` (--${option})` : ''}: ${message}`);
}

const viewJson = (k: ApiKeyView) => ({ id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopes, createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt, expiresAt: k.expiresAt, revokedAt: k.revokedAt, state: keyState(k) });

/** Runs `postgate key <sub>` with its options (argv after the subcommand). */
export async function keyCommand(sub: 'create' | 'list' | 'revoke', argv: string[], io: KeyCliIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    tenant: { type: 'string' }, scopes: { type: 'string' }, name: { type: 'string' }, 'expires-in-days': { type: 'string' },
    key: { type: 'string' }, json: { type: 'boolean' } } });
  const tenant = values.tenant?.trim();
  if (!tenant) throw io.usage('--tenant is required');
  let scopes: Scope[] = [];
  let expiresInDays: number | undefined;
  if (sub === 'create') {
    if (!values.scopes?.trim()) throw io.usage('--scopes is required');
    const asked = values.scopes.split(',').map((s) => s.trim());
    const bad = asked.find((s) => !SCOPES.includes(s as Scope));
    if (bad !== undefined) throw io.usage(`unknown scope '${bad}' (known: ${SCOPES.join(', ')})`);
    scopes = asked as Scope[];
    if (values.name !== undefined && (values.name.trim() === '' || values.name.length > 200 || /[\p{Cc}\p{Cf}]/u.test(values.name))) {
      throw io.usage('--name must be 1–200 characters without control or format characters');
    }
    if (values['expires-in-days'] !== undefined) {
      if (!/^\d{1,5}$/.test(values['expires-in-days'])) throw io.usage('--expires-in-days must be a whole number of days');
      expiresInDays = Number(values['expires-in-days']);
    }
  }
  const keyId = values.key?.trim();
  if (sub === 'revoke' && !keyId) throw io.usage('--key is required (the key id, from postgate key list)');
  try {
    await io.withDb(async (db) => {
      const known = isUuid(tenant) && await db.withTenant(tenant, (c) => tenantExists(c, tenant));
      if (!known) throw io.usage(`no tenant ${tenant}`);
      if (sub === 'create') {
        const expiresAt = expiryOf({ expiresInDays });
        const made = await db.withTenant(tenant, (c) => createApiKey(c, tenant, scopes, { name: values.name?.trim() ?? null, expiresAt }));
        io.out(values.json ? JSON.stringify({ keyId: made.id, apiKey: made.key, scopes: made.scopes, name: made.name, expiresAt: made.expiresAt }) + '\n'
          : `api key (shown once): ${made.key}\nkey id: ${made.id}${made.expiresAt ? `\nexpires: ${made.expiresAt.toISOString()}` : ''}\n`);
      } else if (sub === 'list') {
        const items: ApiKeyView[] = [];
        let after: { at: string; id: string } | undefined;
        for (;;) {
          const rows = await db.withTenant(tenant, (c) => listApiKeys(c, tenant, { limit: 500, after }));
          items.push(...rows.slice(0, 500));
          if (rows.length <= 500) break;
          const last = rows[499];
          after = { at: last.cursorAt, id: last.id };
        }
        io.out(values.json ? JSON.stringify({ items: items.map(viewJson) }) + '\n' : items.length ? items.map(line).join('\n') + '\n' : 'no keys\n');
      } else {
        const id = keyId as string;
        if (!isUuid(id)) throw new DomainError('not_found', 'API key not found', 'id');
        const revoked = await db.withTenant(tenant, (c) => revokeApiKey(c, tenant, id));
        io.out(values.json ? JSON.stringify(viewJson(revoked)) + '\n' : `revoked: ${line(revoked)}\n`);
      }
    });
  } catch (err) {
    throw asCliError(err);
  }
}

/**
 * The first start's admin key for the default tenant, made only while the tenant has no key at all,
 * and written to DATA_DIR/first-admin-key (mode 0600, created afresh: an older file is removed first)
 * in the same transaction that stores it: if the file cannot be written, no key is stored and the
 * next start tries again. An advisory lock makes concurrent starts (web and worker) make one key.
 * @returns the file's absolute path and the key's id, or null when the tenant already has a key.
 */
export async function writeFirstAdminKey(db: Db, tenantId: string, dataDir: string): Promise<{ file: string; keyId: string } | null> {
  const file = path.resolve(dataDir, FIRST_ADMIN_KEY_FILE);
  return db.withTenant(tenantId, async (c) => {
    const made = await createFirstAdminKey(c, tenantId);
    if (!made) return null;
    await mkdir(dataDir, { recursive: true });
    await rm(file, { force: true });
    await writeFile(file, `${made.key}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600); // the mode given at creation is narrowed by the umask, never widened; this makes it exact
    return { file, keyId: made.id };
  });
}

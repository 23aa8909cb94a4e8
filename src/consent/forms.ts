// Public subscription forms (issue 16): the one owner of the form_hits table (migration 072), the
// tenant of a public list (the definer function public_list_tenant()), the wording a form shows, and
// the per-IP caps of the public form. Client IPs are never stored: only an HMAC-SHA256 of the IP under
// a key derived from the current token key (rotating TOKEN_KEYS starts the counts afresh).
import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import type { Queryable } from '../platform/db.js';
import type { TokenKeys } from '../policy/tokens.js';
import { isUuid } from '../policy/ids.js';

/** FORM_PER_IP_PER_HOUR and FORM_PER_IP_PER_DAY: accepted submissions per client IP per tenant, per rolling hour and 24 hours. */
export interface FormLimits { perHour: number; perDay: number }

/** A submission may go on, or must wait retryAfter seconds (HTTP 429, Retry-After). */
export type FormSlot = { ok: true } | { ok: false; retryAfter: number };

/**
 * The tenant of a public, live list (not private, archived or deleted), or null (also for a
 * malformed id). Cross-tenant by design (the page has no tenant yet): run it in db.withSystem.
 */
export async function formTenant(c: Queryable, listId: string): Promise<string | null> {
  if (!isUuid(listId)) return null;
  const r = await c.query<{ tenantId: string | null }>('SELECT public_list_tenant($1) AS "tenantId"', [listId]);
  return r.rows[0]?.tenantId ?? null;
}

/** The consent wording a form shows for a list, recorded exactly as shown (consent_texts, by its sha-256). */
export function formWording(listName: string, tenantName: string): string {
  return `Yes, send me ${listName} from ${tenantName}. I can unsubscribe at any time.`;
}

/**
 * Whether `text` is a wording the form of one of this tenant's lists shows (formWording of some list
 * name): an older version a form may still display after a rename. Any other stored wording (one the
 * app sent through the API) is not a form's, and a posted hash of it is not believed.
 */
export function isFormWording(text: string, tenantName: string): boolean {
  const head = 'Yes, send me ';
  const tail = ` from ${tenantName}. I can unsubscribe at any time.`;
  return text.length > head.length + tail.length && text.startsWith(head) && text.endsWith(tail);
}

/** The longest origin a consent record keeps (scheme://host[:port]); a longer one is not kept. */
export const MAX_FORM_ORIGIN = 200;
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\\\s]+$/i;
const CLEAN_ORIGIN = /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/**
 * The web origin an Origin header names, as a consent record keeps it: only a well-formed http(s)
 * origin (scheme://host[:port], nothing else: no path, user, query or fragment), parsed by URL (WHATWG),
 * lower-cased, the default port dropped, IDN hosts in ASCII, at most MAX_FORM_ORIGIN characters;
 * null for anything else (absent, "null", malformed, too long).
 */
export function formOrigin(header: string | null | undefined): string | null {
  if (typeof header !== 'string' || header.length > MAX_FORM_ORIGIN || !ORIGIN_SHAPE.test(header)) return null;
  let origin: string;
  try {
    origin = new URL(header).origin.toLowerCase();
  } catch {
    return null;
  }
  return origin.length <= MAX_FORM_ORIGIN && CLEAN_ORIGIN.test(origin) ? origin : null;
}

/**
 * What one client is, for the per-IP caps: an IPv4 address as is (an IPv4-mapped IPv6 address as its
 * IPv4), an IPv6 address as its /64 network (one subscriber line usually gets a whole /64, so its
 * addresses count as one), anything else lower-cased.
 */
export function clientKey(ip: string): string {
  const a = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) return mapped[1];
  if (isIP(a) !== 6) return a;
  const [head, tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = a.includes('::') && tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The keyed hash of a client (clientKey of its IP; 32 bytes): HMAC-SHA256 under a key derived from the current token key. */
export function ipHash(keys: TokenKeys, ip: string): Buffer {
  const key = createHmac('sha256', keys.keys[keys.current]).update('postgate:form-ip').digest();
  return createHmac('sha256', key).update(clientKey(ip)).digest();
}

async function countSince(c: Queryable, hash: Buffer, interval: '1 hour' | '1 day', limit: number): Promise<{ n: number; retry: number }> {
  const r = await c.query<{ n: number; retry: number | null }>(`SELECT count(*)::int AS n,
      ceil(extract(epoch FROM min(at) + interval '${interval}' - now()))::int AS retry
    FROM (SELECT at FROM form_hits WHERE ip_hash = $1 AND at > now() - interval '${interval}' ORDER BY at DESC LIMIT $2) recent`, [hash, limit]);
  return { n: r.rows[0].n, retry: Math.max(1, r.rows[0].retry ?? 1) };
}

/**
 * Takes one submission slot of this client IP in the current tenant's transaction, or says how long
 * to wait. Serialised per IP (advisory lock); a refused submission records nothing, so a flood does
 * not grow the table. Now and then (1 in 20) deletes the tenant's rows older than a day.
 */
export async function takeFormSlot(c: Queryable, tenantId: string, hash: Buffer, limits: FormLimits): Promise<FormSlot> {
  await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`form-ip:${tenantId}:${hash.toString('hex')}`]);
  const hour = await countSince(c, hash, '1 hour', limits.perHour);
  if (hour.n >= limits.perHour) return { ok: false, retryAfter: hour.retry };
  const day = await countSince(c, hash, '1 day', limits.perDay);
  if (day.n >= limits.perDay) return { ok: false, retryAfter: day.retry };
  await c.query('INSERT INTO form_hits (tenant_id, ip_hash) VALUES ($1, $2)', [tenantId, hash]);
  if (Math.random() < 0.05) await c.query(`DELETE FROM form_hits WHERE at < now() - interval '1 day'`);
  return { ok: true };
}

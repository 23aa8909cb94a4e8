// Signed tokens (PURE: crypto only, no I/O). Verified without a database look-up.
//
// Link tokens:  base64url(payloadJson) "." base64url(HMAC-SHA256(keys[kid], base64url(payloadJson)))
//   payload = { p: purpose, t: tenantId, s: subject ids, e: expiry unix seconds (0 = never), k: kid, n?: nonce }
//   At most MAX_TOKEN_LENGTH chars. The MAC covers the exact base64url text, and the signature is
//   compared as text, so no two spellings of one token verify. Rotation: add a kid and make it
//   `current`; tokens signed with an older kid verify while that kid stays in `keys`.
//   Single-use purposes record tokenId(token) (sha256 hex) once used.
//
// VERP tokens (bounce envelope `bounces+TOKEN@domain`): lower-case, case-insensitive, ≤ 55 chars:
//   TOKEN = base32(uuid16 ‖ mac10) "-" kidTag
//   base32 = RFC 4648 alphabet lower-cased, no padding (26 bytes → 42 chars);
//   uuid16 = the message id's 16 bytes; mac10 = first 10 bytes of HMAC-SHA256(keys[kid], "verp\0" ‖ uuid16);
//   kidTag = the kid itself when it matches [a-z0-9]{1,12}, else "x" + 8 base32 chars of sha256(kid).
//   So `bounces+` (8) + 42 + 1 + ≤ 12 ≤ 63 chars: within the 64-char local-part limit. The tenant is
//   not carried (the message id identifies it); verifyVerp lower-cases its input first.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { isUuid } from './ids.js';

export type TokenPurpose = 'activation' | 'unsubscribe' | 'verp' | 'preferences' | 'test_address';
export interface TokenKeys { current: string /* kid */; keys: Record<string, string> /* kid -> secret */ }
export interface TokenPayload { p: TokenPurpose; t: string; s: Record<string, string>; e: number; k: string; n?: string }
export type VerifyError = 'malformed' | 'bad_signature' | 'unknown_key' | 'expired' | 'wrong_purpose';
export type VerifyResult = { ok: true; payload: TokenPayload } | { ok: false; error: VerifyError };
export interface SignOptions { ttlSeconds: number | null; now?: number /* unix seconds */; nonce?: boolean }
export type VerpError = 'malformed' | 'bad_signature' | 'unknown_key';
export type VerpResult = { ok: true; tenantId?: never; messageId: string } | { ok: false; error: VerpError };

export const MAX_TOKEN_LENGTH = 2048;

const payloadSchema = z.strictObject({
  p: z.enum(['activation', 'unsubscribe', 'verp', 'preferences', 'test_address']),
  t: z.string().min(1),
  s: z.record(z.string(), z.string()),
  e: z.number().int().nonnegative(),
  k: z.string().min(1),
  n: z.string().optional(),
});

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The secret of a kid, or null (own properties only: a kid like "__proto__" is just unknown). */
function secretOf(keys: TokenKeys, kid: string): string | null {
  if (!Object.hasOwn(keys.keys, kid)) return null;
  const secret = keys.keys[kid];
  return typeof secret === 'string' && secret.length > 0 ? secret : null;
}

function currentSecret(keys: TokenKeys): string {
  const secret = secretOf(keys, keys.current);
  if (secret === null) throw new Error(`token key ${keys.current} (current) has no secret`);
  return secret;
}

const mac = (secret: string, data: string | Buffer): Buffer => createHmac('sha256', secret).update(data).digest();

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Signs a token with the current key. ttlSeconds null: never expires (e = 0). */
export function signToken(keys: TokenKeys, p: TokenPurpose, tenantId: string, s: Record<string, string>, opts: SignOptions): string {
  if (!tenantId) throw new Error('a token needs a tenant id');
  const secret = currentSecret(keys);
  const e = opts.ttlSeconds === null ? 0 : Math.max(1, Math.floor((opts.now ?? nowSeconds()) + opts.ttlSeconds));
  const payload: TokenPayload = { p, t: tenantId, s, e, k: keys.current };
  if (opts.nonce) payload.n = randomBytes(12).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodePayload(body: string): TokenPayload | null {
  try {
    const r = payloadSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Verifies signature, then purpose, then expiry. Never throws. `now` in unix seconds. */
export function verifyToken(keys: TokenKeys, token: unknown, purpose: TokenPurpose, now?: number): VerifyResult {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, error: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2 || !B64URL.test(parts[0]) || !B64URL.test(parts[1])) return { ok: false, error: 'malformed' };
  const payload = decodePayload(parts[0]);
  if (!payload) return { ok: false, error: 'malformed' };
  const secret = secretOf(keys, payload.k);
  if (secret === null) return { ok: false, error: 'unknown_key' };
  if (!equalText(parts[1], mac(secret, parts[0]).toString('base64url'))) return { ok: false, error: 'bad_signature' };
  if (payload.p !== purpose) return { ok: false, error: 'wrong_purpose' };
  if (payload.e !== 0 && payload.e <= (now ?? nowSeconds())) return { ok: false, error: 'expired' };
  return { ok: true, payload };
}

/** sha256 hex of the token: what single-use purposes record. */
export function tokenId(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

// ---- VERP ----------------------------------------------------------------------------------------

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const VERP_MAC_BYTES = 10;
const VERP_BODY_CHARS = 42; // base32 of 16 + 10 bytes
const VERP = /^([a-z2-7]{42})-([a-z0-9]{1,12})$/;

/** RFC 4648 base32, lower-case, no padding. */
export function base32Encode(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte; bits += 8;
    while (bits >= 5) { bits -= 5; out += B32[(acc >>> bits) & 31]; }
    acc &= (1 << bits) - 1;
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out;
}

/** Strict inverse of base32Encode: null unless the text is the canonical encoding of some bytes. */
export function base32Decode(text: string): Buffer | null {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    acc = (acc << 5) | v; bits += 5;
    if (bits >= 8) { bits -= 8; bytes.push((acc >>> bits) & 255); }
    acc &= (1 << bits) - 1;
  }
  const out = Buffer.from(bytes);
  return base32Encode(out) === text ? out : null;
}

/** The short, lower-case-safe tag naming a kid inside a VERP token. */
export function verpKidTag(kid: string): string {
  if (/^[a-z0-9]{1,12}$/.test(kid)) return kid;
  return `x${base32Encode(createHash('sha256').update(kid, 'utf8').digest()).slice(0, 8)}`;
}

const verpMac = (secret: string, id: Buffer): Buffer =>
  mac(secret, Buffer.concat([Buffer.from('verp\0', 'latin1'), id])).subarray(0, VERP_MAC_BYTES);

const uuidBytes = (messageId: string): Buffer => Buffer.from(messageId.replace(/-/g, ''), 'hex');

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The VERP token for a message (see the header). tenantId is accepted for symmetry with callers and
 * not encoded: the message id identifies the tenant. Throws if messageId is not a UUID.
 */
export function signVerp(keys: TokenKeys, _tenantId: string, messageId: string): string {
  if (!isUuid(messageId)) throw new Error('VERP message id must be a UUID');
  const id = uuidBytes(messageId);
  const body = base32Encode(Buffer.concat([id, verpMac(currentSecret(keys), id)]));
  return `${body}-${verpKidTag(keys.current)}`;
}

/** Verifies a VERP token (the part after `bounces+`), in any letter case. Never throws. */
export function verifyVerp(keys: TokenKeys, token: unknown): VerpResult {
  if (typeof token !== 'string' || token.length > VERP_BODY_CHARS + 13) return { ok: false, error: 'malformed' };
  const m = VERP.exec(token.toLowerCase());
  const raw = m ? base32Decode(m[1]) : null;
  if (!m || !raw) return { ok: false, error: 'malformed' };
  const id = raw.subarray(0, 16);
  const given = raw.subarray(16);
  const secrets = Object.keys(keys.keys).filter((kid) => verpKidTag(kid) === m[2])
    .map((kid) => secretOf(keys, kid)).filter((s): s is string => s !== null);
  if (secrets.length === 0) return { ok: false, error: 'unknown_key' };
  const valid = secrets.some((s) => timingSafeEqual(verpMac(s, id), given));
  return valid ? { ok: true, messageId: uuidText(id) } : { ok: false, error: 'bad_signature' };
}

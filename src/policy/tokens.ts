// Signed tokens (PURE: crypto only, no I/O). Verified without a database look-up.
//
// Link tokens come in two formats; signToken writes the compact one whenever the facts fit it (the
// tenant and every non-empty subject value a UUID, subject keys single letters a-z, at most 3 of
// them, no nonce), else the JSON one. verifyToken reads both, so links in mail already sent keep
// working until they expire.
//
// Compact link tokens (issue 20: short, nothing internal readable), base64url without padding of
//   header2 ‖ siv10 ‖ AES-256-CTR(encKey, iv = siv10 ‖ 0x000000000000, plaintext)
//   header2   = byte0: 0b01 (version) << 6 | expiry flag << 5 | purpose code (1..31, COMPACT_PURPOSES
//               index + 1); byte1: kid tag = first byte of SHA-256(kid) (kids sharing a tag are each tried)
//   plaintext = tenant16 ‖ [e: uint32 big-endian unix seconds, only when the flag is set]
//               ‖ per subject entry, keys ascending: keyByte ‖ uuid16   (keyByte = the key's ASCII code)
//                                                   or keyByte | 0x80   (the value is '')
//   siv10     = first 10 bytes of HMAC-SHA256(macKey, header2 ‖ plaintext)  (deterministic AEAD, SIV
//               style: the same facts give the same token; any changed bit fails the MAC)
//   encKey, macKey = HKDF-SHA256(secret of kid, salt "postgate link token v1", info "enc" | "mac"), 32 bytes
//   So one id beside the tenant is 45 bytes = 60 characters without expiry, 66 with; two ids 83/88.
//   The MAC is checked before the purpose and the expiry; the decrypted ids are never used unchecked.
//   Links carry the tenant and ONE id, the ledger message, and read the rest from that row where they
//   are opened: unsubscribe/preferences { l } (unsubscribe/links.ts), activation and test_address { m }.
//   With PUBLIC_URL https://news.example.com: /u/<60>/preferences is 99 characters, /a/<66> 93.
//
// JSON link tokens (the format before issue 20; still verified, written only when the compact one cannot carry the facts):
//   base64url(payloadJson) "." base64url(HMAC-SHA256(keys[kid], base64url(payloadJson)))
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
import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual, type Cipher } from 'node:crypto';
import { z } from 'zod';
import { isUuid } from './ids.js';

export type TokenPurpose = 'activation' | 'unsubscribe' | 'verp' | 'preferences' | 'test_address' | 'data_export' | 'data_erasure';
export interface TokenKeys { current: string /* kid */; keys: Record<string, string> /* kid -> secret */ }
export interface TokenPayload { p: TokenPurpose; t: string; s: Record<string, string>; e: number; k: string; n?: string }
export type VerifyError = 'malformed' | 'bad_signature' | 'unknown_key' | 'expired' | 'wrong_purpose';
export type VerifyResult = { ok: true; payload: TokenPayload } | { ok: false; error: VerifyError };
export interface SignOptions { ttlSeconds: number | null; now?: number /* unix seconds */; nonce?: boolean }
export type VerpError = 'malformed' | 'bad_signature' | 'unknown_key';
export type VerpResult = { ok: true; tenantId?: never; messageId: string } | { ok: false; error: VerpError };

export const MAX_TOKEN_LENGTH = 2048;

const payloadSchema = z.strictObject({
  p: z.enum(['activation', 'unsubscribe', 'verp', 'preferences', 'test_address', 'data_export', 'data_erasure']),
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
  if (!opts.nonce && fitsCompact(payload)) return sealCompact(secret, payload);
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
  if (!token.includes('.')) return checkClaims(openCompact(keys, token), purpose, now);
  const parts = token.split('.');
  if (parts.length !== 2 || !B64URL.test(parts[0]) || !B64URL.test(parts[1])) return { ok: false, error: 'malformed' };
  const payload = decodePayload(parts[0]);
  if (!payload) return { ok: false, error: 'malformed' };
  const secret = secretOf(keys, payload.k);
  if (secret === null) return { ok: false, error: 'unknown_key' };
  if (!equalText(parts[1], mac(secret, parts[0]).toString('base64url'))) return { ok: false, error: 'bad_signature' };
  return checkClaims({ ok: true, payload }, purpose, now);
}

/** After the signature: purpose, then expiry. */
function checkClaims(r: VerifyResult, purpose: TokenPurpose, now?: number): VerifyResult {
  if (!r.ok) return r;
  if (r.payload.p !== purpose) return { ok: false, error: 'wrong_purpose' };
  if (r.payload.e !== 0 && r.payload.e <= (now ?? nowSeconds())) return { ok: false, error: 'expired' };
  return r;
}

// ---- compact link tokens (see the header) --------------------------------------------------------

/** The purposes a compact token can name; the index + 1 is on the wire: APPEND ONLY, never reorder. */
export const COMPACT_PURPOSES: readonly TokenPurpose[] = ['activation', 'unsubscribe', 'verp', 'preferences', 'test_address', 'data_export', 'data_erasure'];
const COMPACT_VERSION = 0b01;
const SIV_BYTES = 10;
const MAX_COMPACT_ENTRIES = 3;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SUBJECT_KEY = /^[a-z]$/;
const EMPTY = 0x80;

/** A secret's two keys; `blocks` is AES-256 (ECB, no padding) under `enc`, kept to make CTR key streams without a new cipher per token. */
interface LinkKeys { mac: Buffer; blocks: Cipher }
const derived = new Map<string, LinkKeys>();
const kidTags = new Map<string, number>();

/** The compact format's two keys of a secret (HKDF-SHA256), derived once per secret. */
function linkKeys(secret: string): LinkKeys {
  let k = derived.get(secret);
  if (!k) {
    const d = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'postgate link token v1', info, 32));
    k = { mac: d('mac'), blocks: createCipheriv('aes-256-ecb', d('enc'), null).setAutoPadding(false) };
    derived.set(secret, k);
  }
  return k;
}

/** The one-byte tag naming a kid inside a compact token. */
export function compactKidTag(kid: string): number {
  let tag = kidTags.get(kid);
  if (tag === undefined) {
    tag = createHash('sha256').update(kid, 'utf8').digest()[0];
    kidTags.set(kid, tag);
  }
  return tag;
}

const isUuidText = (v: string): boolean => UUID_TEXT.test(v);

/** Whether the compact format can carry these facts exactly (see the header). */
function fitsCompact(p: TokenPayload): boolean {
  const entries = Object.entries(p.s);
  return COMPACT_PURPOSES.indexOf(p.p) >= 0 && isUuidText(p.t) && p.e <= 0xffffffff && entries.length <= MAX_COMPACT_ENTRIES
    && entries.every(([k, v]) => SUBJECT_KEY.test(k) && (v === '' || isUuidText(v)));
}

function compactPlaintext(p: TokenPayload): Buffer {
  const parts = [uuidBytes(p.t)];
  if (p.e !== 0) { const e = Buffer.alloc(4); e.writeUInt32BE(p.e); parts.push(e); }
  for (const [k, v] of Object.entries(p.s).sort(([a], [b]) => (a < b ? -1 : 1))) {
    parts.push(v === '' ? Buffer.from([k.charCodeAt(0) | EMPTY]) : Buffer.concat([Buffer.from([k.charCodeAt(0)]), uuidBytes(v)]));
  }
  return Buffer.concat(parts);
}

const siv = (k: LinkKeys, header: Buffer, plain: Buffer): Buffer =>
  createHmac('sha256', k.mac).update(header).update(plain).digest().subarray(0, SIV_BYTES);

/**
 * AES-256-CTR with the counter block siv10 ‖ 0x000000000000 (its own inverse): block i's counter is
 * that block plus i (at most 5 blocks, so only the last byte changes), encrypted with the kept AES
 * block cipher and XORed into the data.
 */
function ctr(k: LinkKeys, iv10: Buffer, data: Buffer): Buffer {
  const n = Math.ceil(data.length / 16);
  const counters = Buffer.alloc(n * 16);
  for (let i = 0; i < n; i++) { iv10.copy(counters, i * 16); counters[i * 16 + 15] = i; }
  const stream = k.blocks.update(counters);
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ stream[i];
  return out;
}

function sealCompact(secret: string, p: TokenPayload): string {
  const header = Buffer.from([(COMPACT_VERSION << 6) | (p.e !== 0 ? 0x20 : 0) | (COMPACT_PURPOSES.indexOf(p.p) + 1), compactKidTag(p.k)]);
  const k = linkKeys(secret);
  const plain = compactPlaintext(p);
  const tag = siv(k, header, plain);
  return Buffer.concat([header, tag, ctr(k, tag, plain)]).toString('base64url');
}

/** The subject entries of a decrypted plaintext (from `at`), or null unless it is exactly a list of them. */
function readEntries(plain: Buffer, at: number): Record<string, string> | null {
  const s: Record<string, string> = {};
  let last = 0;
  for (let i = at; i < plain.length;) {
    const b = plain[i];
    const key = b & ~EMPTY;
    if (key <= last || !SUBJECT_KEY.test(String.fromCharCode(key))) return null;
    last = key;
    if (b & EMPTY) { s[String.fromCharCode(key)] = ''; i += 1; continue; }
    if (i + 17 > plain.length) return null;
    s[String.fromCharCode(key)] = uuidText(plain.subarray(i + 1, i + 17));
    i += 17;
  }
  return Object.keys(s).length <= MAX_COMPACT_ENTRIES ? s : null;
}

function compactPayload(header: Buffer, plain: Buffer, kid: string): TokenPayload | null {
  const hasExpiry = (header[0] & 0x20) !== 0;
  const at = 16 + (hasExpiry ? 4 : 0);
  if (plain.length < at) return null;
  const e = hasExpiry ? plain.readUInt32BE(16) : 0;
  const s = readEntries(plain, at);
  const p = COMPACT_PURPOSES[(header[0] & 0x1f) - 1];
  return s && p && (!hasExpiry || e !== 0) ? { p, t: uuidText(plain.subarray(0, 16)), s, e, k: kid } : null;
}

const COMPACT_MIN_BYTES = 2 + SIV_BYTES + 16;
const COMPACT_MAX_BYTES = 2 + SIV_BYTES + 16 + 4 + MAX_COMPACT_ENTRIES * 17;

/** The bytes of a compact token's text, or null unless it is the canonical base64url of a plausible one. */
function compactBytes(token: string): Buffer | null {
  if (!B64URL.test(token)) return null;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length < COMPACT_MIN_BYTES || raw.length > COMPACT_MAX_BYTES || raw.toString('base64url') !== token) return null;
  return raw[0] >> 6 === COMPACT_VERSION ? raw : null;
}

/** Verifies a compact token's MAC with every kid whose tag it names; the payload without purpose or expiry checks. */
function openCompact(keys: TokenKeys, token: string): VerifyResult {
  const raw = compactBytes(token);
  if (!raw) return { ok: false, error: 'malformed' };
  const header = raw.subarray(0, 2);
  const tag = raw.subarray(2, 2 + SIV_BYTES);
  const kids = Object.keys(keys.keys).filter((kid) => compactKidTag(kid) === header[1] && secretOf(keys, kid) !== null);
  if (kids.length === 0) return { ok: false, error: 'unknown_key' };
  for (const kid of kids) {
    const k = linkKeys(secretOf(keys, kid) as string);
    const plain = ctr(k, tag, raw.subarray(2 + SIV_BYTES));
    if (!timingSafeEqual(siv(k, header, plain), tag)) continue;
    const payload = compactPayload(header, plain, kid);
    return payload ? { ok: true, payload } : { ok: false, error: 'malformed' };
  }
  return { ok: false, error: 'bad_signature' };
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

// Signed link tokens and VERP tokens: round trips, tampering, expiry, rotation, purposes, formats.
import { createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base32Decode, base32Encode, COMPACT_PURPOSES, compactKidTag, MAX_TOKEN_LENGTH, signToken, signVerp, tokenId, verifyToken, verifyVerp, verpKidTag,
  type TokenKeys,
} from '../../src/policy/tokens.js';

const keys: TokenKeys = { current: 'k1', keys: { k1: 'secret-one-0123456789abcdef' } };
const rotated: TokenKeys = { current: 'k2', keys: { k2: 'secret-two-0123456789abcdef', k1: 'secret-one-0123456789abcdef' } };
const TENANT = '0b7e6c1e-2f1d-4c1a-9d5e-3f1a2b3c4d5e';
const NOW = 1_750_000_000;
const MSG = '6f1c2e3d-4b5a-4c6d-8e7f-0a1b2c3d4e5f';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const replaceAt = (s: string, i: number, c: string): string => s.slice(0, i) + c + s.slice(i + 1);

describe('signToken / verifyToken', () => {
  it('round-trips the payload', () => {
    const t = signToken(keys, 'unsubscribe', TENANT, { c: 'contact-1', m: '' }, { ttlSeconds: 3600, now: NOW });
    expect(verifyToken(keys, t, 'unsubscribe', NOW)).toEqual({
      ok: true, payload: { p: 'unsubscribe', t: TENANT, s: { c: 'contact-1', m: '' }, e: NOW + 3600, k: 'k1' },
    });
  });

  it('has the documented format', () => {
    const t = signToken(keys, 'activation', TENANT, { c: 'x' }, { ttlSeconds: 60, now: NOW });
    const [body, sig] = t.split('.');
    expect(JSON.parse(Buffer.from(body, 'base64url').toString())).toEqual({ p: 'activation', t: TENANT, s: { c: 'x' }, e: NOW + 60, k: 'k1' });
    expect(sig).toBe(createHmac('sha256', keys.keys.k1).update(body).digest('base64url'));
    expect(t).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('ttl null never expires (e = 0)', () => {
    const t = signToken(keys, 'unsubscribe', TENANT, {}, { ttlSeconds: null });
    const r = verifyToken(keys, t, 'unsubscribe', 4_000_000_000);
    expect(r.ok && r.payload.e).toBe(0);
  });

  it('expires at e', () => {
    const t = signToken(keys, 'activation', TENANT, { c: '1' }, { ttlSeconds: 100, now: NOW });
    expect(verifyToken(keys, t, 'activation', NOW + 99).ok).toBe(true);
    expect(verifyToken(keys, t, 'activation', NOW + 100)).toEqual({ ok: false, error: 'expired' });
    expect(verifyToken(keys, t, 'activation', NOW + 10_000)).toEqual({ ok: false, error: 'expired' });
    const live = signToken(keys, 'activation', TENANT, { c: '1' }, { ttlSeconds: 100 });
    expect(verifyToken(keys, live, 'activation').ok).toBe(true);
  });

  it('checks the purpose', () => {
    const t = signToken(keys, 'activation', TENANT, { c: '1' }, { ttlSeconds: null });
    for (const p of ['unsubscribe', 'verp', 'preferences'] as const) {
      expect(verifyToken(keys, t, p)).toEqual({ ok: false, error: 'wrong_purpose' });
    }
  });

  it('adds a random nonce when asked', () => {
    const a = signToken(keys, 'activation', TENANT, { c: '1' }, { ttlSeconds: 60, now: NOW, nonce: true });
    const b = signToken(keys, 'activation', TENANT, { c: '1' }, { ttlSeconds: 60, now: NOW, nonce: true });
    expect(a).not.toBe(b);
    const r = verifyToken(keys, a, 'activation', NOW);
    expect(r.ok && typeof r.payload.n === 'string' && r.payload.n.length >= 16).toBe(true);
    expect(tokenId(a)).not.toBe(tokenId(b));
  });

  it('supports key rotation: old kid verifies while present, unknown kid fails', () => {
    const old = signToken(keys, 'unsubscribe', TENANT, { c: '1' }, { ttlSeconds: null });
    const fresh = signToken(rotated, 'unsubscribe', TENANT, { c: '1' }, { ttlSeconds: null });
    expect(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).k).toBe('k2');
    expect(verifyToken(rotated, old, 'unsubscribe').ok).toBe(true);
    expect(verifyToken(rotated, fresh, 'unsubscribe').ok).toBe(true);
    expect(verifyToken(keys, fresh, 'unsubscribe')).toEqual({ ok: false, error: 'unknown_key' });
    const retired: TokenKeys = { current: 'k2', keys: { k2: rotated.keys.k2 } };
    expect(verifyToken(retired, old, 'unsubscribe')).toEqual({ ok: false, error: 'unknown_key' });
  });

  it('rejects a token signed with another secret under the same kid', () => {
    const t = signToken({ current: 'k1', keys: { k1: 'another-secret' } }, 'unsubscribe', TENANT, {}, { ttlSeconds: null });
    expect(verifyToken(keys, t, 'unsubscribe')).toEqual({ ok: false, error: 'bad_signature' });
  });

  it('treats prototype names as unknown kids', () => {
    for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const body = Buffer.from(JSON.stringify({ p: 'verp', t: TENANT, s: {}, e: 0, k })).toString('base64url');
      expect(verifyToken(keys, `${body}.${'A'.repeat(43)}`, 'verp')).toEqual({ ok: false, error: 'unknown_key' });
    }
  });

  it('throws when signing without a usable current key', () => {
    expect(() => signToken({ current: 'nope', keys: { k1: 'x' } }, 'verp', TENANT, {}, { ttlSeconds: null })).toThrow();
    expect(() => signToken(keys, 'verp', '', {}, { ttlSeconds: null })).toThrow();
  });

  it.each<[string, unknown]>([
    ['non-string', 42], ['null', null], ['empty', ''], ['no dot', 'abc'], ['two dots', 'a.b.c'], ['empty sig', 'abc.'],
    ['padding', 'YWJj.YWJj='], ['not base64url', 'a+b.c/d'], ['not json', `${Buffer.from('nope').toString('base64url')}.AAAA`],
    ['wrong shape', `${Buffer.from(JSON.stringify({ p: 'x', t: 1 })).toString('base64url')}.AAAA`],
    ['extra field', `${Buffer.from(JSON.stringify({ p: 'verp', t: 't', s: {}, e: 0, k: 'k1', z: 1 })).toString('base64url')}.AAAA`],
    ['array subject', `${Buffer.from(JSON.stringify({ p: 'verp', t: 't', s: ['a'], e: 0, k: 'k1' })).toString('base64url')}.AAAA`],
    ['too long', `${'A'.repeat(MAX_TOKEN_LENGTH)}.A`],
  ])('rejects malformed input: %s', (_name, input) => {
    expect(verifyToken(keys, input, 'verp')).toEqual({ ok: false, error: 'malformed' });
  });

  it('never verifies after any single-character change at any position', () => {
    const t = signToken(keys, 'preferences', TENANT, { c: 'contact-1', m: 'campaign-9' }, { ttlSeconds: 3600, now: NOW });
    for (let i = 0; i < t.length; i++) {
      for (const c of [...B64, '.', '=', '%']) {
        if (c === t[i]) continue;
        expect(verifyToken(keys, replaceAt(t, i, c), 'preferences', NOW).ok, `pos ${i} → ${c}`).toBe(false);
      }
      expect(verifyToken(keys, t.slice(0, i) + t.slice(i + 1), 'preferences', NOW).ok).toBe(false); // deletion
    }
    expect(verifyToken(keys, `${t}A`, 'preferences', NOW).ok).toBe(false);
    expect(verifyToken(keys, ` ${t}`, 'preferences', NOW).ok).toBe(false);
  });

  it('never verifies after a random single-character change (property)', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
      fc.nat(), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
      (s, pos, ch) => {
        const t = signToken(keys, 'unsubscribe', TENANT, s, { ttlSeconds: null });
        const i = pos % t.length;
        fc.pre(t[i] !== ch);
        expect(verifyToken(keys, replaceAt(t, i, ch), 'unsubscribe').ok).toBe(false);
      },
    ), { numRuns: 1000 });
  });

  it('tokenId is the sha256 hex of the token', () => {
    expect(tokenId('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('compact link tokens', () => {
  const CONTACT = '1d0c6a52-8a4e-4f0b-9c3d-2e1f0a9b8c7d';
  const CAMPAIGN = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
  const compact = (k: TokenKeys, p: 'activation' | 'unsubscribe' | 'test_address', s: Record<string, string>, ttl: number | null = null) =>
    signToken(k, p, TENANT, s, { ttlSeconds: ttl, now: NOW });
  const bytesOf = (t: string) => Buffer.from(t, 'base64url');
  const fromBytes = (b: Buffer) => b.toString('base64url');
  const flipBit = (t: string, byte: number, bit = 0) => { const b = bytesOf(t); b[byte] ^= 1 << bit; return fromBytes(b); };

  it('round-trips every shape it carries, without a dot, deterministically', () => {
    for (const s of [{ l: MSG }, { c: CONTACT }, { c: CONTACT, m: '' }, { c: CONTACT, m: CAMPAIGN }, {}, { a: CONTACT, b: CAMPAIGN, m: MSG }] as Array<Record<string, string>>) {
      for (const ttl of [null, 3600]) {
        const t = compact(keys, 'unsubscribe', s, ttl);
        expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(t).toBe(compact(keys, 'unsubscribe', s, ttl));
        expect(verifyToken(keys, t, 'unsubscribe', NOW)).toEqual({ ok: true, payload: { p: 'unsubscribe', t: TENANT, s, e: ttl === null ? 0 : NOW + ttl, k: 'k1' } });
      }
    }
  });

  it('has the documented byte layout (version, expiry flag, purpose, kid tag, SIV, AES-256-CTR of tenant, expiry, entries)', () => {
    const t = compact(keys, 'activation', { m: MSG, z: '' }, 3600);
    const raw = bytesOf(t);
    expect(raw[0]).toBe((0b01 << 6) | 0x20 | (COMPACT_PURPOSES.indexOf('activation') + 1));
    expect(raw[1]).toBe(createHash('sha256').update('k1').digest()[0]);
    const key = (info: string) => Buffer.from(hkdfSync('sha256', keys.keys.k1, 'postgate link token v1', info, 32));
    const siv = raw.subarray(2, 12);
    const d = createDecipheriv('aes-256-ctr', key('enc'), Buffer.concat([siv, Buffer.alloc(6)]));
    const plain = Buffer.concat([d.update(raw.subarray(12)), d.final()]);
    const e = Buffer.alloc(4); e.writeUInt32BE(NOW + 3600);
    const hex = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');
    expect(plain.toString('hex')).toBe(Buffer.concat([hex(TENANT), e, Buffer.from('m'), hex(MSG), Buffer.from([0x80 | 'z'.charCodeAt(0)])]).toString('hex'));
    expect(siv.toString('hex')).toBe(createHmac('sha256', key('mac')).update(raw.subarray(0, 2)).update(plain).digest().subarray(0, 10).toString('hex'));
  });

  it('is short: one id beside the tenant is 60 characters (66 expiring), so links stay under 100', () => {
    expect(compact(keys, 'unsubscribe', { l: MSG })).toHaveLength(60);
    expect(compact(keys, 'activation', { m: MSG }, 7 * 86_400)).toHaveLength(66);
    expect(compact(keys, 'test_address', { m: MSG }, 7 * 86_400)).toHaveLength(66);
    expect(compact(keys, 'unsubscribe', { c: CONTACT })).toHaveLength(60);
    expect(compact(keys, 'unsubscribe', { c: CONTACT, m: CAMPAIGN })).toHaveLength(83);
    expect(`https://news.example.com/u/${compact(keys, 'unsubscribe', { l: MSG })}/preferences`.length).toBeLessThan(100);
    expect(`https://news.example.com/a/${compact(keys, 'activation', { m: MSG }, 7 * 86_400)}`.length).toBeLessThan(100);
    fc.assert(fc.property(fc.uuid(), fc.uuid(), fc.integer({ min: 1, max: 10 * 365 * 86_400 }), (t, m, ttl) => {
      const tok = signToken(rotated, 'activation', t.toLowerCase(), { m: m.toLowerCase() }, { ttlSeconds: ttl, now: NOW });
      expect(tok.length).toBeLessThanOrEqual(66);
    }), { numRuns: 200 });
  });

  it('shows nothing internal: no UUID in hex, base64 or base32, no JSON', () => {
    const ids = [TENANT, MSG, CONTACT, CAMPAIGN];
    const t = compact(keys, 'unsubscribe', { c: CONTACT, m: CAMPAIGN });
    const t2 = compact(keys, 'unsubscribe', { l: MSG });
    for (const tok of [t, t2]) {
      const raw = bytesOf(tok);
      expect(() => JSON.parse(raw.toString('utf8'))).toThrow();
      expect(raw.toString('latin1')).not.toContain('"t":');
      for (const id of ids) {
        const b = Buffer.from(id.replace(/-/g, ''), 'hex');
        for (const off of [0, 1, 2]) { // the id at any alignment in the base64 text
          const enc = Buffer.concat([Buffer.alloc(off), b]).toString('base64url').slice(4).slice(0, 16);
          expect(tok).not.toContain(enc);
        }
        expect(raw.includes(b.subarray(0, 6))).toBe(false); // not even 6 bytes of it in the clear
        expect(raw.toString('hex')).not.toContain(id.replace(/-/g, '').slice(0, 12));
        expect(tok.toLowerCase()).not.toContain(base32Encode(b).slice(0, 12));
      }
    }
  });

  it('fails on any flipped bit (bad signature or malformed), never verifying', () => {
    const t = compact(keys, 'activation', { m: MSG }, 3600);
    const n = bytesOf(t).length;
    for (let i = 0; i < n; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const r = verifyToken(keys, flipBit(t, i, bit), 'activation', NOW);
        expect(r.ok, `byte ${i} bit ${bit}`).toBe(false);
        if (i >= 2) expect(r).toEqual({ ok: false, error: 'bad_signature' });
      }
    }
    for (let i = 0; i < t.length; i++) {
      for (const c of [...B64, '.', '=', '%']) if (c !== t[i]) expect(verifyToken(keys, replaceAt(t, i, c), 'activation', NOW).ok).toBe(false);
    }
    expect(verifyToken(keys, t.slice(0, -1), 'activation', NOW).ok).toBe(false);
    expect(verifyToken(keys, `${t}A`, 'activation', NOW).ok).toBe(false);
  });

  it('names the wrong purpose after the MAC, even for a token of the same ids', () => {
    const t = compact(keys, 'activation', { m: MSG }, 3600);
    for (const p of ['unsubscribe', 'verp', 'preferences', 'test_address'] as const) expect(verifyToken(keys, t, p, NOW)).toEqual({ ok: false, error: 'wrong_purpose' });
    // the purpose is in the authenticated header: rewriting it breaks the MAC
    const b = bytesOf(t);
    b[0] = (b[0] & ~0x1f) | (COMPACT_PURPOSES.indexOf('test_address') + 1);
    expect(verifyToken(keys, fromBytes(b), 'test_address', NOW)).toEqual({ ok: false, error: 'bad_signature' });
  });

  it('expires at e, and an expiring token cannot be made everlasting by clearing the flag', () => {
    const t = compact(keys, 'activation', { m: MSG }, 100);
    expect(verifyToken(keys, t, 'activation', NOW + 99).ok).toBe(true);
    expect(verifyToken(keys, t, 'activation', NOW + 100)).toEqual({ ok: false, error: 'expired' });
    expect(verifyToken(keys, flipBit(t, 0, 5), 'activation', NOW + 100).ok).toBe(false);
    const live = signToken(keys, 'activation', TENANT, { m: MSG }, { ttlSeconds: 100 });
    expect(verifyToken(keys, live, 'activation').ok).toBe(true);
  });

  it('rotates: an older kid verifies while kept, an unknown or removed kid does not, another secret is a bad signature', () => {
    const old = compact(keys, 'unsubscribe', { l: MSG });
    const fresh = compact(rotated, 'unsubscribe', { l: MSG });
    expect(fresh).not.toBe(old);
    expect(verifyToken(rotated, old, 'unsubscribe')).toMatchObject({ ok: true, payload: { k: 'k1', s: { l: MSG } } });
    expect(verifyToken(rotated, fresh, 'unsubscribe')).toMatchObject({ ok: true, payload: { k: 'k2' } });
    expect(verifyToken(keys, fresh, 'unsubscribe')).toEqual({ ok: false, error: 'unknown_key' });
    expect(verifyToken({ current: 'k2', keys: { k2: rotated.keys.k2 } }, old, 'unsubscribe')).toEqual({ ok: false, error: 'unknown_key' });
    expect(verifyToken({ current: 'k1', keys: { k1: 'another-secret' } }, old, 'unsubscribe')).toEqual({ ok: false, error: 'bad_signature' });
  });

  it('tries every kid sharing a tag byte', () => {
    const kids = Array.from({ length: 600 }, (_, i) => `kid${i}`);
    const tag = compactKidTag(kids[0]);
    const twin = kids.slice(1).find((k) => compactKidTag(k) === tag) as string;
    expect(twin).toBeDefined();
    const both: TokenKeys = { current: twin, keys: { [kids[0]]: 'secret-a', [twin]: 'secret-b' } };
    const t = compact({ current: twin, keys: { [twin]: 'secret-b' } }, 'unsubscribe', { l: MSG });
    expect(verifyToken(both, t, 'unsubscribe')).toMatchObject({ ok: true, payload: { k: twin } });
  });

  it('old JSON tokens (mail already sent) still verify, and facts the compact format cannot carry stay JSON', () => {
    const body = Buffer.from(JSON.stringify({ p: 'activation', t: TENANT, s: { c: CONTACT, m: MSG }, e: NOW + 60, k: 'k1' })).toString('base64url');
    const legacy = `${body}.${createHmac('sha256', keys.keys.k1).update(body).digest('base64url')}`;
    expect(verifyToken(rotated, legacy, 'activation', NOW)).toMatchObject({ ok: true, payload: { s: { c: CONTACT, m: MSG } } });
    expect(verifyToken(rotated, legacy, 'activation', NOW + 60)).toEqual({ ok: false, error: 'expired' });
    expect(signToken(keys, 'unsubscribe', TENANT, { c: 'not-a-uuid' }, { ttlSeconds: null })).toContain('.');
    expect(signToken(keys, 'unsubscribe', TENANT, { cc: CONTACT }, { ttlSeconds: null })).toContain('.');
    expect(signToken(keys, 'unsubscribe', TENANT, { a: MSG, b: MSG, c: MSG, d: MSG }, { ttlSeconds: null })).toContain('.');
    expect(signToken(keys, 'unsubscribe', TENANT.toUpperCase(), { c: CONTACT }, { ttlSeconds: null })).toContain('.');
  });

  it('rejects malformed compact input', () => {
    const t = compact(keys, 'unsubscribe', { l: MSG });
    const raw = bytesOf(t);
    const version2 = Buffer.from(raw); version2[0] = (version2[0] & 0x3f) | 0x80;
    for (const bad of ['', 'A', 'AAAA', t.slice(0, 30), fromBytes(Buffer.alloc(28)), fromBytes(version2), fromBytes(Buffer.concat([raw, Buffer.alloc(60)])), `${t.slice(0, -1)}=`]) {
      expect(verifyToken(keys, bad, 'unsubscribe'), bad).toEqual({ ok: false, error: 'malformed' });
    }
    // non-canonical base64url (spare bits set) is not the same token
    const odd = compact(keys, 'unsubscribe', { c: CONTACT, m: '' });
    const last = B64.indexOf(odd.at(-1) as string);
    expect(verifyToken(keys, odd.slice(0, -1) + B64[last | 1], 'unsubscribe').ok).toBe(last % 2 === 1);
  });
});

describe('base32', () => {
  it('matches RFC 4648 test vectors (lower-case, no padding)', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
    for (const [plain, enc] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(enc);
      expect(base32Decode(enc)?.toString()).toBe(plain);
    }
  });

  it('decodes only canonical text', () => {
    expect(base32Decode('mz')).toBeNull(); // non-zero trailing bits
    expect(base32Decode('MY')).toBeNull(); // lower-case only
    expect(base32Decode('m1')).toBeNull();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      expect(base32Decode(base32Encode(Buffer.from(b)))?.equals(Buffer.from(b))).toBe(true);
    }));
  });
});

describe('VERP', () => {
  it('round-trips the message id and fits in a local part with bounces+', () => {
    const token = signVerp(keys, TENANT, MSG);
    expect(token).toMatch(/^[a-z2-7]{42}-k1$/);
    expect(`bounces+${token}`.length).toBeLessThanOrEqual(64);
    expect(verifyVerp(keys, token)).toEqual({ ok: true, messageId: MSG });
  });

  it('is case-insensitive', () => {
    const token = signVerp(keys, TENANT, MSG.toUpperCase());
    expect(verifyVerp(keys, token.toUpperCase())).toEqual({ ok: true, messageId: MSG });
    expect(verifyVerp(keys, token.replace(/[a-m]/g, (c) => c.toUpperCase()))).toEqual({ ok: true, messageId: MSG });
  });

  it('stays within 64 chars with the longest plain kid and with awkward kids', () => {
    for (const kid of ['abcdefghij12', 'K1', 'key_2025-rotation-with-a-very-long-name', 'ü']) {
      const k: TokenKeys = { current: kid, keys: { [kid]: 'some-secret' } };
      const token = signVerp(k, TENANT, MSG);
      expect(`bounces+${token}`.length, kid).toBeLessThanOrEqual(64);
      expect(token).toMatch(/^[a-z0-9-]+$/);
      expect(verifyVerp(k, token.toUpperCase())).toEqual({ ok: true, messageId: MSG });
    }
    expect(verpKidTag('K1')).not.toBe('k1');
  });

  it('verifies with an older kid after rotation; unknown kid fails', () => {
    const old = signVerp(keys, TENANT, MSG);
    expect(verifyVerp(rotated, old)).toEqual({ ok: true, messageId: MSG });
    expect(signVerp(rotated, TENANT, MSG)).toMatch(/-k2$/);
    expect(verifyVerp(keys, signVerp(rotated, TENANT, MSG))).toEqual({ ok: false, error: 'unknown_key' });
  });

  it('rejects tampering at every position', () => {
    const token = signVerp(keys, TENANT, MSG);
    for (let i = 0; i < token.length; i++) {
      for (const c of 'abcdefghijklmnopqrstuvwxyz234567019-.+') {
        if (c === token[i]) continue;
        expect(verifyVerp(keys, replaceAt(token, i, c)).ok, `pos ${i} → ${c}`).toBe(false);
      }
    }
  });

  it('rejects malformed input', () => {
    for (const bad of [null, 7, '', 'k1', `${'a'.repeat(42)}`, `${'a'.repeat(41)}-k1`, `${'a'.repeat(43)}-k1`, `${'a'.repeat(42)}-`, `${'a'.repeat(42)}-${'k'.repeat(13)}`]) {
      expect(verifyVerp(keys, bad), String(bad)).toEqual({ ok: false, error: 'malformed' });
    }
    expect(verifyVerp(keys, `${'a'.repeat(42)}-k1`)).toEqual({ ok: false, error: 'bad_signature' });
    expect(verifyVerp(keys, `${'a'.repeat(42)}-k9`)).toEqual({ ok: false, error: 'unknown_key' });
  });

  it('refuses to sign a non-UUID message id', () => {
    expect(() => signVerp(keys, TENANT, 'not-a-uuid')).toThrow();
  });

  it('round-trips any UUID (property)', () => {
    fc.assert(fc.property(fc.uuid(), (id) => {
      const token = signVerp(rotated, TENANT, id);
      expect(`bounces+${token}`.length).toBeLessThanOrEqual(64);
      expect(verifyVerp(rotated, token.toUpperCase())).toEqual({ ok: true, messageId: id.toLowerCase() });
    }), { numRuns: 300 });
  });
});

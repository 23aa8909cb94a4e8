// Signed link tokens and VERP tokens: round trips, tampering, expiry, rotation, purposes, formats.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base32Decode, base32Encode, MAX_TOKEN_LENGTH, signToken, signVerp, tokenId, verifyToken, verifyVerp, verpKidTag,
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

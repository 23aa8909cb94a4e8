// Which inbound addresses the listener answers for, the compact List-Unsubscribe mailto token, and
// the RFC 3463 code read from a send-time SMTP response. Pure logic: no database, no network.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signVerp, type TokenKeys } from '../../src/policy/tokens.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';
import { signMailtoToken, unsubscribeMailto, verifyMailtoToken } from '../../src/bounces/mailto.js';
import { inboundTargets, parseInboundRecipient } from '../../src/bounces/recipients.js';
import { enhancedStatus } from '../../src/bounces/process.js';

const keys: TokenKeys = { current: 'k2', keys: { k2: 'second-secret-key-0123456789', k1: 'first-secret-key-0123456789' } };
const oldKeys: TokenKeys = { current: 'k1', keys: { k1: 'first-secret-key-0123456789' } };
const otherKeys: TokenKeys = { current: 'k2', keys: { k2: 'someone-elses-key-0123456789' } };
const tenantId = randomUUID();

describe('compact mailto token', () => {
  it('round-trips, fits a 64-octet local part, survives case folding and key rotation', () => {
    const contactId = randomUUID();
    const address = unsubscribeMailto(keys, { bounceDomain: null }, contactId, 'bounces.example.org');
    const local = address.slice(0, address.indexOf('@'));
    expect(local.length).toBeLessThanOrEqual(64);
    expect(address.endsWith('@bounces.example.org')).toBe(true);
    const token = local.slice('unsubscribe+'.length);
    expect(verifyMailtoToken(keys, token)).toBe(contactId);
    expect(verifyMailtoToken(keys, token.toUpperCase())).toBe(contactId);
    expect(verifyMailtoToken(keys, signMailtoToken(oldKeys, contactId))).toBe(contactId);
    expect(unsubscribeMailto(keys, { bounceDomain: 'b.tenant.example' }, contactId, 'x.example')).toMatch(/@b\.tenant\.example$/);
    const longKid: TokenKeys = { current: 'a-very-long-key-id', keys: { 'a-very-long-key-id': 'long-kid-secret-0123456789' } };
    expect(unsubscribeMailto(longKid, { bounceDomain: null }, contactId, 'b.example').indexOf('@')).toBeLessThanOrEqual(64);
  });

  it('refuses forged, altered, foreign-key and malformed tokens', () => {
    const token = signMailtoToken(keys, randomUUID());
    const flipped = (token[3] === 'a' ? 'b' : 'a');
    expect(verifyMailtoToken(keys, token.slice(0, 3) + flipped + token.slice(4))).toBeNull();
    expect(verifyMailtoToken(otherKeys, token)).toBeNull();
    for (const bad of ['', '-', 'a'.repeat(39), `${'a'.repeat(39)}-`, `${'1'.repeat(39)}-k2`, `${token}x`, 'x'.repeat(500)]) {
      expect(verifyMailtoToken(keys, bad)).toBeNull();
    }
    expect(() => signMailtoToken(keys, 'not-a-uuid')).toThrow();
  });
});

describe('inbound recipients', () => {
  const messageId = randomUUID();
  const contactId = randomUUID();

  it('accepts signed bounces+ and unsubscribe+ local parts on any domain', () => {
    const verp = signVerp(keys, tenantId, messageId);
    expect(parseInboundRecipient(keys, `bounces+${verp}@bounces.example.org`)).toMatchObject({ kind: 'verp', messageId });
    expect(parseInboundRecipient(keys, `<BOUNCES+${verp.toUpperCase()}@Tenant.Example>`)).toMatchObject({ kind: 'verp', messageId });
    expect(parseInboundRecipient(keys, `unsubscribe+${signMailtoToken(keys, contactId)}@b.example`))
      .toEqual(expect.objectContaining({ kind: 'unsubscribe', contactId, tenantId: null, campaignId: null }));
    const long = unsubscribeToken(keys, { tenantId, contactId, campaignId: messageId });
    expect(parseInboundRecipient(keys, `unsubscribe+${long}@b.example`))
      .toEqual(expect.objectContaining({ kind: 'unsubscribe', contactId, tenantId, campaignId: messageId }));
  });

  it('refuses everything else', () => {
    const verp = signVerp(keys, tenantId, messageId);
    for (const a of ['postmaster@b.example', 'postmaster', `bounces-${verp}@b.example`, `bounce+${verp}@b.example`, `bounces+${verp}@`,
      `bounces+${verp}`, `@b.example`, `bounces+${signVerp(otherKeys, tenantId, messageId)}@b.example`,
      `unsubscribe+${verp}@b.example`, `bounces+${signMailtoToken(keys, contactId)}@b.example`, `bounces+${verp}x@b.example`,
      `bounces+${'a'.repeat(2000)}@b.example`, 'bounces+a b@b.example', '']) {
      expect(parseInboundRecipient(keys, a), a).toBeNull();
    }
  });

  it('lists each target once', () => {
    const verp = signVerp(keys, tenantId, messageId);
    const targets = inboundTargets(keys, [`bounces+${verp}@a.example`, `bounces+${verp}@b.example`, 'x@y.example']);
    expect(targets).toHaveLength(1);
  });
});

describe('enhancedStatus', () => {
  it('reads the RFC 3463 code from the response, else the class of the reply code', () => {
    expect(enhancedStatus('550 5.1.1 <x@y>: Recipient address rejected', 550)).toBe('5.1.1');
    expect(enhancedStatus('554 5.7.1 Service unavailable; blocked using zen.spamhaus.org', 554)).toBe('5.7.1');
    expect(enhancedStatus('550 mailbox unavailable', 550)).toBe('5.0.0');
    expect(enhancedStatus('552 Requested mail action aborted: 1.2.3.4 is not a code', 552)).toBe('5.0.0');
    expect(enhancedStatus('550-5.7.26 Unauthenticated email is not accepted', 550)).toBe('5.7.26');
    expect(enhancedStatus('550 4.2.2 inconsistent class', 550)).toBe('5.0.0');
  });
});

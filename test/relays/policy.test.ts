// The pure part of the relays: SMTP_URLS and DOMAIN_CONCURRENCY_OVERRIDES parsed, the weighted pick,
// which replies throttle a domain, the recipient's domain.
import { describe, expect, it } from 'vitest';
import { isDomainThrottle, parseDomainLimits, parseRelayUrls, pickRelay, recipientDomain } from '../../src/relays/policy.js';
import { loadConfig } from '../../src/config.js';

describe('SMTP_URLS', () => {
  it('takes weight, rate, connections and name off the URL nodemailer sees, and keeps the rest', () => {
    const [a, b] = parseRelayUrls('smtp://u:p%40ss@relay1.example:587?weight=3&rate=50&connections=4&tls_reject_unauthorized=false, smtps://relay2.example', 5);
    expect(a).toEqual({ name: 'relay1.example:587', url: 'smtp://u:p%40ss@relay1.example:587?tls_reject_unauthorized=false', weight: 3, rate: 50, connections: 4 });
    expect(b).toEqual({ name: 'relay2.example:465', url: 'smtps://relay2.example', weight: 1, rate: 0, connections: 5 });
    expect(parseRelayUrls('smtp://h:25?name=primary', 1)[0].name).toBe('primary');
  });

  it('refuses what it cannot use, naming the entry and never the password', () => {
    expect(() => parseRelayUrls('smtp://h:25,http://x', 1)).toThrow('entry 2 must be smtp:// or smtps://');
    expect(() => parseRelayUrls('smtp://u:secret@h:25?weight=0', 1)).toThrow('entry 1: weight=0 must be a whole number from 1 to 1000');
    expect(() => parseRelayUrls('smtp://h:25?rate=1.5', 1)).toThrow(/rate=1.5/);
    expect(() => parseRelayUrls('smtp://h:25,smtp://h:25', 1)).toThrow('relay name h:25 is given twice');
    expect(() => parseRelayUrls(' , ', 1)).toThrow('at least one relay');
    expect(() => loadConfig({}, { DATA_DIR: '/tmp', SMTP_URLS: 'smtp://u:secret@h:25?weight=x' } as never)).toThrow(/^invalid configuration: SMTP_URLS must be a comma list .*weight=x/);
    expect(() => loadConfig({}, { DATA_DIR: '/tmp', SMTP_URLS: 'smtp://u:secret@h:25?weight=x' } as never)).not.toThrow(/secret/);
    expect(() => loadConfig({}, { DATA_DIR: '/tmp', SMTP_URL: 'smtp://h:25', SMTP_URLS: 'smtp://h:25' } as never)).toThrow(/SMTP_URLS is set together with SMTP_URL/);
  });

  it('relays through SMTP_URLS are held to the relaying checks (PUBLIC_URL https on a public host)', () => {
    expect(() => loadConfig({}, { DATA_DIR: '/tmp', SMTP_URLS: 'smtp://h:25', PUBLIC_URL: 'http://localhost:3000' } as never)).toThrow(/PUBLIC_URL/);
  });
});

describe('DOMAIN_CONCURRENCY_OVERRIDES', () => {
  it('parses domain=limit pairs in lower case', () => {
    expect(parseDomainLimits('Gmail.com=20, outlook.com=5')).toEqual(new Map([['gmail.com', 20], ['outlook.com', 5]]));
    expect(parseDomainLimits(undefined).size).toBe(0);
    expect(() => parseDomainLimits('gmail.com=0')).toThrow('"gmail.com=0"');
    expect(() => parseDomainLimits('gmail.com')).toThrow(/domain=limit/);
  });
});

describe('pickRelay', () => {
  const relays = [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }];
  it('picks by weight among those not skipped', () => {
    expect(pickRelay(relays, () => false, 0)?.name).toBe('a');
    expect(pickRelay(relays, () => false, 0.74)?.name).toBe('a');
    expect(pickRelay(relays, () => false, 0.76)?.name).toBe('b');
    expect(pickRelay(relays, (n) => n === 'a', 0)?.name).toBe('b');
    expect(pickRelay(relays, () => true, 0.5)).toBeNull();
  });
});

describe('isDomainThrottle', () => {
  it('is a 421 or an enhanced status 4.7.x', () => {
    expect(isDomainThrottle('421 4.7.0 try again later')).toBe(true);
    expect(isDomainThrottle('421 too busy')).toBe(true);
    expect(isDomainThrottle('450 4.7.28 rate limited')).toBe(true);
    expect(isDomainThrottle('451 4.3.0 local error')).toBe(false);
    expect(isDomainThrottle('452 4.2.2 mailbox full')).toBe(false);
    expect(isDomainThrottle('550 5.7.1 refused')).toBe(false);
  });
});

describe('recipientDomain', () => {
  it('reads the envelope recipient', () => {
    expect(recipientDomain('Reader@Gmail.COM')).toBe('gmail.com');
    expect(recipientDomain(['a@x.org', 'b@y.org'])).toBe('x.org');
    expect(recipientDomain({ name: 'A', address: 'a@z.org' })).toBe('z.org');
    expect(recipientDomain(undefined)).toBeNull();
    expect(recipientDomain('nobody')).toBeNull();
  });
});

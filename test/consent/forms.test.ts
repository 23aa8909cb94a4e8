// The per-IP caps' client key and keyed hash (src/consent/forms.ts), without a database.
import { describe, expect, it } from 'vitest';
import { clientKey, formOrigin, formWording, ipHash, isFormWording } from '../../src/consent/forms.js';

const keys = { current: 'k1', keys: { k1: 'test-secret-key-0123456789', k0: 'older-secret-key-0123456789' } };

describe('clientKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and takes the /64 of IPv6', () => {
    expect(clientKey('198.51.100.7')).toBe('198.51.100.7');
    expect(clientKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(clientKey('2001:db8:aa:bb:1:2:3:4')).toBe('2001:db8:aa:bb::/64');
    expect(clientKey('2001:DB8:00aa:bb::9')).toBe('2001:db8:aa:bb::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('ipHash', () => {
  it('is keyed, 32 bytes, the same for one /64 and different for another client', () => {
    const a = ipHash(keys, '2001:db8:aa:bb::1');
    expect(a).toHaveLength(32);
    expect(ipHash(keys, '2001:db8:aa:bb:ffff::2')).toEqual(a);
    expect(ipHash(keys, '2001:db8:aa:bc::1')).not.toEqual(a);
    expect(ipHash({ ...keys, current: 'k0' }, '2001:db8:aa:bb::1')).not.toEqual(a);
    expect(a.toString('hex')).not.toContain('2001');
  });
});

describe('formWording', () => {
  it('names the list and the tenant', () => {
    expect(formWording('Weekly', 'Acme')).toBe('Yes, send me Weekly from Acme. I can unsubscribe at any time.');
  });

  it('recognises a form wording of any list of the tenant, and nothing else', () => {
    expect(isFormWording(formWording('Old name', 'Acme'), 'Acme')).toBe(true);
    expect(isFormWording(formWording('Weekly', 'Globex'), 'Acme')).toBe(false);
    expect(isFormWording('I agree to everything.', 'Acme')).toBe(false);
    expect(isFormWording('Yes, send me  from Acme. I can unsubscribe at any time.'.replace('  ', ''), 'Acme')).toBe(false);
  });
});

describe('formOrigin', () => {
  it('keeps a well-formed http(s) origin, normalised (lower case, default port dropped, IDN in ASCII)', () => {
    expect(formOrigin('https://a.example')).toBe('https://a.example');
    expect(formOrigin('HTTPS://Shop.A.Example:8443')).toBe('https://shop.a.example:8443');
    expect(formOrigin('https://a.example:443')).toBe('https://a.example');
    expect(formOrigin('http://[2001:DB8::1]:8080')).toBe('http://[2001:db8::1]:8080');
    expect(formOrigin('https://bücher.example')).toBe('https://xn--bcher-kva.example');
  });

  it('refuses anything that is not scheme://host[:port]: paths, markup, users, queries, other schemes, "null", over-long', () => {
    for (const bad of [undefined, null, '', 'null', 'https://a.example/<script>', 'https://a.example/', 'https://a.example<script>',
      'https://user@a.example', 'https://a.example?x=1', 'https://a.example#x', 'javascript:alert(1)', 'file:///etc/passwd', 'ftp://a.example',
      'https://a.example:99999', 'https:// a.example', ' https://a.example', 'https://a.example\\x', 'a.example', `https://${'a'.repeat(200)}.example`]) {
      expect(formOrigin(bad)).toBeNull();
    }
  });
});

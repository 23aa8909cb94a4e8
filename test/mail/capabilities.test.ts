// Capability links are replaced by placeholders in everything Postgate keeps of a message, in every
// spelling a rendered part may hold them (raw, HTML-escaped, URL-encoded), longest URL first.
import { describe, expect, it } from 'vitest';
import { placeholderOf, redactCapabilities, redactPart } from '../../src/mail/capabilities.js';
import { unsubscribeCapabilities } from '../../src/campaigns/content.js';

const TOKEN = 'eyJ0IjoiYWJjIiwicyI6e319.c2lnbmF0dXJlLXZhbHVlLWhlcmU';
const confirm = { url: `https://pg.example/a/${TOKEN}`, name: 'confirmation link' };

describe('redactCapabilities', () => {
  it('replaces each link in the HTML and the text part, in every spelling, and leaves the rest', () => {
    const html = `<a href="${confirm.url}">Confirm</a> <a href="${confirm.url}">${confirm.url}</a> `
      + `<a href="https://x.example/?next=${encodeURIComponent(confirm.url)}">via</a> <p>other https://acme.org/a/x</p>`;
    const text = `Confirm: ${confirm.url}\nAlso ${TOKEN}\n`;
    const out = redactCapabilities({ html, text, subject: 's' }, [confirm]);
    expect(out.html).not.toContain(TOKEN);
    expect(out.text).not.toContain(TOKEN);
    expect(out.html).toContain(`<a href="${placeholderOf(confirm)}">Confirm</a>`);
    expect(out.html).toContain('https://acme.org/a/x');
    expect(out.text).toBe(`Confirm: [confirmation link, sent only to the recipient]\nAlso [confirmation link, sent only to the recipient]\n`);
    expect(out.subject).toBe('s');
    expect(redactCapabilities({ html, text }, [])).toEqual({ html, text });
  });

  it('keeps the unsubscribe and preference links apart (the longer one first)', () => {
    const unsubscribe = `https://pg.example/u/${TOKEN}`;
    const text = `Leave: ${unsubscribe}\nPreferences: ${unsubscribe}/preferences\n`;
    expect(redactPart(text, unsubscribeCapabilities(unsubscribe), false)).toBe(
      'Leave: [unsubscribe link, sent only to the recipient]\nPreferences: [preference link, sent only to the recipient]\n');
    expect(redactPart(`<a href="${unsubscribe}&amp;x">`, unsubscribeCapabilities(unsubscribe), true)).not.toContain(TOKEN);
  });
});

describe('redactPart without a capability in sight (the quick check before any parsing)', () => {
  const unsubscribe = `https://pg.example/u/${TOKEN}`;
  const links = unsubscribeCapabilities(unsubscribe);
  /** A link the quick check cannot judge (not http): with it in the list, every link takes the full redaction; it replaces nothing itself. */
  const FULL = { url: 'mailto:x y', name: 'none' };

  it('returns a text that holds none of them as it is, and still redacts one that holds a token in any spelling', () => {
    const subject = 'Your weekly digest, Ann';
    expect(redactPart(subject, links, false)).toBe(subject);
    for (const form of [unsubscribe, TOKEN, encodeURIComponent(unsubscribe), `${unsubscribe}/preferences`, `&quot;${unsubscribe}&quot;`]) {
      expect(redactPart(`Hi ${form}!`, links, false), form).not.toContain(TOKEN);
    }
  });

  it('gives what the full redaction gives, whatever the URL (dot segments, other schemes, queries, odd characters, long hosts)', () => {
    const odd = [
      ...links, { url: `https://pg.example/${TOKEN}/../x`, name: 'a' }, { url: `foo:${TOKEN}/rest`, name: 'b' },
      { url: `https://pg.example/u/${TOKEN}?q=1`, name: 'c' }, { url: `https://pg.example/u/${TOKEN} x`, name: 'd' },
      { url: 'https://pg.example/short', name: 'e' }, { url: `https://${'h'.repeat(20)}.example/a`, name: 'f' },
      { url: `https://pg.example:8443/${TOKEN}`, name: 'g' }, { url: `http://pg.example/./${TOKEN}/.`, name: 'h' },
    ];
    const texts = (url: string) => [`x ${TOKEN} y`, 'nothing here', `see ${url}`, `${'h'.repeat(20)}.example`, encodeURIComponent(url), TOKEN.split('.')[0], `pg.example:8443/${TOKEN}`];
    for (const link of odd) {
      for (const text of texts(link.url)) {
        for (const escape of [false, true]) expect(redactPart(text, [link], escape), `${link.url} in ${text}`).toBe(redactPart(text, [link, FULL], escape));
      }
    }
  });
});

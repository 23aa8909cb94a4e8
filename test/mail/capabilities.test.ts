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

// The pages' helpers over the shipped catalogues: markup inside a translated sentence, list names.
import { describe, expect, it } from 'vitest';
import { html } from '../../src/html.js';
import { translatorFor } from '../../src/i18n/catalogues.js';
import { listNames, pageLanguage, tHtml } from '../../src/i18n/pages.js';

describe('tHtml', () => {
  it('keeps an Html argument as markup and escapes the text and every plain argument', () => {
    const t = translatorFor('de');
    const out = tHtml(t, 'page.unsubscribe.question', { what: html`<strong>${'<News & Deals>'}</strong>`, address: '<a@b>' }).value;
    expect(out).toBe('Möchten Sie <strong>&lt;News &amp; Deals&gt;</strong> unter &lt;a@b&gt; nicht mehr erhalten?');
  });

  it('does not let a plain argument forge the placeholder of a fragment', () => {
    const t = translatorFor('en');
    const out = tHtml(t, 'page.unsubscribe.question', { what: html`<b>x</b>`, address: '\u00010\u0002 [0:0] [x:0]' }).value;
    expect(out.match(/<b>x<\/b>/g)).toHaveLength(1);
  });
});

describe('listNames and pageLanguage', () => {
  it('joins list names in the language', () => {
    expect(listNames(translatorFor('en'), ['A', 'B', 'C'])).toBe('A, B and C');
    expect(listNames(translatorFor('fr'), ['A', 'B'])).toBe('A et B');
    expect(listNames(translatorFor('es'), ['A'])).toBe('A');
  });

  it('gives the page its language, direction and footer labels', () => {
    expect(pageLanguage(translatorFor('fr-CA'), 'Acme')).toEqual({ lang: 'fr', dir: 'ltr', labels: { privacy: 'Politique de confidentialité', logo: 'Acme' } });
  });
});

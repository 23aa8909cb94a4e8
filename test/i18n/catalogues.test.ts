// The shipped catalogues (locales/<language>/<area>.json): every English id exists in every language,
// every text parses as ICU MessageFormat, and each translation uses exactly English's arguments.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { LOCALES_DIR, readCatalogue, translatorFor } from '../../src/i18n/catalogues.js';
import { LANGUAGES, validateMessage } from '../../src/i18n/translate.js';
import { readFileSync } from 'node:fs';

const AREAS = readdirSync(path.join(LOCALES_DIR, 'en')).filter((f) => f.endsWith('.json')).sort();
const area = (lang: string, file: string): Record<string, string> => JSON.parse(readFileSync(path.join(LOCALES_DIR, lang, file), 'utf8'));

/** The argument names a message uses, nested ones (in plural and select branches) included. */
function argumentsOf(text: string): string[] {
  const names = new Set<string>();
  const walk = (els: MessageFormatElement[]): void => {
    for (const el of els) {
      if (el.type === TYPE.literal || el.type === TYPE.pound) continue;
      if (el.type === TYPE.tag) { walk(el.children); continue; }
      names.add(el.value);
      if (el.type === TYPE.plural || el.type === TYPE.select) for (const o of Object.values(el.options)) walk(o.value);
    }
  };
  walk(parse(text));
  return [...names].sort();
}

describe('catalogues', () => {
  it('has the area files of every part, pages.json among them, in every language', () => {
    expect(AREAS).toContain('pages.json');
    for (const lang of LANGUAGES) expect(readdirSync(path.join(LOCALES_DIR, lang)).filter((f) => f.endsWith('.json')).sort()).toEqual(AREAS);
  });

  it.each(AREAS)('%s: every English id exists in de, fr and es, and no language has ids English lacks', (file) => {
    const en = Object.keys(area('en', file)).sort();
    expect(en.length).toBeGreaterThan(0);
    for (const lang of LANGUAGES) expect(Object.keys(area(lang, file)).sort(), `${lang}/${file}`).toEqual(en);
  });

  it.each(AREAS)('%s: every text parses, and uses the same arguments as English', (file) => {
    const en = area('en', file);
    for (const lang of LANGUAGES) {
      for (const [id, text] of Object.entries(area(lang, file))) {
        expect(validateMessage(text, lang), `${lang} ${id}`).toBeNull();
        if (Object.hasOwn(en, id)) expect(argumentsOf(text), `${lang} ${id}`).toEqual(argumentsOf(en[id]));
      }
    }
  });

  it('reads each language into one catalogue, with no id defined twice across area files', () => {
    for (const lang of LANGUAGES) expect(Object.keys(readCatalogue(lang)).length).toBeGreaterThan(AREAS.length);
  });

  it('pages.json ids are page.* and are translated, not copied (a German page reads German)', () => {
    const en = area('en', 'pages.json');
    const sameWord = new Set(['de page.form.name']); // "Name (optional)" is German too
    expect(Object.keys(en).every((id) => id.startsWith('page.'))).toBe(true);
    for (const lang of ['de', 'fr', 'es']) {
      const same = Object.entries(area(lang, 'pages.json')).filter(([id, text]) => text === en[id] && !sameWord.has(`${lang} ${id}`) && /[a-z]{4}/.test(text.replace(/\{[^}]*\}/g, '')));
      expect(same.map(([id]) => id), lang).toEqual([]);
    }
    expect(translatorFor('de-DE').t('page.unsubscribe.title')).toBe('Abmelden');
    expect(translatorFor('fr').t('page.unsubscribe.oneClick.done')).toBe('Vous avez été désabonné.');
  });
});

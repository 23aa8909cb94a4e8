// The shipped catalogues: locales/<language>/<area>.json, each a flat JSON object of message id →
// ICU MessageFormat text (see translate.ts), read once per process. A translator edits these files;
// an area file per part of the product (pages.json, mail.json, …) keeps each file small. Every id
// of English must exist in every language (test/i18n/catalogues.test.ts).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { LANGUAGES, translator, type Catalogue, type Catalogues, type Language, type StringOverrides, type Translator } from './translate.js';

export const LOCALES_DIR = path.join(projectRoot, 'locales');

/** Reads locales/<language>/*.json into one catalogue; an id defined twice is an error. */
export function readCatalogue(language: Language, dir: string = LOCALES_DIR): Catalogue {
  const folder = path.join(dir, language);
  const out: Record<string, string> = {};
  if (!existsSync(folder)) return out;
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
    const data = JSON.parse(readFileSync(path.join(folder, file), 'utf8')) as Record<string, unknown>;
    for (const [id, text] of Object.entries(data)) {
      if (typeof text !== 'string') throw new Error(`locales/${language}/${file}: ${id} is not a string`);
      if (Object.hasOwn(out, id)) throw new Error(`locales/${language}/${file}: ${id} is defined twice`);
      out[id] = text;
    }
  }
  return out;
}

let shipped: Catalogues | null = null;

/** Every language's catalogue, read once. */
export function catalogues(): Catalogues {
  shipped ??= Object.fromEntries(LANGUAGES.map((l) => [l, readCatalogue(l)])) as Record<Language, Catalogue>;
  return shipped;
}

/** A translator over the shipped catalogues for `locale`, with the tenant's `overrides`. */
export function translatorFor(locale: string, overrides: StringOverrides = {}): Translator {
  return translator(catalogues(), locale, overrides);
}

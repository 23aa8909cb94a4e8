// What a tenant may put in its own strings (PURE; issue 20). A tenant overrides a shipped message
// per language: the language must have a catalogue, the id must exist in the English reference
// catalogue, and the text must be valid ICU MessageFormat that uses no argument (and no rich-text
// tag) the English text lacks, so that every place that formats the message has what it needs.
// Parsing is @formatjs/icu-messageformat-parser's, the parser intl-messageformat itself uses.
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { LANGUAGES, type Catalogue } from '../i18n/translate.js';

/** At most this many overrides in all languages together, and this many characters each. */
export const MAX_OVERRIDES = 500;
export const MAX_OVERRIDE_CHARS = 4000;

/** What is wrong with one entry: `path` is [language] or [language, messageId]. */
export interface OverrideProblem { path: string[]; message: string }

/** The names of the arguments ({name}, {n, plural, …}) and tags (<b>…</b>) a message uses. */
export interface MessageNames { args: Set<string>; tags: Set<string> }

function collect(elements: MessageFormatElement[], into: MessageNames): MessageNames {
  for (const el of elements) {
    if (el.type === TYPE.literal || el.type === TYPE.pound) continue;
    if (el.type === TYPE.tag) { into.tags.add(el.value); collect(el.children, into); continue; }
    into.args.add(el.value);
    if (el.type === TYPE.select || el.type === TYPE.plural) {
      for (const option of Object.values(el.options)) collect(option.value, into);
    }
  }
  return into;
}

/**
 * The argument and tag names of an ICU text; throws on a syntax error. Parsed as intl-messageformat
 * parses a message it formats (the same parser and options), once.
 */
export function messageNames(text: string, language = 'en'): MessageNames {
  return collect(parse(text, { locale: new Intl.Locale(language) }), { args: new Set(), tags: new Set() });
}

/** The arguments a message takes, sorted (for a translator's reference). */
export function messageArguments(text: string): string[] {
  return [...messageNames(text).args].sort();
}

const REFERENCES = new Map<string, MessageNames>();

/** messageNames of a shipped English text, parsed once. */
function referenceNames(reference: string): MessageNames {
  let names = REFERENCES.get(reference);
  if (!names) {
    if (REFERENCES.size > 5000) REFERENCES.clear();
    names = messageNames(reference);
    REFERENCES.set(reference, names);
  }
  return names;
}

/** What PostgreSQL's jsonb cannot hold: NUL, and a UTF-16 surrogate without its pair. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot override the English `reference`, or null when it can. */
export function overrideProblem(text: string, reference: string, language: string): string | null {
  if (text.length > MAX_OVERRIDE_CHARS) return `longer than ${MAX_OVERRIDE_CHARS} characters`;
  if (UNSTORABLE.test(text)) return 'contains a NUL character or a lone UTF-16 surrogate, which is not text';
  if (!text.trim()) return 'is blank: a page or a mail would lose its words (a subject, a button); remove the override to use the shipped text';
  let own: MessageNames;
  try {
    own = messageNames(text, language);
  } catch (err) {
    return `not valid ICU MessageFormat: ${(err as Error).message}`;
  }
  const allowed = referenceNames(reference);
  const extraArgs = [...own.args].filter((a) => !allowed.args.has(a));
  if (extraArgs.length) return `uses ${extraArgs.map((a) => `{${a}}`).join(', ')}, which the message does not have (it has: ${[...allowed.args].map((a) => `{${a}}`).join(', ') || 'none'})`;
  const extraTags = [...own.tags].filter((t) => !allowed.tags.has(t));
  if (extraTags.length) return `uses the tag <${extraTags[0]}>, which the message does not have`;
  return null;
}

const isLanguage = (l: string): boolean => (LANGUAGES as readonly string[]).includes(l);

/**
 * Checks a set of overrides (language → id → text) against the English catalogue, one entry at a
 * time: yields each entry's problem, or null for an entry that may be stored, so that a caller can
 * give the event loop a turn between entries (a full set takes ~0.5 s of parsing).
 */
export function* checkOverrides(overrides: Readonly<Record<string, Readonly<Record<string, string>>>>, english: Catalogue): Generator<OverrideProblem | null> {
  const total = Object.values(overrides).reduce((n, m) => n + Object.keys(m).length, 0);
  if (total > MAX_OVERRIDES) { yield { path: [], message: `${total} overrides: at most ${MAX_OVERRIDES} in all languages together` }; return; }
  for (const [language, messages] of Object.entries(overrides)) {
    if (!isLanguage(language)) { yield { path: [language], message: `not a language Postgate speaks (${LANGUAGES.join(', ')})` }; continue; }
    for (const [id, text] of Object.entries(messages)) {
      const reference = Object.hasOwn(english, id) ? english[id] : null;
      const problem = reference === null ? 'no such message id (GET /api/tenant/strings lists them)' : overrideProblem(text, reference, language);
      yield problem ? { path: [language, id], message: problem } : null;
    }
  }
}

/** Every problem of a set of overrides (at most `limit`); [] when it may be stored. */
export function overrideProblems(overrides: Readonly<Record<string, Readonly<Record<string, string>>>>, english: Catalogue, limit = 20): OverrideProblem[] {
  const problems: OverrideProblem[] = [];
  for (const p of checkOverrides(overrides, english)) {
    if (p) problems.push(p);
    if (problems.length >= limit) break;
  }
  return problems;
}

// Hostile inputs shared by the fuzz suite (test/faults/fuzz-api.test.ts) and the event-loop benchmark
// (bench/event-loop.bench.ts), from issue 14: templates that stall the event loop, write to the log,
// reach prototypes or escape their context; RFC 2047 encoded-words and bidi controls for names that
// end up in headers; payment-card numbers spelt to slip past a detector that only knows ASCII digits
// joined by single spaces or dashes. Also the one scanner that finds a card number in bytes (data
// files, logs) in any of those spellings.

// ---- card numbers ------------------------------------------------------------------------------

/** The Luhn check digit that completes `body` (digits only). */
export function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    const d = (body.charCodeAt(i) - 48) * (double ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  return String((10 - (sum % 10)) % 10);
}

/**
 * The card numbers the suite sends: the two best-known test numbers (also in the plain fuzz strings)
 * and two Luhn-valid numbers made for this suite, which nothing else in the repository spells, so a
 * hit in a data file or a log can only come from what the suite sent.
 */
export const CARD_NUMBERS: readonly string[] = [
  '4111111111111111', '5555555555554444',
  `453927180462517${luhnCheckDigit('453927180462517')}`, `537608294155032${luhnCheckDigit('537608294155032')}`,
];

const groups = (card: string): string[] => card.match(/.{1,4}/g) ?? [card];
const digitsFrom = (card: string, zero: number): string => Array.from(card, (c) => String.fromCharCode(zero + c.charCodeAt(0) - 48)).join('');

export interface CardVariant { card: string; label: string; text: string; /** Bytes only Latin-1, so it can go in an HTTP header as is. */ headerSafe: boolean }

/** One card number spelt every way issue 14 lists (and a few neighbours). */
export function cardSpellings(card: string): CardVariant[] {
  const g = groups(card);
  const spellings: [string, string][] = [
    ['double spaces', g.join('  ')],
    ['dots', g.join('.')],
    ['tabs', g.join('\t')],
    ['NBSP', g.join('\u00A0')],
    ['narrow NBSP', g.join('\u202F')],
    ['thin space', g.join('\u2009')],
    ['run of separators', g.join(' -. ')],
    ['mixed separators', `${g[0]} ${g[1]}-${g[2]}.${g[3]}`],
    ['full-width digits', digitsFrom(card, 0xFF10)],
    ['full-width digits, spaced', g.map((x) => digitsFrom(x, 0xFF10)).join(' ')],
    ['Arabic-Indic digits', digitsFrom(card, 0x0660)],
    ['extended Arabic-Indic digits', g.map((x) => digitsFrom(x, 0x06F0)).join(' ')],
    ['Devanagari digits', digitsFrom(card, 0x0966)],
    ['zero-width space between digits', Array.from(card).join('\u200B')],
    ['zero-width joiners between groups', g.join('\u200D')],
    ['word joiner between groups', g.join('\u2060')],
    ['BOM between groups', g.join('\uFEFF')],
    ['in a sentence, double-spaced', `Card ${g.join('  ')} exp 12/29`],
    ['in a sentence, NBSP', `paid with\u00A0${g.join('\u00A0')}\u00A0thanks`],
  ];
  return spellings.map(([label, text]) => ({ card, label, text, headerSafe: /^[\u0009\u0020-\u007E\u00A0-\u00FF]*$/.test(text) }));
}

export const CARD_VARIANTS: readonly CardVariant[] = CARD_NUMBERS.flatMap(cardSpellings);

/** A header value that carries `text` as its UTF-8 bytes (what a client that sends UTF-8 puts on the wire). */
export function asHeaderValue(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

// The byte scanner. It walks UTF-8 (or Latin-1) bytes once, reading ASCII, full-width, Arabic-Indic,
// extended Arabic-Indic and Devanagari digits, and skipping at most MAX_GAP separators between two
// digits (spaces, tabs, dots, dashes, slashes, NBSP, the U+2000 block's spaces and zero-width
// characters, bidi controls, word joiner, BOM, and JSON escapes such as \t or \u00a0). A hit is a
// run whose last 16 digits are one of the given card numbers: only numbers the suite sent can be
// found, so an unrelated digit run in a binary file never counts.
const MAX_GAP = 6;

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/** At byte i: [digit or -1, bytes used, is a separator]. */
function token(buf: Uint8Array, i: number): [number, number, boolean] {
  const b = buf[i];
  if (b >= 0x30 && b <= 0x39) return [b - 0x30, 1, false];
  if (b === 0x20 || b === 0x09 || b === 0x2E || b === 0x2D || b === 0x2F || b === 0x5F || b === 0xA0) return [-1, 1, true];
  const b1 = buf[i + 1];
  const b2 = buf[i + 2];
  if (b === 0x5C) { // JSON escapes in logs: \t \n \r \/ \u00a0 \u200b …
    if (b1 === 0x74 || b1 === 0x6E || b1 === 0x72 || b1 === 0x2F) return [-1, 2, true];
    if (b1 === 0x75 && isHex(b2) && isHex(buf[i + 3]) && isHex(buf[i + 4]) && isHex(buf[i + 5])) return [-1, 6, true];
    return [-1, 1, false];
  }
  if (b === 0xC2 && b1 === 0xA0) return [-1, 2, true];
  if (b === 0xD9 && b1 >= 0xA0 && b1 <= 0xA9) return [b1 - 0xA0, 2, false];
  if (b === 0xDB && b1 >= 0xB0 && b1 <= 0xB9) return [b1 - 0xB0, 2, false];
  if (b === 0xE0 && b1 === 0xA5 && b2 >= 0xA6 && b2 <= 0xAF) return [b2 - 0xA6, 3, false];
  if (b === 0xEF && b1 === 0xBC && b2 >= 0x90 && b2 <= 0x99) return [b2 - 0x90, 3, false];
  if (b === 0xEF && b1 === 0xBB && b2 === 0xBF) return [-1, 3, true];
  if (b === 0xE2 && b1 === 0x80 && b2 >= 0x80 && b2 <= 0xAF) return [-1, 3, true];
  if (b === 0xE2 && b1 === 0x81 && b2 >= 0xA0 && b2 <= 0xAF) return [-1, 3, true];
  return [-1, 1, false];
}

export interface CardHit { card: string; offset: number; context: string }

/** Every place in `buf` where one of `cards` (16 ASCII digits each) is spelt, in any spelling above. */
export function findCardNumbers(buf: Uint8Array, cards: readonly string[], maxHits = 20): CardHit[] {
  const wanted = new Set(cards);
  const hits: CardHit[] = [];
  let digits = '';
  let start = 0;
  let gap = 0;
  for (let i = 0; i < buf.length;) {
    const b = buf[i];
    // Fast path: bytes that can start neither a digit nor a separator reset the run.
    if (b < 0x09 || (b > 0x09 && b < 0x20) || (b > 0x39 && b !== 0x5C && b !== 0x5F && b < 0xA0)) {
      if (digits) { digits = ''; gap = 0; }
      i++;
      continue;
    }
    const [d, used, sep] = token(buf, i);
    if (d >= 0) {
      if (!digits) start = i;
      digits = (digits + String.fromCharCode(48 + d)).slice(-19);
      gap = 0;
      if (digits.length >= 16 && wanted.has(digits.slice(-16))) {
        const from = Math.max(0, start - 40);
        hits.push({ card: digits.slice(-16), offset: i, context: Buffer.from(buf.subarray(from, Math.min(buf.length, i + 40))).toString('utf8') });
        if (hits.length >= maxHits) return hits;
        digits = '';
      }
    } else if (sep && digits) {
      if (++gap > MAX_GAP) { digits = ''; gap = 0; }
    } else if (!sep) {
      digits = '';
      gap = 0;
    }
    i += used;
  }
  return hits;
}

// ---- names bound for headers ----------------------------------------------------------------------

/** RFC 2047 encoded-words (some decode to CR LF and a forged header), bidi controls, NFKC look-alikes of '<' '>', invisible format characters. */
export const HEADER_NAME_ATTACKS: readonly { label: string; text: string }[] = [
  { label: 'encoded-word q, CR LF', text: '=?utf-8?q?a=0D=0AB?=' },
  { label: 'encoded-word q, Bcc', text: '=?UTF-8?Q?Acme=0D=0ABcc:_victim@example.org?=' },
  { label: 'encoded-word b, CR LF Bcc', text: `=?utf-8?b?${Buffer.from('a\r\nBcc: victim@example.org').toString('base64')}?=` },
  { label: 'encoded-word b, benign', text: `Acme =?utf-8?b?${Buffer.from('Café').toString('base64')}?=` },
  { label: 'encoded-word latin1', text: 'Jos=?iso-8859-1?q?=E9?=' },
  { label: 'RLO U+202E', text: 'Acme \u202Egnp.exe' },
  { label: 'RLI/PDI U+2067/2069', text: 'Acme \u2067admin\u2069' },
  { label: 'LRE/PDF U+202A/202C', text: '\u202AAcme\u202C' },
  { label: 'RLM U+200F', text: 'Acme\u200F' },
  { label: 'Arabic letter mark U+061C', text: 'Acme\u061C' },
  { label: 'full-width < > (NFKC)', text: 'Bob \uFF1Cceo@bank.example\uFF1E' },
  { label: 'small-form < > (NFKC)', text: 'Bob \uFE64ceo@bank.example\uFE65' },
  { label: 'zero-width space', text: 'Ac\u200Bme' },
  { label: 'tag characters U+E0041…', text: 'Acme\u{E0041}\u{E0042}' },
];

// ---- templates -----------------------------------------------------------------------------------

export function mjmlText(inner: string, attrs = ''): string {
  return `<mjml><mj-body><mj-section><mj-column><mj-text${attrs}>${inner}</mj-text></mj-column></mj-section></mj-body></mjml>`;
}

/** Issue 14's stall: 30,000 `{{#if a}}x{{/if}}` (about 500 KB), 37 s to compile on the event loop. */
export const STALL_TEMPLATE = mjmlText('{{#if a}}x{{/if}}'.repeat(30_000));

const SECTION = '<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>';
/**
 * The heaviest template under the size and tag limits: about 250 KB of MJML sections and no tag,
 * 9 s of MJML compilation on a developer machine. It must compile off the event loop (or be refused).
 */
export const HEAVY_MJML_TEMPLATE = `<mjml><mj-body>${SECTION.repeat(Math.floor((250 * 1024 - 40) / SECTION.length))}</mj-body></mjml>`;

/** A marker that must never reach the process output (a template's `{{log}}`). */
export const LOG_MARKER = 'POSTGATE-FORGED-LOG-LINE-7f3a';

/** What the server must do with a hostile template (beyond: no 5xx, no half-written row). */
export type TemplateExpectation =
  | 'refused'        // saving answers 422
  | 'no-log'         // LOG_MARKER never reaches the log
  | 'empty-probes'   // if rendered, every ⟦…⟧ probe renders empty: nothing from a prototype
  | 'no-script-url'  // if rendered, no javascript: URL and no break-out of the style attribute
  | 'no-stall';      // only the general invariants here; the event-loop test times it

export interface HostileTemplate { label: string; mjml: string; subject: string; text?: string; data?: Record<string, unknown>; expect: TemplateExpectation }

const PROTO_PROBES = [
  '{{lookup this "constructor"}}', '{{lookup (lookup this "constructor") "name"}}', '{{this.constructor.name}}', '{{constructor}}',
  '{{__proto__}}', '{{lookup this "__proto__"}}', '{{lookup (lookup this "__proto__") "constructor"}}', '{{__defineGetter__}}',
  '{{#with (lookup this "constructor")}}{{name}}{{/with}}', '{{#with this.__proto__}}{{constructor.name}}{{/with}}',
  '{{lookup (lookup this "constructor") "constructor"}}', '{{valueOf}}', '{{toString}}', '{{hasOwnProperty}}',
];
export const probe = (i: number, expr: string): string => `⟦${i}:${expr}⟧`;

export const SCRIPT_URLS = ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'java\nscript:alert(1)',
  '&#106;avascript:alert(1)', 'vbscript:msgbox(1)', 'data:text/html,<script>alert(1)</script>'];

export const HOSTILE_TEMPLATES: readonly HostileTemplate[] = [
  { label: '500 KB of {{#if}} blocks', mjml: STALL_TEMPLATE, subject: 'Hi {{name}}', expect: 'no-stall' },
  { label: '250 KB of MJML sections', mjml: HEAVY_MJML_TEMPLATE, subject: 'Hi {{name}}', expect: 'no-stall' },
  { label: '{{log}} forging log lines', mjml: mjmlText(`{{log "${LOG_MARKER} level=error msg=forged" level="error"}}{{log attributes}}{{log this}}Hello {{name}}`),
    subject: `{{log "${LOG_MARKER} subject"}}Hi`, text: `{{log "${LOG_MARKER} text" level="warn"}}Hi {{unsubscribeUrl}}`,
    data: { attributes: { secret: `${LOG_MARKER} attributes` } }, expect: 'no-log' },
  { label: 'prototype lookups', mjml: mjmlText(PROTO_PROBES.map((p, i) => probe(i, p)).join(' ')), subject: 'Hi {{name}}', expect: 'empty-probes' },
  { label: 'constructor call', mjml: mjmlText('{{#with "s" as |s|}}{{#with (lookup s "constructor") as |c|}}{{c.constructor "return process"}}{{/with}}{{/with}}'),
    subject: 'Hi', expect: 'no-stall' },
  { label: 'triple-stash', mjml: mjmlText('Hello {{{name}}}'), subject: 'Hi', expect: 'refused' },
  { label: 'ampersand (unescaped) mustache', mjml: mjmlText('Hello {{& name}}'), subject: 'Hi', expect: 'refused' },
  { label: 'triple-stash in the text part', mjml: mjmlText('Hello {{name}}'), subject: 'Hi', text: 'Hello {{{name}}} {{unsubscribeUrl}}', expect: 'refused' },
  { label: 'unclosed {{#if}}', mjml: mjmlText('{{#if a}}x'), subject: 'Hi', expect: 'refused' },
  { label: 'unclosed {{#each}} in the subject', mjml: mjmlText('Hi'), subject: '{{#each items}}x', expect: 'refused' },
  { label: 'mismatched block', mjml: mjmlText('{{#with a}}x{{/if}}'), subject: 'Hi', expect: 'refused' },
  { label: 'dangling close', mjml: mjmlText('x{{/if}}'), subject: 'Hi', expect: 'refused' },
  { label: 'unterminated mustache', mjml: mjmlText('Hello {{name'), subject: 'Hi', expect: 'refused' },
  { label: '5,000 nested {{#if}}', mjml: mjmlText(`${'{{#if a}}'.repeat(5000)}x${'{{/if}}'.repeat(5000)}`), subject: 'Hi', expect: 'no-stall' },
  { label: '2,000 nested {{#each}} with ../', mjml: mjmlText(`${'{{#each a}}'.repeat(2000)}{{../../../x}}${'{{/each}}'.repeat(2000)}`), subject: 'Hi', expect: 'no-stall' },
  { label: '20,000 nested <div>', mjml: mjmlText(`${'<div>'.repeat(20_000)}x${'</div>'.repeat(20_000)}`), subject: 'Hi', expect: 'no-stall' },
  { label: '400 KB attribute value', mjml: mjmlText('x', ` css-class="${'a'.repeat(400_000)}"`), subject: 'Hi', expect: 'no-stall' },
  { label: '100,000 entities in an attribute', mjml: mjmlText('<a href="https://acme.example/" title="' + '&amp;'.repeat(100_000) + '">x</a>'), subject: 'Hi', expect: 'no-stall' },
  { label: 'partials, decorators, raw blocks', mjml: mjmlText('{{> header}}{{#*inline "x"}}y{{/inline}}{{* deco}}{{{{raw}}}}{{x}}{{{{/raw}}}}'), subject: 'Hi', expect: 'no-stall' },
  { label: 'javascript: in merge-field URLs', subject: 'Hi',
    mjml: `<mjml><mj-body><mj-section background-url="{{bg}}"><mj-column>
      <mj-button href="{{site}}">Site</mj-button>
      <mj-text><a href="{{site}}">link</a> <a href="{{other}}">other</a> <span style="background-image:url('{{bg}}')">x</span></mj-text>
      <mj-image src="{{img}}" href="{{site}}" />
    </mj-column></mj-section></mj-body></mjml>`,
    data: { site: 'javascript:alert(1)', other: 'JaVaScRiPt:alert(document.cookie)', bg: "x');background:url(javascript:alert(1));x:('", img: 'javascript:alert(2)' },
    expect: 'no-script-url' },
];

/** Decodes what a browser decodes in an attribute (entities; tabs and newlines are dropped from URLs). */
export function browserView(html: string): string {
  return html
    .replace(/&#x([0-9a-f]+);?/gi, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);?/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&colon;/gi, ':').replace(/&tab;/gi, '').replace(/&newline;/gi, '')
    .replace(/&quot;/g, '"').replace(/&#39;|&apos;/g, "'").replace(/&amp;/g, '&')
    .replace(/[\t\n\r\u0000]/g, '');
}

/** The script URLs or style break-outs in rendered HTML that came from merge fields (empty when safe). */
export function scriptUrlsIn(html: string): string[] {
  const seen = browserView(html);
  const out: string[] = [];
  for (const m of seen.matchAll(/(?:href|src|background|action)\s*=\s*["']?\s*((?:javascript|vbscript|data):[^"'\s>]{0,40})/gi)) out.push(m[0]);
  for (const m of seen.matchAll(/url\(\s*['"]?\s*((?:javascript|vbscript):[^)]{0,40})/gi)) out.push(m[0]);
  if (/x'\);background:url\(/.test(seen)) out.push("style break-out: x');background:url(");
  return out;
}

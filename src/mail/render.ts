// Template rendering, Ghost-style: MJML is compiled to HTML once per template (per campaign), the
// HTML, subject and text are Handlebars-precompiled once, and per recipient only the Handlebars
// runtime runs. Handlebars tags are swapped for inert tokens while MJML runs so MJML can never rewrite
// them; then an HTML tokenizer finds each tag's context in the compiled HTML and guards it (URL
// attributes and CSS get checks a plain HTML escape does not give). PURE: compilation of untrusted
// templates runs in worker threads (template-pool.ts), which call compileTemplateSpec; the main thread
// only turns the spec into functions (templateFromSpec).
import Handlebars from 'handlebars';
import type Mjml from 'mjml';
import { compile as compileHtmlToText } from 'html-to-text';
import { QuoteType, Tokenizer } from 'htmlparser2';
import { activeContentIssues } from './html-safety.js';
import { escapeHtml } from '../html.js';
import { showsLink } from './link-visibility.js';
import { canonicalLocale, formatMoney as formatMinorUnits, isKnownCurrency } from '../transactional/money.js';
import { containsCardNumber } from '../policy/cards.js';

export interface TemplateSource { mjml: string; subject: string; text?: string | null }
export interface TemplateIssue {
  part: 'mjml' | 'subject' | 'text'; line: number | null; message: string;
  /** 'card_data': the template's own text holds a payment-card number (the API answers card_data_rejected). */
  code?: 'card_data';
}
export interface CompiledTemplate {
  html: (data: object) => string;
  subject: (data: object) => string;
  text: (data: object) => string;
  /** Set when the text part is derived from the HTML; lets renderMessage reuse the HTML it rendered. */
  textFromHtml?: ((html: string) => string) | null;
  /**
   * Does every message visibly show a link to {{unsubscribeUrl}} (mail/link-visibility.ts, decided in
   * the worker from the compiled HTML)? The campaign content adds Postgate's footer link when not.
   */
  unsubscribeShown?: boolean | null;
}
export interface RenderedMessage { subject: string; html: string; text: string }
/**
 * A compiled template as plain data (it crosses from a worker thread to the main thread): Handlebars
 * precompiled JavaScript specs of the HTML, the subject and the text part (null: the text part is
 * derived from the rendered HTML per recipient with html-to-text).
 */
export interface TemplateSpec { html: string; subject: string; text: string | null; unsubscribeShown?: boolean | null }

/** Size limits of a template, checked before anything is parsed (a template over them is refused). */
export const TEMPLATE_LIMITS = {
  /** Characters of MJML (256 KiB): a large newsletter is 20–60 KiB. */
  mjmlChars: 256 * 1024,
  /** Characters of the text part. */
  textChars: 256 * 1024,
  /** Template tags ({{…}}) per part: bounds the per-recipient cost and the compile cost. */
  tags: 1000,
  /** Characters of the HTML MJML makes of it (1 MiB; Gmail clips a message over 102 KB anyway). */
  htmlChars: 1024 * 1024,
  /** {{#each}} blocks nested in one another (sections → articles → tags is 3); deeper is refused at compile time. */
  eachDepth: 3,
  /**
   * Block iterations per message (every {{#each}} item and {{#with}} body, in subject, HTML and text
   * together): over it the render throws RenderBudgetError (the message fails with render_error).
   */
  renderIterations: 10_000,
  /**
   * Template statements (tags, text runs) evaluated inside {{#each}} and {{#with}} per message:
   * iterations × the statements of their body. Bounds a loop over a body of many tags.
   */
  renderTags: 25_000,
  /** Characters of one rendered part (HTML or text; 2 MiB), counted as loops produce them: over it the render throws. */
  renderedChars: 2 * 1024 * 1024,
} as const;

/**
 * A render over the per-message work budget (TEMPLATE_LIMITS.renderIterations, renderedChars): the
 * template and this recipient's data would make too much work or too large a message. Thrown
 * synchronously out of the render; a send records it as render_error, a preview says why.
 */
export class RenderBudgetError extends Error {
  constructor(message: string) {
    super(`the template exceeds the render budget: ${message}`);
    this.name = 'RenderBudgetError';
  }
}

export class TemplateError extends Error {
  readonly issues: TemplateIssue[];
  constructor(issues: TemplateIssue[]) {
    super(`invalid template: ${issues.map(formatIssue).join('; ')}`);
    this.name = 'TemplateError';
    this.issues = issues;
  }
}

/**
 * A template that validated when saved could not be compiled now because the compiler ran over its
 * time budget (a loaded machine, a cold worker). Not the template's fault: a sender retries the
 * message later (with backoff) instead of failing it as a render error.
 */
export class TemplateBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateBusyError';
  }
}

type Part = TemplateIssue['part'];
type Render = (data: object) => string;
type HbsNode = hbs.AST.Statement | hbs.AST.Program;

// ---- the Handlebars environment ----------------------------------------------------------------

// An isolated instance: nothing registered globally by others reaches templates, and vice versa.
// No `log` (a template must never write to the server log) and no `lookup` (dynamic property names).
const hb = Handlebars.create();
hb.unregisterHelper('log');
hb.unregisterHelper('lookup');
// Handlebars reports denied prototype access through its one shared logger: silence it, so that no
// template can put text into the server log that way either.
hb.logger.level = 4;

/** Runtime options of every render: no prototype properties or methods (and nothing allowed by name). */
export const RUNTIME_OPTIONS: Readonly<Handlebars.RuntimeOptions> = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

/** Postgate's own helpers, besides if, unless, each and with (documented in template-variables.ts). */
export const TEMPLATE_HELPERS = ['default', 'urlencode', 'formatDate', 'formatMoney'] as const;
// Guards the compiler wraps around tags by context; templates cannot call them (see SOURCE_OPTIONS).
const GUARD = { url: '_pgUrl', urlValue: '_pgUrlValue', css: '_pgCss', cssUrl: '_pgCssUrl' } as const;

const KNOWN_HELPERS = { log: false, lookup: false, ...Object.fromEntries(TEMPLATE_HELPERS.map((h) => [h, true])) };
const SOURCE_OPTIONS: CompileOptions = { strict: false, knownHelpersOnly: true, knownHelpers: KNOWN_HELPERS };
const HTML_OPTIONS: CompileOptions = { ...SOURCE_OPTIONS, knownHelpers: { ...KNOWN_HELPERS, ...Object.fromEntries(Object.values(GUARD).map((g) => [g, true])) } };
const PLAIN_OPTIONS: CompileOptions = { ...SOURCE_OPTIONS, noEscape: true };

function helperArgs(args: unknown[]): { positional: unknown[]; hash: Record<string, unknown> } {
  const options = args[args.length - 1] as Handlebars.HelperOptions | undefined;
  return { positional: args.slice(0, -1), hash: (options?.hash ?? {}) as Record<string, unknown> };
}

const blank = (v: unknown): boolean => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
const localeOf = (v: unknown): string => (typeof v === 'string' && canonicalLocale(v)) || 'en';
const DATE_STYLES = new Set(['full', 'long', 'medium', 'short']);
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** {{formatDate "2026-03-01" "de-DE" "medium"}}: an ISO date (or datetime: its date as written), '' when not one. */
export function formatDate(value: unknown, locale: unknown = 'en', style: unknown = 'long'): string {
  const m = typeof value === 'string' ? /^(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(value.trim()) : null;
  if (!m) return '';
  const day = new Date(`${m[1]}T00:00:00Z`);
  if (Number.isNaN(day.getTime())) return '';
  const dateStyle = typeof style === 'string' && DATE_STYLES.has(style) ? style as 'full' | 'long' | 'medium' | 'short' : 'long';
  const key = `${localeOf(locale)}|${dateStyle}`;
  let f = dateFormats.get(key);
  if (!f) {
    if (dateFormats.size > 500) dateFormats.clear();
    f = new Intl.DateTimeFormat(localeOf(locale), { dateStyle, timeZone: 'UTC' });
    dateFormats.set(key, f);
  }
  return f.format(day);
}

/** {{formatMoney 123450 "EUR" "de-DE"}}: integer minor units of an ISO 4217 currency, '' when not valid. */
export function formatMoney(minor: unknown, currency: unknown, locale: unknown = 'en'): string {
  const code = typeof currency === 'string' ? currency.trim().toUpperCase() : '';
  if (!isKnownCurrency(code)) return '';
  let units: bigint;
  if (typeof minor === 'number' && Number.isSafeInteger(minor)) units = BigInt(minor);
  else if (typeof minor === 'string' && /^-?\d{1,30}$/.test(minor.trim())) units = BigInt(minor.trim());
  else return '';
  try { return formatMinorUnits(units, code, localeOf(locale)); } catch { return ''; }
}

hb.registerHelper('default', (...args: unknown[]) => {
  const { positional: [value, fallback] } = helperArgs(args);
  return blank(value) ? (fallback ?? '') : value;
});
hb.registerHelper('urlencode', (...args: unknown[]) => {
  const [value] = helperArgs(args).positional;
  return blank(value) ? '' : encodeURIComponent(String(value));
});
hb.registerHelper('formatDate', (...args: unknown[]) => {
  const { positional: [value, locale, style], hash } = helperArgs(args);
  return formatDate(value, hash.locale ?? locale, hash.style ?? style);
});
hb.registerHelper('formatMoney', (...args: unknown[]) => {
  const { positional: [minor, currency, locale], hash } = helperArgs(args);
  return formatMoney(minor, hash.currency ?? currency, hash.locale ?? locale);
});

// ---- the per-render work budget -----------------------------------------------------------------
// Rendering is synchronous, so one module-level state serves every render of this thread: the
// outermost render call (renderMessage, or one part's function called alone) resets the iteration
// count, and the subject, HTML and text of a message all count against it. Each part's output is
// counted as loops produce it (each loop body's own characters, its nested loops' counted once), so
// a loop that would build megabytes stops at the cap rather than after building them. The iterating
// helpers (each, with, blockHelperMissing on an array) are wrapped to count, each iteration weighted
// by the statements of its body (weighBlocks, at compile time); Handlebars has no recursion without
// partials (refused), so the iterations and the statements they evaluate bound a render's work.

interface BudgetState {
  /** Nesting of render calls: 0 outside any render. */
  depth: number;
  /** Block iterations of the current message. */
  iterations: number;
  /** Template statements its block iterations evaluated (each iteration's weight, see weighBlocks). */
  work: number;
  /** Characters the loops of the current part have produced (each counted once). */
  chars: number;
  /** Per running loop body: characters its nested loop bodies returned (to count them once). */
  frames: number[];
}
const budget: BudgetState = { depth: 0, iterations: 0, work: 0, chars: 0, frames: [] };

function overWork(): never {
  if (budget.iterations > TEMPLATE_LIMITS.renderIterations) {
    throw new RenderBudgetError(`more than ${TEMPLATE_LIMITS.renderIterations} block iterations ({{#each}} items, {{#with}} bodies) in one message`);
  }
  throw new RenderBudgetError(`more than ${TEMPLATE_LIMITS.renderTags} template tags evaluated in {{#each}} and {{#with}} blocks in one message`);
}
function overChars(chars: number): never {
  throw new RenderBudgetError(`a rendered part would be over ${TEMPLATE_LIMITS.renderedChars} characters (${chars} so far)`);
}

/** A block body that counts one iteration (of `weight` statements) per call and the characters it produces. */
function counted(fn: Handlebars.TemplateDelegate, weight: number): Handlebars.TemplateDelegate {
  return (context: unknown, options?: Handlebars.RuntimeOptions) => {
    if (++budget.iterations > TEMPLATE_LIMITS.renderIterations || (budget.work += weight) > TEMPLATE_LIMITS.renderTags) overWork();
    const frames = budget.frames;
    frames.push(0);
    const out = fn(context, options);
    const nested = frames.pop() ?? 0;
    budget.chars += out.length - nested;
    if (budget.chars > TEMPLATE_LIMITS.renderedChars) overChars(budget.chars);
    if (frames.length) frames[frames.length - 1] += out.length;
    return out;
  };
}

type BlockHelper = (this: unknown, context: unknown, options: Handlebars.HelperOptions) => unknown;
const originalEach = hb.helpers.each as BlockHelper;
const originalWith = hb.helpers.with as BlockHelper;
const originalBlockHelperMissing = hb.helpers.blockHelperMissing as BlockHelper;
function withCounted(options: Handlebars.HelperOptions): Handlebars.HelperOptions {
  if (typeof options?.fn !== 'function') return options;
  const weight = (options.hash as Record<string, unknown> | undefined)?.[WEIGHT_KEY];
  return { ...options, fn: counted(options.fn, typeof weight === 'number' && weight >= 0 ? weight : 1) };
}
/** The helper with its options (the last argument) counting; arguments otherwise as given, so its own checks still run. */
function countingHelper(original: BlockHelper, passThrough: (args: unknown[]) => boolean = () => false): Handlebars.HelperDelegate {
  return function (this: unknown, ...args: unknown[]) {
    if (args.length > 0 && !passThrough(args)) args[args.length - 1] = withCounted(args[args.length - 1] as Handlebars.HelperOptions);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
}
hb.registerHelper('each', countingHelper(originalEach));
hb.registerHelper('with', countingHelper(originalWith));
// An array goes to (the wrapped) each, which counts it; anything else runs the body at most once.
hb.registerHelper('blockHelperMissing', countingHelper(originalBlockHelperMissing, (args) => args.length === 2 && Array.isArray(args[0])));

/** Runs one part's render inside the budget: a new message's count when it is the outermost render. */
function budgeted(render: () => string): string {
  if (budget.depth === 0) { budget.iterations = 0; budget.work = 0; }
  const { chars, frames } = budget;
  budget.depth++;
  budget.chars = 0;
  budget.frames = [];
  try {
    const out = render();
    if (out.length > TEMPLATE_LIMITS.renderedChars) overChars(out.length);
    return out;
  } finally {
    budget.depth--;
    budget.chars = chars;
    budget.frames = frames;
  }
}

// ---- context guards (run per recipient around the tags they wrap) -------------------------------

const NAMED_REFS: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Undoes one layer of HTML escaping (Handlebars' and escapeHtml's); other named references stay. */
function decodeHtml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]+);/g, (m, ref: string) => {
    if (ref[0] !== '#') return NAMED_REFS[ref] ?? m;
    const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}

/**
 * May a URL built from template data be followed? Only http(s) and mailto (and a bare #fragment or
 * nothing). Tabs and newlines are removed and leading controls and spaces skipped, as browsers do.
 */
export function isAllowedUrl(url: string, schemes: RegExp = /^(?:https?|mailto):/i): boolean {
  const u = url.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+/, '');
  return u === '' || u.startsWith('#') || schemes.test(u);
}

/**
 * CSS-escapes a value for a CSS string, url() or declaration value, in a style attribute or a
 * <style> element: every character that could end a string, url() or declaration, start a comment
 * or an entity becomes a hex escape ("\27 "), so the value stays one CSS value.
 */
export function cssEscape(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f"'\\()<>;{}&*!@`]/g, (c) => (c === '\u0000' ? '\\fffd ' : `\\${c.charCodeAt(0).toString(16)} `));
}

// Starts with the scheme in plain letters: no decoding (entities, tabs, leading spaces) can change it.
const PLAIN_ALLOWED_URL = /^(?:https?|mailto):/i;

hb.registerHelper(GUARD.url, function (this: unknown, options: Handlebars.HelperOptions) {
  const rendered = String(options.fn(this));
  return new hb.SafeString(PLAIN_ALLOWED_URL.test(rendered) || isAllowedUrl(decodeHtml(rendered)) ? rendered : '#');
});
// The common case, a URL attribute that is one tag ({{url}}): a plain helper, cheaper than a block.
// It returns the value itself (Handlebars then escapes it as it would have), or "#".
hb.registerHelper(GUARD.urlValue, (value: unknown) => {
  if (value === undefined || value === null) return '';
  const url = value instanceof hb.SafeString ? value.toString() : String(value);
  if (PLAIN_ALLOWED_URL.test(url)) return value;
  return isAllowedUrl(value instanceof hb.SafeString ? decodeHtml(url) : url) ? value : '#';
});
hb.registerHelper(GUARD.css, function (this: unknown, options: Handlebars.HelperOptions) {
  return new hb.SafeString(cssEscape(decodeHtml(String(options.fn(this)))));
});
hb.registerHelper(GUARD.cssUrl, function (this: unknown, options: Handlebars.HelperOptions) {
  const value = decodeHtml(String(options.fn(this)));
  return new hb.SafeString(isAllowedUrl(value, /^https?:/i) ? cssEscape(value) : '');
});

// No mj-include (file access), no minify (htmlnano needs cssnano, not installed), and no automatic
// Google Fonts <link>s: recipients' clients would fetch them (an IP leak to a third party).
// Templates that want a web font declare it with <mj-font>.
const MJML_OPTIONS = { validationLevel: 'soft', keepComments: true, ignoreIncludes: true, minify: false, fonts: {} } as const;
// Anything Handlebars treats as syntax: escaped "\{{", raw blocks, long comments, triple and double stashes.
const MUSTACHE = /\\\{\{|\{\{\{\{[\s\S]*?\}\}\}\}|\{\{~?!--[\s\S]*?--~?\}\}|\{\{~?\{[\s\S]*?\}~?\}\}|\{\{[\s\S]*?\}\}/g;
const HTML_TO_TEXT = compileHtmlToText({
  wordwrap: 78,
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: '[style*="display:none"]', format: 'skip' }, // mj-preview preheader and other hidden text
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
  ],
});

// The template's text as a reader sees it, for the card check: no wrapping (a wrap would split a
// number), hidden text kept (it is in the HTML all the same), entities decoded, tags inert.
const READER_TEXT = compileHtmlToText({ wordwrap: false, selectors: [{ selector: 'img', format: 'skip' }, { selector: 'a', options: { ignoreHref: true } }] });
/** What stands for a template tag in the card check: a printed value breaks a digit run; blocks, comments and escapes print nothing. */
const tagStandIn = (tag: string): string => (printsValue(tag) ? '[value]' : '');

/**
 * The parts of a template whose own text (what every message shows, whatever the data) holds a
 * payment-card number, however it is spelled: entities (&#52;), tags between digits
 * (4111<span></span>1111), &nbsp; (the card detector's normaliser does the rest). `protectedHtml`
 * is MJML's output with the tags still inert tokens.
 */
function cardIssues(src: TemplateSource, p: Protected | null, protectedHtml: string | null): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  const found = (part: Part, text: string): void => {
    if (!containsCardNumber(text)) return;
    const line = text.split('\n').findIndex((l) => containsCardNumber(l));
    issues.push({
      part, line: part === 'mjml' || line < 0 ? null : line + 1, code: 'card_data',
      message: `the ${part === 'mjml' ? 'MJML' : part} shows a payment-card number: Postgate never sends or stores one`,
    });
  };
  if (p && protectedHtml !== null) {
    const inert = protectedHtml.replace(new RegExp(`${p.prefix}(\\d+)x`, 'gi'), (_m: string, i: string) => tagStandIn(p.originals[Number(i)] ?? ''));
    found('mjml', READER_TEXT(inert));
  }
  found('subject', src.subject.replace(MUSTACHE, tagStandIn));
  if (src.text != null) found('text', src.text.replace(MUSTACHE, tagStandIn));
  return issues;
}

function formatIssue(i: TemplateIssue): string {
  return `${i.part}${i.line === null ? '' : `:${i.line}`} ${i.message.split('\n')[0]}`;
}

function countNewlines(src: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

function lineAt(src: string, offset: number): number {
  return 1 + countNewlines(src, 0, offset);
}

// ---- Handlebars checks -------------------------------------------------------------------------

function errorLine(err: unknown): number | null {
  const e = err as { message?: unknown; lineNumber?: unknown };
  if (typeof e.lineNumber === 'number') return e.lineNumber;
  const m = /(?:Parse|Lexical) error on line (\d+)/.exec(String(e.message ?? ''));
  return m ? Number(m[1]) : null;
}

const HELPER_LIST = `if, unless, each, with, ${TEMPLATE_HELPERS.join(', ')}`;

function errorMessage(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/ - \d+:\d+$/, '');
  const unknown = /^You specified knownHelpersOnly, but used the unknown helper (\S+)$/.exec(message);
  return unknown ? `unknown helper "${unknown[1]}": the helpers are ${HELPER_LIST}` : message;
}

/** The innermost block opened and never closed, e.g. "{{#if vip}}" at line 3; Handlebars only says "EOF". */
function unclosedBlock(src: string): { tag: string; line: number } | null {
  const open: Array<{ tag: string; offset: number }> = [];
  for (const m of src.matchAll(MUSTACHE)) {
    if (opensBlock(m[0])) open.push({ tag: m[0], offset: m.index });
    else if (closesBlock(m[0])) open.pop();
  }
  const last = open.at(-1);
  return last ? { tag: last.tag, line: lineAt(src, last.offset) } : null;
}

function parseIssue(part: Part, src: string, err: unknown): TemplateIssue {
  const message = errorMessage(err);
  const unclosed = /got 'EOF'/.test(message) ? unclosedBlock(src) : null;
  if (unclosed) return { part, line: unclosed.line, message: `${unclosed.tag} is never closed` };
  return { part, line: errorLine(err), message };
}

/** Precompiles one part: its spec, or the issues (parse errors, unknown helpers, refused constructs). */
function precompilePart(part: Part, src: string, options: CompileOptions): { spec: string | null; issues: TemplateIssue[] } {
  let spec: string;
  try {
    const ast = hb.parse(src);
    weighBlocks(ast);
    spec = hb.precompile(ast, options) as string;
  } catch (err) {
    return { spec: null, issues: [parseIssue(part, src, err)] };
  }
  const blocks = options === HTML_OPTIONS ? HTML_BLOCK_HELPERS : BLOCK_HELPERS;
  const issues = unsupportedIssues(part, src, hb.parseWithoutProcessing(src), blocks);
  return { spec: issues.length ? null : spec, issues };
}

// The hash argument through which the compiler tells an iterating block what one of its iterations
// costs (see weighBlocks); set on every {{#each}} and {{#with}}, whatever a template wrote there.
const WEIGHT_KEY = '_pgw';
const ITERATING = new Set(['each', 'with']);

function isIterating(n: hbs.AST.Statement): n is hbs.AST.BlockStatement {
  if (n.type !== 'BlockStatement') return false;
  const name = calledName(n as hbs.AST.BlockStatement);
  return name !== null && ITERATING.has(name);
}

function subexpressionCount(n: hbs.AST.Statement): number {
  return n.type === 'MustacheStatement' || n.type === 'BlockStatement' ? subexpressions(n as CallNode).length : 0;
}

/** Statements one run of `p` evaluates, nested non-iterating blocks included; a nested iterating block counts 1 (its iterations count themselves). */
function bodyWeight(p: hbs.AST.Program | undefined): number {
  if (!p) return 0;
  let n = 0;
  for (const st of p.body) {
    n += 1 + subexpressionCount(st);
    if (st.type === 'BlockStatement' && !isIterating(st)) {
      const b = st as hbs.AST.BlockStatement;
      n += bodyWeight(b.program) + bodyWeight(b.inverse);
    }
  }
  return n;
}

/**
 * Gives every {{#each}} and {{#with}} a hash argument _pgw: the number of template statements one of
 * its iterations evaluates. The wrapped helpers add it to the message's work (TEMPLATE_LIMITS.renderTags)
 * per iteration, so a loop over a body of hundreds of tags is as bounded as a deep nest of loops.
 */
function weighBlocks(node: hbs.AST.Program): void {
  for (const st of node.body) {
    if (st.type !== 'BlockStatement') continue;
    const b = st as hbs.AST.BlockStatement;
    if (isIterating(b)) {
      const weight = bodyWeight(b.program);
      const pairs = (b.hash?.pairs ?? []).filter((x) => x.key !== WEIGHT_KEY);
      const value = { type: 'NumberLiteral', value: weight, original: weight, loc: b.loc } as hbs.AST.NumberLiteral;
      b.hash = { type: 'Hash', pairs: [...pairs, { type: 'HashPair', key: WEIGHT_KEY, value, loc: b.loc }], loc: b.loc };
    }
    if (b.program) weighBlocks(b.program);
    if (b.inverse) weighBlocks(b.inverse);
  }
}

function children(node: HbsNode): HbsNode[] {
  if (node.type === 'Program') return (node as hbs.AST.Program).body;
  const block = node as Partial<hbs.AST.BlockStatement>;
  return [block.program, block.inverse].filter((p): p is hbs.AST.Program => Boolean(p));
}


/** The block helpers a template may open ({{#if}}, …); the HTML pass also has the compiler's guards. */
const BLOCK_HELPERS: ReadonlySet<string> = new Set(['if', 'unless', 'each', 'with']);
const HTML_BLOCK_HELPERS: ReadonlySet<string> = new Set([...BLOCK_HELPERS, GUARD.url, GUARD.css, GUARD.cssUrl]);
// Handlebars' internal fallbacks: called by name they always throw (or iterate, for blockHelperMissing).
const INTERNAL_HELPERS = new Set(['helperMissing', 'blockHelperMissing']);

type CallNode = hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;

/** The name a mustache, block or subexpression calls (its path's first part), or null for a literal or this/../ path. */
function calledName(n: CallNode): string | null {
  const path = n.path as hbs.AST.PathExpression;
  return path.type === 'PathExpression' && !path.data && path.parts.length > 0 ? path.parts[0] : null;
}

/** Every subexpression in a call's params and hash (nested ones included). */
function subexpressions(n: CallNode): hbs.AST.SubExpression[] {
  const out: hbs.AST.SubExpression[] = [];
  const visit = (e: hbs.AST.Expression): void => {
    if (e.type !== 'SubExpression') return;
    const sub = e as hbs.AST.SubExpression;
    out.push(sub);
    for (const p of [...sub.params, ...(sub.hash?.pairs ?? []).map((x) => x.value)]) visit(p);
  };
  for (const p of [...n.params, ...(n.hash?.pairs ?? []).map((x) => x.value)]) visit(p);
  return out;
}

/** Offset of a 1-based line and 0-based column in src. */
function offsetOf(src: string, line: number, column: number): number {
  let at = 0;
  for (let l = 1; l < line && at >= 0; l++) at = src.indexOf('\n', at) + 1;
  return at + column;
}

// Partials and decorators would fail per recipient at send time: refuse them up front. Raw output
// ({{{x}}} or {{&x}}) would print subscriber data as HTML: refused in every part of a template (in
// the subject and the text part it would mean the same as {{x}}; one rule is easier to follow).
// So are the forms that can never render or that hide a loop: {{helperMissing}} and
// {{blockHelperMissing}} called by name, raw blocks ({{{{raw}}}}…{{{{/raw}}}}) and blocks of a
// non-helper ({{#foo}}…{{/foo}}, {{^foo}}…{{/foo}}: Handlebars' implicit section, which iterates
// arrays): {{#with foo}}, {{#if foo}}, {{#each foo}} and {{#unless foo}} say what is meant. And
// {{#each}} nested deeper than TEMPLATE_LIMITS.eachDepth (each level multiplies a render's work).
function unsupportedIssues(part: Part, src: string, ast: hbs.AST.Program, blocks: ReadonlySet<string>): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  const calls = (n: CallNode, line: number | null): void => {
    for (const c of [n, ...subexpressions(n)]) {
      const name = calledName(c);
      if (name !== null && INTERNAL_HELPERS.has(name)) issues.push({ part, line, message: `"${name}" cannot be called: it is Handlebars' internal fallback (use {{#if x}}, {{#with x}} or {{#each x}})` });
    }
  };
  const visit = (n: HbsNode, eachDepth: number): void => {
    const line = n.loc?.start.line ?? null;
    let depth = eachDepth;
    if (/^Partial|^Decorator/.test(n.type)) {
      issues.push({ part, line, message: `${n.type}: partials and decorators are not supported` });
    } else if (n.type === 'MustacheStatement') {
      if (!(n as hbs.AST.MustacheStatement).escaped) issues.push({ part, line, message: 'raw output ({{{…}}} or {{&…}}) is not allowed: use {{…}}, which HTML-escapes the value' });
      calls(n as hbs.AST.MustacheStatement, line);
    } else if (n.type === 'BlockStatement') {
      const b = n as hbs.AST.BlockStatement;
      const name = calledName(b);
      const at = b.loc ? offsetOf(src, b.loc.start.line, b.loc.start.column) : -1;
      if (at >= 0 && src.startsWith('{{{{', at)) {
        issues.push({ part, line, message: 'raw blocks ({{{{raw}}}}…{{{{/raw}}}}) are not supported' });
        return;
      }
      if (name === null || !blocks.has(name) || b.path.type !== 'PathExpression' || (b.path as hbs.AST.PathExpression).parts.length !== 1) {
        const shown = b.path.type === 'PathExpression' ? (b.path as hbs.AST.PathExpression).original : 'a literal';
        const sigil = at >= 0 && /^\{\{~?\s*\^/.test(src.slice(at, at + 8)) ? '^' : '#';
        if (name !== null && INTERNAL_HELPERS.has(name)) calls(b, line);
        else issues.push({ part, line, message: `{{${sigil}${shown}}} is not a block helper: the blocks are {{#if x}}, {{#unless x}}, {{#each x}} and {{#with x}}` });
      } else {
        calls(b, line);
      }
      if (name === 'each' && ++depth > TEMPLATE_LIMITS.eachDepth && depth === TEMPLATE_LIMITS.eachDepth + 1) {
        issues.push({ part, line, message: `{{#each}} is nested ${depth} deep; the limit is ${TEMPLATE_LIMITS.eachDepth} (each level multiplies the work of every message)` });
      }
    }
    for (const child of children(n)) visit(child, depth);
  };
  visit(ast, 0);
  return issues;
}

const opensBlock = (tag: string): boolean => /^\{\{~?\s*[#^]/.test(tag) && !/^\{\{~?\s*\^\s*~?\}\}$/.test(tag);
const closesBlock = (tag: string): boolean => /^\{\{~?\s*\//.test(tag);
/** Does the tag print a value ({{x}}, {{helper x}})? Blocks, else, comments and escapes do not. */
const printsValue = (tag: string): boolean => !/^(?:\\|\{\{~?\s*(?:[#/^!>*]|else\b)|\{\{\{\{)/.test(tag);

// Postgate adds its footer (postal address, unsubscribe link) to what the author wrote: the template
// as compiled for sending may exceed the author's limits by this much.
const FOOTER_ROOM = { chars: 4096, tags: 16 } as const;

/** The limits checked before parsing: size, and the number of template tags per part. */
function limitIssues(src: TemplateSource, authored: boolean): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  const room = authored ? { chars: 0, tags: 0 } : FOOTER_ROOM;
  const tagLimit = TEMPLATE_LIMITS.tags + room.tags;
  const parts: Array<[Part, string, number]> = [['mjml', src.mjml, TEMPLATE_LIMITS.mjmlChars + room.chars], ['subject', src.subject, 998]];
  if (src.text != null) parts.push(['text', src.text, TEMPLATE_LIMITS.textChars + room.chars]);
  for (const [part, text, max] of parts) {
    if (text.length > max) {
      issues.push({ part, line: null, message: `the ${part} is ${text.length} characters; the limit is ${max}` });
      continue;
    }
    let tags = 0;
    for (let at = text.indexOf('{{'); at >= 0 && tags <= tagLimit; at = text.indexOf('{{', at + 2)) tags++;
    if (tags > tagLimit) issues.push({ part, line: null, message: `the ${part} has more than ${tagLimit} template tags` });
  }
  return issues;
}

// ---- placeholder protection around MJML --------------------------------------------------------

interface Protected { text: string; prefix: string; originals: string[]; lines: number[]; shifts: Array<[number, number]> }

function tokenPrefix(src: string): string {
  let prefix = 'pgtpl';
  while (src.toLowerCase().includes(prefix)) prefix += 'q';
  return prefix;
}

function protect(src: string): Protected {
  const p: Protected = { text: '', prefix: tokenPrefix(src), originals: [], lines: [], shifts: [] };
  let removed = 0;
  let line = 1;
  let cursor = 0;
  p.text = src.replace(MUSTACHE, (match: string, offset: number) => {
    line += countNewlines(src, cursor, offset);
    cursor = offset;
    const newlines = countNewlines(match, 0, match.length);
    if (newlines) { p.shifts.push([line - removed, newlines]); removed += newlines; }
    p.originals.push(match);
    p.lines.push(line);
    return `${p.prefix}${p.originals.length - 1}x`;
  });
  return p;
}

/** Maps a line of the protected text back to the author's line (tokens hold no newlines). */
function originalLine(p: Protected, line: number): number {
  return p.shifts.reduce((acc, [at, n]) => (at < line ? acc + n : acc), line);
}

function restore(p: Protected, html: string): { html: string; seen: Set<number> } {
  const seen = new Set<number>();
  const out = html.replace(new RegExp(`${p.prefix}(\\d+)x`, 'gi'), (_m: string, i: string) => {
    seen.add(Number(i));
    return p.originals[Number(i)] ?? '';
  });
  return { html: out, seen };
}

function droppedIssues(p: Protected, seen: Set<number>): TemplateIssue[] {
  return p.originals.flatMap((tag, i) => (seen.has(i) ? [] : [{
    part: 'mjml' as const, line: p.lines[i] ?? null,
    message: `MJML dropped the template tag ${tag}: put template tags inside mj-text, mj-raw or an attribute`,
  }]));
}

// ---- HTML contexts of the tags in the compiled HTML ---------------------------------------------

// Attributes whose value is a URL a client may follow or fetch.
const URL_ATTRS = new Set(['href', 'src', 'background', 'action', 'formaction', 'poster', 'cite', 'longdesc', 'usemap',
  'xlink:href', 'data', 'codebase', 'lowsrc', 'dynsrc', 'icon', 'manifest', 'profile', 'classid', 'archive']);
// Attributes a template tag may never be in: script, or lists of URLs we do not parse.
const FORBIDDEN_ATTRS = /^(?:on.*|srcdoc|srcset|imagesrcset|ping|formtarget|http-equiv|content)$/;
// Literal URLs (written by the author, no tag) may also be tel: and cid: (inline images).
const LITERAL_URL = /^(?:https?|mailto|tel|cid):/i;
const LITERAL_CSS_URL = /^(?:https?|cid|data):/i;

interface Token { index: number; at: number; end: number; tag: string }
/** Inserts `text` at `at`, or replaces [at, end) with it. */
interface Edit { at: number; end?: number; text: string }
// A tag printing one simple path ({{url}}, {{~ contact.site ~}}): it can take a helper in front.
const SIMPLE_PRINT = /^\{\{(~?)\s*((?:\.\.\/)*@?[A-Za-z_$][\w$-]*(?:[./][A-Za-z_$][\w$-]*)*)\s*(~?)\}\}$/;

/**
 * Finds the HTML context of every template tag in MJML's output (tags are still inert tokens) with
 * htmlparser2's tokenizer, and plans guards: a URL attribute holding tags is wrapped whole in
 * {{#_pgUrl}} (the rendered URL must be http(s) or mailto, else it becomes "#"); a tag printing
 * into a style attribute or a <style> element is wrapped in {{#_pgCss}} (CSS-escaped), or
 * {{#_pgCssUrl}} at the start of a url(…) (http(s) only). Tags in script, event handlers, tag or
 * attribute names and unquoted attribute values are refused; so are literal URLs with other schemes.
 */
function guardContexts(p: Protected, html: string): { html: string; issues: TemplateIssue[]; replaced: Set<number> } {
  const tokenRe = new RegExp(`${p.prefix}(\\d+)x`, 'gi');
  const tokens: Token[] = [];
  for (const m of html.matchAll(tokenRe)) {
    const index = Number(m[1]);
    tokens.push({ index, at: m.index, end: m.index + m[0].length, tag: p.originals[index] ?? '' });
  }
  const issues: TemplateIssue[] = [];
  const edits: Edit[] = [];
  const replaced = new Set<number>();
  const lineOf = (t: Token): number | null => p.lines[t.index] ?? null;
  const within = (from: number, to: number): Token[] => {
    // tokens are sorted by offset: binary search the first one at or after `from`
    let lo = 0; let hi = tokens.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (tokens[mid].at < from) lo = mid + 1; else hi = mid; }
    const out: Token[] = [];
    for (let i = lo; i < tokens.length && tokens[i].end <= to; i++) out.push(tokens[i]);
    return out;
  };
  const refuse = (t: Token | null, message: string): void => { issues.push({ part: 'mjml', line: t ? lineOf(t) : null, message }); };
  const wrap = (t: Token, guard: string): void => {
    const open = /^\{\{~/.test(t.tag) ? `{{~#${guard}}}` : `{{#${guard}}}`;
    const close = /~\}\}$/.test(t.tag) ? `{{/${guard}~}}` : `{{/${guard}}}`;
    edits.push({ at: t.at, text: open }, { at: t.end, text: close });
  };
  const literal = (from: number, to: number): string => decodeHtml(html.slice(from, to).replace(tokenRe, ''));
  const balanced = (ts: Token[]): boolean => {
    let depth = 0;
    for (const t of ts) {
      if (opensBlock(t.tag)) depth++;
      else if (closesBlock(t.tag) && --depth < 0) return false;
    }
    return depth === 0;
  };

  const css = (from: number, to: number, where: string): void => {
    const text = html.slice(from, to);
    for (const m of text.matchAll(/url\(\s*(['"]?)\s*([^)'"]*)/gi)) {
      const url = decodeHtml(m[2]);
      if (!tokenRe.test(m[2]) && url !== '' && !LITERAL_CSS_URL.test(url) && !url.startsWith('#')) refuse(null, `${where}: url(${url.slice(0, 40)}) must be an http(s) URL`);
      tokenRe.lastIndex = 0;
    }
    for (const t of within(from, to)) {
      if (!printsValue(t.tag)) continue;
      const before = html.slice(from, t.at);
      const inUrl = /url\(\s*['"]?\s*([^)'"]*)$/i.exec(before);
      if (!inUrl) { wrap(t, GUARD.css); continue; }
      const prefix = decodeHtml(inUrl[1]);
      if (prefix === '') { wrap(t, GUARD.cssUrl); continue; }
      if (!/^https?:/i.test(prefix.replace(tokenRe, 'https:').trim())) refuse(t, `${t.tag} in ${where}: a url(…) that holds a template tag must start with http:// or https:// or with the tag`);
      tokenRe.lastIndex = 0;
      wrap(t, GUARD.css);
    }
  };

  const attribute = (tag: string, name: string, from: number, to: number, quote: QuoteType): void => {
    const ts = within(from, to);
    const printing = ts.filter((t) => printsValue(t.tag));
    const where = `the ${name} attribute of <${tag}>`;
    if (URL_ATTRS.has(name)) {
      if (ts.length === 0) {
        const url = literal(from, to).trim();
        if (url !== '' && !url.startsWith('#') && /^[a-z][a-z0-9+.-]*:/i.test(url.replace(/[\t\n\r]/g, '')) && !LITERAL_URL.test(url)) {
          refuse(null, `${where}: "${url.slice(0, 40)}" is not an http(s), mailto or tel URL`);
        }
        return;
      }
      if (quote === QuoteType.Unquoted) { refuse(ts[0], `${ts[0].tag}: quote the value of ${where}`); return; }
      if (!balanced(ts)) { refuse(ts[0], `${ts[0].tag}: a block in ${where} must start and end inside it`); return; }
      const prefix = literal(from, ts[0].at).replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+/, '');
      if (prefix !== '' && !prefix.startsWith('#') && !/^(?:https?|mailto):/i.test(prefix)) {
        refuse(ts[0], `${ts[0].tag} in ${where}: a URL that holds a template tag must start with http://, https:// or mailto: or with the tag`);
        return;
      }
      const simple = ts.length === 1 && ts[0].at === from && ts[0].end === to ? SIMPLE_PRINT.exec(ts[0].tag) : null;
      if (simple) {
        edits.push({ at: from, end: to, text: `{{${simple[1]}${GUARD.urlValue} ${simple[2]}${simple[3]}}}` });
        replaced.add(ts[0].index);
      } else {
        edits.push({ at: from, text: `{{#${GUARD.url}}}` }, { at: to, text: `{{/${GUARD.url}}}` });
      }
    } else if (name === 'style') {
      if (printing.length && quote === QuoteType.Unquoted) { refuse(printing[0], `${printing[0].tag}: quote the value of ${where}`); return; }
      css(from, to, where);
    } else if (ts.length && FORBIDDEN_ATTRS.test(name)) {
      refuse(ts[0], `${ts[0].tag}: template tags are not allowed in ${where}`);
    } else if (printing.length && quote === QuoteType.Unquoted) {
      refuse(printing[0], `${printing[0].tag}: quote the value of ${where}`);
    }
  };

  const scan = (from: number, to: number): void => {
    let tagName = '';
    let attrName = '';
    let valueFrom = -1;
    let valueTo = -1;
    let rawText: string | null = null;
    const printingIn = (s: number, e: number, what: string): void => {
      const t = within(s, e).find((x) => printsValue(x.tag));
      if (t) refuse(t, `${t.tag}: a template tag cannot be ${what}`);
    };
    const tokenizer = new Tokenizer({ decodeEntities: false }, {
      onattribdata(s, e) { if (valueFrom < 0) valueFrom = s + from; valueTo = e + from; },
      onattribentity() { /* entities are not decoded (decodeEntities: false) */ },
      onattribend(quote) {
        if (valueFrom >= 0) attribute(tagName, attrName, valueFrom, valueTo, quote);
        valueFrom = -1; valueTo = -1;
      },
      onattribname(s, e) { attrName = html.slice(s + from, e + from).toLowerCase(); printingIn(s + from, e + from, 'an attribute name'); },
      oncdata(s, e) { scan(s + from, e + from); },
      onclosetag() { rawText = null; },
      oncomment(s, e) { scan(s + from, e + from); }, // conditional comments hold HTML (Outlook's VML)
      ondeclaration() { /* nothing printed there */ },
      onend() { /* done */ },
      onopentagend() { rawText = tagName === 'script' || tagName === 'style' ? tagName : null; },
      onopentagname(s, e) { tagName = html.slice(s + from, e + from).toLowerCase(); printingIn(s + from, e + from, 'a tag name'); },
      onprocessinginstruction() { /* nothing printed there */ },
      onselfclosingtag() { rawText = null; },
      ontext(s, e) {
        if (rawText === 'script') { const t = within(s + from, e + from)[0]; if (t) refuse(t, `${t.tag}: template tags are not allowed inside <script>`); }
        else if (rawText === 'style') css(s + from, e + from, 'a <style> element');
      },
      ontextentity() { /* entities are not decoded */ },
    });
    tokenizer.write(html.slice(from, to));
    tokenizer.end();
  };

  if (tokens.length) scan(0, html.length);
  else if (/javascript:|vbscript:/i.test(html)) scan(0, html.length); // literal URLs are checked even without tags
  if (issues.length || edits.length === 0) return { html, issues, replaced: new Set() };
  edits.sort((a, b) => a.at - b.at);
  let out = '';
  let cursor = 0;
  for (const e of edits) { out += html.slice(cursor, e.at) + e.text; cursor = e.end ?? e.at; }
  return { html: out + html.slice(cursor), issues, replaced };
}

// ---- MJML ---------------------------------------------------------------------------------------

interface MjmlOutcome { html: string | null; issues: TemplateIssue[]; textSource?: string | null; cards?: TemplateIssue[] }

let mjmlLoading: Promise<typeof Mjml> | null = null;

/**
 * MJML's compiler, loaded at the first call (a second or more of CPU: only the template pool's
 * threads compile MJML, so the main thread, the CLI and tests never pay for it). The template worker
 * calls it at boot so a compilation's time budget never counts the load. Resolves to mjml2html.
 */
export function loadMjml(): Promise<typeof Mjml> {
  mjmlLoading ??= import('mjml').then((m) => m.default);
  return mjmlLoading;
}

async function runMjml(src: string, source: TemplateSource = { mjml: src, subject: '' }): Promise<MjmlOutcome> {
  const p = protect(src);
  try {
    const mjml2html = await loadMjml();
    const result = await mjml2html(p.text, MJML_OPTIONS);
    const cards = cardIssues(source, p, result.html);
    const issues: TemplateIssue[] = result.errors.map((e) => ({
      part: 'mjml', line: typeof e.line === 'number' ? originalLine(p, e.line) : null, message: restore(p, e.message).html.trim(),
    }));
    const guarded = guardContexts(p, result.html);
    const restored = restore(p, guarded.html);
    for (const i of guarded.replaced) restored.seen.add(i);
    return { html: restored.html, issues: [...issues, ...droppedIssues(p, restored.seen), ...guarded.issues], textSource: textTemplateSource(p, result.html), cards };
  } catch (err) {
    return { html: null, issues: [{ part: 'mjml', line: null, message: errorMessage(err) }] };
  }
}

/**
 * The text part as a template, derived ONCE from the compiled HTML while its tags are still inert
 * tokens, so per recipient only Handlebars runs (html-to-text per message is ~30x slower). Falls back
 * (null) to per-recipient derivation when that could change the output: a block tag that
 * html-to-text dropped (e.g. inside a skipped img).
 */
function textTemplateSource(p: Protected, protectedHtml: string): string | null {
  if (p.originals.some((o) => o.startsWith('{{{'))) return null;
  const text = restore(p, HTML_TO_TEXT(protectedHtml));
  const lostBlock = p.originals.some((o, i) => !text.seen.has(i) && /^\{\{~?[#^/]|^\{\{~?else/.test(o));
  return lostBlock ? null : text.html;
}

/**
 * Validates and precompiles all three parts: the issues (every MJML error, Handlebars parse error,
 * refused construct, with author line numbers where known; a payment-card number in the template's
 * own text is an issue with code 'card_data') and, when there are none, the spec.
 * `authored`: the source is what a tenant wrote, held to TEMPLATE_LIMITS exactly; otherwise it is a
 * prepared source (with Postgate's footer), allowed a little room over them.
 * CPU-heavy on large input (MJML, Handlebars): call it from a worker (template-pool.ts) for
 * untrusted templates.
 */
export async function compileTemplateSpec(src: TemplateSource, o: { authored?: boolean } = {}): Promise<{ issues: TemplateIssue[]; spec: TemplateSpec | null }> {
  const limits = limitIssues(src, o.authored ?? false);
  if (limits.length) return { issues: limits, spec: null };
  // Active content (<script>, on* handlers, javascript: URLs) and too-deep nesting: refused before MJML runs (it would overflow its stack).
  const active = activeContentIssues(src.mjml);
  if (active.length) return { issues: active, spec: null };
  const issues = precompilePart('mjml', src.mjml, SOURCE_OPTIONS).issues;
  const mjml = await runMjml(src.mjml, src);
  issues.push(...mjml.issues, ...(mjml.cards ?? cardIssues(src, null, null)));
  if (mjml.html !== null && mjml.html.length > TEMPLATE_LIMITS.htmlChars) {
    issues.push({ part: 'mjml', line: null, message: `MJML makes ${mjml.html.length} characters of HTML of it; the limit is ${TEMPLATE_LIMITS.htmlChars}` });
  }
  let html: string | null = null;
  if (issues.length === 0 && mjml.html !== null) {
    const compiled = precompilePart('mjml', mjml.html, HTML_OPTIONS);
    html = compiled.spec;
    issues.push(...compiled.issues.map((i) => ({ ...i, line: null, message: `template tags are not valid after MJML compilation (${i.message.split('\n')[0]})` })));
  }
  const subject = precompilePart('subject', src.subject, PLAIN_OPTIONS);
  issues.push(...subject.issues);
  let text: string | null = null;
  if (src.text != null) {
    const t = precompilePart('text', src.text, PLAIN_OPTIONS);
    issues.push(...t.issues);
    text = t.spec;
  } else if (mjml.textSource != null && issues.length === 0) {
    text = precompilePart('text', mjml.textSource, PLAIN_OPTIONS).spec; // null: derive per recipient
  }
  if (issues.length || html === null || subject.spec === null) return { issues, spec: null };
  const unsubscribeShown = mjml.html !== null && mjml.html.includes('unsubscribeUrl') && showsLink(mjml.html, 'unsubscribeUrl');
  return { issues: [], spec: { html, subject: subject.spec, text, unsubscribeShown } };
}

/** Every MJML error and Handlebars parse error of all three parts, with author line numbers; [] when fine. In-process. */
export async function validateTemplate(src: TemplateSource): Promise<TemplateIssue[]> {
  return (await compileTemplateSpec(src, { authored: true })).issues;
}

/**
 * Postgate-built URLs (top-level keys ending in "Url") are escaped for HTML only where HTML needs
 * it, so "=" and "`" stay literal in hrefs instead of becoming &#x3D; / &#x60;.
 */
function htmlData(data: object): object {
  let out: Record<string, unknown> | null = null;
  for (const [key, value] of Object.entries(data)) {
    if (!key.endsWith('Url') || typeof value !== 'string' || value === '') continue;
    out ??= { ...data };
    out[key] = new hb.SafeString(escapeHtml(value));
  }
  return out ?? data;
}

function headerSafe(value: string): string {
  return value.replace(/\s*[\r\n\0]+\s*/g, ' ').trim();
}

function load(spec: string): Render {
  // The spec is JavaScript that Handlebars' compiler generated (a worker's, or ours): evaluating it
  // is what Handlebars.compile does itself. Cheap next to parsing and compiling the template again.
  const template = hb.template(new Function(`return ${spec};`)() as TemplateSpecification);
  return (data) => budgeted(() => template(data, RUNTIME_OPTIONS));
}

/** Turns a spec (compileTemplateSpec) into render functions: the only main-thread step of compilation. */
export function templateFromSpec(spec: TemplateSpec): CompiledTemplate {
  const htmlT = load(spec.html);
  const subjectT = load(spec.subject);
  const html = (data: object): string => htmlT(htmlData(data));
  const subject = (data: object): string => headerSafe(subjectT(data));
  const unsubscribeShown = spec.unsubscribeShown ?? null;
  if (spec.text !== null) return { html, subject, text: load(spec.text), textFromHtml: null, unsubscribeShown };
  return { html, subject, text: (data) => HTML_TO_TEXT(html(data)), textFromHtml: HTML_TO_TEXT, unsubscribeShown };
}

/** In-process: validates, compiles MJML once and precompiles HTML, subject and text once. Throws TemplateError. */
export async function compileTemplate(src: TemplateSource): Promise<CompiledTemplate> {
  const { issues, spec } = await compileTemplateSpec(src);
  if (!spec) throw new TemplateError(issues);
  return templateFromSpec(spec);
}

/**
 * Per recipient: Handlebars only (plus html-to-text when the text part is derived). One render
 * budget for the whole message (TEMPLATE_LIMITS.renderIterations across subject, HTML and text; each
 * part at most renderedChars): over it, throws RenderBudgetError.
 */
export function renderMessage(t: CompiledTemplate, data: object): RenderedMessage {
  if (budget.depth === 0) { budget.iterations = 0; budget.work = 0; }
  budget.depth++;
  try {
    const html = t.html(data);
    const text = t.textFromHtml ? t.textFromHtml(html) : t.text(data);
    return { subject: t.subject(data), html, text };
  } finally {
    budget.depth--;
  }
}

// A scan of the template tags, not a Handlebars parse: this runs on the main thread (template views,
// the compliant footer), and Handlebars' parser costs ~0.1 ms per tag. Blocks must balance (an
// unbalanced template never compiles, so it references nothing); comments, escapes and raw blocks
// are skipped; only a tag that prints exactly the name counts.
function referencesName(src: string, name: string): boolean {
  if (!src.includes(name) || src.length > TEMPLATE_LIMITS.mjmlChars) return false;
  const tags = src.replace(/<!--[\s\S]*?-->/g, '').match(MUSTACHE) ?? [];
  if (tags.length > TEMPLATE_LIMITS.tags) return false;
  const open: string[] = [];
  let found = false;
  for (const tag of tags) {
    if (/^(?:\\|\{\{\{\{|\{\{~?!)/.test(tag)) continue;
    const block = /^\{\{~?\s*([#^/])\s*([^\s}~]*)/.exec(tag);
    if (block) {
      if (block[1] === '/') { if (open.pop() !== block[2]) return false; }
      else if (block[2] !== '') open.push(block[2]);
      else if (block[1] === '#') return false;
      continue;
    }
    const printed = /^\{\{~?(\{?)\s*&?\s*([^\s{}~]+)\s*\}?~?\}\}$/.exec(tag);
    if (printed && printed[2] === name) found = true;
  }
  return found && open.length === 0;
}

/**
 * Does the MJML (or the text part) output {{name}} / {{{name}}}? Handlebars comments, HTML
 * comments and block conditions don't count; a template with unbalanced blocks, or over the limits, never does.
 */
export function usesPlaceholder(src: TemplateSource, name: string): boolean {
  return referencesName(src.mjml, name) || (src.text != null && referencesName(src.text, name));
}

// Template rendering, Ghost-style: MJML is compiled to HTML once per template (per campaign), the
// HTML, subject and text are Handlebars-compiled once, and per recipient only Handlebars runs.
// Handlebars tags are swapped for inert tokens while MJML runs so MJML can never rewrite them.
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { compile as compileHtmlToText } from 'html-to-text';
import { escapeHtml } from '../html.js';

export interface TemplateSource { mjml: string; subject: string; text?: string | null }
export interface TemplateIssue { part: 'mjml' | 'subject' | 'text'; line: number | null; message: string }
export interface CompiledTemplate {
  html: (data: object) => string;
  subject: (data: object) => string;
  text: (data: object) => string;
  /** Set when the text part is derived from the HTML; lets renderMessage reuse the HTML it rendered. */
  textFromHtml?: ((html: string) => string) | null;
}
export interface RenderedMessage { subject: string; html: string; text: string }

export class TemplateError extends Error {
  readonly issues: TemplateIssue[];
  constructor(issues: TemplateIssue[]) {
    super(`invalid template: ${issues.map(formatIssue).join('; ')}`);
    this.name = 'TemplateError';
    this.issues = issues;
  }
}

type Part = TemplateIssue['part'];
type Render = (data: object) => string;
type HbsNode = hbs.AST.Statement | hbs.AST.Program;

// An isolated instance: nothing registered globally by others reaches templates, and vice versa.
const hb = Handlebars.create();
const HTML_OPTIONS: CompileOptions = { strict: false, knownHelpersOnly: true };
const PLAIN_OPTIONS: CompileOptions = { ...HTML_OPTIONS, noEscape: true };
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

function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/ - \d+:\d+$/, '');
}

/** The innermost block opened and never closed, e.g. "{{#if vip}}" at line 3; Handlebars only says "EOF". */
function unclosedBlock(src: string): { tag: string; line: number } | null {
  const open: Array<{ tag: string; offset: number }> = [];
  for (const m of src.matchAll(MUSTACHE)) {
    if (/^\{\{~?[#^]/.test(m[0]) && !/^\{\{~?\^\s*~?\}\}$/.test(m[0])) open.push({ tag: m[0], offset: m.index });
    else if (/^\{\{~?\//.test(m[0])) open.pop();
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

function hbsIssues(part: Part, src: string, options: CompileOptions): TemplateIssue[] {
  try {
    hb.precompile(src, options);
  } catch (err) {
    return [parseIssue(part, src, err)];
  }
  return unsupportedIssues(part, hb.parseWithoutProcessing(src));
}

function children(node: HbsNode): HbsNode[] {
  if (node.type === 'Program') return (node as hbs.AST.Program).body;
  const block = node as Partial<hbs.AST.BlockStatement>;
  return [block.program, block.inverse].filter((p): p is hbs.AST.Program => Boolean(p));
}

function walk(node: HbsNode, visit: (n: HbsNode) => void): void {
  visit(node);
  for (const child of children(node)) walk(child, visit);
}

// Partials and decorators would fail per recipient at send time: refuse them up front.
function unsupportedIssues(part: Part, ast: hbs.AST.Program): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  walk(ast, (n) => {
    if (/^Partial|^Decorator/.test(n.type)) {
      issues.push({ part, line: n.loc?.start.line ?? null, message: `${n.type}: partials and decorators are not supported` });
    }
  });
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

// ---- MJML ---------------------------------------------------------------------------------------

interface MjmlOutcome { html: string | null; issues: TemplateIssue[]; textSource?: string | null }

async function runMjml(src: string): Promise<MjmlOutcome> {
  const p = protect(src);
  try {
    const result = await mjml2html(p.text, MJML_OPTIONS);
    const issues: TemplateIssue[] = result.errors.map((e) => ({
      part: 'mjml', line: typeof e.line === 'number' ? originalLine(p, e.line) : null, message: restore(p, e.message).html.trim(),
    }));
    const restored = restore(p, result.html);
    return { html: restored.html, issues: [...issues, ...droppedIssues(p, restored.seen)], textSource: textTemplateSource(p, result.html) };
  } catch (err) {
    return { html: null, issues: [{ part: 'mjml', line: null, message: errorMessage(err) }] };
  }
}

function compiledHtmlIssues(html: string | null): TemplateIssue[] {
  if (html === null) return [];
  return hbsIssues('mjml', html, HTML_OPTIONS).map((i) => ({
    ...i, line: null, message: `template tags are not valid after MJML compilation (${i.message.split('\n')[0]})`,
  }));
}

/**
 * The text part as a template, derived ONCE from the compiled HTML while its tags are still inert
 * tokens, so per recipient only Handlebars runs (html-to-text per message is ~30x slower). Falls back
 * (null) to per-recipient derivation when that could change the output: raw {{{html}}} values (their
 * tags would show in the text) or a block tag that html-to-text dropped (e.g. inside a skipped img).
 */
function textTemplateSource(p: Protected, protectedHtml: string): string | null {
  if (p.originals.some((o) => o.startsWith('{{{'))) return null;
  const text = restore(p, HTML_TO_TEXT(protectedHtml));
  const lostBlock = p.originals.some((o, i) => !text.seen.has(i) && /^\{\{~?[#^/]|^\{\{~?else/.test(o));
  if (lostBlock) return null;
  try { hb.precompile(text.html, PLAIN_OPTIONS); } catch { return null; }
  return text.html;
}

interface Analysis { html: string | null; issues: TemplateIssue[]; textSource?: string | null }

async function analyse(src: TemplateSource): Promise<Analysis> {
  const sourceIssues = hbsIssues('mjml', src.mjml, HTML_OPTIONS);
  const mjml = await runMjml(src.mjml);
  const issues = [...sourceIssues, ...mjml.issues];
  if (issues.length === 0) issues.push(...compiledHtmlIssues(mjml.html));
  issues.push(...hbsIssues('subject', src.subject, PLAIN_OPTIONS));
  if (src.text != null) issues.push(...hbsIssues('text', src.text, PLAIN_OPTIONS));
  return { html: mjml.html, issues, textSource: mjml.textSource };
}

// ---- public API ---------------------------------------------------------------------------------

/** Every MJML error and Handlebars parse error of all three parts, with author line numbers; [] when fine. */
export async function validateTemplate(src: TemplateSource): Promise<TemplateIssue[]> {
  return (await analyse(src)).issues;
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

function buildTemplate(html: string, src: TemplateSource, textSource: string | null): CompiledTemplate {
  const htmlT: Render = hb.compile(html, HTML_OPTIONS);
  const subjectT: Render = hb.compile(src.subject, PLAIN_OPTIONS);
  const render = (data: object): string => htmlT(htmlData(data));
  const subject = (data: object): string => headerSafe(subjectT(data));
  if (src.text != null) return { html: render, subject, text: hb.compile(src.text, PLAIN_OPTIONS), textFromHtml: null };
  if (textSource !== null) return { html: render, subject, text: hb.compile(textSource, PLAIN_OPTIONS), textFromHtml: null };
  return { html: render, subject, text: (data) => HTML_TO_TEXT(render(data)), textFromHtml: HTML_TO_TEXT };
}

/** Validates, compiles MJML once and Handlebars-compiles HTML, subject and text once. Throws TemplateError. */
export async function compileTemplate(src: TemplateSource): Promise<CompiledTemplate> {
  const { html, issues, textSource } = await analyse(src);
  if (issues.length > 0 || html === null) throw new TemplateError(issues);
  return buildTemplate(html, src, textSource ?? null);
}

/** Per recipient: Handlebars only (plus html-to-text when the text part is derived). */
export function renderMessage(t: CompiledTemplate, data: object): RenderedMessage {
  const html = t.html(data);
  const text = t.textFromHtml ? t.textFromHtml(html) : t.text(data);
  return { subject: t.subject(data), html, text };
}

function referencesName(src: string, name: string): boolean {
  let ast: hbs.AST.Program;
  try { ast = hb.parseWithoutProcessing(src.replace(/<!--[\s\S]*?-->/g, '')); } catch { return false; }
  let found = false;
  walk(ast, (n) => {
    const path = n.type === 'MustacheStatement' ? (n as hbs.AST.MustacheStatement).path : null;
    if (path?.type === 'PathExpression' && (path as hbs.AST.PathExpression).original === name) found = true;
  });
  return found;
}

/**
 * Does the MJML (or the text part) output {{name}} / {{{name}}}? Handlebars comments, HTML
 * comments and block conditions don't count; an unparsable template never does.
 */
export function usesPlaceholder(src: TemplateSource, name: string): boolean {
  return referencesName(src.mjml, name) || (src.text != null && referencesName(src.text, name));
}

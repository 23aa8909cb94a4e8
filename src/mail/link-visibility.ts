// Does every message of a compiled template SHOW a link to {{unsubscribeUrl}}? Decided once per
// compiled template (never per recipient), from the compiled HTML with its template tags, with a real
// HTML parser (htmlparser2) and the template's own <style> rules (css-select):
//   - the link counts only when `href` is exactly the placeholder, outside any {{#if}}/{{#each}}/…
//     block (a condition may drop it for some recipients), and its text is literal, not a variable;
//   - it is hidden when the link or an ancestor has the `hidden` attribute, is inside <head>,
//     <template>, <script>, <style> or <noscript>, or has (inline or through a matching <style>
//     rule, @media included) display:none, visibility:hidden, mso-hide:all, a font size under 6px,
//     zero max-height/height/width with overflow hidden, opacity under 0.1, a transparent colour, an
//     off-screen text-indent or position, or a clip to nothing; a template variable inside a style or
//     class attribute on that path counts as hiding (the data could say display:none).
// Runs where templates compile (the template pool's worker, render.ts compileTemplateSpec): up to
// ~100 ms for the largest compiled HTML allowed. The campaign content then adds Postgate's own footer
// link when this says no (campaigns/content.ts). PURE: no I/O.
import Handlebars from 'handlebars';
import { parseDocument } from 'htmlparser2';
import { type AnyNode, type Element, isTag, isText } from 'domhandler';
import { is as matches } from 'css-select';

/** What the analysis puts where the URL is printed, and where any other template value is. */
const LINK = 'https://unsubscribe.postgate.invalid/';
const VALUE = 'pgvaluezq';
const HIDING_ELEMENTS = new Set(['head', 'template', 'script', 'style', 'noscript', 'title']);

type Node = hbs.AST.Statement | hbs.AST.Program;

const isPath = (n: hbs.AST.Node | undefined, name?: string): n is hbs.AST.PathExpression =>
  n?.type === 'PathExpression' && (name === undefined || (n as hbs.AST.PathExpression).original === name);

/** {{name}}, or {{name}} through one of Postgate's own context guards ({{_pgUrlValue name}}). */
function printsName(node: hbs.AST.MustacheStatement, name: string): boolean {
  if (isPath(node.path, name)) return node.params.length === 0;
  return isPath(node.path) && node.path.original.startsWith('_pg') && node.params.length === 1 && isPath(node.params[0], name);
}

/** Postgate's own context guards ({{#_pgUrl}}…{{/_pgUrl}}) wrap a value; they are not conditions. */
function isGuard(node: hbs.AST.BlockStatement): boolean {
  return isPath(node.path) && node.path.original.startsWith('_pg');
}

/**
 * The template with its tags flattened: the URL printed outside every block becomes LINK, any other
 * value VALUE, and both branches of each block are kept (so whatever a branch may add is seen).
 */
function flatten(nodes: readonly Node[], name: string, depth: number, out: string[]): void {
  for (const n of nodes) {
    if (n.type === 'ContentStatement') out.push((n as hbs.AST.ContentStatement).value);
    else if (n.type === 'MustacheStatement') {
      out.push(depth === 0 && printsName(n as hbs.AST.MustacheStatement, name) ? LINK : VALUE);
    } else if (n.type === 'BlockStatement') {
      const b = n as hbs.AST.BlockStatement;
      const inner = isGuard(b) ? depth : depth + 1;
      if (b.program) flatten(b.program.body, name, inner, out);
      if (b.inverse) flatten(b.inverse.body, name, inner, out);
    } else if (n.type === 'Program') {
      flatten((n as hbs.AST.Program).body, name, depth, out);
    }
  }
}

interface Declaration { prop: string; value: string }
interface Rule { selector: string; declarations: Declaration[] }

function declarations(style: string): Declaration[] {
  return style.split(';').map((d) => {
    const at = d.indexOf(':');
    return at < 0 ? null : { prop: d.slice(0, at).trim().toLowerCase(), value: d.slice(at + 1).replace(/!important/i, '').trim().toLowerCase() };
  }).filter((d): d is Declaration => d !== null && d.prop !== '');
}

/** The rules of <style> text, innermost blocks only (the rules inside @media count as always applying). */
export function cssRules(css: string): Rule[] {
  const out: Rule[] = [];
  for (const m of css.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/([^{}]*)\{([^{}]*)\}/g)) {
    const selector = (m[1].split(';').pop() ?? '').trim();
    if (selector && !selector.startsWith('@')) out.push({ selector, declarations: declarations(m[2]) });
  }
  return out;
}

function length(value: string): { n: number; unit: string } | null {
  const m = /^(-?[\d.]+)\s*([a-z%]*)$/.exec(value);
  return m && !Number.isNaN(Number(m[1])) ? { n: Number(m[1]), unit: m[2] } : null;
}

function tinyFont(value: string): boolean {
  const l = length(value);
  if (!l) return false;
  if (l.n <= 0) return true;
  if (l.unit === 'px' || l.unit === 'pt' || l.unit === '') return l.n < 6;
  if (l.unit === 'em' || l.unit === 'rem') return l.n < 0.4;
  return l.unit === '%' ? l.n < 40 : false;
}

const zero = (value: string | undefined): boolean => value !== undefined && /^0(?:\.0+)?[a-z%]*$/.test(value);
const farOff = (value: string | undefined): boolean => { const l = value === undefined ? null : length(value); return l !== null && l.n <= -100; };

/** Inherited properties: the nearest element that declares one decides (a child may undo its parent's). */
const INHERITED: Record<string, (value: string) => boolean> = {
  'font-size': tinyFont,
  visibility: (v) => v === 'hidden' || v === 'collapse',
  color: (v) => v === 'transparent' || /^rgba\(.*,\s*0(?:\.0+)?\s*\)$/.test(v),
  'text-indent': (v) => farOff(v),
};

/** True when one element's own declarations hide it, whatever its descendants declare. */
function hidesItself(d: ReadonlyMap<string, string>): boolean {
  const get = (p: string) => d.get(p);
  const opacity = get('opacity');
  const position = get('position');
  return get('display') === 'none'
    || get('mso-hide') === 'all'
    || (get('overflow') === 'hidden' && [get('max-height'), get('height'), get('max-width'), get('width')].some(zero))
    || (opacity !== undefined && Number(opacity.replace('%', '')) / (opacity.endsWith('%') ? 100 : 1) < 0.1)
    || ((position === 'absolute' || position === 'fixed') && (farOff(get('left')) || farOff(get('top'))))
    || /^rect\(\s*0[a-z]*[\s,]+0[a-z]*[\s,]+0[a-z]*[\s,]+0[a-z]*\s*\)$/.test(get('clip') ?? '')
    || /scale\(\s*0(?:\.0+)?\s*[,)]/.test(get('transform') ?? '');
}

/** An element's declared style: matching <style> rules in order, then its style attribute (specificity ignored). */
function declared(el: Element, rules: readonly Rule[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of rules) {
    let hit = false;
    try { hit = matches(el, r.selector); } catch { hit = false; }
    if (hit) for (const d of r.declarations) out.set(d.prop, d.value);
  }
  for (const d of declarations(el.attribs.style ?? '')) out.set(d.prop, d.value);
  return out;
}

function textOf(node: AnyNode): string {
  if (isText(node)) return node.data;
  if (isTag(node)) return node.children.map(textOf).join('');
  return '';
}

function visible(a: Element, rules: readonly Rule[]): boolean {
  const label = textOf(a).split(VALUE).join('').replace(/[\s\u00a0\u200b-\u200d\u2060\ufeff]+/g, '');
  if (!label) return false;
  const decided = new Set<string>();
  for (let el: Element | null = a; el; el = el.parent && isTag(el.parent) ? el.parent : null) {
    if (HIDING_ELEMENTS.has(el.name) || el.attribs.hidden !== undefined) return false;
    if ([el.attribs.style, el.attribs.class, el.attribs.id].some((v) => v?.includes(VALUE))) return false;
    const d = declared(el, rules);
    if (hidesItself(d)) return false;
    for (const [prop, hides] of Object.entries(INHERITED)) {
      const v = d.get(prop);
      if (v === undefined || decided.has(prop)) continue;
      decided.add(prop);
      if (hides(v)) return false;
    }
  }
  return true;
}

function links(nodes: readonly AnyNode[], out: Element[]): Element[] {
  for (const n of nodes) {
    if (!isTag(n)) continue;
    if (n.name === 'a' && (n.attribs.href ?? '').trim() === LINK) out.push(n);
    links(n.children, out);
  }
  return out;
}

function styles(nodes: readonly AnyNode[], out: string[]): string[] {
  for (const n of nodes) {
    if (!isTag(n)) continue;
    if (n.name === 'style') out.push(textOf(n));
    else styles(n.children, out);
  }
  return out;
}

/**
 * True when every message rendered from this compiled HTML shows a link to {{name}} (default
 * unsubscribeUrl) that a reader can see; false when it is missing, conditional or hidden, or when the
 * HTML cannot be analysed.
 */
export function showsLink(compiledHtml: string, name = 'unsubscribeUrl'): boolean {
  let ast: hbs.AST.Program;
  try { ast = Handlebars.parseWithoutProcessing(compiledHtml); } catch { return false; }
  const parts: string[] = [];
  flatten(ast.body, name, 0, parts);
  const doc = parseDocument(parts.join(''), { lowerCaseAttributeNames: true, decodeEntities: true });
  const found = links(doc.children, []);
  if (!found.length) return false;
  const rules = styles(doc.children, []).flatMap(cssRules);
  return found.some((a) => visible(a, rules));
}

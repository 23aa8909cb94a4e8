// Active content a template's MJML/HTML may not hold (PURE: htmlparser2 only). Mail goes out as the
// author wrote it (mj-raw and mj-text pass HTML through verbatim), so the source itself is checked:
// no <script>, <iframe>, <frame>, <object>, <embed>, <applet> or <form> element, no on* event-handler
// attribute, no javascript:, vbscript: or data:text/html URL in any attribute (entities decoded,
// whitespace and control characters removed, as a browser reads it), and elements nested at most
// MAX_NESTING deep (deeper nesting would exhaust the MJML compiler's stack).
import { Parser } from 'htmlparser2';
import type { TemplateIssue } from './render.js';

/** How deep elements (MJML's and HTML's together) may nest. */
export const MAX_NESTING = 200;

const FORBIDDEN_ELEMENTS: ReadonlySet<string> = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'form']);
/** A URL scheme that runs code or a page. */
const ACTIVE_URL = /^(?:javascript:|vbscript:|data:text\/html)/i;
/** The same inside CSS (a style attribute's url(…)), and IE's expression(…). */
const ACTIVE_CSS = /url\(['"]?(?:javascript:|vbscript:|data:text\/html)|expression\(/i;
/** Attributes holding a URL: HTML's (href, src, action, formaction, background, poster, …) and MJML's (background-url, …). */
const URL_ATTRIBUTE = /(?:href|src|action|background|poster|url|data|cite|longdesc|srcset)$/;
// Browsers drop ASCII tab/newline inside a URL and ignore leading controls/spaces; entity-escaped
// letters are decoded by the parser before this runs.
const URL_NOISE = /[\u0000-\u001f\u007f\s]+/g;

/**
 * The issues of one MJML source (part 'mjml', the 1-based line of the element or attribute), at most
 * one per kind and line; an empty array when it holds no active content. Too-deep nesting is one
 * issue and stops the scan. Never throws; linear in the source length.
 */
export function activeContentIssues(src: string): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  const seen = new Set<string>();
  const lineStarts = [0];
  for (let i = src.indexOf('\n'); i >= 0; i = src.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineAt = (index: number): number => {
    let lo = 0; let hi = lineStarts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (lineStarts[mid] <= index) lo = mid; else hi = mid - 1; }
    return lo + 1;
  };
  const add = (message: string): void => {
    const line = lineAt(parser.startIndex);
    const key = `${line}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push({ part: 'mjml', line, message });
  };
  let depth = 0;
  let tooDeep = false;
  const parser = new Parser({
    onopentagname(name) {
      if (tooDeep) return;
      if (++depth > MAX_NESTING) {
        tooDeep = true;
        add(`elements are nested more than ${MAX_NESTING} deep (nesting too deep)`);
        return;
      }
      if (FORBIDDEN_ELEMENTS.has(name)) add(`<${name}> is not allowed in an email template (active content)`);
    },
    onattribute(name, value) {
      if (tooDeep) return;
      if (/^on/i.test(name)) add(`the ${name} attribute is not allowed: event handlers are active content`);
      else if ((URL_ATTRIBUTE.test(name) && ACTIVE_URL.test(value.replace(URL_NOISE, '')))
        || (name === 'style' && ACTIVE_CSS.test(value.replace(URL_NOISE, '')))) add(`the ${name} attribute holds a javascript:, vbscript: or data:text/html URL; use an http, https or mailto URL`);
    },
    onclosetag() { if (depth > 0) depth--; },
  }, { lowerCaseTags: true, lowerCaseAttributeNames: true, decodeEntities: true, recognizeSelfClosing: true });
  parser.end(src);
  return issues;
}

// Capability links: a URL that lets whoever holds it act for the recipient (confirm a double opt-in,
// unsubscribe, change preferences). They exist only on the wire: a renderer names the ones it put in
// a message, and everything Postgate keeps of that message (message_bodies, hence the API and the
// data export) holds a placeholder instead. Pure string work, no I/O.
import { escapeHtml } from '../html.js';

/** One capability link a renderer put in a message, and what it is called in the placeholder. */
export interface CapabilityLink { url: string; name: string }

/** What a stored body shows where the link was: `[confirmation link, sent only to the recipient]`. */
export function placeholderOf(link: Pick<CapabilityLink, 'name'>): string {
  return `[${link.name}, sent only to the recipient]`;
}

/** Path segments long enough to be a signed token: they are redacted wherever they still appear. */
function secretsOf(url: string): string[] {
  let path = url;
  try { path = new URL(url).pathname; } catch { /* not absolute: the whole string is the path */ }
  return path.split('/').filter((s) => s.length >= 16);
}

/** The spellings of a URL a rendered part may hold: raw, HTML-escaped (Postgate's and Handlebars' way), URL-encoded. */
function spellings(url: string): string[] {
  const forms = new Set([url, escapeHtml(url), url.replace(/&/g, '&amp;').replace(/=/g, '&#x3D;'), encodeURIComponent(url), escapeHtml(encodeURIComponent(url))]);
  return [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}

function replaceAll(text: string, find: string, by: string): string {
  return find ? text.split(find).join(by) : text;
}

/** An http(s) URL of characters no spelling (spellings) or URL parsing (secretsOf) changes, but ':' and '/'. */
const PLAIN_URL = /^https?:\/\/[A-Za-z0-9_~.:/-]*$/;

/**
 * True when `text` cannot hold any spelling or secret of `url`, decided without parsing it: for an
 * http(s) URL of PLAIN_URL characters, every secret is one of its '/'-separated pieces of 16 characters or
 * more, and every spelling holds each such piece without ':' verbatim; when the text holds none of
 * these pieces (and there is one without ':'), nothing in it would be replaced. False: look closely.
 */
function plainlyAbsent(text: string, url: string): boolean {
  if (!PLAIN_URL.test(url)) return false;
  let anchored = false;
  for (const piece of url.split('/')) {
    if (piece.length < 16) continue;
    if (text.includes(piece)) return false;
    if (!piece.includes(':')) anchored = true;
  }
  return anchored;
}

/**
 * One rendered part with every capability link replaced by its placeholder: first each whole URL
 * (longest first, so `/u/<t>/preferences` is not cut to `/u/<t>`), then any token left over in
 * another spelling. `escape` HTML-escapes the placeholder (for the HTML part). A text that plainly
 * holds none of them (plainlyAbsent: a subject, most often) is returned as it is, unparsed.
 */
export function redactPart(text: string, links: readonly CapabilityLink[], escape: boolean): string {
  if (links.every((l) => plainlyAbsent(text, l.url))) return text;
  const ordered = [...links].sort((a, b) => b.url.length - a.url.length);
  let out = text;
  for (const link of ordered) {
    const shown = escape ? escapeHtml(placeholderOf(link)) : placeholderOf(link);
    for (const form of spellings(link.url)) out = replaceAll(out, form, shown);
  }
  for (const link of ordered) {
    const shown = escape ? escapeHtml(placeholderOf(link)) : placeholderOf(link);
    for (const secret of secretsOf(link.url)) out = replaceAll(out, secret, shown);
  }
  return out;
}

/** The body as it may be kept: HTML and text with every capability link replaced by its placeholder. */
export function redactCapabilities<B extends { html: string; text: string }>(body: B, links: readonly CapabilityLink[]): B {
  if (!links.length) return body;
  return { ...body, html: redactPart(body.html, links, true), text: redactPart(body.text, links, false) };
}

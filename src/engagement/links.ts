// Engagement links (PURE: crypto and string work, no I/O): the signed click and open tokens, and the
// rewriting of a rendered campaign message's HTML.
//
// Click token (/c/<token>):  base64url(uuid16 ‖ mac12 ‖ url utf-8) "." kidTag
// Open token  (/o/<token>):  base64url(uuid16 ‖ mac12) "." kidTag
//   uuid16 = the message id's 16 bytes; url = the target as the link gave it, canonicalised by WHATWG
//   URL (so it is ASCII and fits a Location header); mac12 = the first 12 bytes of
//   HMAC-SHA256(keys[kid], purpose "\0" ‖ uuid16 ‖ url), purpose "click" or "open" (domain
//   separation from every other token); kidTag as in VERP tokens (policy/tokens.ts verpKidTag).
//   Keys are the app's TokenKeys: rotation works as for every other link (an older kid verifies while
//   it stays in TOKEN_KEYS). The target is inside the MAC: no open redirect, and a link cannot be
//   pointed elsewhere. Links do not expire (mail is read years later).
//
// Rewriting is one linear pass over the HTML per message: every <a … href="http(s)://…"> except
// mailto: and any href that IS or CONTAINS one of Postgate's own links (the message's capability
// links such as unsubscribe, preferences, confirm, or anything naming PUBLIC_URL's host and path,
// in any case, percent-encoded or not: https://x.example/?u={{unsubscribeUrl}} stays as written, so
// no capability token reaches a click event or the figures). The text part is left as it is.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { verpKidTag, type TokenKeys } from '../policy/tokens.js';
import { isUuid } from '../policy/ids.js';

export type LinkPurpose = 'click' | 'open';
export type LinkResult = { ok: true; messageId: string; url: string | null } | { ok: false; error: 'malformed' | 'unknown_key' | 'bad_signature' };

const MAC_BYTES = 12;
/** Longest token accepted (a URL of ~2 KB): longer is malformed without any crypto. */
export const MAX_LINK_TOKEN = 3000;
/** Longest target URL that is rewritten; a longer link is left as it is. */
export const MAX_TRACKED_URL = 2000;
const TOKEN = /^([A-Za-z0-9_-]+)\.([a-z0-9]{1,12})$/;

const PREFIX = { click: Buffer.from('click\0', 'latin1'), open: Buffer.from('open\0', 'latin1') };

/** The MAC of a link: HMAC-SHA256(secret, purpose "\0" ‖ id16 ‖ url bytes), first MAC_BYTES bytes. */
function macOf(secret: string, purpose: LinkPurpose, id: Buffer, url: Buffer): Buffer {
  return createHmac('sha256', secret).update(PREFIX[purpose]).update(id).update(url).digest().subarray(0, MAC_BYTES);
}

const uuidBytes = (id: string): Buffer => Buffer.from(id.replace(/-/g, ''), 'hex');
function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A link's target as signed: the canonical URL and its UTF-8 bytes. */
interface Target { url: string; bytes: Buffer }
/** Distinct href values remembered per signer (one batch of one campaign: the same links for every recipient). */
const TARGET_CACHE = 2000;

/**
 * Signer for one batch: resolves the current key once, and remembers what each href value of the
 * template resolves to (decoded, canonical, or not tracked), so a message pays one HMAC per link and
 * little else. Throws if the current kid has no secret.
 */
export class LinkSigner {
  private readonly secret: string;
  private readonly tag: string;
  private targets = new Map<string, Target | null>();
  private base = '';
  constructor(keys: TokenKeys) {
    const s = Object.hasOwn(keys.keys, keys.current) ? keys.keys[keys.current] : undefined;
    if (!s) throw new Error(`token key ${keys.current} (current) has no secret`);
    this.secret = s;
    this.tag = verpKidTag(keys.current);
  }

  /** The click token of `url` (already canonical: see canonicalUrl) in message `messageId` (a UUID). */
  click(messageId: string, url: string): string {
    return this.clickOf(uuidBytes(messageId), { url, bytes: Buffer.from(url, 'utf8') });
  }

  /** The click token of a resolved target in the message whose id bytes are `id`. */
  clickOf(id: Buffer, t: Target): string {
    return `${Buffer.concat([id, macOf(this.secret, 'click', id, t.bytes), t.bytes]).toString('base64url')}.${this.tag}`;
  }

  /** The open token of message `messageId` (a UUID). */
  open(messageId: string): string {
    const id = uuidBytes(messageId);
    return `${Buffer.concat([id, macOf(this.secret, 'open', id, Buffer.alloc(0))]).toString('base64url')}.${this.tag}`;
  }

  /** What an href attribute value (as written in the HTML) is tracked as; null: left as it is. Cached. */
  target(value: string, publicUrl: string): Target | null {
    if (publicUrl !== this.base) { this.base = publicUrl; this.targets = new Map(); }
    let t = this.targets.get(value);
    if (t !== undefined) return t;
    t = resolveTarget(value, publicUrl);
    if (this.targets.size >= TARGET_CACHE) this.targets.clear();
    this.targets.set(value, t);
    return t;
  }
}

/**
 * Verifies a click or open token: the message id and (clicks) the signed target URL, or why not.
 * Constant work per key; never throws. A target that is not http(s) is malformed (never signed).
 */
export function verifyLink(keys: TokenKeys, purpose: LinkPurpose, token: unknown): LinkResult {
  if (typeof token !== 'string' || token.length > MAX_LINK_TOKEN) return { ok: false, error: 'malformed' };
  const m = TOKEN.exec(token);
  if (!m) return { ok: false, error: 'malformed' };
  const raw = Buffer.from(m[1], 'base64url');
  if (raw.toString('base64url') !== m[1] || raw.length < 16 + MAC_BYTES) return { ok: false, error: 'malformed' };
  if (purpose === 'open' && raw.length !== 16 + MAC_BYTES) return { ok: false, error: 'malformed' };
  const id = raw.subarray(0, 16);
  const given = raw.subarray(16, 16 + MAC_BYTES);
  const url = purpose === 'click' ? raw.subarray(16 + MAC_BYTES).toString('utf8') : '';
  if (purpose === 'click' && !/^https?:\/\//i.test(url)) return { ok: false, error: 'malformed' };
  const secrets = Object.keys(keys.keys).filter((kid) => verpKidTag(kid) === m[2]).map((kid) => keys.keys[kid]).filter((s) => !!s);
  if (secrets.length === 0) return { ok: false, error: 'unknown_key' };
  const bytes = Buffer.from(url, 'utf8');
  const valid = secrets.some((s) => timingSafeEqual(macOf(s, purpose, id, bytes), given));
  return valid ? { ok: true, messageId: uuidText(id), url: purpose === 'click' ? url : null } : { ok: false, error: 'bad_signature' };
}

// ---- rewriting ---------------------------------------------------------------------------------

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * An attribute value's text with its character references (`&amp;`, `&#x3D;`, `&#61;`, … with their
 * semicolon) decoded; a bare `&` stays as it is (as browsers read `?a=1&b=2`). Null if it holds a
 * named reference other than amp, lt, gt, quot, apos (the link is then left as it is).
 */
export function decodeAttribute(v: string): string | null {
  if (!v.includes('&')) return v;
  let unknown = false;
  const out = v.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]*);/g, (all, ref: string) => {
    if (ref[0] !== '#') {
      if (Object.hasOwn(NAMED, ref.toLowerCase())) return NAMED[ref.toLowerCase()];
      unknown = true;
      return all;
    }
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (code <= 0 || code > 0x10ffff) { unknown = true; return all; }
    return String.fromCodePoint(code);
  });
  return unknown ? null : out;
}

/**
 * The link a click is counted under in campaign figures: the canonical URL without its query,
 * fragment and user info (scheme://host[:port]/path), so a personalised query (`?e={{email}}`)
 * neither splits one link into one per recipient nor puts an address into the counters. Null when
 * `url` is not an http(s) URL. PURE.
 */
export function statsLink(url: string): string | null {
  const c = canonicalUrl(url);
  if (c === null) return null;
  const u = new URL(c);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** The URL as a browser would follow it (WHATWG canonical form), when it is http(s); else null. */
export function canonicalUrl(raw: string): string | null {
  const t = raw.trim();
  if (!/^https?:\/\//i.test(t) || t.length > MAX_TRACKED_URL) return null;
  try {
    const u = new URL(t);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.href.length <= MAX_TRACKED_URL ? u.href : null;
  } catch {
    return null;
  }
}

export interface TrackOptions {
  /** PUBLIC_URL without a trailing slash: the base of the /c/ and /o/ links; links under it are never rewritten. */
  publicUrl: string;
  messageId: string;
  clicks: boolean;
  opens: boolean;
  /** Capability links of this message (RenderOutput.capabilityLinks): never rewritten. */
  skip: readonly string[];
}

const ANCHOR = /<a\b[^>]*>/gi;
const HREF = /(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')/i;

/**
 * `text` lower-cased with its percent-escapes decoded, up to three rounds (a URL inside a query
 * parameter inside another is encoded twice): what containment checks compare. Never throws (an
 * escape that is not UTF-8 decodes byte by byte).
 */
function unescaped(text: string): string {
  let s = text.toLowerCase();
  for (let i = 0; i < 3 && /%[0-9a-f]{2}/.test(s); i++) s = s.replace(/%([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return s;
}

/**
 * Whether `text` contains PUBLIC_URL's host and path anywhere (either scheme, any case, percent-encoded
 * or not), followed by its end or `/`, `?`, `#`: an href that is, or carries, one of Postgate's own links.
 */
function containsBase(text: string, publicUrl: string): boolean {
  const needle = unescaped(publicUrl).replace(/^[a-z][a-z0-9+.-]*:/, ''); // "//host[:port][/path]"
  const s = unescaped(text);
  for (let at = s.indexOf(needle); at >= 0; at = s.indexOf(needle, at + 1)) {
    const next = s[at + needle.length];
    if (next === undefined || next === '/' || next === '?' || next === '#' || next === '\\') return true;
  }
  return false;
}

/** Whether `value` (an href as written, or decoded) contains one of this message's capability links, in any case or encoding. */
function containsCapability(value: string, skip: readonly string[]): boolean {
  if (skip.length === 0) return false;
  const s = unescaped(value);
  return skip.some((link) => s.includes(unescaped(link)));
}

/** The target of an href value: decoded, canonical, http(s), nowhere carrying PUBLIC_URL; else null. */
function resolveTarget(value: string, publicUrl: string): Target | null {
  const decoded = decodeAttribute(value);
  if (decoded === null || containsBase(value, publicUrl) || containsBase(decoded, publicUrl)) return null;
  const url = canonicalUrl(decoded);
  return url === null || containsBase(url, publicUrl) ? null : { url, bytes: Buffer.from(url, 'utf8') };
}

function rewriteAnchor(tag: string, o: TrackOptions, id: Buffer, signer: LinkSigner): string {
  const h = HREF.exec(tag);
  if (!h) return tag;
  const value = h[2] ?? h[3];
  // Postgate's own links, and links that carry one (capability links are per recipient: never
  // cached), stay as they are.
  if (containsCapability(value, o.skip) || containsCapability(decodeAttribute(value) ?? value, o.skip)) return tag;
  const target = signer.target(value, o.publicUrl);
  if (target === null || containsCapability(target.url, o.skip)) return tag;
  return `${tag.slice(0, h.index)}${h[1]}"${o.publicUrl}/c/${signer.clickOf(id, target)}"${tag.slice(h.index + h[0].length)}`;
}

/** The open pixel's tag. */
export function openPixel(publicUrl: string, token: string): string {
  return `<img src="${publicUrl}/o/${token}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
}

/**
 * The HTML of one message with tracking: click links rewritten (opts.clicks) and the open pixel
 * before the last </body> (opts.opens). One pass over the HTML; nothing changes when both are off.
 */
export function trackHtml(html: string, o: TrackOptions, signer: LinkSigner): string {
  if (!isUuid(o.messageId)) throw new Error('tracking needs the message id (a UUID)');
  const id = uuidBytes(o.messageId);
  let out = o.clicks ? html.replace(ANCHOR, (tag) => rewriteAnchor(tag, o, id, signer)) : html;
  if (o.opens) {
    const pixel = openPixel(o.publicUrl, signer.open(o.messageId));
    let at = out.lastIndexOf('</body>'); // MJML writes it in lower case; anything else is looked for case-blind
    if (at < 0) at = out.toLowerCase().lastIndexOf('</body>');
    out = at >= 0 ? `${out.slice(0, at)}${pixel}${out.slice(at)}` : out + pixel;
  }
  return out;
}

/** What a campaign's mail tracks: the campaign's own setting, else the tenant's (both default off). */
export interface TrackingSettings { trackClicks: boolean | null; trackOpens: boolean | null }
export function resolveTracking(campaign: TrackingSettings, tenant: { trackClicks: boolean; trackOpens: boolean }): { clicks: boolean; opens: boolean } {
  return { clicks: campaign.trackClicks ?? tenant.trackClicks, opens: campaign.trackOpens ?? tenant.trackOpens };
}

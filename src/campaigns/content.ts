// Campaign content: the compiled template (MJML compiled once per campaign and template version,
// cached per process), the footer Postgate adds when a template omits the postal address or does not
// visibly show the unsubscribe link, the data each recipient's Handlebars run gets, and the checks on
// what came out (link, address present).
import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { escapeHtml } from '../html.js';
import type { CapabilityLink } from '../mail/capabilities.js';
import { TemplateCache } from '../mail/template-cache.js';
import { renderMessage, usesPlaceholder, type CompiledTemplate, type RenderedMessage, type TemplateSource } from '../mail/render.js';

const FOOTER_TEXT = '<mj-text align="center" font-size="11px" line-height="16px" color="#71717a">';

/**
 * Added before </mj-body> when the MJML never outputs {{postalAddress}}: the address must be in the
 * footer of every marketing message, so Postgate puts it there rather than refusing the template.
 */
export const POSTAL_FOOTER_MJML = `<mj-section padding="8px 0 16px"><mj-column>${FOOTER_TEXT}{{postalAddress}}</mj-text></mj-column></mj-section>`;

/** Postgate's own unsubscribe link: plain, legible, in the footer. */
export const UNSUBSCRIBE_FOOTER_TEXT = `${FOOTER_TEXT}<a href="{{unsubscribeUrl}}" style="color:#52525b;text-decoration:underline">Unsubscribe</a></mj-text>`;

/** Does a Handlebars text print {{name}} outside every block (so every message has it)? */
function printsAlways(text: string, name: string): boolean {
  let ast: hbs.AST.Program;
  try { ast = Handlebars.parseWithoutProcessing(text); } catch { return false; }
  return ast.body.some((n) => n.type === 'MustacheStatement'
    && (n as hbs.AST.MustacheStatement).path.type === 'PathExpression'
    && ((n as hbs.AST.MustacheStatement).path as hbs.AST.PathExpression).original === name);
}

export interface FooterOptions {
  /** Add Postgate's unsubscribe link even though the MJML prints {{unsubscribeUrl}} (it is hidden or conditional). */
  unsubscribe?: boolean;
}

/**
 * The template as it is compiled for sending: with Postgate's footer when the MJML never outputs the
 * postal address or the unsubscribe link (or `o.unsubscribe`: the link it has is not visible), and a
 * text part that prints both in every message.
 */
export function withCompliantFooter(src: TemplateSource, o: FooterOptions = {}): TemplateSource {
  let mjml = src.mjml;
  const footer: string[] = [];
  if (o.unsubscribe || !usesPlaceholder({ mjml, subject: '' }, 'unsubscribeUrl')) footer.push(UNSUBSCRIBE_FOOTER_TEXT);
  if (!usesPlaceholder({ mjml, subject: '' }, 'postalAddress')) footer.push(`${FOOTER_TEXT}{{postalAddress}}</mj-text>`);
  if (footer.length) {
    const at = mjml.toLowerCase().lastIndexOf('</mj-body>');
    if (at >= 0) mjml = `${mjml.slice(0, at)}<mj-section padding="8px 0 16px"><mj-column>${footer.join('')}</mj-column></mj-section>${mjml.slice(at)}`;
  }
  let text = src.text ?? null;
  if (text !== null) {
    const tail: string[] = [];
    if (!printsAlways(text, 'unsubscribeUrl')) tail.push('Unsubscribe: {{unsubscribeUrl}}');
    if (!usesPlaceholder({ mjml: '', subject: '', text }, 'postalAddress')) tail.push('{{postalAddress}}');
    if (tail.length) text = `${text.replace(/\s+$/, '')}\n\n--\n${tail.join('\n')}\n`;
  }
  return { mjml, subject: src.subject, text };
}

/**
 * Whether every message of a compiled template visibly shows {{unsubscribeUrl}}: decided once per
 * compiled template, in the compile worker (mail/link-visibility.ts); null when not known.
 */
export function unsubscribeVisibility(t: CompiledTemplate): boolean | null {
  return t.unsubscribeShown ?? null;
}

/**
 * The campaigns' compiled templates (key campaign:version), with the compliant footer. A template
 * whose own unsubscribe link is hidden (display:none, …) or conditional is compiled once more with
 * Postgate's footer link: only templates that hide it pay a second compilation, once per process.
 */
export class CompiledCache {
  private readonly cache: TemplateCache;
  constructor(max = 32) { this.cache = new TemplateCache(max * 2); }

  /** The compiled template of `key` (loading its source on a miss), with the footer it needs. */
  async get(key: string, load: () => TemplateSource | Promise<TemplateSource>): Promise<CompiledTemplate> {
    const own = await this.cache.get(key, async () => withCompliantFooter(await load()));
    if (unsubscribeVisibility(own) === true) return own;
    return this.cache.get(`${key}#unsubscribe-footer`, async () => withCompliantFooter(await load(), { unsubscribe: true }));
  }
}

/** The process's one cache of campaign templates: the drain, test sends and the compliance check share it. */
export const campaignTemplates = new CompiledCache();

/**
 * The cache key of a campaign's compiled template: campaign, template and version, and a hash of the
 * subject, since a draft's template, version and subject may change after a test send compiled it (PATCH).
 */
export function campaignTemplateKey(c: { id: string; templateId: string; templateVersion: number; subject: string }): string {
  return `${c.id}:${c.templateId}:${c.templateVersion}:${createHash('sha256').update(c.subject).digest('hex').slice(0, 16)}`;
}

export interface RecipientFacts {
  contact: { id: string; email: string; name: string | null; attributes: Record<string, unknown> };
  unsubscribeUrl: string; preferencesUrl: string;
  tenant: { name: string; postalAddress: string | null };
  campaign: { id: string; name: string };
}

/**
 * Per-recipient template data. Subscriber data stays nested or plain (HTML-escaped by Handlebars);
 * only Postgate-built URLs are top-level *Url keys, which the renderer leaves unescaped in hrefs.
 */
export function recipientData(f: RecipientFacts): Record<string, unknown> {
  const contact = { name: f.contact.name ?? '', email: f.contact.email, attributes: f.contact.attributes };
  return {
    name: contact.name, email: contact.email, attributes: contact.attributes, contact,
    unsubscribeUrl: f.unsubscribeUrl, preferencesUrl: f.preferencesUrl,
    postalAddress: f.tenant.postalAddress ?? '', tenantName: f.tenant.name, tenant: { name: f.tenant.name },
    campaign: { id: f.campaign.id, name: f.campaign.name }, campaignName: f.campaign.name,
  };
}

/** Sample data for previews; fields of `given` win (subscriber-like data, escaped as usual). */
export function sampleData(publicUrl: string, tenant: { name: string; postalAddress: string | null }, given: Record<string, unknown>): Record<string, unknown> {
  const base = recipientData({
    contact: { id: '00000000-0000-0000-0000-000000000000', email: 'jane.doe@example.com', name: 'Jane Doe', attributes: {} },
    unsubscribeUrl: `${publicUrl}/u/preview`, preferencesUrl: `${publicUrl}/u/preview/preferences`,
    tenant, campaign: { id: '00000000-0000-0000-0000-000000000000', name: 'Preview' },
  });
  return { ...base, ...given };
}

/** The capability links of a recipient's marketing mail: its unsubscribe link and the preference link built on it. */
export function unsubscribeCapabilities(unsubscribeUrl: string): CapabilityLink[] {
  return [{ url: `${unsubscribeUrl}/preferences`, name: 'preference link' }, { url: unsubscribeUrl, name: 'unsubscribe link' }];
}

export interface CheckedMessage { rendered: RenderedMessage; hasUnsubscribeLink: boolean; hasPostalAddress: boolean }

/** True when `url` occurs as a whole URL (not as the prefix of a longer one, like the preferences link). */
function containsUrl(html: string, url: string): boolean {
  for (let at = html.indexOf(url); at >= 0; at = html.indexOf(url, at + 1)) {
    const next = html.charAt(at + url.length);
    if (next === '' || /[\s"'<>()]/.test(next)) return true;
  }
  return false;
}

/**
 * Runs Handlebars for one recipient and checks that the link and the postal address came out. The
 * link counts only when the compiled template shows it visibly (decided once per template) and it
 * is in both the HTML and the text part.
 */
export function renderChecked(t: CompiledTemplate, data: Record<string, unknown>, unsubscribeUrl: string, postalAddress: string | null): CheckedMessage {
  const rendered = renderMessage(t, data);
  const hasUnsubscribeLink = unsubscribeVisibility(t) !== false
    && containsUrl(rendered.html, escapeHtml(unsubscribeUrl)) && rendered.text.includes(unsubscribeUrl);
  const postal = postalAddress?.trim() ?? '';
  const hasPostalAddress = postal !== '' && (rendered.html.includes(Handlebars.Utils.escapeExpression(postal)) || rendered.html.includes(postal));
  return { rendered, hasUnsubscribeLink, hasPostalAddress };
}

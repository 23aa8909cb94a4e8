// Campaign content: the compiled template (MJML compiled once per campaign and template version,
// cached per process), the footer Postgate adds when a template omits the postal address, the data
// each recipient's Handlebars run gets, and the checks on what came out (link, address present).
import Handlebars from 'handlebars';
import { escapeHtml } from '../html.js';
import { TemplateCache } from '../mail/template-cache.js';
import { renderMessage, usesPlaceholder, type CompiledTemplate, type RenderedMessage, type TemplateSource } from '../mail/render.js';

/**
 * Added before </mj-body> when the MJML never outputs {{postalAddress}}: the address must be in the
 * footer of every marketing message, so Postgate puts it there rather than refusing the template.
 */
export const POSTAL_FOOTER_MJML = '<mj-section padding="8px 0 16px"><mj-column>'
  + '<mj-text align="center" font-size="11px" line-height="16px" color="#71717a">{{postalAddress}}</mj-text>'
  + '</mj-column></mj-section>';

/** The template as it is compiled for sending: with the postal footer (HTML and text) when missing. */
export function withCompliantFooter(src: TemplateSource): TemplateSource {
  let mjml = src.mjml;
  if (!usesPlaceholder({ mjml, subject: '' }, 'postalAddress')) {
    const at = mjml.toLowerCase().lastIndexOf('</mj-body>');
    if (at >= 0) mjml = `${mjml.slice(0, at)}${POSTAL_FOOTER_MJML}${mjml.slice(at)}`;
  }
  let text = src.text ?? null;
  if (text !== null) {
    const uses = (name: string) => usesPlaceholder({ mjml: '', subject: '', text }, name);
    const tail: string[] = [];
    if (!uses('unsubscribeUrl')) tail.push('Unsubscribe: {{unsubscribeUrl}}');
    if (!uses('postalAddress')) tail.push('{{postalAddress}}');
    if (tail.length) text = `${text.replace(/\s+$/, '')}\n\n--\n${tail.join('\n')}\n`;
  }
  return { mjml, subject: src.subject, text };
}

/** The campaigns' compiled templates (key campaign:version): the shared cache, with the compliant footer added. */
export class CompiledCache extends TemplateCache {
  constructor(max = 32) { super(max, withCompliantFooter); }
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

export interface CheckedMessage { rendered: RenderedMessage; hasUnsubscribeLink: boolean; hasPostalAddress: boolean }

/** True when `url` occurs as a whole URL (not as the prefix of a longer one, like the preferences link). */
function containsUrl(html: string, url: string): boolean {
  for (let at = html.indexOf(url); at >= 0; at = html.indexOf(url, at + 1)) {
    const next = html.charAt(at + url.length);
    if (next === '' || /[\s"'<>()]/.test(next)) return true;
  }
  return false;
}

/** Runs Handlebars for one recipient and checks that the link and the postal address came out. */
export function renderChecked(t: CompiledTemplate, data: Record<string, unknown>, unsubscribeUrl: string, postalAddress: string | null): CheckedMessage {
  const rendered = renderMessage(t, data);
  const hasUnsubscribeLink = containsUrl(rendered.html, escapeHtml(unsubscribeUrl));
  const postal = postalAddress?.trim() ?? '';
  const hasPostalAddress = postal !== '' && (rendered.html.includes(Handlebars.Utils.escapeExpression(postal)) || rendered.html.includes(postal));
  return { rendered, hasUnsubscribeLink, hasPostalAddress };
}

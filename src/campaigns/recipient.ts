// One recipient of a campaign, from claimed row to nodemailer options (no I/O): gate before
// rendering, Handlebars render, gate on what came out, then compose with the RFC 8058 headers,
// Feedback-ID, VERP envelope, Message-ID and DKIM. A refusal names the gate's reason.
import type { SendMailOptions } from 'nodemailer';
import { decide, type GateFacts, type GateReason } from '../policy/gate.js';
import type { TokenKeys } from '../policy/tokens.js';
import type { CompiledTemplate } from '../mail/render.js';
import { composeMessage, messageIdHeader } from '../mail/compose.js';
import { verpAddress } from '../mail/sender.js';
import type { DkimKey, Tenant } from '../tenants/store.js';
import { unsubscribeToken } from '../unsubscribe/links.js';
import type { ClaimedRow } from './claim.js';
import { recipientData, renderChecked, type CheckedMessage } from './content.js';

/** Everything a batch shares: loaded once per batch, compiled once per campaign version. */
export interface BatchContext {
  tenant: Tenant; campaign: { id: string; name: string }; replyTo: string; compiled: CompiledTemplate;
  dkim: DkimKey | null; fromDomain: string; publicUrl: string; bounceDomain: string; tokens: TokenKeys;
}

export type Prepared =
  | { kind: 'refused'; reason: GateReason }
  | { kind: 'mail'; mail: SendMailOptions; subject: string; messageIdHeader: string };

/** Reasons that depend on the rendered content: ignored by the check before rendering. */
const CONTENT_REASONS: ReadonlySet<GateReason> = new Set(['no_unsubscribe_link', 'no_list_unsubscribe_header', 'no_postal_address']);

export function feedbackId(campaignId: string, tenantId: string): string {
  return `${campaignId}:${tenantId}:marketing:postgate`;
}

function facts(b: BatchContext, row: ClaimedRow, out: CheckedMessage | null): GateFacts {
  return {
    kind: 'marketing', recipient: row.recipient ?? '',
    contact: row.contactId && row.contactStatus ? { status: row.contactStatus, email: row.email ?? '' } : null,
    suppressed: { all: row.suppressedAll, marketing: row.suppressedMarketing },
    subscription: row.subscription,
    replyTo: b.replyTo, fromAddress: b.tenant.fromEmail, tenantFromAddress: b.tenant.fromEmail,
    postalAddress: out === null || out.hasPostalAddress ? b.tenant.postalAddress : null,
    hasUnsubscribeLink: out?.hasUnsubscribeLink ?? false,
    hasListUnsubscribeHeaders: out !== null, // composeMessage below always sets both RFC 8058 headers
    isTestAddress: false,
  };
}

/** The gate on what is known before rendering; null when only content checks remain. */
export function precheck(b: BatchContext, row: ClaimedRow): GateReason | null {
  const d = decide(facts(b, row, null));
  return d.allow || CONTENT_REASONS.has(d.reason) ? null : d.reason;
}

/** Renders, checks and composes one recipient's message (call precheck first). */
export function prepareRecipient(b: BatchContext, row: ClaimedRow): Prepared {
  const contactId = row.contactId as string;
  const token = unsubscribeToken(b.tokens, { tenantId: b.tenant.id, contactId, campaignId: b.campaign.id });
  const unsubscribeUrl = `${b.publicUrl}/u/${token}`;
  const data = recipientData({
    contact: { id: contactId, email: row.recipient as string, name: row.name, attributes: row.attributes ?? {} },
    unsubscribeUrl, preferencesUrl: `${unsubscribeUrl}/preferences`,
    tenant: b.tenant, campaign: b.campaign,
  });
  const out = renderChecked(b.compiled, data, unsubscribeUrl, b.tenant.postalAddress);
  const d = decide(facts(b, row, out));
  if (!d.allow) return { kind: 'refused', reason: d.reason };
  const mail = composeMessage({
    messageId: row.id, kind: 'marketing',
    from: { name: b.tenant.fromName, address: b.tenant.fromEmail },
    replyTo: b.replyTo,
    to: { name: row.name, address: row.recipient as string },
    rendered: out.rendered, messageIdDomain: b.fromDomain,
    envelopeFrom: verpAddress(b.tokens, b.tenant, row.id, b.bounceDomain),
    listUnsubscribe: { url: unsubscribeUrl },
    feedbackId: feedbackId(b.campaign.id, b.tenant.id),
    dkim: b.dkim ? { domainName: b.dkim.domain, keySelector: b.dkim.selector, privateKey: b.dkim.privateKey } : null,
  });
  return { kind: 'mail', mail, subject: out.rendered.subject, messageIdHeader: messageIdHeader(row.id, b.fromDomain) };
}

// One recipient of a campaign, from claimed row to nodemailer options (no I/O): gate before
// rendering, Handlebars render, gate on what came out, then compose with the RFC 8058 headers,
// Feedback-ID, VERP envelope, Message-ID and DKIM. A refusal names the gate's reason.
import { type GateFacts, type GateReason } from '../policy/gate.js';
import type { TokenKeys } from '../policy/tokens.js';
import type { CompiledTemplate } from '../mail/render.js';
import { gateBeforeRender, prepareMessage, type DeliveryJob, type Prepared } from '../mail/delivery.js';
import type { DkimKey, Tenant } from '../tenants/store.js';
import type { SendingDomains } from '../policy/domains.js';
import { unsubscribeToken } from '../unsubscribe/links.js';
import type { ClaimedRow } from '../mail/ledger.js';
import type { CapabilityLink } from '../mail/capabilities.js';
import { recipientData, renderChecked, unsubscribeCapabilities, type CheckedMessage } from './content.js';
import { trackHtml, type LinkSigner } from '../engagement/links.js';

export type { Prepared };

/** Everything a batch shares: loaded once per batch, compiled once per campaign version. */
export interface BatchContext {
  tenant: Tenant; campaign: { id: string; name: string }; replyTo: string; compiled: CompiledTemplate;
  dkim: DkimKey | null; domains: SendingDomains; fromDomain: string; publicUrl: string; bounceDomain: string; tokens: TokenKeys;
  /** Engagement tracking of this campaign (src/engagement/links.ts); absent or both off: the mail is as rendered. */
  tracking?: { clicks: boolean; opens: boolean; signer: LinkSigner } | null;
}

export function feedbackId(campaignId: string, tenantId: string): string {
  return `${campaignId}:${tenantId}:marketing:postgate`;
}

type CampaignContent = CheckedMessage & { listUnsubscribe: { url: string }; feedbackId: string; capabilityLinks: CapabilityLink[] };

function facts(b: BatchContext, row: ClaimedRow, out: CampaignContent | null): GateFacts {
  return {
    kind: 'marketing', recipient: row.recipient ?? '',
    contact: row.contactId && row.contactStatus ? { status: row.contactStatus, email: row.email ?? '' } : null,
    suppressed: { all: row.suppressedAll, marketing: row.suppressedMarketing },
    subscription: row.subscription,
    replyTo: b.replyTo, fromAddress: b.tenant.fromEmail, tenantFromAddress: b.tenant.fromEmail, domains: b.domains,
    postalAddress: out === null || out.hasPostalAddress ? b.tenant.postalAddress : null,
    hasUnsubscribeLink: out?.hasUnsubscribeLink ?? false,
    hasListUnsubscribeHeaders: out !== null, // composeMessage always sets both RFC 8058 headers for campaign mail
    isTestAddress: false,
  };
}

/** One campaign recipient as a job of the delivery core: its facts and envelope. */
export function campaignJob(b: BatchContext, row: ClaimedRow): DeliveryJob<CampaignContent> {
  return {
    envelope: {
      messageId: row.id, kind: 'marketing', tenant: b.tenant, replyTo: b.replyTo,
      to: { name: row.name, address: row.recipient as string }, fromDomain: b.fromDomain, dkim: b.dkim,
    },
    facts: (out) => facts(b, row, out),
  };
}

/** The campaign renderer: Handlebars over the compiled version, with this recipient's unsubscribe link. */
export function campaignRender(b: BatchContext, row: ClaimedRow): () => CampaignContent {
  return () => {
    const contactId = row.contactId as string;
    // The link names this ledger message (contact and campaign are read where it is opened): short, and no extra write.
    const token = unsubscribeToken(b.tokens, { tenantId: b.tenant.id, messageId: row.id });
    const unsubscribeUrl = `${b.publicUrl}/u/${token}`;
    const data = recipientData({
      contact: { id: contactId, email: row.recipient as string, name: row.name, attributes: row.attributes ?? {} },
      unsubscribeUrl, preferencesUrl: `${unsubscribeUrl}/preferences`,
      tenant: b.tenant, campaign: b.campaign,
    });
    const out = renderChecked(b.compiled, data, unsubscribeUrl, b.tenant.postalAddress);
    const capabilityLinks = unsubscribeCapabilities(unsubscribeUrl);
    const t = b.tracking;
    if (t && (t.clicks || t.opens)) { // after the checks: they judge the links as written; capability links are never rewritten
      const html = trackHtml(out.rendered.html, { publicUrl: b.publicUrl, messageId: row.id, clicks: t.clicks, opens: t.opens, skip: capabilityLinks.map((l) => l.url) }, t.signer);
      out.rendered = { ...out.rendered, html };
    }
    return { ...out, listUnsubscribe: { url: unsubscribeUrl }, feedbackId: feedbackId(b.campaign.id, b.tenant.id), capabilityLinks };
  };
}

/** The gate on what is known before rendering (the delivery core's one pre-render check). */
export function precheck(b: BatchContext, row: ClaimedRow): GateReason | null {
  return gateBeforeRender(facts(b, row, null));
}

/** Gate, render, gate, compose one recipient's message (no I/O), as the delivery core does for every kind. */
export function prepareRecipient(b: BatchContext, row: ClaimedRow): Prepared {
  return prepareMessage(campaignJob(b, row), campaignRender(b, row), b);
}

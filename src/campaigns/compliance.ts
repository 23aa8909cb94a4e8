// The compliance pre-check run when a campaign is scheduled, started, resumed or test-sent: every
// reason it could not be compliant, all at once. The per-recipient gate still runs at send time.
// The unsubscribe link is judged on the compiled template as it will be sent: Postgate adds its own
// footer link when the template's is missing, hidden or conditional (content.ts), so a template
// without one is fine, and only a template whose footer would be hidden too (its whole body hidden,
// say) is refused; a hidden link no longer satisfies the check.
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { isReplyToAcceptable, parseAddress } from '../policy/addresses.js';
import type { TemplateSource } from '../mail/render.js';
import type { Tenant } from '../tenants/store.js';
import { signingSetup } from '../tenants/domains.js';
import { envelopeDomain, sendingDomainsOk } from '../policy/domains.js';
import type { Campaign } from './campaigns-store.js';
import { campaignTemplateKey, campaignTemplates, unsubscribeVisibility } from './content.js';
import { getTemplate } from './templates-store.js';

export type ComplianceReason = 'no_unsubscribe_link' | 'no_postal_address' | 'no_reply_to' | 'no_dkim_key' | 'bad_from' | 'no_template' | 'unverified_domain';

export interface ComplianceFacts {
  template: TemplateSource | null; tenant: Pick<Tenant, 'fromEmail' | 'postalAddress' | 'requireDkim' | 'replyTo'>;
  replyTo: string | null; hasDkimKey: boolean;
  /** Does the compiled template, footer included, show the unsubscribe link visibly? (null: not known, not judged) */
  unsubscribeShown?: boolean | null;
  /** Are the From domain and the envelope domain verified for the tenant? (null: not known, not judged) */
  domainsVerified?: boolean | null;
}

const MESSAGES: Record<ComplianceReason, string> = {
  no_unsubscribe_link: 'the template hides its whole body, so no unsubscribe link (its own or Postgate\'s footer) would be visible',
  no_postal_address: 'the tenant has no postal address',
  no_reply_to: 'the reply-to is missing or not a real mailbox',
  no_dkim_key: 'the tenant requires DKIM signing and has no active key for its From domain',
  bad_from: "the tenant's From address is not valid",
  no_template: 'the template version no longer exists',
  unverified_domain: "the From domain or the tenant's bounce domain is not verified for the tenant (see /api/domains)",
};

/** Pure: the reasons that depend on the tenant's set-up and the reply-to only (no template). */
export function senderReasons(tenant: ComplianceFacts['tenant'], replyTo: string | null, hasDkimKey: boolean, domainsVerified: boolean | null = null): ComplianceReason[] {
  const reasons: ComplianceReason[] = [];
  if (!tenant.postalAddress?.trim()) reasons.push('no_postal_address');
  if (!isReplyToAcceptable(replyTo ?? tenant.replyTo).ok) reasons.push('no_reply_to');
  if (!parseAddress(tenant.fromEmail).ok) reasons.push('bad_from');
  if (tenant.requireDkim && !hasDkimKey) reasons.push('no_dkim_key');
  if (domainsVerified === false) reasons.push('unverified_domain');
  return reasons;
}

/** Pure: every failing reason, in a fixed order. */
export function complianceReasons(f: ComplianceFacts): ComplianceReason[] {
  const reasons: ComplianceReason[] = [];
  if (!f.template) reasons.push('no_template');
  else if (f.unsubscribeShown === false) reasons.push('no_unsubscribe_link'); // even Postgate's footer link would not show
  return [...reasons, ...senderReasons(f.tenant, f.replyTo, f.hasDkimKey, f.domainsVerified ?? null)];
}

export function fromDomain(tenant: Pick<Tenant, 'fromEmail'>): string {
  return tenant.fromEmail.slice(tenant.fromEmail.lastIndexOf('@') + 1).toLowerCase();
}

/** Gathers the facts for a campaign in the caller's tenant transaction (`operatorBounceDomain`: BOUNCE_DOMAIN, always allowed). */
export async function campaignCompliance(c: Queryable, tenant: Tenant, campaign: Campaign, operatorBounceDomain: string | null = null): Promise<ComplianceReason[]> {
  const t = await getTemplate(c, campaign.templateId, campaign.templateVersion);
  const setup = await signingSetup(c, fromDomain(tenant));
  const hasDkimKey = setup.dkim !== null;
  const domainsVerified = sendingDomainsOk(tenant.fromEmail, { verified: setup.verified, // Without the operator's bounce domain (API pre-checks) only the From domain is judged here; the drain and the gate judge both.
    envelope: operatorBounceDomain === null ? null : envelopeDomain(tenant.bounceDomain, operatorBounceDomain) });
  let unsubscribeShown: boolean | null = null;
  if (t) {
    // The same compiled template (and footer) the drain will send; a template that no longer
    // compiles is the drain's to report (it pauses the campaign with template_error).
    const compiled = await campaignTemplates.get(campaignTemplateKey(campaign), () => ({ mjml: t.mjml, subject: campaign.subject, text: t.text }))
      .catch(() => null);
    unsubscribeShown = compiled ? unsubscribeVisibility(compiled) : null;
  }
  return complianceReasons({
    template: t ? { mjml: t.mjml, subject: campaign.subject, text: t.text } : null,
    tenant, replyTo: campaign.replyTo, hasDkimKey, unsubscribeShown, domainsVerified,
  });
}

/** Each reason with its sentence for people (the `details` of a not_compliant error). PURE. */
export function complianceDetails(reasons: readonly ComplianceReason[]): { reason: ComplianceReason; message: string }[] {
  return reasons.map((r) => ({ reason: r, message: MESSAGES[r] }));
}

export function notCompliant(reasons: ComplianceReason[]): DomainError {
  return new DomainError('not_compliant', `the campaign cannot be sent compliantly: ${reasons.map((r) => MESSAGES[r]).join('; ')}`, null,
    { reasons, details: complianceDetails(reasons) });
}

export async function assertCompliant(c: Queryable, tenant: Tenant, campaign: Campaign): Promise<void> {
  const reasons = await campaignCompliance(c, tenant, campaign);
  if (reasons.length) throw notCompliant(reasons);
}

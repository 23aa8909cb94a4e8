// Test sends through the single-message path (kind 'test'): of a campaign to the tenant's own test
// addresses (purpose test:<campaign>:<uuid>, template 'campaign:<id>'), and of a template on its own,
// as the console's template editor sends it (purpose test-template:<template>:<uuid>, template
// 'template:<id>', pinned to a version), with the renderers that path calls. The API checks the
// addresses and the hourly limit first (test-addresses.ts assertTestAddresses, assertTestSendBudget);
// the gate checks again at send time that the recipient is a verified test address no suppression names.
import { randomUUID } from 'node:crypto';
import type { PoolClient, Queryable } from '../platform/db.js';
import { enqueueMessage, type LedgerMessage } from '../mail/ledger.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import type { Tenant } from '../tenants/store.js';
import { unsubscribeToken } from '../unsubscribe/links.js';
import type { Campaign } from './campaigns-store.js';
import { getCampaign } from './campaigns-store.js';
import { campaignTemplateKey, recipientData, renderChecked, unsubscribeCapabilities, type CompiledCache } from './content.js';
import { feedbackId } from './recipient.js';
import { assertTestAddresses, assertTestSendBudget } from './test-addresses.js';
import { getTemplate, type TemplateRow } from './templates-store.js';
import { signingSetup } from '../tenants/domains.js';
import { sendingDomainsOk } from '../policy/domains.js';
import { complianceReasons, fromDomain, notCompliant, type ComplianceReason } from './compliance.js';
import type { CompiledTemplate } from '../mail/render.js';

const NO_CONTACT = '00000000-0000-0000-0000-000000000000';
export const TEST_SUBJECT_PREFIX = '[TEST] ';
/** A test address that is not a contact gets the preview's sample person, so personalisation shows. */
const SAMPLE_NAME = 'Jane Doe';

/** Queues one test send per address (checked by the caller: assertTestAddresses and assertTestSendBudget, in the same transaction). */
export async function enqueueTestSends(c: PoolClient, tenant: Tenant, campaign: Campaign, emails: readonly string[]): Promise<LedgerMessage[]> {
  const out: LedgerMessage[] = [];
  for (const email of emails) {
    const { message } = await enqueueMessage(c, {
      tenantId: tenant.id, purpose: `test:${campaign.id}:${randomUUID()}`, kind: 'test', contactId: null, recipient: email,
      template: `campaign:${campaign.id}`, templateVersion: campaign.templateVersion,
      data: { campaignId: campaign.id, ...(campaign.replyTo ? { replyTo: campaign.replyTo } : {}) },
    });
    out.push(message);
  }
  return out;
}

async function contactByEmail(c: Queryable, email: string): Promise<{ id: string; name: string | null; attributes: Record<string, unknown> } | null> {
  const r = await c.query<{ id: string; name: string | null; attributes: Record<string, unknown> }>(
    "SELECT id, name, attributes FROM contacts WHERE email_key = lower(btrim($1)) AND status <> 'erased'", [email]);
  return r.rows[0] ?? null;
}

/** What a test copy is about: the campaign (or, for a template's own test, the template's id and name). */
interface TestSubject { id: string; name: string }

/** One test copy: the compiled content with the test address's data (its contact's, or the sample person's), marked [TEST]. */
async function testContent(ctx: RenderContext, compiled: CompiledTemplate, about: TestSubject): Promise<RenderOutput> {
  const recipient = ctx.message.recipient ?? '';
  const contact = ctx.contact ?? await contactByEmail(ctx.db, recipient);
  const token = unsubscribeToken(ctx.tokens, { tenantId: ctx.tenant.id, messageId: ctx.message.id }); // the page finds the contact at this address, if any
  const url = `${ctx.publicUrl}/u/${token}`;
  const data = recipientData({
    contact: { id: contact?.id ?? NO_CONTACT, email: recipient, name: contact ? contact.name : SAMPLE_NAME, attributes: contact?.attributes ?? {} },
    unsubscribeUrl: url, preferencesUrl: `${url}/preferences`, tenant: ctx.tenant, campaign: { id: about.id, name: about.name },
  });
  const out = renderChecked(compiled, data, url, ctx.tenant.postalAddress);
  return {
    rendered: { ...out.rendered, subject: TEST_SUBJECT_PREFIX + out.rendered.subject },
    listUnsubscribe: { url }, feedbackId: feedbackId(about.id, ctx.tenant.id), hasUnsubscribeLink: out.hasUnsubscribeLink,
    capabilityLinks: unsubscribeCapabilities(url),
  };
}

/** Renderer for template 'campaign:<id>' (test sends): the campaign's content with the test address's data. */
export function campaignRenderer(cache: CompiledCache) {
  return async (ctx: RenderContext): Promise<RenderOutput> => {
    const campaignId = String(ctx.message.data.campaignId ?? ctx.message.template.split(':')[1] ?? '');
    const campaign = await getCampaign(ctx.db, campaignId);
    if (!campaign) throw new Error(`campaign ${campaignId} not found`);
    const compiled = await cache.get(campaignTemplateKey(campaign), async () => {
      const t = await getTemplate(ctx.db, campaign.templateId, campaign.templateVersion);
      if (!t) throw new Error('template version missing');
      return { mjml: t.mjml, subject: campaign.subject, text: t.text };
    });
    return testContent(ctx, compiled, { id: campaign.id, name: campaign.name });
  };
}

// ---- test sends of a template on its own (the console's template editor) ------------------------

/** The renderer (and template-name prefix) of a template's own test sends: 'template:<template id>'. */
export const TEMPLATE_TEST_RENDERER = 'template';

/** The compiled-template cache key of a template version sent as a test (versions are immutable). */
export function templateTestKey(templateId: string, version: number): string {
  return `template:${templateId}:${version}`;
}

/**
 * The compliance pre-check of a template's test send, as for a campaign (compliance.ts) but with the
 * template's own subject and the tenant's reply-to: [] when it may go.
 */
export async function templateTestCompliance(c: Queryable, tenant: Tenant, t: TemplateRow, cache: CompiledCache): Promise<ComplianceReason[]> {
  const setup = await signingSetup(c, fromDomain(tenant));
  const domainsVerified = sendingDomainsOk(tenant.fromEmail, { verified: setup.verified, envelope: null });
  const src = { mjml: t.mjml, subject: t.subject, text: t.text };
  // The same compiled template (and footer) the renderer will send.
  const compiled = await cache.get(templateTestKey(t.id, t.version), () => src).catch(() => null);
  return complianceReasons({
    template: src, tenant, replyTo: null, hasDkimKey: setup.dkim !== null,
    unsubscribeShown: compiled ? compiled.unsubscribeShown ?? null : null, domainsVerified,
  });
}

/**
 * Queues one test copy of template version `t` per address. Checks, in the caller's tenant
 * transaction: every address is a verified, unsuppressed test address (422 not_test_address,
 * test_address_unverified, address_suppressed; field emails[i]), the tenant could send it compliantly
 * (422 not_compliant with reasons), and the hourly test-send budget (429 rate_limited). Returns the rows queued.
 */
export async function sendTemplateTest(c: PoolClient, tenant: Tenant, t: TemplateRow, emails: readonly string[], o: { perHour: number; cache: CompiledCache }): Promise<LedgerMessage[]> {
  await assertTestAddresses(c, tenant.id, emails);
  const reasons = await templateTestCompliance(c, tenant, t, o.cache);
  if (reasons.length) throw notCompliant(reasons);
  await assertTestSendBudget(c, tenant.id, emails, o.perHour);
  const out: LedgerMessage[] = [];
  for (const email of emails) {
    const { message } = await enqueueMessage(c, {
      tenantId: tenant.id, purpose: `test-template:${t.id}:${randomUUID()}`, kind: 'test', contactId: null, recipient: email,
      template: `${TEMPLATE_TEST_RENDERER}:${t.id}`, templateVersion: t.version, data: { templateId: t.id },
    });
    out.push(message);
  }
  return out;
}

/** Renderer for template 'template:<id>' (a template's own test sends): that version with the test address's data. */
export function templateTestRenderer(cache: CompiledCache) {
  return async (ctx: RenderContext): Promise<RenderOutput> => {
    const templateId = String(ctx.message.data.templateId ?? ctx.message.template.split(':')[1] ?? '');
    const t = await getTemplate(ctx.db, templateId, ctx.message.templateVersion);
    if (!t) throw new Error(`template ${templateId} version ${ctx.message.templateVersion} not found`);
    const compiled = await cache.get(templateTestKey(t.id, t.version), () => ({ mjml: t.mjml, subject: t.subject, text: t.text }));
    return testContent(ctx, compiled, { id: t.id, name: t.name });
  };
}

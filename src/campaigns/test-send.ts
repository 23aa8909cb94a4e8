// Test sends of a campaign to the tenant's own test addresses, through the single-message path
// (kind 'test', purpose test:<campaign>:<uuid>), and the 'campaign' renderer that path calls. The API
// checks the addresses and the hourly limit first (test-addresses.ts assertTestAddresses,
// assertTestSendBudget); the gate checks again at send time that the recipient is a verified test
// address no suppression names.
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
import { getTemplate } from './templates-store.js';

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
    const recipient = ctx.message.recipient ?? '';
    const contact = ctx.contact ?? await contactByEmail(ctx.db, recipient);
    const token = unsubscribeToken(ctx.tokens, { tenantId: ctx.tenant.id, messageId: ctx.message.id }); // the page finds the contact at this address, if any
    const url = `${ctx.publicUrl}/u/${token}`;
    const data = recipientData({
      contact: { id: contact?.id ?? NO_CONTACT, email: recipient, name: contact ? contact.name : SAMPLE_NAME, attributes: contact?.attributes ?? {} },
      unsubscribeUrl: url, preferencesUrl: `${url}/preferences`, tenant: ctx.tenant, campaign: { id: campaign.id, name: campaign.name },
    });
    const out = renderChecked(compiled, data, url, ctx.tenant.postalAddress);
    return {
      rendered: { ...out.rendered, subject: TEST_SUBJECT_PREFIX + out.rendered.subject },
      listUnsubscribe: { url }, feedbackId: feedbackId(campaign.id, ctx.tenant.id), hasUnsubscribeLink: out.hasUnsubscribeLink,
      capabilityLinks: unsubscribeCapabilities(url),
    };
  };
}

// HTTP API for campaigns (scope campaigns): create, read with progress, test send, schedule,
// start, pause, resume, cancel. Every request's writes happen in one tenant transaction; the
// pg-boss job that follows a commit is best effort, backed by the recovery sweep (jobs.ts).
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { PoolClient } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { DomainError } from '../domain-error.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { QUEUES } from '../platform/queue.js';
import { bodyText, email, pagination, replyTo, subjectText, uuid } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { validateTemplate } from '../mail/template-pool.js';
import { getTenant, type Tenant } from '../tenants/store.js';
import {
  cancelOpenMessages, getCampaign, insertCampaign, listCampaigns, missingLists, setStartJob, applyCampaignEvent, type Campaign, type CampaignEventData,
} from './campaigns-store.js';
import { canApply, type CampaignEvent } from './lifecycle.js';
import { assertCompliant } from './compliance.js';
import type { CampaignJobs } from './jobs.js';
import { campaignProgress } from './progress.js';
import { enqueueTestSends } from './test-send.js';
import { assertTestAddresses, assertTestSendBudget } from './test-addresses.js';
import { templateError } from './templates-api.js';
import { getTemplate } from './templates-store.js';

const MAX_SCHEDULE_DAYS = 366;
/** How far in the past a sendAt may be (client clock skew): later than this ago is refused, not sent at once. */
export const SEND_AT_GRACE_SECONDS = 60;
const notPast = (d: Date) => d.getTime() >= Date.now() - SEND_AT_GRACE_SECONDS * 1000;
const PAST_MESSAGE = `must not be in the past (more than ${SEND_AT_GRACE_SECONDS} s ago): to send now, use POST /api/campaigns/{id}/start`;
const sendAt = z.iso.datetime({ offset: true }).transform((v) => new Date(v))
  .refine(notPast, PAST_MESSAGE)
  .refine((d) => d.getTime() < Date.now() + MAX_SCHEDULE_DAYS * 86_400_000, `must be within ${MAX_SCHEDULE_DAYS} days`);
const createBody = z.strictObject({
  name: bodyText(200).min(1),
  subject: subjectText(998).min(1).optional(),
  templateId: uuid,
  listIds: z.array(uuid).min(1).max(50).refine((ids) => new Set(ids.map((i) => i.toLowerCase())).size === ids.length, 'lists must not repeat'),
  replyTo: replyTo.optional(),
  sendAt: sendAt.optional(),
});
const scheduleBody = z.strictObject({ sendAt: sendAt.optional() });
const testBody = z.strictObject({ emails: z.array(email).min(1).max(10) });
const listQuery = z.strictObject(pagination);

const campaignView = z.object({
  id, name: z.string(), subject: z.string(), templateId: id, templateVersion: z.number().int(), listIds: z.array(id),
  replyTo: z.string(), sendAt: timestamp.nullable(), status: z.enum(['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled']),
  pausedReason: z.string().nullable(), startedAt: timestamp.nullable(), completedAt: timestamp.nullable(), cancelledAt: timestamp.nullable(),
  createdAt: timestamp, updatedAt: timestamp,
});
const progressView = z.object({
  audience: z.number().int(), queued: z.number().int(), deferred: z.number().int(), sending: z.number().int(), sent: z.number().int(),
  failed: z.number().int(), failedByReason: z.record(z.string(), z.number().int()),
  bounced: z.number().int(), complained: z.number().int(), unsubscribed: z.number().int(), cancelled: z.number().int(),
  skipped: z.object({ total: z.number().int(), byReason: z.record(z.string(), z.number().int()) }),
  excluded: z.record(z.string(), z.number().int()),
});
const testSendView = z.object({ messages: z.array(z.object({ id, recipient: z.string().nullable(), status: z.string() })) });

type CampaignView = ReturnType<typeof viewOf>;

function viewOf(c: Campaign, tenant: Tenant) {
  return {
    id: c.id, name: c.name, subject: c.subject, templateId: c.templateId, templateVersion: c.templateVersion, listIds: c.listIds,
    replyTo: c.replyTo ?? tenant.replyTo, sendAt: c.sendAt, status: c.status, pausedReason: c.pausedReason,
    startedAt: c.startedAt, completedAt: c.completedAt, cancelledAt: c.cancelledAt, createdAt: c.createdAt, updatedAt: c.updatedAt,
  };
}

function wrongState(c: Campaign, action: string): DomainError {
  return new DomainError('invalid_state', `cannot ${action} a campaign that is ${c.status}`, 'status', { status: c.status });
}

/** 409 invalid_state unless the lifecycle table allows the event from the campaign's status. */
function assertAllowed(c: Campaign, event: CampaignEvent): void {
  if (!canApply(c.status, event)) throw wrongState(c, event.type);
}

async function subjectIssues(subject: string): Promise<void> {
  const issues = (await validateTemplate({ mjml: '<mjml><mj-body></mj-body></mjml>', subject })).filter((i) => i.part === 'subject');
  if (issues.length) throw templateError(issues);
}

interface Locked { campaign: Campaign; tenant: Tenant }

async function lock(c: PoolClient, tenantId: string, id: string | undefined): Promise<Locked> {
  if (!isUuid(id)) throw notFound('campaign');
  const campaign = await getCampaign(c, id, true);
  const tenant = await getTenant(c, tenantId);
  if (!campaign || !tenant) throw notFound('campaign');
  return { campaign, tenant };
}

/** Applies a lifecycle event to the locked campaign (409 when the table does not allow it). */
async function moved(c: PoolClient, l: Locked, event: CampaignEvent, data?: CampaignEventData): Promise<Campaign> {
  assertAllowed(l.campaign, event);
  return (await applyCampaignEvent(c, l.campaign.id, event, data)) as Campaign;
}

export function campaignRoutes(api: Api, deps: AppDeps, jobs: CampaignJobs): void {
  const { db, log } = deps;

  /** After commit: the start job for a schedule (at sendAt) or a start/resume (now); best effort. */
  async function queueStart(tenantId: string, c: Campaign, previousJob: string | null): Promise<void> {
    try {
      if (previousJob) await deps.boss.cancel(QUEUES.campaignStart, previousJob).catch(() => undefined);
      const at = c.status === 'scheduled' && c.sendAt && c.sendAt.getTime() > Date.now() ? c.sendAt : undefined;
      const jobId = await jobs.enqueueStart({ tenantId, campaignId: c.id }, at);
      if (c.status === 'scheduled') {
        await db.withTenant(tenantId, (tx) => setStartJob(tx, c.id, jobId));
      }
    } catch (err) {
      log.warn({ campaignId: c.id, err: (err as Error).message }, 'could not queue the campaign start; the recovery sweep will');
    }
  }

  async function schedule(c: PoolClient, l: Locked, at: Date | null | undefined): Promise<Campaign> {
    const when = at ?? l.campaign.sendAt;
    if (!when) throw new ApiError(422, 'invalid', 'sendAt is required to schedule a campaign', 'sendAt');
    if (!notPast(when)) throw new DomainError('invalid', `sendAt ${PAST_MESSAGE}`, 'sendAt');
    assertAllowed(l.campaign, { type: 'schedule' });
    await assertCompliant(c, l.tenant, l.campaign);
    return moved(c, l, { type: 'schedule' }, { sendAt: when });
  }

  api.route({ method: 'post', path: '/api/campaigns', scope: 'campaigns', summary: 'Create a campaign (scheduled when sendAt is given; a sendAt in the past is refused)', body: createBody,
    response: campaignView, success: [201], errors: [409] },
    async ({ tenantId, body }) => {
      if (body.subject) await subjectIssues(body.subject);
      const { campaign, tenant } = await db.withTenant(tenantId, async (c) => {
        const t = await getTemplate(c, body.templateId);
        if (!t) throw new ApiError(422, 'invalid', 'no such template', 'templateId');
        const missing = await missingLists(c, body.listIds);
        if (missing.length) throw new ApiError(422, 'invalid', `no such list: ${missing[0]}`, `listIds[${body.listIds.indexOf(missing[0])}]`);
        const created = await insertCampaign(c, tenantId, {
          name: body.name, subject: body.subject ?? t.subject, templateId: t.id, templateVersion: t.version,
          listIds: body.listIds, replyTo: body.replyTo ?? null, sendAt: body.sendAt ?? null,
        });
        const l = { campaign: created, tenant: (await getTenant(c, tenantId)) as Tenant };
        return { campaign: body.sendAt ? await schedule(c, l, body.sendAt) : created, tenant: l.tenant };
      });
      if (campaign.status === 'scheduled') await queueStart(tenantId, campaign, null);
      return { status: 201, body: viewOf(campaign, tenant) };
    });

  api.route({ method: 'get', path: '/api/campaigns', scope: 'campaigns', summary: 'List campaigns, newest first', query: listQuery, response: page(campaignView) },
    async ({ tenantId, query }) => {
      const after = query.cursor && isUuid(query.cursor) ? query.cursor : null;
      const { rows, tenant } = await db.withTenant(tenantId, async (c) => ({ rows: await listCampaigns(c, query.limit, after), tenant: await getTenant(c, tenantId) }));
      const views: CampaignView[] = rows.map((r) => viewOf(r, tenant as Tenant));
      return { body: { items: views, nextCursor: rows.length === query.limit ? rows[rows.length - 1].id : null } };
    });

  api.route({ method: 'get', path: '/api/campaigns/:id', scope: 'campaigns', summary: 'A campaign with its status and progress figures', response: campaignView.extend({ progress: progressView }) },
    async ({ tenantId, params }) => {
      if (!isUuid(params.id)) throw notFound('campaign');
      const out = await db.withTenant(tenantId, async (c) => {
        const campaign = await getCampaign(c, params.id);
        const tenant = await getTenant(c, tenantId);
        return campaign && tenant ? { ...viewOf(campaign, tenant), progress: await campaignProgress(c, campaign) } : null;
      });
      if (!out) throw notFound('campaign');
      return { body: out };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/test', scope: 'campaigns', summary: "Send the campaign to some of the tenant's verified test addresses", body: testBody,
    description: 'Each address must be a verified test address (POST /api/test-addresses) that no suppression names: else 422 not_test_address, '
      + 'test_address_unverified or address_suppressed, field emails[i]. At most TEST_SENDS_PER_HOUR test sends per tenant per rolling hour (429 rate_limited, Retry-After).',
    response: testSendView, success: [202], errors: [409, 429] },
    async ({ tenantId, params, body }) => {
      const messages = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        await assertTestAddresses(c, tenantId, body.emails);
        await assertCompliant(c, l.tenant, l.campaign);
        await assertTestSendBudget(c, tenantId, body.emails, deps.config.TEST_SENDS_PER_HOUR);
        return enqueueTestSends(c, l.tenant, l.campaign, body.emails);
      });
      return { status: 202, body: { messages: messages.map((m) => ({ id: m.id, recipient: m.recipient, status: m.status })) } };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/schedule', scope: 'campaigns', summary: 'Schedule a campaign for sendAt (not in the past)', body: scheduleBody, response: campaignView, success: [202], errors: [409] },
    async ({ tenantId, params, body }) => {
      const { campaign, tenant, previousJob } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        return { campaign: await schedule(c, l, body.sendAt), tenant: l.tenant, previousJob: l.campaign.startJobId };
      });
      await queueStart(tenantId, campaign, previousJob);
      return { status: 202, body: viewOf(campaign, tenant) };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/start', scope: 'campaigns', summary: 'Start sending a campaign now', response: campaignView, success: [202] },
    async ({ tenantId, params }) => {
      const { campaign, tenant, previousJob } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        assertAllowed(l.campaign, { type: 'start' });
        await assertCompliant(c, l.tenant, l.campaign);
        const started = await moved(c, l, { type: 'start' }, { startJobId: null });
        return { campaign: started, tenant: l.tenant, previousJob: l.campaign.startJobId };
      });
      await queueStart(tenantId, campaign, previousJob);
      return { status: 202, body: viewOf(campaign, tenant) };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/pause', scope: 'campaigns', summary: 'Pause a running campaign', response: campaignView },
    async ({ tenantId, params }) => {
      const { campaign, tenant } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        return { campaign: await moved(c, l, { type: 'pause', reason: { by: 'manual' } }), tenant: l.tenant };
      });
      return { body: viewOf(campaign, tenant) };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/resume', scope: 'campaigns', summary: 'Resume a paused campaign', response: campaignView, success: [202] },
    async ({ tenantId, params }) => {
      const { campaign, tenant } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        assertAllowed(l.campaign, { type: 'resume' });
        await assertCompliant(c, l.tenant, l.campaign);
        return { campaign: await moved(c, l, { type: 'resume' }), tenant: l.tenant };
      });
      await queueStart(tenantId, campaign, null);
      return { status: 202, body: viewOf(campaign, tenant) };
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/cancel', scope: 'campaigns', summary: 'Cancel a campaign; recipients not yet sent to get nothing', response: campaignView.extend({ cancelledMessages: z.number().int() }) },
    async ({ tenantId, params }) => {
      const { campaign, tenant, previousJob, cancelled } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        const done = await moved(c, l, { type: 'cancel' });
        return { campaign: done, tenant: l.tenant, previousJob: l.campaign.startJobId, cancelled: await cancelOpenMessages(c, l.campaign.id) };
      });
      if (previousJob) await deps.boss.cancel(QUEUES.campaignStart, previousJob).catch(() => undefined);
      return { body: { ...viewOf(campaign, tenant), cancelledMessages: cancelled } };
    });
}

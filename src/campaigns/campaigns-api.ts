// HTTP API for campaigns (scope campaigns): create, list (by status), read with progress, the
// compliance pre-check, test send, schedule, start, pause, resume, cancel, and for campaigns not yet
// started edit (PATCH), delete and clone (drafts.ts). Every request's writes happen in one tenant transaction; the
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
import { getSegment } from '../audience/segments.js';
import {
  cancelOpenMessages, getCampaign, insertCampaign, listCampaigns, missingLists, setStartJob, applyCampaignEvent, type Campaign, type CampaignEventData,
  updateDraft, openTestSends, deleteDraft,
} from './campaigns-store.js';
import { cloneContent, isEditable, MAX_NAME, notEditable, resolvePatch } from './drafts.js';
import { canApply, type CampaignEvent } from './lifecycle.js';
import { assertCompliant, campaignCompliance, complianceDetails } from './compliance.js';
import type { CampaignJobs } from './jobs.js';
import { campaignProgress } from './progress.js';
import { enqueueTestSends } from './test-send.js';
import { assertTestAddresses, assertTestSendBudget } from './test-addresses.js';
import { templateError } from './templates-api.js';
import { getTemplate, type TemplateRow } from './templates-store.js';

const MAX_SCHEDULE_DAYS = 366;
/** How far in the past a sendAt may be (client clock skew): later than this ago is refused, not sent at once. */
export const SEND_AT_GRACE_SECONDS = 60;
const notPast = (d: Date) => d.getTime() >= Date.now() - SEND_AT_GRACE_SECONDS * 1000;
const PAST_MESSAGE = `must not be in the past (more than ${SEND_AT_GRACE_SECONDS} s ago): to send now, use POST /api/campaigns/{id}/start`;
const sendAt = z.iso.datetime({ offset: true }).transform((v) => new Date(v))
  .refine(notPast, PAST_MESSAGE)
  .refine((d) => d.getTime() < Date.now() + MAX_SCHEDULE_DAYS * 86_400_000, `must be within ${MAX_SCHEDULE_DAYS} days`);
const listIds = z.array(uuid).min(1).max(50).refine((ids) => new Set(ids.map((i) => i.toLowerCase())).size === ids.length, 'lists must not repeat');
const templateVersion = z.number().int().min(1).max(2_147_483_647).describe('Pins this version of the template; without it the campaign takes the latest version when it starts');
const segmentId = uuid.describe('A segment (POST /api/segments) narrowing the lists\' audience');
const trackClicks = z.boolean().nullable().describe('Rewrite links to signed /c/ redirects; null: the tenant\'s trackClicks');
const trackOpens = z.boolean().nullable().describe('Add an open pixel (/o/); null: the tenant\'s trackOpens');
const createBody = z.strictObject({
  name: bodyText(MAX_NAME).min(1),
  subject: subjectText(998).min(1).optional(),
  templateId: uuid,
  templateVersion: templateVersion.optional(),
  listIds,
  segmentId: segmentId.optional(),
  replyTo: replyTo.optional(),
  sendAt: sendAt.optional(),
  trackClicks: trackClicks.optional(),
  trackOpens: trackOpens.optional(),
});
const patchBody = z.strictObject({
  name: bodyText(MAX_NAME).min(1).optional(),
  subject: subjectText(998).min(1).optional(),
  templateId: uuid.optional(),
  templateVersion: templateVersion.optional(),
  templatePinned: z.boolean().describe('false: follow the template\'s latest version (taken at start); true: pin the version used now').optional(),
  listIds: listIds.optional(),
  segmentId: segmentId.nullable().optional(),
  replyTo: replyTo.nullable().describe('null: the tenant\'s reply-to').optional(),
  sendAt: sendAt.nullable().describe('A scheduled campaign moves to this time; a draft keeps it for POST /schedule').optional(),
  trackClicks: trackClicks.optional(),
  trackOpens: trackOpens.optional(),
}).refine((b) => Object.keys(b).length > 0, 'give at least one field to change');
const scheduleBody = z.strictObject({ sendAt: sendAt.optional() });
const testBody = z.strictObject({ emails: z.array(email).min(1).max(10) });
const STATUSES = ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled'] as const;
const statusFilter = z.string().max(100).transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(STATUSES)).min(1).max(STATUSES.length))
  .describe('Only campaigns in these statuses, comma-separated (e.g. running,paused)');
const listQuery = z.strictObject({ ...pagination, status: statusFilter.optional() });

const campaignView = z.object({
  id, name: z.string(), subject: z.string(), templateId: id, templateVersion: z.number().int(), templatePinned: z.boolean(),
  listIds: z.array(id), segmentId: id.nullable(), trackClicks: z.boolean().nullable(), trackOpens: z.boolean().nullable(),
  replyTo: z.string(), sendAt: timestamp.nullable(), status: z.enum(STATUSES),
  from: z.object({ email: z.string(), name: z.string() }).describe("The tenant's sender identity the campaign goes out as (changed in the tenant's settings, PATCH /api/tenant)"),
  pausedReason: z.string().nullable(), startedAt: timestamp.nullable(), completedAt: timestamp.nullable(), cancelledAt: timestamp.nullable(),
  createdAt: timestamp, updatedAt: timestamp,
});
const progressView = z.object({
  audience: z.number().int(), queued: z.number().int(), deferred: z.number().int(), sending: z.number().int(), sent: z.number().int(),
  failed: z.number().int(), failedByReason: z.record(z.string(), z.number().int()),
  bounced: z.number().int(), complained: z.number().int(), unsubscribed: z.number().int(), cancelled: z.number().int(),
  skipped: z.object({ total: z.number().int(), byReason: z.record(z.string(), z.number().int()) })
    .describe('Not sent: left out when the audience was materialised (excluded) plus refused by the gate at send time (refused)'),
  refused: z.object({ total: z.number().int(), byReason: z.record(z.string(), z.number().int()) })
    .describe("The gate's refusals at send time, by reason (a part of skipped)"),
  excluded: z.record(z.string(), z.number().int()),
});
const complianceView = z.object({
  compliant: z.boolean(),
  reasons: z.array(z.object({ reason: z.string(), message: z.string() })).describe('Every reason a schedule, start or resume would be refused (not_compliant) now'),
});
const testSendView = z.object({ messages: z.array(z.object({ id, recipient: z.string().nullable(), status: z.string() })) });

type CampaignView = ReturnType<typeof viewOf>;

function viewOf(c: Campaign, tenant: Tenant) {
  return {
    id: c.id, name: c.name, subject: c.subject, templateId: c.templateId, templateVersion: c.templateVersion, templatePinned: c.templatePinned,
    listIds: c.listIds, segmentId: c.segmentId, trackClicks: c.trackClicks, trackOpens: c.trackOpens,
    replyTo: c.replyTo ?? tenant.replyTo, from: { email: tenant.fromEmail, name: tenant.fromName }, sendAt: c.sendAt, status: c.status, pausedReason: c.pausedReason,
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

/** The template's latest version, or the version given (422 naming templateId or templateVersion). */
async function templateOf(c: PoolClient, templateId: string, version: number | undefined): Promise<TemplateRow> {
  const latest = await getTemplate(c, templateId);
  if (!latest) throw new ApiError(422, 'invalid', 'no such template', 'templateId');
  const t = version === undefined ? latest : await getTemplate(c, latest.id, version);
  if (!t) throw new ApiError(422, 'invalid', `the template has no version ${version} (latest: ${latest.version})`, 'templateVersion');
  return t;
}

/** 422 invalid naming segmentId unless the segment exists in the tenant (src/audience/segments.ts owns the table). */
async function assertSegment(c: PoolClient, segmentId: string): Promise<void> {
  if (!(await segmentExists(c, segmentId))) throw new ApiError(422, 'invalid', 'no such segment', 'segmentId');
}

async function segmentExists(c: PoolClient, segmentId: string): Promise<boolean> {
  return (await getSegment(c, segmentId)) !== null;
}

interface Locked { campaign: Campaign; tenant: Tenant }

async function lock(c: PoolClient, tenantId: string, id: string | undefined, forUpdate = true): Promise<Locked> {
  if (!isUuid(id)) throw notFound('campaign');
  const campaign = await getCampaign(c, id, forUpdate);
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
        const t = await templateOf(c, body.templateId, body.templateVersion);
        if (body.segmentId) await assertSegment(c, body.segmentId);
        const missing = await missingLists(c, body.listIds);
        if (missing.length) throw new ApiError(422, 'invalid', `no such list (or it is archived): ${missing[0]}`, `listIds[${body.listIds.indexOf(missing[0])}]`);
        const created = await insertCampaign(c, tenantId, {
          name: body.name, subject: body.subject ?? t.subject, templateId: t.id, templateVersion: t.version,
          listIds: body.listIds, replyTo: body.replyTo ?? null, sendAt: body.sendAt ?? null,
          segmentId: body.segmentId ?? null, templatePinned: body.templateVersion !== undefined,
          trackClicks: body.trackClicks ?? null, trackOpens: body.trackOpens ?? null,
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
      const { rows, tenant } = await db.withTenant(tenantId, async (c) => ({ rows: await listCampaigns(c, query.limit, after, query.status ?? null), tenant: await getTenant(c, tenantId) }));
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

  api.route({ method: 'get', path: '/api/campaigns/:id/compliance', scope: 'campaigns', response: complianceView, errors: [404],
    summary: 'The compliance pre-check of a campaign as it stands: every reason it could not be scheduled, started or resumed now',
    description: 'The same check POST /schedule, /start and /resume run (their 422 not_compliant lists these reasons); the gate still judges each recipient at send time.' },
  async ({ tenantId, params }) => {
    const reasons = await db.withTenant(tenantId, async (c) => {
      const l = await lock(c, tenantId, params.id, false);
      return campaignCompliance(c, l.tenant, l.campaign);
    });
    return { body: { compliant: reasons.length === 0, reasons: complianceDetails(reasons) } };
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
        // Unless pinned, the version judged above is the template's latest: the start records it (campaigns-store).
        const started = await moved(c, l, { type: 'start' }, { startJobId: null, templateVersion: l.campaign.templateVersion });
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
        return { campaign: await moved(c, l, { type: 'resume' }, { templateVersion: l.campaign.templateVersion }), tenant: l.tenant };
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

  draftRoutes(api, deps, queueStart);
}

const PATCH_DESCRIPTION = 'Only a campaign that has not started: a draft, or a scheduled one (its compliance is checked again and a new sendAt '
  + 'moves its start); else 409 campaign_not_editable (field status). Lists must exist and not be archived (422 listIds[i]); the segment must exist '
  + '(422 segmentId). Giving templateVersion pins that version (422 templateVersion when it does not exist); templatePinned: false unpins, so the '
  + 'start takes the template\'s latest version; a new templateId without a version follows that template\'s latest.';

/** PATCH, DELETE and clone of campaigns that have not started (drafts.ts resolves the content). */
function draftRoutes(api: Api, deps: AppDeps, queueStart: (tenantId: string, c: Campaign, previousJob: string | null) => Promise<void>): void {
  const { db } = deps;

  api.route({ method: 'patch', path: '/api/campaigns/:id', scope: 'campaigns', summary: 'Edit a draft or scheduled campaign', description: PATCH_DESCRIPTION,
    body: patchBody, response: campaignView, errors: [409] },
    async ({ tenantId, params, body }) => {
      if (body.subject) await subjectIssues(body.subject);
      const out = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        if (!isEditable(l.campaign)) throw notEditable(l.campaign, 'edit');
        const content = await resolvePatch(c, l.campaign, body, (sid) => segmentExists(c, sid));
        const scheduled = l.campaign.status === 'scheduled';
        if (scheduled && !content.sendAt) throw new ApiError(422, 'invalid', 'a scheduled campaign needs a sendAt (cancel it to stop it)', 'sendAt');
        const updated = await updateDraft(c, l.campaign.id, content);
        if (!updated) throw notEditable(l.campaign, 'edit');
        if (scheduled) await assertCompliant(c, l.tenant, updated);
        const moved = scheduled && updated.sendAt?.getTime() !== l.campaign.sendAt?.getTime();
        return { campaign: updated, tenant: l.tenant, previousJob: moved ? l.campaign.startJobId : null, moved };
      });
      if (out.moved) await queueStart(tenantId, out.campaign, out.previousJob);
      return { body: viewOf(out.campaign, out.tenant) };
    });

  api.route({ method: 'delete', path: '/api/campaigns/:id', scope: 'campaigns', success: [204], errors: [409],
    summary: 'Delete a draft or scheduled campaign that never sent (its start is cancelled); else 409 campaign_not_editable' },
    async ({ tenantId, params }) => {
      const previousJob = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id);
        if (!isEditable(l.campaign)) throw notEditable(l.campaign, 'delete');
        if (await openTestSends(c, l.campaign.id) > 0) {
          throw new DomainError('conflict', 'a test send of this campaign is still being delivered: delete it once that is done', null);
        }
        if (!(await deleteDraft(c, l.campaign.id))) throw notEditable(l.campaign, 'delete');
        return l.campaign.startJobId;
      });
      if (previousJob) await deps.boss.cancel(QUEUES.campaignStart, previousJob).catch(() => undefined);
    });

  api.route({ method: 'post', path: '/api/campaigns/:id/clone', scope: 'campaigns', response: campaignView, success: [201],
    summary: 'Copy a campaign (any status) into a new draft named "<name> (copy)": same content, lists and segment; pinned only if the source was',
    description: 'No sendAt is copied. Lists deleted or archived since are left out (422 listIds when none is left).' },
    async ({ tenantId, params }) => {
      const { campaign, tenant } = await db.withTenant(tenantId, async (c) => {
        const l = await lock(c, tenantId, params.id, false);
        return { campaign: await insertCampaign(c, tenantId, await cloneContent(c, l.campaign)), tenant: l.tenant };
      });
      return { status: 201, body: viewOf(campaign, tenant) };
    });
}

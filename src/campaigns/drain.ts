// The campaign drain: lanes that each loop claim → delivery core (gate → render → compose → SMTP,
// mail/delivery.ts, the same as single messages) → record, until nothing is due, the campaign stops
// running, or the job's time is up. A batch is claimed in one
// short transaction that also checks the campaign, the tenant's set-up and the rate limit; results
// are written in batches. Nothing is kept between processes: the ledger is the only shared state.
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { SendOutcome } from '../platform/smtp.js';
import type { TokenKeys } from '../policy/tokens.js';
import type { Delivery, PermanentOutcome } from '../mail/delivery.js';
import { cancelCampaignMessages, recordOutcomes, renewLeases } from '../mail/ledger.js';
import { TemplateBusyError, type CompiledTemplate } from '../mail/render.js';
import { getTenant } from '../tenants/store.js';
import { signingSetup } from '../tenants/domains.js';
import { envelopeDomain, sendingDomainsOk, type SendingDomains } from '../policy/domains.js';
import { OutcomeBuffer, type Semaphore } from './batching.js';
import { BatchLease } from './batch-lease.js';
import { applyCampaignEvent, completeIfDone, getCampaign, heartbeat, openWork, setWake, type Campaign } from './campaigns-store.js';
import type { PauseReason } from './lifecycle.js';
import { claimBatch, type ClaimedRow, type Outcome } from './claim.js';
import { fromDomain, senderReasons } from './compliance.js';
import { campaignTemplateKey, type CompiledCache } from './content.js';
import { isTransientError, retryThroughOutage } from './outage.js';
import { pruneWindows, release, reserve } from './rate-limit.js';
import { campaignJob, campaignRender, type BatchContext } from './recipient.js';
import { getTemplate } from './templates-store.js';
import { LinkSigner, resolveTracking } from '../engagement/links.js';

export interface DrainConfig {
  publicUrl: string; bounceDomain: string; leaseSeconds: number;
  defaultRatePerSecond: number; batchSize: number; lanes: number; flushSize: number; flushMs: number;
}
export interface DrainDeps {
  db: Db; delivery: Delivery; tokens: TokenKeys; log: Logger;
  cache: CompiledCache; semaphore: Semaphore; config: DrainConfig; worker: string;
}
export type DrainResult = { kind: 'stopped' } | { kind: 'completed' } | { kind: 'continue' } | { kind: 'later'; at: Date };
export interface RunOptions { deadline: number; shouldStop: () => boolean }

type Batch = { kind: 'batch'; ctx: BatchContext; rows: ClaimedRow[] } | { kind: 'stopped' } | { kind: 'empty' } | { kind: 'throttled'; waitMs: number };
type LaneEnd = 'empty' | 'stopped' | 'deadline';
type Failures = { id: string; outcome: PermanentOutcome }[];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** How long outcomes of mail already handed to SMTP are retried through a database outage. */
const PERSIST_PATIENCE_MS = 10 * 60_000;
/** How long a stopping worker keeps trying to write outcomes to an unreachable database. */
const STOP_PATIENCE_MS = 15_000;
/** Rate budget is claimed in slices, so lanes and processes share a rate-limited tenant's second. */
const RATE_SLICES = 4;

export class CampaignDrain {
  private batches = 0;
  constructor(private readonly deps: DrainDeps) {}

  /** Drains one campaign with `lanes` concurrent loops; says what should happen next. */
  async run(tenantId: string, campaignId: string, opts: RunOptions): Promise<DrainResult> {
    const lanes = Array.from({ length: this.deps.config.lanes }, () => this.lane(tenantId, campaignId, opts));
    const ends = await Promise.all(lanes);
    if (ends.includes('stopped')) {
      await this.sweepCancelled(tenantId, campaignId);
      return { kind: 'stopped' };
    }
    return this.settle(tenantId, campaignId, ends.includes('deadline'));
  }

  /**
   * A row in flight when the campaign was cancelled comes back 'deferred' after the cancel took the
   * others, and nobody would ever claim it: once the lanes have recorded their outcomes, such rows of
   * a cancelled campaign are cancelled too.
   */
  private async sweepCancelled(tenantId: string, campaignId: string): Promise<void> {
    await this.deps.db.withTenant(tenantId, async (c) => {
      if ((await getCampaign(c, campaignId))?.status === 'cancelled') await cancelCampaignMessages(c, campaignId);
    }).catch((err: unknown) => this.deps.log.warn({ campaignId, err: (err as Error).message }, 'cancelling the rows a cancelled campaign left deferred failed'));
  }

  private async lane(tenantId: string, campaignId: string, opts: RunOptions): Promise<LaneEnd> {
    for (;;) {
      if (opts.shouldStop() || Date.now() >= opts.deadline) return 'deadline';
      // A database outage waits here (nothing is claimed, so nothing is sent blind) until the deadline.
      const b = await retryThroughOutage(() => this.nextBatch(tenantId, campaignId),
        { log: this.deps.log, what: 'campaign claim', patienceMs: Math.max(0, opts.deadline - Date.now()), giveUp: opts.shouldStop })
        .catch((err: unknown) => { if (isTransientError(err)) return { kind: 'outage' } as const; throw err; });
      if (b.kind === 'outage') return 'deadline';
      if (b.kind === 'stopped' || b.kind === 'empty') return b.kind;
      if (b.kind === 'throttled') { await sleep(b.waitMs + Math.floor(Math.random() * 25)); continue; }
      await this.sendBatch(tenantId, b.ctx, b.rows, opts.shouldStop);
    }
  }

  /** After the lanes: completed, more now (time was up), later (deferred or leased rows), or stopped. */
  private async settle(tenantId: string, campaignId: string, timeUp: boolean): Promise<DrainResult> {
    return retryThroughOutage(() => this.deps.db.withTenant(tenantId, async (c) => {
      const campaign = await getCampaign(c, campaignId);
      if (campaign?.status === 'cancelled') await cancelCampaignMessages(c, campaignId); // see sweepCancelled
      if (!campaign || campaign.status !== 'running') return { kind: 'stopped' } as const;
      const w = await openWork(c, campaignId);
      if (w.open === 0) return (await completeIfDone(c, campaignId)) ? { kind: 'completed' } as const : { kind: 'stopped' } as const;
      if (w.due > 0 || timeUp) return { kind: 'continue' } as const;
      const leaseAt = w.leaseAt ? new Date(w.leaseAt.getTime() + 1000) : null;
      const candidates = [w.nextAt, leaseAt].filter((d): d is Date => d !== null).map((d) => d.getTime());
      const at = new Date(Math.max(Date.now() + 200, Math.min(...candidates)));
      await setWake(c, campaignId, at);
      return { kind: 'later', at } as const;
    }), { log: this.deps.log, what: 'campaign settle', patienceMs: 60_000 });
  }

  private async compiled(c: Parameters<typeof getTemplate>[0], campaign: Campaign): Promise<CompiledTemplate> {
    return this.deps.cache.get(campaignTemplateKey(campaign), async () => {
      const t = await getTemplate(c, campaign.templateId, campaign.templateVersion);
      if (!t) throw new Error('template version missing');
      return { mjml: t.mjml, subject: campaign.subject, text: t.text };
    });
  }

  /** One short transaction: campaign still running, tenant still compliant, rate tokens, claim. */
  private async nextBatch(tenantId: string, campaignId: string): Promise<Batch> {
    const { config } = this.deps;
    const out = await this.deps.db.withTenant(tenantId, async (c): Promise<Batch | { kind: 'pause'; reason: PauseReason }> => {
      const campaign = await getCampaign(c, campaignId);
      const tenant = await getTenant(c, tenantId);
      if (!campaign || !tenant || campaign.status !== 'running' || !campaign.audienceReadyAt) return { kind: 'stopped' };
      const domain = fromDomain(tenant);
      // One round trip per batch: the verified domains (gate fact) and the signing key.
      const { verified, dkim } = await signingSetup(c, domain);
      const domains: SendingDomains = { verified, envelope: envelopeDomain(tenant.bounceDomain, config.bounceDomain) };
      const problems = senderReasons(tenant, campaign.replyTo, dkim !== null, sendingDomainsOk(tenant.fromEmail, domains));
      if (problems.length) return { kind: 'pause', reason: { by: 'not_compliant', reasons: problems } };
      let compiled: CompiledTemplate;
      try { compiled = await this.compiled(c, campaign); } catch (err) {
        if (err instanceof TemplateBusyError) { // a loaded machine, not a broken template: try again shortly
          this.deps.log.warn({ campaignId, err: err.message }, 'campaign template compile ran over its budget; retrying');
          return { kind: 'throttled', waitMs: 5_000 };
        }
        this.deps.log.error({ campaignId, err: (err as Error).message }, 'campaign template cannot be compiled');
        return { kind: 'pause', reason: { by: 'template_error' } };
      }
      await heartbeat(c, campaignId);
      if (++this.batches % 64 === 0) await pruneWindows(c, tenantId);
      const limit = tenant.sendRatePerSecond ?? config.defaultRatePerSecond;
      const tokens = await reserve(c, tenantId, Math.min(config.batchSize, Math.ceil(limit / RATE_SLICES)), limit);
      if (tokens.granted === 0) return { kind: 'throttled', waitMs: tokens.waitMs };
      const rows = await claimBatch(c, tenantId, campaignId, campaign.listIds, tokens.granted, config.leaseSeconds, this.deps.worker);
      await release(c, tenantId, tokens.window, tokens.granted - rows.length);
      if (!rows.length) return { kind: 'empty' };
      this.deps.delivery.reclaimed(rows.filter((r) => r.reclaimed).length);
      const ctx: BatchContext = {
        tenant, campaign: { id: campaign.id, name: campaign.name }, replyTo: campaign.replyTo ?? tenant.replyTo, compiled, dkim, domains,
        fromDomain: domain, publicUrl: config.publicUrl, bounceDomain: config.bounceDomain, tokens: this.deps.tokens,
        tracking: { ...resolveTracking(campaign, tenant), signer: new LinkSigner(this.deps.tokens) },
      };
      return { kind: 'batch', ctx, rows };
    });
    if (out.kind !== 'pause') return out;
    await this.deps.db.withTenant(tenantId, (c) => applyCampaignEvent(c, campaignId, { type: 'pause', reason: out.reason }));
    this.deps.log.warn({ campaignId, reason: out.reason }, 'campaign paused by the drain');
    return { kind: 'stopped' };
  }

  /**
   * Sends a claimed batch. While it is out, the lease of every row not yet recorded is renewed, so a
   * slow SMTP server never makes a live worker's rows look abandoned. Nothing more is handed to SMTP
   * while the database fails (its outcome could not be written: that is how mail goes out twice),
   * and a row whose lease could not be kept is released, or left alone if another worker took it.
   */
  private async sendBatch(tenantId: string, ctx: BatchContext, rows: ClaimedRow[], stopping: () => boolean): Promise<void> {
    const { config, log } = this.deps;
    const failures: Failures = [];
    const lease = new BatchLease(rows, config.leaseSeconds * 1000);
    let failingSince = 0; // a worker told to stop during an outage gives up on its outcomes after a while
    const buffer = new OutcomeBuffer<Outcome>(async (items) => {
      await retryThroughOutage(() => this.deps.db.withTenant(tenantId, (c) => recordOutcomes(c, items)), {
        log, what: 'campaign outcomes', patienceMs: PERSIST_PATIENCE_MS, maxDelayMs: 1000,
        onRetry: () => { failingSince ||= Date.now(); lease.trouble(); },
        giveUp: () => stopping() && failingSince > 0 && Date.now() - failingSince > STOP_PATIENCE_MS,
      });
      failingSince = 0;
      lease.recorded(items.map((o) => o.id));
    }, config.flushSize, config.flushMs);
    const renew = setInterval(() => {
      const at = Date.now();
      void this.deps.db.withTenant(tenantId, (c) => renewLeases(c, lease.unrecorded, config.leaseSeconds))
        .then((ids) => lease.renewed(at, ids))
        .catch((err: Error) => { lease.trouble(); log.warn({ err: err.message }, 'could not renew campaign leases'); });
    }, Math.max(250, (config.leaseSeconds * 1000) / 4));
    try {
      await Promise.all(rows.map((row) => this.deliver(ctx, row, buffer, failures, lease, stopping)));
      await buffer.close();
    } finally {
      clearInterval(renew);
    }
    // A 5xx goes to bounce handling (the composition's permanent-failure handler) once the ledger says failed.
    for (const f of failures) await this.deps.delivery.permanentFailure(tenantId, f.id, f.outcome);
  }

  private refused(row: ClaimedRow, reason: string): Outcome {
    this.deps.delivery.refused(reason);
    return { id: row.id, attempt: row.attempts, status: 'suppressed', reason, response: null, retryInSeconds: 0, subject: null, messageIdHeader: null, detail: { reason } };
  }

  private released(row: ClaimedRow): Outcome {
    return { id: row.id, attempt: row.attempts, status: 'released', reason: null, response: null, retryInSeconds: 0, subject: null, messageIdHeader: null, detail: { worker: this.deps.worker } };
  }

  private async deliver(ctx: BatchContext, row: ClaimedRow, buffer: OutcomeBuffer<Outcome>, failures: Failures, lease: BatchLease, stopping: () => boolean): Promise<void> {
    const { delivery } = this.deps;
    const job = campaignJob(ctx, row);
    const early = delivery.precheck(job);
    if (early) { buffer.add(this.refused(row, early)); return; }
    await this.deps.semaphore.acquire();
    try {
      while (lease.databaseFailing && !stopping()) await sleep(100);
      if (lease.isLost(row.id)) { lease.forget(row.id); return; }
      if (stopping() || !lease.holds(row.id)) { buffer.add(this.released(row)); return; }
      const p = delivery.prepare(job, campaignRender(ctx, row), true);
      if (p.kind === 'refused') { buffer.add(this.refused(row, p.reason)); return; }
      if (p.kind === 'failed') {
        delivery.refused(p.reason);
        // A render error is this recipient's own (template and data): failed at this attempt, never retried.
        const detail = { reason: p.reason, attempt: row.attempts, stage: p.stage ?? 'render', error: p.error };
        buffer.add({ id: row.id, attempt: row.attempts, status: 'failed', reason: p.reason, response: null, retryInSeconds: 0, subject: null, messageIdHeader: null, detail });
        return;
      }
      const outcome = await delivery.send(p.mail);
      buffer.add(this.outcome(row, outcome, p));
      if (outcome.kind === 'permanent') failures.push({ id: row.id, outcome });
    } finally {
      this.deps.semaphore.release();
    }
  }

  private outcome(row: ClaimedRow, o: SendOutcome, p: { subject: string; messageIdHeader: string }): Outcome {
    const s = this.deps.delivery.settle('marketing', row.attempts, o, { worker: this.deps.worker });
    return {
      id: row.id, attempt: row.attempts, subject: p.subject, messageIdHeader: p.messageIdHeader, response: s.response,
      status: s.status, reason: s.reason, retryInSeconds: s.retryInSeconds, detail: s.detail,
    };
  }
}

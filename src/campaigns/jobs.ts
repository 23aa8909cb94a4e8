// pg-boss side of campaigns: the start job (scheduled or immediate: compliance re-check, audience
// materialisation, fan-out to a few drain jobs), the drain job (runs CampaignDrain, then re-enqueues
// itself while work remains), and a recovery sweep for campaigns nobody is working on (a worker
// killed mid-campaign, a lost job). Each drain job replaces itself at most once, so their number stays bounded.
import { z } from 'zod';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { InFlightJobs, QUEUES, type Boss } from '../platform/queue.js';
import { uuid } from '../platform/schemas.js';
import { getTenant } from '../tenants/store.js';
import { materialiseAudience } from './audience.js';
import { applyCampaignEvent, getCampaign, type Campaign } from './campaigns-store.js';
import { campaignCompliance } from './compliance.js';
import type { CampaignDrain } from './drain.js';
import { retryThroughOutage } from './outage.js';

/** How long a job waits for an unreachable database before failing (and being retried by pg-boss). */
const OUTAGE_PATIENCE_MS = 2 * 60_000;

export interface CampaignJob { tenantId: string; campaignId: string }
const jobData = z.object({ tenantId: uuid, campaignId: uuid });

export interface JobsConfig {
  drainsPerCampaign: number; drainSlots: number; maxDrainMs: number; sweepEveryMs: number; staleSeconds: number;
}

export class CampaignJobs {
  private stopping = false;
  private readonly jobs: InFlightJobs;
  private readonly drainWorkers: string[] = [];
  private startWorker: string | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db, private readonly boss: Boss, private readonly log: Logger,
    private readonly drain: CampaignDrain, private readonly config: JobsConfig) {
    this.jobs = new InFlightJobs(log, 'campaign job failed; pg-boss will retry it');
  }

  /** Queues the start job (now, or at `startAfter`); returns the pg-boss job id. */
  async enqueueStart(job: CampaignJob, startAfter?: Date): Promise<string | null> {
    const id = await this.boss.send(QUEUES.campaignStart, job, startAfter ? { startAfter } : {});
    if (!startAfter && this.startWorker) this.boss.notifyWorker(this.startWorker);
    return id;
  }

  async enqueueDrains(job: CampaignJob, n: number, startAfter?: Date): Promise<void> {
    for (let i = 0; i < n; i++) await this.boss.send(QUEUES.campaignDrain, job, startAfter ? { startAfter } : {});
    if (!startAfter) for (const w of this.drainWorkers) this.boss.notifyWorker(w);
  }

  async register(): Promise<void> {
    const opts = { batchSize: 1, pollingIntervalSeconds: 0.5 };
    this.startWorker = await this.boss.work<CampaignJob>(QUEUES.campaignStart, opts, ([job]) => this.track(this.handleStart(job.data)));
    for (let i = 0; i < this.config.drainSlots; i++) {
      this.drainWorkers.push(await this.boss.work<CampaignJob>(QUEUES.campaignDrain, opts, ([job]) => this.track(this.handleDrain(job.data))));
    }
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.sweepEveryMs);
  }

  /** Stops taking work; drains finish the sends in flight, hand back the rest and leave a fresh job behind. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const w of [this.startWorker, ...this.drainWorkers]) if (w) await this.boss.offWork({ id: w }).catch(() => undefined);
    await this.jobs.settled();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    return this.jobs.track(p);
  }

  /** Start (or resume, or recover): makes a due scheduled campaign run, materialises, fans out. */
  async handleStart(data: unknown): Promise<void> {
    const job = jobData.parse(data);
    const patient = <T>(what: string, fn: () => Promise<T>) => retryThroughOutage(fn, { log: this.log, what, patienceMs: OUTAGE_PATIENCE_MS });
    const campaign = await patient('campaign start', () => this.db.withTenant(job.tenantId, (c) => this.begin(c, job)));
    if (!campaign) return;
    if (!campaign.audienceReadyAt) {
      const n = await patient('campaign audience', () => materialiseAudience(this.db, campaign));
      this.log.info({ campaignId: campaign.id, recipients: n }, 'campaign audience materialised');
    }
    await patient('campaign fan-out', () => this.enqueueDrains(job, this.config.drainsPerCampaign));
  }

  private async begin(c: Parameters<typeof getCampaign>[0], job: CampaignJob): Promise<Campaign | null> {
    const campaign = await getCampaign(c, job.campaignId, true);
    if (!campaign) return null;
    if (campaign.status === 'running') return campaign;
    if (campaign.status !== 'scheduled') return null;
    if (campaign.sendAt && campaign.sendAt.getTime() > Date.now() + 1000) return null; // rescheduled: a later job starts it
    const tenant = await getTenant(c, job.tenantId);
    const reasons = tenant ? await campaignCompliance(c, tenant, campaign) : ['no_tenant'];
    if (reasons.length) {
      await applyCampaignEvent(c, campaign.id, { type: 'pause', reason: { by: 'not_compliant', reasons } });
      this.log.warn({ campaignId: campaign.id, reasons }, 'scheduled campaign not compliant at start; paused');
      return null;
    }
    return applyCampaignEvent(c, campaign.id, { type: 'start' }, { templateVersion: campaign.templateVersion }); // the version judged: latest unless pinned
  }

  async handleDrain(data: unknown): Promise<void> {
    const job = jobData.parse(data);
    const deadline = Date.now() + this.config.maxDrainMs;
    const result = await this.drain.run(job.tenantId, job.campaignId, { deadline, shouldStop: () => this.stopping });
    const next = (at?: Date) => retryThroughOutage(() => this.enqueueDrains(job, 1, at), { log: this.log, what: 'campaign drain hand-over', patienceMs: OUTAGE_PATIENCE_MS });
    if (result.kind === 'continue') await next();
    else if (result.kind === 'later') await next(result.at);
    else if (result.kind === 'completed') this.log.info({ campaignId: job.campaignId }, 'campaign completed');
  }

  /** Running campaigns with no sign of life for a lease period, and overdue scheduled ones: start again. */
  async sweep(): Promise<void> {
    if (this.stopping) return;
    try {
      const rows = await this.db.withSystem(async (c) => (await c.query<{ tenant_id: string; campaign_id: string }>(
        'SELECT tenant_id, campaign_id FROM campaigns_to_recover($1)', [this.config.staleSeconds])).rows);
      for (const r of rows) {
        this.log.warn({ campaignId: r.campaign_id }, 'campaign without a live worker; restarting its drains');
        await this.enqueueStart({ tenantId: r.tenant_id, campaignId: r.campaign_id });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'campaign recovery sweep failed');
    }
  }
}

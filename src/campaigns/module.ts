// The campaigns module: templates, campaigns and test addresses API, the 'campaign' and 'template' renderers (test sends),
// the 'test-address' renderer and its /t/:token page (test address verification), and the
// start / drain workers with their recovery sweep. The tuning constants below are exported for tests and benches.
import os from 'node:os';
import type { AppDeps, Module } from '../deps.js';
import { Semaphore } from './batching.js';
import { campaignRoutes } from './campaigns-api.js';
import { campaignStatsRoutes } from './stats-api.js';
import { campaignTemplates } from './content.js';
import { CampaignDrain } from './drain.js';
import { CampaignJobs } from './jobs.js';
import { campaignRenderer, TEMPLATE_TEST_RENDERER, templateTestRenderer } from './test-send.js';
import { renderTestAddressVerification } from './test-address-email.js';
import { testAddressPages } from './test-address-pages.js';
import { testAddressRoutes } from './test-addresses-api.js';
import { VERIFICATION_TEMPLATE } from './test-addresses.js';
import { templateRoutes } from './templates-api.js';

/** Recipients claimed per batch (capped by the tenant's rate budget for the current second). */
export const BATCH_SIZE = 100;
/** Concurrent claim/send loops per drain job, so one batch's bookkeeping overlaps another's sending. */
export const LANES_PER_DRAIN = 2;
/** Drain jobs queued per campaign start: how many worker slots (across processes, DRAIN_SLOTS each) may share it. */
export const DRAINS_PER_CAMPAIGN = 8;
/** Drain jobs one process runs at once. */
export const DRAIN_SLOTS = 2;
/** A drain job hands over to a fresh job after this long (well under the queue's 15-minute expiry). */
export const MAX_DRAIN_MS = 5 * 60_000;
/** Outcomes are written every this many results or milliseconds, whichever comes first. */
export const FLUSH_SIZE = 50;
export const FLUSH_MS = 50;
/** Messages handed to the SMTP pool at once, per process, as a multiple of SMTP_POOL_SIZE. */
export const IN_FLIGHT_PER_CONNECTION = 2;

export function campaignsModule(deps: AppDeps): Module {
  const { config } = deps;
  const cache = campaignTemplates;
  const drain = new CampaignDrain({
    db: deps.db, delivery: deps.delivery, tokens: deps.tokens, log: deps.log,
    cache, semaphore: new Semaphore(config.SMTP_POOL_SIZE * IN_FLIGHT_PER_CONNECTION), worker: `${os.hostname()}:${process.pid}`,
    config: {
      publicUrl: config.PUBLIC_URL, bounceDomain: config.BOUNCE_DOMAIN, leaseSeconds: config.SEND_LEASE_SECONDS,
      defaultRatePerSecond: config.SEND_RATE_PER_SECOND,
      batchSize: BATCH_SIZE, lanes: LANES_PER_DRAIN, flushSize: FLUSH_SIZE, flushMs: FLUSH_MS,
    },
  });
  const jobs = new CampaignJobs(deps.db, deps.boss, deps.log, drain, {
    drainsPerCampaign: DRAINS_PER_CAMPAIGN, drainSlots: DRAIN_SLOTS, maxDrainMs: MAX_DRAIN_MS,
    staleSeconds: config.SEND_LEASE_SECONDS, sweepEveryMs: Math.min(15_000, (config.SEND_LEASE_SECONDS * 1000) / 2),
  });
  let working = false;
  return {
    name: 'campaigns',
    routes(api, pages) {
      templateRoutes(api, deps);
      campaignRoutes(api, deps, jobs);
      campaignStatsRoutes(api, deps);
      testAddressRoutes(api, deps);
      testAddressPages(pages, deps.db, deps.tokens);
    },
    renderers(registry) {
      registry.register('campaign', campaignRenderer(cache));
      registry.register(TEMPLATE_TEST_RENDERER, templateTestRenderer(cache));
      registry.register(VERIFICATION_TEMPLATE, renderTestAddressVerification);
    },
    async workers() {
      working = true;
      await jobs.register();
    },
    async stop() {
      if (working) await jobs.stop();
    },
  };
}

// The bounces module: POST /api/inbound and the bounce list (web), the inbound SMTP listener
// (inbound role), and the permanent-failure handler that treats a 5xx at send time like a received bounce.
import { readFile } from 'node:fs/promises';
import { Counter } from 'prom-client';
import type { AppDeps, Module } from '../deps.js';
import type { BounceSettings } from './actions.js';
import { bounceRoutes } from './inbound-api.js';
import { createClassifyPool, type ClassifyPool } from './classify-pool.js';
import { startInboundSmtp, takeInboundQuota, type InboundSmtp } from './inbound-smtp.js';
import { processInbound, processSendFailure, type BounceDeps } from './process.js';

/** The bound port of each running listener (INBOUND_SMTP_PORT may be 0 = random, as in tests). */
const listeners = new WeakMap<AppDeps, InboundSmtp>();

/** The port the inbound SMTP listener of this Postgate is bound to, or null when it is not running. */
export function inboundListenerPort(deps: AppDeps): number | null {
  return listeners.get(deps)?.port ?? null;
}

export function bounceSettings(config: AppDeps['config']): BounceSettings {
  return {
    rawRetentionDays: config.BOUNCE_RAW_RETENTION_DAYS, softLimit: config.SOFT_BOUNCE_LIMIT, softWindowDays: config.SOFT_BOUNCE_WINDOW_DAYS,
    complaintPauseRate: config.COMPLAINT_PAUSE_RATE, hardPauseRate: config.HARD_BOUNCE_PAUSE_RATE, pauseMinSent: config.PAUSE_MIN_SENT,
  };
}

export function bouncesModule(deps: AppDeps): Module {
  const counter = new Counter({ name: 'postgate_bounces_total', help: 'Bounces, complaints and auto-replies recorded, by kind and source',
    labelNames: ['kind', 'source'] as const, registers: [deps.metrics.registry] });
  // Inbound classification runs in worker threads with a time budget; the pool starts with the first
  // report (a process that never receives one never pays for its threads).
  let pool: ClassifyPool | null = null;
  const classifyPool = (): ClassifyPool => (pool ??= createClassifyPool({
    threads: deps.config.INBOUND_CLASSIFY_THREADS, budgetMs: deps.config.INBOUND_CLASSIFY_BUDGET_MS, log: deps.log,
  }));
  const bdeps: BounceDeps = {
    db: deps.db, tokens: deps.tokens, log: deps.log, settings: bounceSettings(deps.config),
    onRecorded: (kind, source) => counter.inc({ kind, source }),
    classify: (raw) => classifyPool().classify(raw),
    withheldReason: (raw) => classifyPool().withheldReason(raw),
  };
  return {
    name: 'bounces',
    async onPermanentFailure(tenantId, messageId, outcome) {
      try {
        await processSendFailure(bdeps, tenantId, messageId, outcome);
      } catch (err) {
        deps.log.error({ err: (err as Error).message, messageId }, 'bounce handling of a send-time rejection failed');
      }
    },
    routes(api) {
      bounceRoutes(api, bdeps, deps.config.INBOUND_MAX_BYTES);
    },
    async start() {
      if (!deps.roles.inbound) return;
      const { INBOUND_TLS_CERT: cert, INBOUND_TLS_KEY: key } = deps.config;
      listeners.set(deps, await startInboundSmtp({
        port: deps.config.INBOUND_SMTP_PORT, host: deps.config.HOST,
        tls: cert && key ? { cert: await readFile(cert), key: await readFile(key) } : undefined, maxBytes: deps.config.INBOUND_MAX_BYTES, tokens: deps.tokens, log: deps.log,
        maxClients: deps.config.INBOUND_MAX_CLIENTS, maxClientsPerIp: deps.config.INBOUND_MAX_CLIENTS_PER_IP,
        idleTimeoutMs: deps.config.INBOUND_IDLE_TIMEOUT_SECONDS * 1000,
        takeQuota: (key) => deps.db.withSystem((c) => takeInboundQuota(c, key, deps.config.INBOUND_REPORTS_PER_TOKEN_HOUR)),
        handle: async (raw, recipients) => { await processInbound(bdeps, { raw, source: 'smtp', recipients, tenantScope: null }); },
      }));
    },
    async stop() {
      const l = listeners.get(deps);
      listeners.delete(deps);
      await l?.close();
      const p = pool;
      pool = null;
      await p?.close();
    },
  };
}

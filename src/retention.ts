// Retention in small batches (issue 18): the maintenance sweep removes expired bodies, raw bounce
// reports, Idempotency-Key rows, feed events and finished webhook deliveries RETENTION_BATCH_ROWS rows
// per statement, each statement in a transaction of its own, round-robin over the kinds, until every
// kind is done or RETENTION_BUDGET_SECONDS are spent (the next sweep, 15 minutes later, goes on). No
// transaction lives longer than one batch, so no row lock or snapshot is held for long, and a backlog
// of millions of rows never blocks the campaign that is sending meanwhile. The SQL of each table stays
// in its owner's file (the purge functions of migration 079, called through them); this file only
// schedules batches. Multi-process safe: the functions take rows FOR UPDATE SKIP LOCKED.
import { performance } from 'node:perf_hooks';
import type { Config } from './config.js';
import type { Db, Queryable } from './platform/db.js';
import { purgeExpiredBodies } from './mail/ledger.js';
import { purgeExpiredRawBounces } from './bounces/store.js';
import { purgeExpiredIdempotencyKeys } from './platform/idempotency.js';
import { purgeExpiredEvents } from './events/feed.js';
import { purgeFinishedDeliveries } from './webhooks/store.js';
import { purgeEndedSessions, purgeLoginThrottle } from './staff/sessions.js';

/** One kind of expired row: `purge` removes at most `limit` of them in the transaction `c` and says how many. */
export interface RetentionStep { name: string; purge(c: Queryable, limit: number): Promise<number> }

export interface RetentionOptions {
  /** Rows per statement (RETENTION_BATCH_ROWS). */
  batchRows: number;
  /** Wall-clock budget of one sweep in milliseconds (RETENTION_BUDGET_SECONDS × 1000); checked between batches. */
  budgetMs: number;
}

export interface RetentionReport {
  /** Rows removed (or, for raw bounces, emptied) per step name. */
  rows: Record<string, number>;
  /** Batches (transactions) run. */
  batches: number;
  /** The longest single batch transaction, milliseconds (BEGIN to COMMIT as the client saw it). */
  longestBatchMs: number;
  elapsedMs: number;
  /** True when every step ran out of expired rows; false when the budget ended the sweep first. */
  done: boolean;
}

/** The sweep's steps for this configuration, in the order their first batches run. */
export function retentionSteps(config: Pick<Config, 'EVENTS_RETENTION_DAYS'>): RetentionStep[] {
  const days = config.EVENTS_RETENTION_DAYS;
  return [
    { name: 'bodies', purge: purgeExpiredBodies },
    { name: 'events', purge: (c, limit) => purgeExpiredEvents(c, days, limit) },
    { name: 'webhookDeliveries', purge: (c, limit) => purgeFinishedDeliveries(c, days, limit) },
    { name: 'rawBounces', purge: purgeExpiredRawBounces },
    { name: 'idempotencyKeys', purge: purgeExpiredIdempotencyKeys },
    { name: 'staffSessions', purge: purgeEndedSessions },
    { name: 'loginThrottle', purge: purgeLoginThrottle },
  ];
}

/**
 * Runs `steps` in batches of `batchRows`, each batch in its own system transaction (no tenant: the
 * definer functions see every tenant), one batch per unfinished step in turn, until each step has
 * returned fewer than `batchRows` or `budgetMs` has passed. A failing batch rolls back alone and
 * rejects the sweep (rows of earlier batches stay removed). Between batches the event loop is yielded.
 */
export async function runRetention(db: Db, steps: readonly RetentionStep[], opts: RetentionOptions): Promise<RetentionReport> {
  const report: RetentionReport = { rows: Object.fromEntries(steps.map((s) => [s.name, 0])), batches: 0, longestBatchMs: 0, elapsedMs: 0, done: false };
  const start = performance.now();
  let pending = [...steps];
  while (pending.length > 0 && performance.now() - start < opts.budgetMs) {
    const next: RetentionStep[] = [];
    for (const step of pending) {
      const n = await timedBatch(db, step, opts.batchRows, report);
      if (n >= opts.batchRows) next.push(step);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (performance.now() - start >= opts.budgetMs) { next.push(...pending.slice(pending.indexOf(step) + 1)); break; }
    }
    pending = next;
  }
  report.done = pending.length === 0;
  report.elapsedMs = Math.round(performance.now() - start);
  return report;
}

async function timedBatch(db: Db, step: RetentionStep, limit: number, report: RetentionReport): Promise<number> {
  const t0 = performance.now();
  const n = await db.withSystem((c) => step.purge(c, limit));
  const ms = performance.now() - t0;
  report.batches++;
  report.rows[step.name] += n;
  report.longestBatchMs = Math.max(report.longestBatchMs, Math.round(ms * 10) / 10);
  return n;
}

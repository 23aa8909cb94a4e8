// Housekeeping on a pg-boss cron (every 15 minutes): the retention sweep (src/retention.ts) deletes
// expired message bodies, raw bounce reports and Idempotency-Key rows, and feed events and finished
// webhook deliveries older than EVENTS_RETENTION_DAYS, in batches of RETENTION_BATCH_ROWS (one short
// transaction each) within RETENTION_BUDGET_SECONDS. It does not reclaim send leases: a row left 'sending' by a dead
// worker is reclaimed by the next claim once its lease has run out (see the ledger's claims).
import type { AppDeps, Module } from './deps.js';
import { QUEUES } from './platform/queue.js';
import { retentionSteps, runRetention } from './retention.js';

export function maintenanceModule(deps: AppDeps): Module {
  return {
    name: 'maintenance',
    async workers() {
      await deps.boss.work(QUEUES.maintenance, async () => {
        const report = await runRetention(deps.db, retentionSteps(deps.config),
          { batchRows: deps.config.RETENTION_BATCH_ROWS, budgetMs: deps.config.RETENTION_BUDGET_SECONDS * 1000 });
        if (Object.values(report.rows).some((n) => n > 0) || !report.done) deps.log.info({ retention: report }, 'retention sweep');
      });
      await deps.boss.schedule(QUEUES.maintenance, '*/15 * * * *');
    },
  };
}

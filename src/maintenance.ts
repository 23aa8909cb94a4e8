// Housekeeping on a pg-boss cron (every 15 minutes): purge_expired() deletes expired message bodies
// and expired raw bounce reports; feed events and finished webhook deliveries older than
// EVENTS_RETENTION_DAYS go too. It does not reclaim send leases: a row left 'sending' by a dead
// worker is reclaimed by the next claim once its lease has run out (see the ledger's claims).
import type { AppDeps, Module } from './deps.js';
import { QUEUES } from './platform/queue.js';
import { purgeExpiredEvents } from './events/feed.js';
import { purgeFinishedDeliveries } from './webhooks/store.js';

export function maintenanceModule(deps: AppDeps): Module {
  return {
    name: 'maintenance',
    async workers() {
      await deps.boss.work(QUEUES.maintenance, async () => {
        await deps.db.withSystem(async (c) => {
          await c.query('SELECT purge_expired()');
          await purgeExpiredEvents(c, deps.config.EVENTS_RETENTION_DAYS);
          await purgeFinishedDeliveries(c, deps.config.EVENTS_RETENTION_DAYS);
        });
      });
      await deps.boss.schedule(QUEUES.maintenance, '*/15 * * * *');
    },
  };
}

// Housekeeping on a pg-boss cron: expired message bodies, stale send leases.
import type { AppDeps, Module } from './deps.js';
import { QUEUES } from './platform/queue.js';

export function maintenanceModule(deps: AppDeps): Module {
  return {
    name: 'maintenance',
    async workers() {
      await deps.boss.work(QUEUES.maintenance, async () => {
        await deps.db.withSystem(async (c) => {
          await c.query('SELECT purge_expired()');
        });
      });
      await deps.boss.schedule(QUEUES.maintenance, '*/15 * * * *');
    },
  };
}

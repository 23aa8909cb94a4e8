// pg-boss on the same database. Every queue Postgate uses is declared here and created at boot.
import PgBoss from 'pg-boss';
import type { Logger } from './log.js';

export const QUEUES = {
  /** {tenantId, campaignId}: materialise the audience as ledger rows, then fan out drain jobs. */
  campaignStart: 'campaign-start',
  /** {tenantId, campaignId}: claim and send batches of a campaign until none is due. */
  campaignDrain: 'campaign-drain',
  /** cron: expire bodies and raw bounces, reclaim stale leases. */
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export type Boss = PgBoss;
export type Job<T> = PgBoss.Job<T>;

export async function startQueue(url: string, log: Logger, opts: { supervise: boolean; schedule: boolean }): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schema: 'pgboss', max: 4, supervise: opts.supervise, schedule: opts.schedule, migrate: true });
  boss.on('error', (err: Error) => log.warn({ err: err.message }, 'queue error'));
  await boss.start();
  for (const name of Object.values(QUEUES)) {
    await boss.createQueue(name, { name, retryLimit: 5, retryDelay: 5, retryBackoff: true, expireInSeconds: 15 * 60 });
  }
  return boss;
}

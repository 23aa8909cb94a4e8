// pg-boss on the same database. Every queue Postgate uses is declared here and created at boot.
import { createRequire } from 'node:module';
import PgBoss from 'pg-boss';
import type { Logger } from './log.js';

export const QUEUES = {
  /** {tenantId, campaignId}: materialise the audience as ledger rows, then fan out drain jobs. */
  campaignStart: 'campaign-start',
  /** {tenantId, campaignId}: claim and send batches of a campaign until none is due. */
  campaignDrain: 'campaign-drain',
  /** cron: expire message bodies and raw bounce reports (leases are reclaimed by the claims, not here). */
  maintenance: 'maintenance',
} as const;

export type Boss = PgBoss;
export type Job<T> = PgBoss.Job<T>;

type Settle = (this: unknown, ...args: unknown[]) => Promise<unknown>;
let settleGuarded = false;

/**
 * pg-boss 10 neither awaits nor catches complete()/fail() after a work handler returns (src/manager.js,
 * onFetch): if the database is unreachable at that moment (a restart), the rejection is unhandled and
 * Node ends the process. Later majors await them. Until Postgate moves to one, a failure to settle a
 * job is logged here; the job stays active until its expiry and is retried then (and campaigns are
 * recovered by their own sweep sooner).
 */
function guardJobSettlement(log: Logger): void {
  if (settleGuarded) return;
  settleGuarded = true;
  const Manager = createRequire(import.meta.url)('pg-boss/src/manager.js') as { prototype: Record<'complete' | 'fail', Settle> };
  for (const name of ['complete', 'fail'] as const) {
    const original = Manager.prototype[name];
    Manager.prototype[name] = function (this: unknown, ...args: unknown[]) {
      const settled = original.apply(this, args);
      settled.catch((err: Error) => log.warn({ err: err.message, settle: name }, 'queue job could not be settled; it will expire and be retried'));
      return settled;
    };
  }
}

/**
 * pg-boss 10's create_queue() is not serialised: two processes starting at once on a fresh database
 * (web and worker) can deadlock on its ALTER TABLEs (40P01) and one of them dies at boot. The queue
 * is created once; an existing queue is left alone, and a deadlock victim simply tries again.
 */
async function createQueueOnce(boss: PgBoss, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (await boss.getQueue(name)) return;
      await boss.createQueue(name, { name, retryLimit: 5, retryDelay: 5, retryBackoff: true, expireInSeconds: 15 * 60 });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 100));
    }
  }
}

export async function startQueue(url: string, log: Logger, opts: { supervise: boolean; schedule: boolean }): Promise<PgBoss> {
  guardJobSettlement(log);
  const boss = new PgBoss({ connectionString: url, schema: 'pgboss', max: 4, supervise: opts.supervise, schedule: opts.schedule, migrate: true });
  boss.on('error', (err: Error) => log.warn({ err: err.message }, 'queue error'));
  await boss.start();
  for (const name of Object.values(QUEUES)) await createQueueOnce(boss, name);
  return boss;
}

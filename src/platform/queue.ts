// pg-boss on the same database. Every queue Postgate uses is declared here and created at boot.
import { createRequire } from 'node:module';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { createLogger, type Logger } from './log.js';

export const QUEUES = {
  /** {tenantId, campaignId}: materialise the audience as ledger rows, then fan out drain jobs. */
  campaignStart: 'campaign-start',
  /** {tenantId, campaignId}: claim and send batches of a campaign until none is due. */
  campaignDrain: 'campaign-drain',
  /** cron: expire message bodies and raw bounce reports (leases are reclaimed by the claims, not here). */
  maintenance: 'maintenance',
  /** {tenantId, importId}: run an uploaded CSV import (src/audience/import-job.ts), resuming after its last committed batch. */
  importRun: 'import-run',
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

/**
 * Starts pg-boss on `url` and makes sure every queue of QUEUES exists. `migrate` (default true)
 * lets pg-boss create or migrate its schema, which needs the owner; the runtime login starts it with
 * migrate false (pg-boss then only checks the schema version) after installQueue ran as the owner.
 */
export async function startQueue(url: string, log: Logger, opts: { supervise: boolean; schedule: boolean; migrate?: boolean }): Promise<PgBoss> {
  guardJobSettlement(log);
  const boss = new PgBoss({ connectionString: url, schema: 'pgboss', max: 4, supervise: opts.supervise, schedule: opts.schedule, migrate: opts.migrate ?? true });
  boss.on('error', (err: Error) => log.warn({ err: err.message }, 'queue error'));
  await boss.start();
  for (const name of Object.values(QUEUES)) await createQueueOnce(boss, name);
  return boss;
}

/**
 * As the owner, at prepare time (src/platform/roles.ts prepareDatabase): creates or migrates
 * pg-boss's schema, creates every queue, and lets postgate_app (so the runtime login) use it:
 * rows of every pgboss table (send, fetch, complete, schedule, maintenance), and create_queue()
 * as SECURITY DEFINER, so a queue made at run time gets a partition owned by the owner, never by
 * the runtime login. Idempotent; pg-boss upgrades are covered by the grants being re-applied.
 */
export async function installQueue(ownerUrl: string, log?: Logger): Promise<void> {
  const boss = await startQueue(ownerUrl, log ?? createLogger('silent', false), { supervise: false, schedule: false, migrate: true });
  await boss.stop({ graceful: false, wait: true, timeout: 1000 });
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`
      GRANT USAGE ON SCHEMA pgboss TO postgate_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgboss TO postgate_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA pgboss GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO postgate_app;
      ALTER FUNCTION pgboss.create_queue(text, json) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
      REVOKE ALL ON FUNCTION pgboss.create_queue(text, json), pgboss.delete_queue(text) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION pgboss.create_queue(text, json) TO postgate_app;`);
  } finally {
    await client.end();
  }
}

/**
 * The job handlers a process is running: each is logged when it fails (`what`: e.g. 'import job
 * failed; pg-boss will retry it') and awaited by settled() when the process stops.
 */
export class InFlightJobs {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly log: Logger, private readonly what: string) {}

  /** Tracks a handler's promise and returns it (pg-boss sees its outcome). */
  track<T>(p: Promise<T>): Promise<T> {
    p.catch((err: Error) => this.log.error({ err: err.message }, this.what));
    this.running.add(p);
    void p.finally(() => this.running.delete(p)).catch(() => undefined);
    return p;
  }

  /** Resolves once every tracked handler has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}

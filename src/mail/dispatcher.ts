// Wakes on NOTIFY postgate_send (sent by enqueueMessage at commit) and on a 1 s tick, claims due
// rows of send_queue with SKIP LOCKED under a lease (up to MAX_BATCH in one statement), and hands each
// tenant's claimed rows to the Sender as one batch (processMany: one transaction to prepare them, one
// to record them). No state is shared between processes: any number of dispatchers may run against one database.
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { NotificationListener } from '../platform/listen.js';
import { stage } from '../platform/stages.js';
import type { Sender } from './sender.js';

/**
 * Most messages claimed (and sent as one batch per tenant) at a time: bounded so that, with a high
 * SEND_CONCURRENCY, one batch is being prepared while others are at SMTP or being recorded.
 */
export const MAX_BATCH = 16;

export interface DispatcherOptions { url: string; concurrency: number; leaseSeconds: number; tickMs?: number }

export class Dispatcher {
  private inflight = 0;
  private pumping = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private listener: NotificationListener | null = null;
  private readonly idle = new Set<() => void>();

  constructor(private readonly db: Db, private readonly sender: Sender, private readonly log: Logger, private readonly opts: DispatcherOptions) {}

  async start(): Promise<void> {
    this.listener = new NotificationListener({ url: this.opts.url, channel: 'postgate_send', onWake: () => this.wake(), log: this.log, name: 'dispatcher' });
    await this.listener.start();
    this.timer = setInterval(() => this.wake(), this.opts.tickMs ?? 1000);
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.pumping) { this.again = true; return; }
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        const room = this.opts.concurrency - this.inflight;
        // While sends are in flight, claim in batches (a quarter of the slots at least): one round trip
        // per batch instead of one per finished send. Idle, the first due message is claimed at once.
        if (room <= 0 || (this.inflight > 0 && room < Math.ceil(this.opts.concurrency / 4))) break;
        const limit = Math.min(room, MAX_BATCH);
        const claimed = await this.claim(limit);
        for (const [tenantId, ids] of byTenant(claimed)) this.run(tenantId, ids);
        if (claimed.length === limit) this.again = true;
      } while (this.again && !this.stopped);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dispatch claim failed');
    } finally {
      this.pumping = false;
    }
  }

  private claim(limit: number): Promise<{ message_id: string; tenant_id: string }[]> {
    // One statement, one round trip (no BEGIN/COMMIT): up to `limit` due rows per claim.
    return stage('claim', async () => (await this.db.systemQuery<{ message_id: string; tenant_id: string }>(
      `UPDATE send_queue SET lease_until = now() + $2 * interval '1 second'
       WHERE message_id IN (SELECT message_id FROM send_queue WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                            ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING message_id, tenant_id`, [limit, this.opts.leaseSeconds])).rows);
  }

  /** One tenant's claimed messages, sent as one batch (mail/sender.ts processMany); their slots are held until it is recorded. */
  private run(tenantId: string, messageIds: string[]): void {
    this.inflight += messageIds.length;
    this.sender.processMany(tenantId, messageIds)
      .catch((err: Error) => this.log.error({ err: err.message, messageIds }, 'send failed unexpectedly; lease will expire and retry'))
      .finally(() => {
        this.inflight -= messageIds.length;
        if (this.inflight === 0) for (const done of this.idle) done();
        this.wake();
      });
  }

  /** Stops claiming and waits for in-flight sends to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.inflight > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    await this.listener?.stop();
  }
}

/** Claimed rows grouped by tenant, in claim order (due first). */
function byTenant(rows: readonly { message_id: string; tenant_id: string }[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    const ids = groups.get(r.tenant_id);
    if (ids) ids.push(r.message_id); else groups.set(r.tenant_id, [r.message_id]);
  }
  return groups;
}

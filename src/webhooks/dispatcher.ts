// The webhook worker: wakes on NOTIFY postgate_events (at the commit of any feed event) and every
// WEBHOOK_POLL_MS (the feed's horizon can hide a just-committed event for a moment), finds the tenants
// with work through the definer function webhook_tenants_with_work(), and per tenant fans new events
// out into deliveries (one transaction per endpoint) and claims due deliveries under a lease. Each POST
// runs outside any transaction; its outcome is written fenced by the attempt number. Nothing is shared
// between processes but PostgreSQL: any number of workers may run it; only a crash (lease expiry)
// sends a delivery twice, with the same webhook-id.
import { NotificationListener } from '../platform/listen.js';
import type { Db, PoolClient } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { appendEvent } from '../events/feed.js';
import { isDelivered, retryDelayMs } from './schedule.js';
import { payloadOf, webhookId, type WebhookClient } from './send.js';
import { claimDeliveries, disableEndpoint, dropDelivery, enabledEndpointIds, fanOutStep, recordAttempts, tenantsWithWork, type ClaimedDelivery, type Outcome } from './store.js';

interface PendingOutcome { tenantId: string; outcome: Outcome; resolve(): void; reject(err: Error): void }

export interface WebhookDispatcherOptions {
  pollMs: number; concurrency: number; timeoutMs: number; schedule: readonly number[];
  /** Deliveries in flight per endpoint, all worker processes together (WEBHOOK_ENDPOINT_CONCURRENCY; default 4). */
  endpointConcurrency?: number;
}

/** Events read per fan-out transaction. */
const FAN_OUT_BATCH = 2000;
/** Fan-out transactions per endpoint per wake (more waits for the next wake). */
const FAN_OUT_ROUNDS = 10;
/** Tenants worked per wake. */
const TENANTS_PER_WAKE = 200;
/** How long stop() waits for POSTs in flight before aborting them, in ms. */
const STOP_WAIT_MS = 1500;

export class WebhookDispatcher {
  private inflight = 0;
  private pumping = false;
  private again = false;
  private full = false;
  private stopped = false;
  /** Tenants whose last claim took all the room: claimed again as soon as a quarter of it is free. */
  private readonly hot = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private listener: NotificationListener | null = null;
  private readonly sends = new Set<Promise<void>>();
  private readonly outcomes: PendingOutcome[] = [];
  private flushing = false;

  constructor(private readonly db: Db, private readonly client: WebhookClient, private readonly log: Logger, private readonly opts: WebhookDispatcherOptions) {}

  /** A claim's lease: a POST's timeout twice over and 5 s, in ms; a row still 'sending' after it is reclaimed. */
  get leaseMs(): number { return this.opts.timeoutMs * 2 + 5000; }

  async start(): Promise<void> {
    this.listener = new NotificationListener({ url: this.db.directUrl, channel: 'postgate_events', onWake: () => this.wake(), log: this.log, name: 'webhook' });
    await this.listener.start();
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.wake();
  }

  /** Stops taking work, waits STOP_WAIT_MS for POSTs in flight, aborts the rest (retried later) and waits for their outcomes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.listener?.stop();
    const all = Promise.allSettled([...this.sends]);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => { t = setTimeout(r, STOP_WAIT_MS); })]);
    clearTimeout(t);
    this.client.abort();
    await all;
    this.client.close();
  }

  /** Runs a full pass now (or right after the one running): discovery, fan-out, claims. */
  wake(): void {
    this.full = true;
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.pumping) { this.again = true; return; }
    void this.pump();
  }

  /**
   * A full pass asks PostgreSQL which tenants have work, fans out and claims; a pass started because
   * POSTs finished only claims again for the tenants whose last claim filled the room (`hot`), so a
   * busy worker does not rediscover and re-fan-out after every delivery.
   */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        const full = this.full;
        this.full = false;
        // One statement on a pooled connection outside any transaction (no tenant): one round trip per wake, not three.
        const tenants = full ? await tenantsWithWork(this.db.pool, TENANTS_PER_WAKE) : [...this.hot];
        if (full) for (const t of tenants) { if (!this.stopped) await this.fanOut(t); }
        await this.claimRound(tenants);
      } while (this.again && !this.stopped);
    } catch (err) {
      if (!this.stopped) this.log.warn({ err: (err as Error).message }, 'webhook pass failed');
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Shares the free slots across the tenants: each claim takes at most an equal share of what is left
   * (at least one), in turn; a tenant that took its whole share stays `hot` and is claimed again when
   * slots free up. With the per-endpoint cap, one slow receiver never takes every slot.
   */
  private async claimRound(tenants: readonly string[]): Promise<void> {
    for (let i = 0; i < tenants.length && !this.stopped; i++) {
      const t = tenants[i];
      const room = this.opts.concurrency - this.inflight;
      if (room <= 0) { this.hot.add(t); continue; }
      const share = Math.max(1, Math.ceil(room / (tenants.length - i)));
      if (await this.claim(t, share)) this.hot.add(t); else this.hot.delete(t);
    }
  }

  /** Fans the tenant's new events out to each enabled endpoint, one transaction per endpoint and batch. */
  private async fanOut(tenantId: string): Promise<void> {
    const endpoints = await this.db.withTenant(tenantId, (c) => enabledEndpointIds(c));
    for (const id of endpoints) {
      for (let round = 0; round < FAN_OUT_ROUNDS && !this.stopped; round++) {
        const r = await this.db.withTenant(tenantId, (c) => fanOutStep(c, tenantId, id, FAN_OUT_BATCH));
        if (!r || r.scanned < FAN_OUT_BATCH) break;
      }
    }
  }

  /** Claims up to `share` due deliveries of the tenant (within the free slots) and starts their POSTs. True when the share was filled (more may be due). */
  private async claim(tenantId: string, share: number): Promise<boolean> {
    const room = Math.min(share, this.opts.concurrency - this.inflight);
    if (room <= 0) return false;
    const claimed = await this.db.withTenant(tenantId, async (c) => {
      const rows = await claimDeliveries(c, tenantId, room, this.leaseMs, this.opts.endpointConcurrency ?? 4);
      for (const d of rows) if (!d.event) await dropDelivery(c, d.id, d.attempt);
      return rows.filter((d) => d.event);
    });
    for (const d of claimed) this.track(tenantId, d);
    return claimed.length === room;
  }

  /**
   * Runs one delivery. Its slot (WEBHOOK_CONCURRENCY) is freed once the POST is answered, not once the
   * outcome is written: outcomes are written in batches meanwhile, and stop() waits for them all.
   */
  private track(tenantId: string, d: ClaimedDelivery): void {
    this.inflight += 1;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      this.inflight -= 1;
      if (this.hot.size > 0 && this.opts.concurrency - this.inflight >= Math.max(1, this.opts.concurrency / 4)) this.kick();
    };
    const tracked = this.deliver(tenantId, d, free)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'webhook delivery failed to record'))
      .finally(() => { free(); this.sends.delete(tracked); });
    this.sends.add(tracked);
  }

  /** POSTs one claimed delivery, calls `posted`, and records the attempt (batched with the other outcomes ready by then). */
  private async deliver(tenantId: string, d: ClaimedDelivery, posted: () => void): Promise<void> {
    const e = d.event as NonNullable<ClaimedDelivery['event']>;
    const attempt = await this.client.post(d.url, d.secret, webhookId(d.eventId), payloadOf({ id: d.eventId, ...e }), d.previousSecret);
    posted();
    const delivered = isDelivered(attempt.statusCode);
    const wait = delivered ? null : retryDelayMs(this.opts.schedule, d.attempt, Math.random());
    const outcome: Outcome = { delivery: d, attempt, delivered, retryAt: wait === null ? null : new Date(Date.now() + wait) };
    await new Promise<void>((resolve, reject) => {
      this.outcomes.push({ tenantId, outcome, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Writes the outcomes waiting, one transaction per tenant; outcomes arriving meanwhile wait for the next round. */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.outcomes.length > 0) {
        const batch = this.outcomes.splice(0, 500);
        const byTenant = new Map<string, PendingOutcome[]>();
        for (const p of batch) byTenant.set(p.tenantId, [...(byTenant.get(p.tenantId) ?? []), p]);
        for (const [tenantId, items] of byTenant) {
          try {
            await this.db.withTenant(tenantId, (c) => this.write(c, tenantId, items.map((i) => i.outcome)));
            for (const i of items) i.resolve();
          } catch (err) {
            for (const i of items) i.reject(err as Error);
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Records outcomes; an endpoint whose delivery failed for good with no success since is disabled, with the webhook.disabled notice. */
  private async write(c: PoolClient, tenantId: string, outcomes: Outcome[]): Promise<void> {
    const hopeless = await recordAttempts(c, tenantId, outcomes);
    for (const o of hopeless) {
      const d = o.delivery;
      const reason = `delivery of event ${d.eventId} failed after ${d.attempt} attempts (last: ${o.attempt.error ?? o.attempt.statusCode}) with no success since its first attempt`;
      const url = await disableEndpoint(c, d.endpointId, reason);
      if (url === null) continue;
      await appendEvent(c, tenantId, { type: 'webhook.disabled', data: { endpointId: d.endpointId, url, reason } });
      this.log.warn({ tenantId, endpointId: d.endpointId, url }, 'webhook endpoint disabled after persistent failure');
    }
  }
}

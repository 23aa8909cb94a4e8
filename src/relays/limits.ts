// The limits a relay mailer enforces while a message waits to go out: a relay's rate in messages
// per second (shared by every process through PostgreSQL, reserved in slices so a message rarely
// costs a round trip), and slots per key in this process (messages in flight per destination domain,
// and per relay no more than its connections, so a granted send is on the wire at once instead of
// waiting in nodemailer's queue past the second it was granted in).
import type { RelayGrant } from './store.js';

/** Tokens are not spent in the last milliseconds of their second: the message would reach the relay in the next one. */
const HANDOVER_MARGIN_MS = 20;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reserves `wanted` sends in the current second of the relay (relays/store.ts reserveRelaySends bound to a pool). */
export type ReserveFn = (wanted: number) => Promise<RelayGrant>;

/**
 * A relay's sends per second across every process. Tokens are reserved from the current
 * PostgreSQL second in slices of a quarter of the rate (so several processes share a second), kept
 * in this process and spent one per message until that second ends (by this process's clock, from
 * the milliseconds the database said were left: never later than the window). A token left when its
 * second is over is dropped, never carried into the next second. One reservation at a time per relay:
 * concurrent senders wait for it. When the second is used up, they wait for the next one.
 */
export class RelayRate {
  private tokens = 0;
  private validUntil = 0;
  private pending: Promise<void> | null = null;

  constructor(private readonly limit: number, private readonly reserve: ReserveFn) {}

  /** Resolves when one send may go to the relay now. Rejects only when the reservation itself failed (the database). */
  async take(): Promise<void> {
    for (;;) {
      if (this.tokens > 0 && Date.now() < this.validUntil) { this.tokens--; return; }
      this.pending ??= this.refill().finally(() => { this.pending = null; });
      await this.pending;
    }
  }

  private async refill(): Promise<void> {
    const t0 = Date.now();
    const g = await this.reserve(Math.max(1, Math.ceil(this.limit / 4)));
    if (g.granted > 0) {
      this.tokens = g.granted;
      // Measured from before the round trip, less a margin for the hand-over: never past the database's second.
      this.validUntil = t0 + g.windowLeftMs - HANDOVER_MARGIN_MS;
    } else {
      this.tokens = 0;
      await sleep(g.windowLeftMs + Math.floor(Math.random() * 10));
    }
  }
}

/**
 * Slots per key in this process (a destination domain, a relay): `limitFor(key)` at once, the rest
 * wait in order. Per process (the total is the limit times the worker processes).
 */
export class Slots {
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly limitFor: (key: string) => number) {}

  /** Resolves when a slot for the key is free (and taken). */
  async acquire(key: string): Promise<void> {
    let s = this.slots.get(key);
    if (!s) { s = { active: 0, waiting: [] }; this.slots.set(key, s); }
    if (s.active < this.limitFor(key)) { s.active++; return; }
    await new Promise<void>((resolve) => s.waiting.push(resolve));
  }

  /** Gives the slot to the next waiter, or frees it. */
  release(key: string): void {
    const s = this.slots.get(key);
    if (!s) return;
    const next = s.waiting.shift();
    if (next) { next(); return; }
    s.active--;
    if (s.active <= 0) this.slots.delete(key);
  }

  /** Messages in flight to the key now (tests). */
  active(key: string): number {
    return this.slots.get(key)?.active ?? 0;
  }
}

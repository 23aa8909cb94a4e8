// Riding out a database outage (a restart, a failover, a pool that cannot connect): connection-class
// errors (and deadlock or serialization conflicts) are retried with backoff, anything else is thrown at once. Campaign drains use it so a
// restart of PostgreSQL pauses sending instead of failing jobs, and outcomes of mail already handed
// to SMTP are still written once the database is back (else they would be sent again).
import type { Logger } from '../platform/log.js';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const CONNECTION_MESSAGES = /connection terminated|terminating connection|connection (?:is )?closed|connection ended|timeout exceeded when trying to connect|client has encountered a connection error|cannot use a pool after calling end|the database system is (?:starting up|shutting down)/i;

/** deadlock_detected, serialization_failure, lock_not_available: the same statement may succeed again. */
const RETRYABLE_CODES = new Set(['40P01', '40001', '55P03']);

/** True for errors that say the database cannot be reached right now, not that the query is wrong. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  return typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message);
}

/** Connection errors, and conflicts between transactions that a retry resolves. */
export function isTransientError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isConnectionError(err) || (typeof code === 'string' && RETRYABLE_CODES.has(code));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RetryOptions { log: Logger; what: string; patienceMs: number; giveUp?: () => boolean; maxDelayMs?: number; onRetry?: () => void }

/** Runs fn, retrying transient errors with backoff (0.25 s doubling to 4 s, or maxDelayMs) for up to patienceMs. */
export async function retryThroughOutage<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const until = Date.now() + o.patienceMs;
  let delay = 250;
  let warned = false;
  for (;;) {
    try {
      const out = await fn();
      if (warned) o.log.info({ what: o.what }, 'database operation succeeded after retrying');
      return out;
    } catch (err) {
      if (!isTransientError(err) || Date.now() + delay > until || o.giveUp?.()) throw err;
      if (!warned) o.log.warn({ what: o.what, err: (err as Error).message }, 'database unreachable or busy; retrying');
      warned = true;
      o.onRetry?.();
      await sleep(delay);
      delay = Math.min(delay * 2, o.maxDelayMs ?? 4000);
    }
  }
}

// Riding out a database outage (a restart, a failover, a pool that cannot connect): connection-class
// errors are waited out with backoff, anything else is thrown at once. Campaign drains use it so a
// restart of PostgreSQL pauses sending instead of failing jobs, and outcomes of mail already handed
// to SMTP are still written once the database is back (else they would be sent again).
import type { Logger } from '../platform/log.js';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const CONNECTION_MESSAGES = /connection terminated|terminating connection|connection (?:is )?closed|connection ended|timeout exceeded when trying to connect|client has encountered a connection error|cannot use a pool after calling end|the database system is (?:starting up|shutting down)/i;

/** True for errors that say the database cannot be reached right now, not that the query is wrong. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  return typeof e.message === 'string' && CONNECTION_MESSAGES.test(e.message);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RetryOptions { log: Logger; what: string; patienceMs: number; giveUp?: () => boolean }

/** Runs fn, retrying connection errors with backoff (0.25 s doubling to 4 s) for up to patienceMs. */
export async function retryThroughOutage<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const until = Date.now() + o.patienceMs;
  let delay = 250;
  let warned = false;
  for (;;) {
    try {
      const out = await fn();
      if (warned) o.log.info({ what: o.what }, 'database reachable again');
      return out;
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + delay > until || o.giveUp?.()) throw err;
      if (!warned) o.log.warn({ what: o.what, err: (err as Error).message }, 'database unreachable; waiting for it');
      warned = true;
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  }
}

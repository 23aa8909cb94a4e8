// Classification off the event loop (issue 12): a small piscina pool of worker threads runs
// classifyMessage (src/bounces/classify-worker.mjs), so hostile mail can never stall the API, the
// dispatcher or lease renewals of the same process. Each message gets a time budget
// (INBOUND_CLASSIFY_BUDGET_MS), counted from the moment a worker starts on it (the worker signals
// 'start' on a per-task MessagePort; time waiting in the queue is not counted): over budget, the task
// is aborted — piscina terminates that worker thread and starts a fresh one — and the message is
// recorded as kind 'unknown', reason 'timeout' (its raw bytes are kept as for any matched report).
// A worker that fails (crash, memory limit) gives kind 'unknown', reason 'unparseable'. The check of
// what keeps a report's raw bytes from being stored (card-check.ts, mailparser: card numbers and
// capability links in every decoded part) runs here too (op 'cards'), with the same budget.
// classifyMessage itself stays pure and callable in-process (tests, CLI).
import { Piscina } from 'piscina';
import type { Logger } from '../platform/log.js';
import { runWithBudget } from '../platform/worker-budget.js';
import type { Classification } from './classify.js';
import type { RawWithheld } from './card-check.js';

export interface ClassifyPoolOptions {
  /** Worker threads (1–2 is plenty: classification of a capped report takes milliseconds). */
  threads: number;
  /** Per-message budget in ms, from the moment a worker starts on it. */
  budgetMs: number;
  log?: Logger;
}

export interface ClassifyPoolStats { completed: number; timeouts: number; failures: number }

export interface ClassifyPool {
  classify(raw: Buffer): Promise<Classification>;
  /**
   * rawWithheldReason (card-check.ts) off the loop; over budget or failing, 'unchecked' (the raw is
   * withheld: what was not read to the end is not kept).
   */
  withheldReason(raw: Buffer): Promise<RawWithheld | 'unchecked' | null>;
  stats(): ClassifyPoolStats;
  close(): Promise<void>;
}

const WORKER = new URL('./classify-worker.mjs', import.meta.url).href;

function unknown(reason: Classification['reason']): Classification {
  return { kind: 'unknown', reason, status: null, recipient: null, diagnostic: null, originalMessageId: null, envelopeTo: [], feedbackType: null, recipients: [] };
}

export function createClassifyPool(o: ClassifyPoolOptions): ClassifyPool {
  const threads = Math.max(1, o.threads);
  const pool = new Piscina({
    filename: WORKER, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, concurrentTasksPerWorker: 1,
    // A worker holds one capped message at a time; this bounds what a pathological one may allocate.
    resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32 },
  });
  pool.on('error', (err: Error) => o.log?.warn({ err: err.message }, 'classify worker error'));
  const stats: ClassifyPoolStats = { completed: 0, timeouts: 0, failures: 0 };
  let closed = false;

  /** Runs one task with the budget; null when it went over the budget, undefined when the worker failed. */
  async function run<T>(op: 'classify' | 'cards', raw: Buffer): Promise<T | null | undefined> {
    if (closed) throw new Error('classify pool is closed');
    const bytes = new Uint8Array(raw.byteLength);
    bytes.set(raw);
    const out = await runWithBudget<T>(pool, { op, raw: bytes }, o.budgetMs, [bytes.buffer]);
    if (out.kind === 'done') { stats.completed++; return out.result; }
    if (out.kind === 'timeout') {
      stats.timeouts++;
      o.log?.warn({ op, budgetMs: o.budgetMs, bytes: raw.length }, 'inbound report over its processing budget');
      return null;
    }
    if (closed) throw out.error;
    stats.failures++;
    o.log?.error({ op, err: out.error.message }, 'inbound report processing failed in its worker');
    return undefined;
  }

  return {
    async classify(raw) {
      const c = await run<Classification>('classify', raw);
      return c ?? unknown(c === null ? 'timeout' : 'unparseable');
    },
    async withheldReason(raw) {
      const r = await run<RawWithheld | 'none'>('cards', raw); // the worker says 'none': null is the pool's "over budget"
      if (r === null || r === undefined) return 'unchecked';
      return r === 'none' ? null : r;
    },
    stats: () => ({ ...stats }),
    async close() {
      if (closed) return;
      closed = true;
      await pool.destroy();
    },
  };
}

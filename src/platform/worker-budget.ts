// One task on a piscina pool under a time budget counted from the moment a worker starts on it (the
// worker posts any message on the task's MessagePort when it begins; time queued is not counted).
// Over budget the task is aborted: piscina terminates that worker thread and starts a fresh one.
// Shared by the pools that run untrusted input off the event loop (bounce classification, templates).
import { MessageChannel, type Transferable } from 'node:worker_threads';
import type { Piscina } from 'piscina';

/** What became of a budgeted task: its result, over budget, or failed in its worker (crash, memory limit, throw). */
export type BudgetedOutcome<T> = { kind: 'done'; result: T } | { kind: 'timeout' } | { kind: 'failed'; error: Error };

/**
 * Runs `task` (given a `port` field, transferred, that the worker signals on when it starts) on
 * `pool`, aborting it `budgetMs` after the start signal. `transfer` lists further transferables.
 * Never throws for the task's own failure; rejects only if the pool itself refuses the task.
 */
export async function runWithBudget<T>(pool: Piscina, task: Record<string, unknown>, budgetMs: number, transfer: Transferable[] = []): Promise<BudgetedOutcome<T>> {
  const abort = new AbortController();
  const { port1, port2 } = new MessageChannel();
  let timer: NodeJS.Timeout | null = null;
  let timedOut = false;
  port1.once('message', () => {
    timer = setTimeout(() => { timedOut = true; abort.abort(); }, budgetMs);
    timer.unref();
  });
  try {
    const result = (await pool.run({ ...task, port: port2 }, { signal: abort.signal, transferList: [port2, ...transfer] })) as T;
    return { kind: 'done', result };
  } catch (err) {
    return timedOut ? { kind: 'timeout' } : { kind: 'failed', error: err as Error };
  } finally {
    if (timer) clearTimeout(timer);
    port1.close();
  }
}

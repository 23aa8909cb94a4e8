// CPU accounting by stage of the send path, for the transactional benchmark (bench/transactional.bench.ts).
// Off by default: then `stage`/`stageSync` only call their function (one null check). Switched on
// with startStageClock(), every switch of stage charges the process CPU (process.cpuUsage, user +
// system, microseconds) used since the previous switch to the stage that was current. That is exact
// only while one message is in flight at a time (the benchmark's sequential phase): with several
// interleaved, a stage would be charged for its neighbours' callbacks. Not shared across processes;
// it measures this process only.

/** The stages of one invoice: HTTP (and validation), its ledger transaction, the dispatcher's claim,
 * the sender's preparation (gate facts, markSendingMany), render, compose, SMTP hand-over (nodemailer build,
 * DKIM and the SMTP dialogue), recording the outcome; `other`: timers, wake-ups, anything in between. */
export const STAGES = ['http', 'ledger', 'claim', 'prepare', 'render', 'compose', 'smtp', 'record', 'other'] as const;
export type Stage = (typeof STAGES)[number];

interface Clock { current: Stage; since: NodeJS.CpuUsage; micros: Record<Stage, number> }
let clock: Clock | null = null;

function zero(): Record<Stage, number> {
  return Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
}

/** Charges the CPU since the last switch to the current stage and makes `next` current; returns the stage it replaced. */
export function enterStage(next: Stage): Stage {
  if (!clock) return next;
  const now = process.cpuUsage();
  clock.micros[clock.current] += now.user - clock.since.user + now.system - clock.since.system;
  const prev = clock.current;
  clock.current = next;
  clock.since = now;
  return prev;
}

/** Runs `fn` as stage `s` (the previous stage is current again once it settles). Costs a null check when the clock is off. */
export async function stage<T>(s: Stage, fn: () => Promise<T>): Promise<T> {
  if (!clock) return fn();
  const prev = enterStage(s);
  try { return await fn(); } finally { enterStage(prev); }
}

/** The synchronous form of `stage`. */
export function stageSync<T>(s: Stage, fn: () => T): T {
  if (!clock) return fn();
  const prev = enterStage(s);
  try { return fn(); } finally { enterStage(prev); }
}

/** Starts (or restarts) the accounting, current stage `other`. */
export function startStageClock(): void {
  clock = { current: 'other', since: process.cpuUsage(), micros: zero() };
}

/** Stops the accounting and returns the CPU microseconds charged to each stage. */
export function stopStageClock(): Record<Stage, number> {
  if (!clock) return zero();
  enterStage('other');
  const out = clock.micros;
  clock = null;
  return out;
}

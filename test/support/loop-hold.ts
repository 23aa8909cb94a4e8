// How long the main thread is held, measured so that a loaded, shared test machine does not count.
// monitorEventLoopDelay (wall clock) also counts the time the OS gave the CPU to other processes; the
// hold is what this process's main thread itself ran between two 5 ms ticks (Linux schedstat: the
// thread's on-CPU nanoseconds). Where schedstat is missing, the hold falls back to the wall-clock delay.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function onCpuNs(): number | null {
  try { return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]); } catch { return null; }
}

export interface LoopFigures {
  /** Worst main-thread hold between two ticks, ms (CPU time of the main thread). */
  holdMaxMs: number;
  /** Worst event-loop delay, ms (monitorEventLoopDelay, wall clock, 10 ms resolution). */
  delayMaxMs: number;
  /** 99th percentile of the event-loop delay, ms. */
  delayP99Ms: number;
}

/** Runs `work` and measures the main thread meanwhile. */
export async function measureLoop<T>(work: () => Promise<T>): Promise<{ result: T; loop: LoopFigures }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let holdMaxMs = 0;
  let last = onCpuNs();
  const supported = last !== null;
  const sampler = setInterval(() => {
    const now = onCpuNs();
    if (now !== null && last !== null) holdMaxMs = Math.max(holdMaxMs, (now - last) / 1e6);
    last = now;
  }, 5);
  try {
    const result = await work();
    return { result, loop: { holdMaxMs: supported ? holdMaxMs : h.max / 1e6, delayMaxMs: h.max / 1e6, delayP99Ms: h.percentile(99) / 1e6 } };
  } finally {
    clearInterval(sampler);
    h.disable();
  }
}

/** The main thread's CPU time (ms) spent while `work` runs; wall-clock time where schedstat is missing. */
export async function cpuMsOf<T>(work: () => T | Promise<T>): Promise<{ result: T; ms: number }> {
  const cpu0 = onCpuNs();
  const wall0 = performance.now();
  const result = await work();
  const cpu1 = onCpuNs();
  return { result, ms: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / 1e6 : performance.now() - wall0 };
}

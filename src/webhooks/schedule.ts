// The retry schedule of webhook deliveries, and what an attempt's answer means. PURE.

/** The default waits after failed attempts 1, 2, …: about three days in all (≈ 71.7 h), then 'failed'. */
export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,2h,4h,8h,12h,20h,24h';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const STEP = /^(\d{1,9})(ms|s|m|h|d)$/;

/**
 * Parses a schedule: a comma list of waits, each a whole number and a unit (ms, s, m, h, d), e.g.
 * "5s,30s,2m". Returns the waits in milliseconds; 1 to 50 steps, each at most 7 days. Throws an Error
 * naming the faulty step otherwise.
 */
export function parseSchedule(s: string): number[] {
  const steps = s.split(',').map((x) => x.trim());
  if (steps.length < 1 || steps.length > 50) throw new Error('must hold 1 to 50 steps');
  return steps.map((step) => {
    const m = STEP.exec(step);
    if (!m) throw new Error(`"${step}" is not a wait like 5s, 2m or 1h`);
    const ms = Number(m[1]) * UNIT_MS[m[2]];
    if (ms > 7 * UNIT_MS.d) throw new Error(`"${step}" is over 7 days`);
    return ms;
  });
}

/**
 * When to try again after attempt `attempt` (1-based) failed: the schedule's wait for it plus a jitter
 * of up to 10 % (`random` in [0, 1)), in milliseconds from now; null when the schedule is exhausted
 * (the delivery fails). A delivery gets schedule.length + 1 attempts.
 */
export function retryDelayMs(schedule: readonly number[], attempt: number, random: number): number | null {
  if (attempt < 1 || attempt > schedule.length) return null;
  const wait = schedule[attempt - 1];
  return Math.round(wait + wait * 0.1 * random);
}

/** Whether an HTTP status counts as delivered: any 2xx. Redirects are never followed, so they fail. */
export function isDelivered(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

// The one way tests wait: `sleep` for a fixed pause, `waitFor` to poll until something holds.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeout?: number;
  /** Pause between polls in milliseconds (default 25 ms). */
  interval?: number;
  /** The error message on timeout; a function is called then, so it can describe the last state seen. */
  message?: string | (() => string);
}

/**
 * Polls `condition` until it returns a truthy value, and returns that value. The condition is checked
 * once more at the deadline; an error it throws ends the wait at once (use that for "can never
 * happen now" states).
 */
export async function waitFor<T>(condition: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const { timeout = 10_000, interval = 25 } = opts;
  const until = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > until) {
      const m = typeof opts.message === 'function' ? opts.message() : opts.message;
      throw new Error(m ?? `timed out after ${timeout} ms waiting for a condition`);
    }
    await sleep(interval);
  }
}

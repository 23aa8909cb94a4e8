// The template pool's threads and memory (issue 18, worker RSS): a pool that was not warmed (a worker
// process compiles each template version once) lets its MJML thread exit once idle, and boots a
// fresh one for the next template; a warmed pool (the web role) keeps its thread. Real worker threads.
import { describe, expect, it } from 'vitest';
import { createTemplatePool } from '../../src/mail/template-pool.js';

const SMALL = { subject: 'Hi {{name}}', mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>' };

/** Polls `f` until it holds, up to `ms`. */
async function eventually(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return f();
}

describe('template pool threads', () => {
  it('an unwarmed pool starts its thread at the first template and ends it once idle; the next template boots another', async () => {
    const pool = createTemplatePool({ threads: 1, budgetMs: 10_000, idleExitMs: 300 });
    try {
      expect(pool.stats().threads).toBe(0);
      const t = await pool.compile(SMALL);
      expect(pool.stats().threads).toBe(1);
      expect(await eventually(() => pool.stats().threads === 0, 10_000)).toBe(true);
      expect(t.html({ name: 'Ann' })).toContain('Hello Ann');
      expect((await pool.compile({ ...SMALL, subject: 'Again {{name}}' })).subject({ name: 'Bo' })).toBe('Again Bo');
      expect(pool.stats()).toMatchObject({ completed: 2, failures: 0, timeouts: 0 });
    } finally { await pool.close(); }
  });

  it('a warmed pool keeps its thread, also when warmed after it started cold', async () => {
    const pool = createTemplatePool({ threads: 1, budgetMs: 10_000, idleExitMs: 300 });
    try {
      await pool.compile(SMALL);
      pool.warm();
      await pool.compile({ ...SMALL, subject: 'Warm {{name}}' });
      await new Promise((r) => setTimeout(r, 1500));
      expect(pool.stats().threads).toBe(1);
    } finally { await pool.close(); }
  });
});

// npm run bench -- adversarial: hostile inbound messages (issue 12) through classifyMessage directly —
// many fast-check samples up to the size limit plus the named worst cases at 60 KB, 100 KB and 1 MB —
// printing the worst case and p99 in ms against the 50 ms goal; then the same messages through the
// worker pool while monitorEventLoopDelay watches the main thread (what /healthz would feel).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fc from 'fast-check';
import { classifyMessage } from '../src/bounces/classify.js';
import { createClassifyPool } from '../src/bounces/classify-pool.js';
import { loadConfig } from '../src/config.js';
import { adversarialMessage, namedCases } from '../test/bounces/adversarial-messages.js';

const GOAL_MS = 50;
const SAMPLES = Number(process.env.ADVERSARIAL_SAMPLES ?? 300);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export default async function bench(): Promise<void> {
  const inputs: Array<{ name: string; raw: Buffer }> = [];
  for (const size of [60_000, 100_000, 1024 * 1024]) {
    for (const [name, raw] of Object.entries(namedCases(size))) inputs.push({ name: `${name} @${Math.round(size / 1000)}KB`, raw: Buffer.from(raw, 'latin1') });
  }
  fc.sample(adversarialMessage, { numRuns: SAMPLES, seed: 12 }).forEach((raw, i) => inputs.push({ name: `sample ${i}`, raw: Buffer.from(raw, 'latin1') }));

  const times: Array<{ name: string; ms: number }> = [];
  for (const { name, raw } of inputs) {
    const t0 = performance.now();
    await classifyMessage(raw);
    times.push({ name, ms: performance.now() - t0 });
  }
  const sorted = times.map((t) => t.ms).sort((a, b) => a - b);
  const worst = [...times].sort((a, b) => b.ms - a.ms);
  console.log(`classifyMessage, ${inputs.length} adversarial messages (in-process):`);
  console.log(`  p50 ${pct(sorted, 50).toFixed(1)} ms · p99 ${pct(sorted, 99).toFixed(1)} ms · worst ${worst[0].ms.toFixed(1)} ms (${worst[0].name}) · goal < ${GOAL_MS} ms: ${worst[0].ms < GOAL_MS ? 'met' : 'NOT met'}`);
  console.log('  slowest:');
  for (const w of worst.slice(0, 8)) console.log(`    ${w.ms.toFixed(1).padStart(8)} ms  ${w.name}`);

  const budgetMs = loadConfig({}).INBOUND_CLASSIFY_BUDGET_MS;
  const pool = createClassifyPool({ threads: 2, budgetMs });
  await pool.classify(Buffer.from('Subject: warm-up\r\n\r\nx'));
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t0 = performance.now();
  await Promise.all(inputs.map(({ raw }) => pool.classify(raw)));
  const wall = performance.now() - t0;
  h.disable();
  const s = pool.stats();
  await pool.close();
  console.log(`worker pool (2 threads, budget ${budgetMs} ms): ${inputs.length} messages in ${(wall / 1000).toFixed(1)} s, ${s.timeouts} over budget`);
  console.log(`  main-thread event-loop delay while classifying: p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms · max ${(h.max / 1e6).toFixed(1)} ms`);
}

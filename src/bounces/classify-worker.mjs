// Worker entry of the classify pool (src/bounces/classify-pool.ts). Plain JavaScript on purpose:
// a worker thread does not inherit the TypeScript loader of its parent (tsx in production via
// bin/postgate.js, vite-node under vitest), so this file loads the TypeScript modules itself with
// tsx's scoped tsImport. One task = one raw message: op 'classify' (classifyMessage) or 'cards'
// (rawWithheldReason: 'card_data', 'capability_link', or 'none' when the raw may be kept). The worker says 'start' on the task's port first, so that the pool's time budget
// counts the work only, not the wait in the queue.
import { tsImport } from 'tsx/esm/api';

const { classifyMessage } = await tsImport('./classify.ts', import.meta.url);
const { rawWithheldReason, loadMailparser } = await tsImport('./card-check.ts', import.meta.url);
// card-check.ts loads mailparser lazily; a pool thread loads it at boot, outside any report's time budget.
await loadMailparser();

export default async function run({ op, raw, port }) {
  port?.postMessage('start');
  port?.close();
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return op === 'cards' ? (await rawWithheldReason(bytes)) ?? 'none' : classifyMessage(bytes);
}

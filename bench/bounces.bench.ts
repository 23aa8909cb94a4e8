// Bounce classifier accuracy: classifies every message of the development corpus
// (test/fixtures/bounce-corpus, labels.tsv) and of the shared fixtures (test/fixtures/bounces,
// expected.tsv) with classifyMessage and prints, per corpus, accuracy overall and per expected
// kind, messages wrongly called `hard`, missed complaints, a confusion table and every miss.
// Run: npm run bench -- bounces
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatScore, scoreCorpus } from './bounce-score.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CORPORA = [
  { name: 'development corpus (test/fixtures/bounce-corpus)', dir: path.join(root, 'test/fixtures/bounce-corpus'), labels: 'labels.tsv' },
  { name: 'shared fixtures (test/fixtures/bounces)', dir: path.join(root, 'test/fixtures/bounces'), labels: 'expected.tsv' },
];

export default async function bench(): Promise<void> {
  for (const c of CORPORA) {
    const t0 = performance.now();
    const s = await scoreCorpus(c.dir, path.join(c.dir, c.labels));
    const ms = performance.now() - t0;
    console.log(formatScore(c.name, s));
    console.log(`  time: ${ms.toFixed(0)} ms for ${s.total} messages (${(ms / Math.max(1, s.total)).toFixed(2)} ms each)\n`);
  }
}

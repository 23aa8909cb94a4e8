// The bounce classifier on the development corpus of real reports from many MTAs and providers
// (test/fixtures/bounce-corpus, see its README.md): no wrong `hard`, no missed complaint, and
// at least 95% of kinds right. `npm run bench -- bounces` prints the misses.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatScore, scoreCorpus, type CorpusScore } from '../../bench/bounce-score.js';

const CORPUS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bounce-corpus');

describe('bounce classifier on the development corpus', () => {
  let score: CorpusScore;
  const get = async () => (score ??= await scoreCorpus(CORPUS, path.join(CORPUS, 'labels.tsv')));
  const show = (v: { file: string; kind: string; givenKind: string; diagnostic: string | null }) =>
    `${v.file}: expected ${v.kind}, given ${v.givenKind} — ${(v.diagnostic ?? '').replace(/\s+/g, ' ').slice(0, 100)}`;

  it('has a corpus of real messages', async () => {
    const s = await get();
    expect(s.total).toBeGreaterThanOrEqual(150);
  });

  it('calls nothing hard that is not', async () => {
    const s = await get();
    expect(s.wronglyHard.map(show)).toEqual([]);
  });

  it('misses no complaint', async () => {
    const s = await get();
    expect(s.missedComplaints.map(show)).toEqual([]);
  });

  it('gets at least 95% of the kinds right', async () => {
    const s = await get();
    expect(s.accuracy, formatScore('development corpus', s)).toBeGreaterThanOrEqual(0.95);
  });
});

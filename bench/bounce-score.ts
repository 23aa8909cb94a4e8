// Scores Postgate's bounce classifier on a labelled corpus of real messages. Used by
// bench/bounces.bench.ts (prints the figures) and test/bounces/corpus.test.ts (asserts on them).
//
// A labels file is TSV, one message a line: `path<TAB>kind[<TAB>reason]`, the path relative to the
// corpus folder; blank lines and lines starting with '#' are skipped, as is a `path	kind…` header.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { classifyMessage } from '../src/bounces/classify.js';

export const KINDS = ['hard', 'soft', 'blocked', 'complaint', 'autoreply', 'unknown'] as const;

export interface Label { file: string; kind: string; reason: string | null }
export interface Verdict extends Label {
  givenKind: string;
  givenReason: string | null;
  status: string | null;
  diagnostic: string | null;
}
export interface KindScore { total: number; correct: number; accuracy: number }
export interface CorpusScore {
  dir: string;
  total: number;
  correct: number;
  accuracy: number;
  perKind: Record<string, KindScore>;
  /** messages called `hard` whose label is not `hard` */
  wronglyHard: Verdict[];
  /** complaints (label `complaint`) not called `complaint` */
  missedComplaints: Verdict[];
  /** expected kind → given kind → count */
  confusion: Record<string, Record<string, number>>;
  /** how often the classifier's reason equals the label's reason (labels with a reason only) */
  reasonAgreement: { total: number; same: number };
  misses: Verdict[];
  verdicts: Verdict[];
}

export async function readLabels(labelsFile: string): Promise<Label[]> {
  const text = await readFile(labelsFile, 'utf8');
  const out: Label[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [file, kind, reason] = line.split('\t').map((c) => c.trim());
    if (!file || !kind || (file === 'path' || file === 'file') && kind === 'kind') continue;
    out.push({ file, kind, reason: reason || null });
  }
  return out;
}

/** Classify every message listed in `labelsFile` (paths relative to `dir`) and compare. */
export async function scoreCorpus(dir: string, labelsFile: string): Promise<CorpusScore> {
  const labels = await readLabels(labelsFile);
  const verdicts: Verdict[] = [];
  for (const label of labels) {
    const raw = await readFile(path.join(dir, label.file));
    const c = await classifyMessage(raw);
    const r = c as unknown as { reason?: unknown; status?: unknown; diagnostic?: unknown };
    verdicts.push({
      ...label,
      givenKind: c.kind,
      givenReason: typeof r.reason === 'string' ? r.reason : null,
      status: typeof r.status === 'string' ? r.status : null,
      diagnostic: typeof r.diagnostic === 'string' ? r.diagnostic : null,
    });
  }
  const perKind: Record<string, KindScore> = {};
  const confusion: Record<string, Record<string, number>> = {};
  let correct = 0; let reasonTotal = 0; let reasonSame = 0;
  for (const v of verdicts) {
    const k = (perKind[v.kind] ??= { total: 0, correct: 0, accuracy: 0 });
    k.total++;
    if (v.givenKind === v.kind) { k.correct++; correct++; }
    const row = (confusion[v.kind] ??= {});
    row[v.givenKind] = (row[v.givenKind] ?? 0) + 1;
    if (v.reason) { reasonTotal++; if (v.givenReason && v.givenReason.toLowerCase().split(/[:\s]/)[0] === v.reason.toLowerCase()) reasonSame++; }
  }
  for (const k of Object.values(perKind)) k.accuracy = k.total ? k.correct / k.total : 1;
  const misses = verdicts.filter((v) => v.givenKind !== v.kind);
  return {
    dir, total: verdicts.length, correct, accuracy: verdicts.length ? correct / verdicts.length : 1, perKind,
    wronglyHard: verdicts.filter((v) => v.givenKind === 'hard' && v.kind !== 'hard'),
    missedComplaints: verdicts.filter((v) => v.kind === 'complaint' && v.givenKind !== 'complaint'),
    confusion, reasonAgreement: { total: reasonTotal, same: reasonSame }, misses, verdicts,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const oneLine = (s: string | null, n: number) => (s ?? '').replace(/\s+/g, ' ').trim().slice(0, n);

/** The figures as text: accuracy overall and per kind, wrong `hard`s, missed complaints,
 *  a confusion table (rows: expected, columns: given) and every miss. */
export function formatScore(name: string, s: CorpusScore): string {
  const out: string[] = [];
  out.push(`${name}: ${s.correct}/${s.total} right = ${pct(s.accuracy)}   wrongly hard: ${s.wronglyHard.length}   missed complaints: ${s.missedComplaints.length}` +
    `   reason agrees: ${s.reasonAgreement.same}/${s.reasonAgreement.total}`);
  const kinds = [...KINDS, ...Object.keys(s.perKind).filter((k) => !(KINDS as readonly string[]).includes(k))];
  out.push('  accuracy by expected kind:');
  for (const k of kinds) {
    const p = s.perKind[k];
    if (p) out.push(`    ${k.padEnd(10)} ${String(p.correct).padStart(4)}/${String(p.total).padEnd(4)} ${pct(p.accuracy).padStart(6)}`);
  }
  const given = [...new Set([...kinds, ...s.verdicts.map((v) => v.givenKind)])].filter((g) => s.verdicts.some((v) => v.givenKind === g) || s.perKind[g]);
  out.push('  confusion (rows: expected, columns: given):');
  out.push(`    ${'expected'.padEnd(10)}${given.map((g) => g.padStart(10)).join('')}`);
  for (const k of kinds) {
    const row = s.confusion[k];
    if (!row) continue;
    out.push(`    ${k.padEnd(10)}${given.map((g) => String(row[g] ?? '.').padStart(10)).join('')}`);
  }
  if (s.misses.length) {
    out.push(`  misses (${s.misses.length}): file | expected (reason) | given (reason) | status | diagnostic`);
    for (const m of s.misses) {
      out.push(`    ${m.file} | ${m.kind}${m.reason ? ` (${m.reason})` : ''} | ${m.givenKind}${m.givenReason ? ` (${m.givenReason})` : ''} | ${m.status ?? '-'} | ${oneLine(m.diagnostic, 100)}`);
    }
  }
  return out.join('\n');
}

// The shape of the code: the pure core imports no adapter and does no I/O; only the composition
// root reads process.env.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = path.join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});
const PURE = [
  ...walk(path.join(root, 'src/policy')),
  'src/consent/state.ts', 'src/mail/render.ts', 'src/mail/compose.ts', 'src/bounces/classify.ts', 'src/bounces/reasons.ts',
  'src/bounces/mime.ts',
].map((p) => path.resolve(root, p));
const IO = /from ['"](node:)?(fs|fs\/promises|net|http|https|child_process|dgram|pg|pg-boss|express|smtp-server)['"]|from ['"][./]*\/?platform\//;

describe('architecture', () => {
  it('keeps the pure core free of adapters and I/O', () => {
    expect(PURE.length).toBeGreaterThan(5);
    const offenders = PURE.filter((f) => IO.test(readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('reads process.env only in the composition root', () => {
    const readers = walk(path.join(root, 'src')).filter((f) => /process\.env/.test(readFileSync(f, 'utf8')));
    expect(readers.map((f) => path.relative(root, f))).toEqual(['src/main.ts']);
  });
});

// The top costs of a V8 CPU profile (`node --cpu-prof` writes CPU.*.cpuprofile): self time by
// function and by package/file, largest first. Not a benchmark (no .bench.ts): run it by hand,
//   npx tsx bench/profile-top.ts FILE.cpuprofile [more files] [--top N]
// With several files (tsx and its children each write one), each is summarised on its own.
import { readFile } from 'node:fs/promises';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Where a frame's code lives: an npm package, a project file, node's own, or V8's pseudo-frames. */
function placeOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const own = /\/(src|bench|test)\/(.+)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

function top(map: Map<string, number>, n: number, total: number): string[] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

async function summarise(file: string, n: number): Promise<void> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = (byId.get(id) as Node).callFrame;
    if (f.functionName === '(idle)') { idle += us; continue; }
    total += us;
    const place = placeOf(f.url, f.functionName);
    const key = `${f.functionName || '(anonymous)'} ${place}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  console.log(`\n${file}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
  console.log('self time by package or file:');
  console.log(top(byPlace, n, total).join('\n'));
  console.log('self time by function:');
  console.log(top(byFn, n, total).join('\n'));
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const n = topAt >= 0 ? Number(args[topAt + 1]) : 25;
for (const f of args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1))) await summarise(f, n);

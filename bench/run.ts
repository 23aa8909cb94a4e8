// npm run bench: runs every benchmark in turn and prints its figures. `npm run bench -- NAME` runs one.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort();
for (const file of files) {
  const name = file.replace(/\.bench\.ts$/, '');
  if (only.length && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { default: () => Promise<void> };
  const t0 = Date.now();
  await mod.default();
  console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
process.exit(0);

// What a `postgate` process loads at start (issue 18, the suite's cost): MJML and mailparser, a second
// and more of CPU together, are loaded only where they run (the template and classify pools' threads,
// which load them at boot), never by the main thread of a CLI command or a worker process. Checked
// in a fresh Node process (this one's module graph is shared by other test files): import
// src/main.ts as bin/postgate.js does, read require.cache, then load both and read it again (so the
// check itself can see them).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/config.js';

const SCRIPT = `
import { createRequire } from 'node:module';
import { register } from 'tsx/esm/api';
register();
const loaded = () => {
  const keys = Object.keys(createRequire(import.meta.url).cache);
  return { mjml: keys.some((k) => k.includes('/node_modules/mjml-core/')), mailparser: keys.some((k) => k.includes('/node_modules/mailparser/')) };
};
await import('./src/main.ts');
const atStart = loaded();
const { loadMjml } = await import('./src/mail/render.ts');
const { loadMailparser } = await import('./src/bounces/card-check.ts');
const mjml2html = await loadMjml();
const simpleParser = await loadMailparser();
console.log(JSON.stringify({ atStart, afterLoad: loaded(), compiles: typeof mjml2html === 'function', parses: typeof simpleParser === 'function' }));
`;

function run(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('modules loaded at start', () => {
  it('the main thread of a postgate process loads neither MJML nor mailparser until they are used', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
      atStart: { mjml: false, mailparser: false },
      afterLoad: { mjml: true, mailparser: true },
      compiles: true, parses: true,
    });
  }, 60_000);
});

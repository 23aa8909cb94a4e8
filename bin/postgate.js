#!/usr/bin/env node
// Launcher: registers tsx's loader in this process and runs the TypeScript CLI (no build step,
// signals reach the service directly). `postgate start` first builds the staff console when
// console/dist/index.html is missing (a fresh clone; `npm install` builds it too, in `prepare`).
import { register } from 'tsx/esm/api';

register();
if (process.argv[2] === 'start') {
  const { ensureConsoleBuilt } = await import('../scripts/console-build.ts');
  ensureConsoleBuilt({ stale: false });
}
await import('../src/cli.ts');

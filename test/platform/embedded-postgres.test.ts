// The embedded PostgreSQL runs as the 'postgres' user when Postgate runs as root: a project or data
// directory below a 0700 directory (mktemp -d, /root) must give one clear error, not a spawn EACCES.
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedAncestor, startEmbeddedPostgres } from '../../src/platform/embedded-postgres.js';
import { createLogger } from '../../src/platform/log.js';

const made: string[] = [];
afterAll(async () => { for (const d of made) await rm(d, { recursive: true, force: true }); });

async function tree(mode: number): Promise<{ top: string; dataDir: string }> {
  const top = await mkdtemp(path.join(os.tmpdir(), 'pg-reach-'));
  made.push(top);
  await chmod(top, mode);
  const dataDir = path.join(top, 'project', 'data');
  await mkdir(path.dirname(dataDir), { recursive: true });
  return { top, dataDir };
}

describe('embedded PostgreSQL and directory permissions', () => {
  it('names the first directory others cannot traverse, and none when all can', async () => {
    const closed = await tree(0o700);
    expect(closedAncestor(closed.dataDir)).toBe(closed.top);
    const open = await tree(0o755);
    expect(closedAncestor(open.dataDir)).toBeNull();
  });

  it.runIf(process.getuid?.() === 0)('refuses to start below a 0700 directory with one clear error (as root)', async () => {
    const { top, dataDir } = await tree(0o700);
    await expect(startEmbeddedPostgres(dataDir, createLogger('silent', false))).rejects.toThrow(
      new RegExp(`'postgres' user, which cannot enter ${top.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*chmod o\\+x.*DATABASE_URL`));
  });
});

// How Postgate stops a server process it owns, on real processes: the escalation SIGINT → SIGQUIT →
// SIGKILL with its timeouts, and how a postmaster.pid is read and a recycled pid told apart.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPostmasterOf, processAlive, readPostmasterLock, stopPostmaster } from '../../src/platform/postmaster.js';

const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

/** A detached node process that ignores the signals named, and says when it is ready. */
async function stubborn(ignore: NodeJS.Signals[]): Promise<{ pid: number; exited: Promise<void> }> {
  const code = `for (const s of ${JSON.stringify(ignore)}) process.on(s, () => {}); console.log('ready'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { pid: child.pid!, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

describe('stopPostmaster', () => {
  it('a process that honours SIGINT stops at the first step', async () => {
    const p = await stubborn([]);
    expect(await stopPostmaster(p.pid, p.exited, { fastMs: 2000, immediateMs: 500, killMs: 500 })).toBe('fast');
    expect(processAlive(p.pid)).toBe(false);
  });

  it('escalates to SIGQUIT, then SIGKILL, each after its timeout', async () => {
    const quits = await stubborn(['SIGINT']);
    expect(await stopPostmaster(quits.pid, quits.exited, { fastMs: 300, immediateMs: 2000, killMs: 500 })).toBe('immediate');
    const deaf = await stubborn(['SIGINT', 'SIGQUIT']);
    const t0 = Date.now();
    expect(await stopPostmaster(deaf.pid, null, { fastMs: 300, immediateMs: 300, killMs: 1000 })).toBe('killed');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(processAlive(deaf.pid)).toBe(false);
  });

  it('a pid that is not running is reported as such', async () => {
    const p = await stubborn([]);
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
    expect(await stopPostmaster(p.pid)).toBe('not_running');
  });
});

describe('postmaster.pid', () => {
  it('gives the pid and port, and a live pid that is not a postmaster of that data directory is told apart', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pm-lock-'));
    dirs.push(dir);
    expect(readPostmasterLock(dir)).toBeNull();
    await writeFile(path.join(dir, 'postmaster.pid'), `${process.pid}\n${dir}\n1700000000\n5433\n/tmp\n127.0.0.1\n`);
    expect(readPostmasterLock(dir)).toEqual({ pid: process.pid, port: 5433 });
    expect(isPostmasterOf(process.pid, dir)).toBe(false); // alive, but this test runner
    await writeFile(path.join(dir, 'postmaster.pid'), 'garbage\n');
    expect(readPostmasterLock(dir)).toBeNull();
  });
});

// Spawns test/campaigns/fixtures/worker.ts as a child process and waits until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RawConfig } from '../../src/config.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'worker.ts');

export interface WorkerProcess { child: ChildProcess; pid: number; exited: Promise<number | null> }

export async function spawnWorker(config: Partial<RawConfig>): Promise<WorkerProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postgate-worker-'));
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify({ DATA_DIR: dataDir, PORT: 0, INBOUND_SMTP_PORT: 0, LOG_LEVEL: 'silent', ...config })],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('worker did not start in time')), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`worker exited early with ${code}`)); });
  });
  return { child, pid: child.pid as number, exited };
}

/** Ends a worker this test started, by its pid. */
export async function stopWorker(w: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  process.kill(w.pid, signal);
  await w.exited;
}

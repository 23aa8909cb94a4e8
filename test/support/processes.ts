// Real Postgate processes for process-level tests: `node bin/postgate.js worker|web|start` with its
// configuration in the environment, started and waited for (the "Postgate is running" banner),
// killed with any signal. Output is kept (bounded) so a failing test can show what a process said.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { configSchema, projectRoot } from '../../src/config.js';
import { appDatabaseEnv } from './external-pg.js';

export const TEST_TOKEN_KEYS = 'k1:test-secret-key-0123456789';
const BIN = path.join(projectRoot, 'bin', 'postgate.js');
const MAX_OUTPUT = 200_000;
/** Every configuration key Postgate reads: none is inherited from the test runner's environment. */
const CONFIG_KEYS = Object.keys(configSchema.shape);

export interface CliResult { status: number | null; stdout: string; stderr: string }

/**
 * Runs `node bin/postgate.js ...args` to its end with `env` over the runner's environment minus every
 * configuration key (so only what a test gives applies), and returns its exit status and output.
 */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const full: NodeJS.ProcessEnv = { ...process.env };
  for (const k of CONFIG_KEYS) delete full[k];
  Object.assign(full, env);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

export type Role = 'worker' | 'web' | 'start';

export interface PostgateProcess {
  role: Role; pid: number; child: ChildProcess;
  /** http://127.0.0.1:<port> for web and start; null for a worker. */
  url: string | null;
  output(): string;
  /** Resolves when the process has exited (code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGKILL: no cleanup, no flushing, leases left behind. */
  kill9(): Promise<void>;
  /** SIGTERM and wait (a graceful stop finishes in-flight sends). */
  stop(timeoutMs?: number): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
}

const running = new Set<PostgateProcess>();
process.once('exit', () => { for (const p of running) p.child.kill('SIGKILL'); });

export interface StartOptions {
  databaseUrl: string;
  smtpUrl?: string;
  /** Any further configuration (strings, as in the environment). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Starts `postgate <role>` and resolves once its banner is printed (rejects with its output otherwise). */
export async function startProcess(role: Role, o: StartOptions): Promise<PostgateProcess> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of CONFIG_KEYS) delete env[k];
  const port = role === 'worker' ? 0 : await freePort();
  Object.assign(env, {
    ...appDatabaseEnv(o.databaseUrl), DATA_DIR: await mkdtemp(path.join(os.tmpdir(), `postgate-${role}-`)), PORT: String(port),
    PUBLIC_URL: 'https://postgate.test', LOG_LEVEL: 'warn', TOKEN_KEYS: TEST_TOKEN_KEYS, INBOUND_SMTP_PORT: '0',
    BOUNCE_DOMAIN: 'bounces.postgate.test', SMTP_REQUIRE_TLS: 'false', // test relays are plain SMTP
    RETRY_BASE_SECONDS: '0.2', NODE_ENV: 'test',
    ...(o.smtpUrl ? { SMTP_URL: o.smtpUrl } : {}),
    ...o.env,
  });
  const child = spawn(process.execPath, [BIN, role], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const append = (chunk: Buffer) => { out += chunk.toString('utf8'); if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT); };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { done = true; resolve({ code, signal }); });
  });
  const proc: PostgateProcess = {
    role, pid: child.pid as number, child, url: role === 'worker' ? null : `http://127.0.0.1:${port}`,
    output: () => out, exited, alive: () => !done,
    async kill9() {
      if (!done) child.kill('SIGKILL');
      await exited;
      running.delete(proc);
    },
    async stop(timeoutMs = 20_000) {
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => { if (!done) child.kill('SIGKILL'); }, timeoutMs);
      await exited;
      clearTimeout(timer);
      running.delete(proc);
    },
  };
  running.add(proc);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const check = () => { if (out.includes('Postgate is running')) { clearTimeout(timer); child.stdout?.off('data', check); resolve(true); } };
    child.stdout?.on('data', check);
    void exited.then(() => { clearTimeout(timer); resolve(out.includes('Postgate is running')); });
    check();
  });
  if (!ready) {
    await proc.kill9();
    throw new Error(`postgate ${role} did not start within ${timeoutMs} ms:\n${out}`);
  }
  return proc;
}

/** Kills every process started here that is still running (for afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill9()));
}

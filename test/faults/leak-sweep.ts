// Where a card number could be left behind, and the sweep that looks there. The fuzz suite runs on a
// PostgreSQL cluster of its own (not the shared test cluster of test/support/global-setup.ts), so
// every file under its data directory (heap, TOAST, indexes, WAL, the server's own log) holds only
// what this suite caused: the sweep reads them all once the server is stopped (its shutdown
// checkpoint has written every page), and scans them with findCardNumbers (hostile-inputs.ts).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { loadEmbeddedPostgres } from '../../src/platform/embedded-postgres.js';
import { migrate } from '../../src/platform/db.js';
import { findCardNumbers, type CardHit } from './hostile-inputs.js';

export interface PrivateCluster {
  /** The migrated database's URL. */
  url: string;
  dir: string;
  /** What the PostgreSQL server wrote to its log (stderr), line by line. */
  log: string[];
  /** Fast shutdown (a shutdown checkpoint writes every dirty page); the files stay. */
  stop(): Promise<void>;
  /** Stops if needed and deletes the data directory. */
  remove(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
}

/** A throwaway embedded PostgreSQL cluster with one migrated database, its log kept. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-fuzz-pg-'));
  const port = await freePort();
  const log: string[] = [];
  const keep = (m: unknown) => { if (log.length < 100_000) log.push(String(m)); };
  const server = new EmbeddedPostgres({
    databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: true, createPostgresUser: true,
    onLog: keep, onError: keep,
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100'],
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('postgate');
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgate`;
  await migrate(url, MIGRATIONS_DIR);
  let stopped = false;
  return {
    url, dir, log,
    async stop() { if (!stopped) { stopped = true; await server.stop(); } },
    async remove() { if (!stopped) { stopped = true; await server.stop().catch(() => undefined); } await rm(dir, { recursive: true, force: true }); },
  };
}

export interface Leak { where: string; card: string; context: string }

function leaks(where: string, hits: CardHit[]): Leak[] {
  return hits.map((h) => ({ where: `${where} @${h.offset}`, card: h.card, context: JSON.stringify(h.context) }));
}

/** Which relation each data file belongs to ('base/16384/16527' → 'public.consent_events'), to name the files that leak. */
export async function relationFiles(c: pg.Client): Promise<Map<string, string>> {
  const rows = (await c.query<{ f: string; r: string }>(`SELECT pg_relation_filepath(c.oid) AS f, n.nspname || '.' || c.relname AS r
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pg_relation_filepath(c.oid) IS NOT NULL`)).rows;
  return new Map(rows.map((x) => [x.f, x.r]));
}

/** Every regular file under `dir`, scanned whole; `names` labels relation files (relationFiles). */
export async function sweepFiles(dir: string, cards: readonly string[], names = new Map<string, string>()): Promise<{ files: number; bytes: number; leaks: Leak[] }> {
  const out: Leak[] = [];
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name); // parentPath: Node 20.12+
    const buf = await readFile(file).catch(() => null); // postmaster.pid and friends may vanish
    if (!buf) continue;
    files++;
    bytes += buf.length;
    const rel = path.relative(dir, file);
    const relation = names.get(rel.replace(/(_fsm|_vm|_init)?(\.\d+)?$/, ''));
    out.push(...leaks(relation ? `${rel} (${relation})` : rel, findCardNumbers(buf, cards)));
  }
  return { files, bytes, leaks: out };
}

/**
 * Every row of every table outside the system schemas, as text: finds values a file scan cannot
 * (TOAST values compressed with pglz). Dead tuples and WAL are the file scan's part.
 */
export async function sweepTables(c: pg.Client, cards: readonly string[]): Promise<{ tables: number; leaks: Leak[] }> {
  const tables = (await c.query<{ s: string; t: string }>(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)).rows;
  const out: Leak[] = [];
  for (const { s, t } of tables) {
    const rows = (await c.query<{ r: string }>(`SELECT x::text AS r FROM "${s}"."${t}" x`)).rows;
    for (const { r } of rows) out.push(...leaks(`${s}.${t}`, findCardNumbers(Buffer.from(r, 'utf8'), cards)));
  }
  return { tables: tables.length, leaks: out };
}

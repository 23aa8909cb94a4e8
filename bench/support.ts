// Shared by the benchmarks: a throwaway embedded PostgreSQL cluster (fsync off, its own port and
// folder), removed on stop.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadEmbeddedPostgres } from '../src/platform/embedded-postgres.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
  });
}

export interface BenchCluster { url: string; dir: string; stop(): Promise<void> }

/** Options of a bench cluster: `durable` keeps fsync, synchronous_commit and full-page writes on (production-like). */
export interface BenchPostgresOptions { durable?: boolean; flags?: string[] }

export async function startBenchPostgres(database: string, opts: BenchPostgresOptions = {}): Promise<BenchCluster> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bench-pg-'));
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: false, createPostgresUser: true,
    onLog: () => undefined, onError: () => undefined,
    postgresFlags: [...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      '-c', 'max_connections=200', ...(opts.flags ?? [])],
  });
  await server.initialise();
  await server.start();
  await server.createDatabase(database);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/${database}`, dir,
    async stop() { await server.stop(); await rm(dir, { recursive: true, force: true }); },
  };
}

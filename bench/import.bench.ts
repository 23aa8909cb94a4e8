// CSV import benchmark: a generated file of 1,000,000 rows (address, name, two typed attributes, a
// consent date and IP) uploaded through the real API (POST /api/imports, raw text/csv, streamed)
// into embedded PostgreSQL (fsync off) and run by the import job with an attestation, so every row
// becomes a contact, a subscription and a consent record of kind import. Baselines measured in the
// same run on the same file: csv-parse alone (parse only), and PostgreSQL's COPY of the same rows
// into an unindexed table (the floor of getting the bytes into the database). Prints rows/s, total
// seconds (upload to completed; target < 120 s) and the peak RSS of the process running web and
// worker. Run: npx tsx bench/run.ts import   (IMPORT_BENCH_N overrides the size)
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import pg from 'pg';
import { startBenchPostgres } from './support.js';
import { loadConfig } from '../src/config.js';
import { startPostgate } from '../src/main.js';
import { createLogger } from '../src/platform/log.js';
import { createTenant } from '../src/tenants/store.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { defaultList } from '../src/consent/lists.js';

const N = Number(process.env.IMPORT_BENCH_N ?? 1_000_000);
const CITIES = ['Berlin', 'Köln', 'Paris', 'Lyon', 'Madrid', 'Roma', 'Oslo'];

/** Writes the file: `email,name,city,score,consent_date,consent_ip`, one row per contact. */
async function writeCsv(file: string, n: number): Promise<number> {
  function* lines(): Generator<string> {
    yield 'email,name,city,score,consent_date,consent_ip\n';
    let buf = '';
    for (let i = 1; i <= n; i++) {
      buf += `reader${i}@example${i % 97}.org,Reader ${i},${CITIES[i % CITIES.length]},${i % 100},2024-0${1 + (i % 9)}-1${i % 10}T10:00:00Z,198.51.100.${i % 250}\n`;
      if (i % 5000 === 0) { yield buf; buf = ''; }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(lines()), createWriteStream(file));
  return (await stat(file)).size;
}

/** csv-parse alone over the file: rows/s. */
async function parseOnly(file: string): Promise<number> {
  const t0 = performance.now();
  let rows = 0;
  for await (const _ of createReadStream(file).pipe(parse({ columns: true }))) rows++;
  return rows / ((performance.now() - t0) / 1000);
}

/** COPY of the file into an unindexed table: rows/s. */
async function copyOnly(url: string, file: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE UNLOGGED TABLE copy_baseline (email text, name text, city text, score int, consent_date timestamptz, consent_ip inet)');
    const t0 = performance.now();
    await c.query(`COPY copy_baseline FROM '${file.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`); // the server reads the file itself
    const s = (performance.now() - t0) / 1000;
    const n = Number((await c.query('SELECT count(*) AS n FROM copy_baseline')).rows[0].n);
    await c.query('DROP TABLE copy_baseline');
    return n / s;
  } finally {
    await c.end();
  }
}

function peakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
  return { stop() { clearInterval(timer); return Math.max(peak, process.memoryUsage().rss); } };
}

export default async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-import-bench-'));
  const cluster = await startBenchPostgres('import_bench');
  const file = path.join(dir, 'contacts.csv');
  try {
    let importRate = 0;
    const bytes = await writeCsv(file, N);
    await chmod(dir, 0o755); // the database server (the postgres user, when run as root) reads it for the COPY baseline
    await chmod(file, 0o644);
    console.log(`file: ${N.toLocaleString('en')} rows, ${(bytes / 1048576).toFixed(1)} MiB`);
    const config = loadConfig({}, {
      DATABASE_URL: cluster.url, DATA_DIR: path.join(dir, 'data'), PORT: 0, LOG_LEVEL: 'silent', TOKEN_KEYS: 'bench:import-bench-secret-0123456789',
      INBOUND_SMTP_PORT: 0, IMPORT_MAX_BYTES: 1024 * 1024 * 1024,
    });
    const app = await startPostgate(config, { web: true, worker: true, inbound: false }, { log: createLogger('silent', false) });
    try {
      const tenantId = '0b5e7a52-3c1d-4e8f-9a6b-2d4c6e8f0a1b';
      await createTenant(app.deps.db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme', replyTo: 'support@acme.org', postalAddress: '1 Main St' }, tenantId);
      const { key, list } = await app.deps.db.withTenant(tenantId, async (c) => ({
        key: (await createApiKey(c, tenantId, ['subscribers'])).key, list: (await defaultList(c))?.id,
      }));
      const options = { consent: { source: 'bench: signup form export', text: 'Yes, send me the newsletter.' }, lists: [list] };
      const rssBefore = process.memoryUsage().rss;
      const rss = peakRss();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const t0 = performance.now();
      const res = await fetch(`${app.url}/api/imports?options=${encodeURIComponent(JSON.stringify(options))}`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'content-length': String(bytes) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream, duplex: 'half',
      } as RequestInit);
      const accepted = (await res.json()) as { id: string };
      if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(accepted)}`);
      const uploaded = (performance.now() - t0) / 1000;
      let view: { status: string; counts: { rows: number; subscribed: number; errors: number }; progress: { rows: number } };
      for (;;) {
        const r = await fetch(`${app.url}/api/imports/${accepted.id}`, { headers: { authorization: `Bearer ${key}` } });
        view = await r.json() as typeof view;
        if (view.status === 'completed' || view.status === 'failed') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const total = (performance.now() - t0) / 1000;
      const peak = rss.stop();
      loop.disable();
      if (view.status !== 'completed') throw new Error(`import ${view.status}: ${JSON.stringify(view)}`);
      const rate = view.counts.rows / total;
      console.log(`upload (streamed into import_chunks): ${uploaded.toFixed(1)} s`);
      console.log(`import: ${view.counts.rows.toLocaleString('en')} rows (${view.counts.subscribed.toLocaleString('en')} subscribed, ${view.counts.errors} errors) in ${total.toFixed(1)} s `
        + `= ${Math.round(rate).toLocaleString('en')} rows/s (target: < 120 s)`);
      console.log(`peak RSS of the process (web + worker + this bench): ${(peak / 1048576).toFixed(0)} MiB (${(rssBefore / 1048576).toFixed(0)} MiB before the upload)`);
      console.log(`event loop delay during the import: max ${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms`);
      importRate = rate;
    } finally {
      await app.stop();
    }
    // Baselines after the import, so their garbage does not count in its RSS.
    const parseRate = await parseOnly(file);
    const copyRate = await copyOnly(cluster.url, file);
    console.log(`baseline csv-parse alone: ${Math.round(parseRate).toLocaleString('en')} rows/s; COPY into an unindexed table: ${Math.round(copyRate).toLocaleString('en')} rows/s`);
    console.log(`ratios: the import is ${(parseRate / importRate).toFixed(1)}× slower than csv-parse alone, ${(copyRate / importRate).toFixed(1)}× slower than a bare COPY`);
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

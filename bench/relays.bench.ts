// Relay mailer benchmark (src/relays, SMTP_URLS): N small messages to a local SMTP sink through the
// plain pooled transport (SMTP_URL), then through the relay mailer with one relay (no rate), then
// with two relays (weights 3:1) and a rate limit; msg/s, the ratio to the plain transport, and the
// PostgreSQL round trips per message the relay mailer made (its shared state; the goal is well
// under one). Its own embedded PostgreSQL (fsync off); the sink runs in this process.
// Run: npx tsx bench/run.ts relays   (RELAYS_BENCH_N, default 5000; RELAYS_BENCH_RATE, default 500)
import type { SendMailOptions } from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import type net from 'node:net';
import { MIGRATIONS_DIR } from '../src/main.js';
import { migrate } from '../src/platform/db.js';
import { createLogger } from '../src/platform/log.js';
import { createSmtpMailer, type Mailer } from '../src/platform/smtp.js';
import { createRelayMailer } from '../src/relays/mailer.js';
import { parseRelayUrls } from '../src/relays/policy.js';
import { startBenchPostgres } from './support.js';

const N = Number(process.env.RELAYS_BENCH_N ?? 5000);
const RATE = Number(process.env.RELAYS_BENCH_RATE ?? 500);
const IN_FLIGHT = 10;
const BODY = 'Hello, this is a short newsletter line.\n'.repeat(50);

async function sink(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, maxClients: 1000,
    onData(stream, _s, cb) { stream.on('data', () => undefined); stream.on('end', () => { n++; cb(); }); },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, count: () => n, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function message(i: number): SendMailOptions {
  const to = `reader${i}@${['gmail.com', 'outlook.com', 'inbox.example', 'mail.example'][i % 4]}`;
  return { from: 'news@acme.org', to, envelope: { from: 'bounces@bounces.example', to }, subject: `Issue ${i}`, text: BODY };
}

/** Sends N messages with IN_FLIGHT at a time; returns msg/s (all must be 'sent'). */
async function run(m: Mailer): Promise<number> {
  let next = 0;
  let failed = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < N) { const o = await m.send(message(next++)); if (o.kind !== 'sent') failed++; }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failed) throw new Error(`${failed} messages not sent`);
  return N / s;
}

export default async function main(): Promise<void> {
  const cluster = await startBenchPostgres('relays');
  const a = await sink();
  const b = await sink();
  const pool = new pg.Pool({ connectionString: cluster.url, max: 5 });
  try {
    await migrate(cluster.url, MIGRATIONS_DIR);
    let queries = 0;
    const counted = { query: ((...args: Parameters<pg.Pool['query']>) => { queries++; return pool.query(...args); }) as pg.Pool['query'] };
    const log = createLogger('silent', false);
    const relayMailer = (urls: string) => createRelayMailer({
      relays: parseRelayUrls(urls, 5), tls: { requireTls: false }, pauseAfterFailures: 3, cooldownSeconds: 30, refreshMs: 1000,
      domainConcurrency: 20, domainLimits: new Map(), backoffBaseSeconds: 60, backoffMaxSeconds: 3600,
    }, { db: counted, log });

    const plain = createSmtpMailer(a.url, 5, { requireTls: false });
    const base = await run(plain);
    plain.close();
    console.log(`plain pooled transport (SMTP_URL):   ${base.toFixed(0)} msg/s  (N=${N}, ${IN_FLIGHT} in flight, 5 connections)`);

    const one = relayMailer(`${a.url}?name=one`);
    queries = 0;
    const r1 = await run(one);
    one.close();
    console.log(`relay mailer, one relay, no rate:     ${r1.toFixed(0)} msg/s  ratio ${(r1 / base).toFixed(2)}  ${(queries / N).toFixed(3)} PostgreSQL round trips per message`);

    const before = [a.count(), b.count()];
    const two = relayMailer(`${a.url}?name=a&weight=3&rate=${RATE},${b.url}?name=b&weight=1&rate=${RATE}`);
    queries = 0;
    const r2 = await run(two);
    two.close();
    const split = [a.count() - before[0], b.count() - before[1]];
    console.log(`relay mailer, two relays 3:1, rate=${RATE} each: ${r2.toFixed(0)} msg/s  ratio ${(r2 / base).toFixed(2)}  split ${split.join(':')}  ${(queries / N).toFixed(3)} round trips per message`);
    console.log(`  (each relay at most ${RATE} msg/s: with weights 3:1 the first relay's rate caps the whole at about ${(RATE * 4 / 3).toFixed(0)} msg/s)`);
  } finally {
    await pool.end();
    await a.close();
    await b.close();
    await cluster.stop();
  }
}

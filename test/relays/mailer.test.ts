// The relay mailer against real SMTP relays over TCP and the real PostgreSQL of a test app: failover
// with no loss and no duplicate when a relay is down (421 at the greeting, connection refused,
// closed after the greeting), the failing relay paused for every process and tried again after its
// cool-down, and the split by weight.
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SendMailOptions } from 'nodemailer';
import { createLogger } from '../../src/platform/log.js';
import type { Mailer, SendOutcome } from '../../src/platform/smtp.js';
import { createRelayMailer, type RelayMailerConfig } from '../../src/relays/mailer.js';
import { parseRelayUrls } from '../../src/relays/policy.js';
import { relayHealth } from '../../src/relays/store.js';
import { useApp } from '../support/app.js';
import { freePort } from '../support/processes.js';
import { startRelaySink, type RelaySink } from './relay-sink.js';

const { app } = useApp({ smtp: false, roles: { worker: false, inbound: false }, tenant: false });
const open: { close(): unknown }[] = [];
afterEach(async () => { for (const x of open.splice(0)) await x.close(); });

async function sink(o: { down?: boolean } = {}): Promise<RelaySink> {
  const s = await startRelaySink(o);
  open.push(s);
  return s;
}

function mailer(urls: string, o: Partial<RelayMailerConfig> = {}): Mailer {
  const m = createRelayMailer({
    relays: parseRelayUrls(urls, 2), tls: { requireTls: false }, pauseAfterFailures: 3, cooldownSeconds: 1, refreshMs: 100,
    domainConcurrency: 50, domainLimits: new Map(), backoffBaseSeconds: 1, backoffMaxSeconds: 4, ...o,
  }, { db: app.pg.deps.db.pool, log: createLogger('silent', false) });
  open.push(m);
  return m;
}

function message(i: number): SendMailOptions {
  const to = `reader${i}@inbox.example`;
  return { from: 'news@acme.org', to, envelope: { from: 'bounces@bounces.postgate.test', to }, subject: `m${i}`, text: 'hello', headers: { 'X-Postgate-Message': randomUUID() } };
}

/** Sends `n` messages, `concurrency` at a time; returns the outcomes and the keys sent. */
async function sendAll(m: Mailer, n: number, concurrency = 10): Promise<{ outcomes: SendOutcome[]; keys: string[] }> {
  const msgs = Array.from({ length: n }, (_, i) => message(i));
  const outcomes: SendOutcome[] = [];
  for (let i = 0; i < n; i += concurrency) outcomes.push(...await Promise.all(msgs.slice(i, i + concurrency).map((x) => m.send(x))));
  return { outcomes, keys: msgs.map((x) => String((x.headers as Record<string, string>)['X-Postgate-Message'])) };
}

async function health(name: string) {
  return (await relayHealth(app.pg.deps.db.pool)).find((h) => h.relay === name) ?? { relay: name, failures: 0, pausedForMs: 0 };
}

/** A relay that greets and closes the connection at once. */
async function closingRelay(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.end('220 relay.test ESMTP\r\n'); });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const close = () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); srv.close(() => resolve()); });
  const r = { url: `smtp://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, close };
  open.push(r);
  return r;
}

describe('relay failover', () => {
  it('a relay that answers 421 at the greeting: every message goes to the other exactly once; paused, then tried again after its cool-down', async () => {
    const a = await sink({ down: true });
    const b = await sink();
    const name = `a-${randomUUID().slice(0, 8)}`;
    const m = mailer(`${a.url}?name=${name},${b.url}?name=b-${name}`, { cooldownSeconds: 4 });

    const first = await sendAll(m, 40);
    expect(first.outcomes.every((o) => o.kind === 'sent')).toBe(true);
    expect(new Set(b.accepted.map((x) => x.key))).toEqual(new Set(first.keys)); // nothing lost
    expect(b.duplicates()).toEqual([]);
    expect(a.accepted).toEqual([]);
    expect(a.refused).toBeGreaterThanOrEqual(3);
    expect((await health(name)).pausedForMs).toBeGreaterThan(0);

    // Paused: skipped, not even connected to.
    const refusedAtPause = a.refused;
    await sendAll(m, 20);
    expect(a.refused).toBe(refusedAtPause);

    // Back up; after the cool-down it takes its share again and its failures are cleared.
    a.setDown(false);
    const left = (await health(name)).pausedForMs;
    await new Promise((r) => setTimeout(r, left + 300));
    const again = await sendAll(m, 40);
    expect(again.outcomes.every((o) => o.kind === 'sent')).toBe(true);
    expect(a.accepted.length).toBeGreaterThan(5);
    expect(await health(name)).toMatchObject({ failures: 0, pausedForMs: 0 });
    expect([...a.duplicates(), ...b.duplicates()]).toEqual([]);
    expect(new Set([...a.accepted, ...b.accepted].map((x) => x.key)).size).toBe(100);
  });

  it.each([
    ['refuses connections', async () => `smtp://127.0.0.1:${await freePort()}`],
    ['closes the connection after its greeting', async () => (await closingRelay()).url],
  ])('a relay that %s: no loss, no duplicate, paused', async (_what, relayUrl) => {
    const b = await sink();
    const name = `x-${randomUUID().slice(0, 8)}`;
    const m = mailer(`${await relayUrl()}?name=${name}&weight=5,${b.url}?name=b-${name}`, { cooldownSeconds: 60 });
    const r = await sendAll(m, 30);
    expect(r.outcomes.map((o) => o.kind)).toEqual(Array(30).fill('sent'));
    expect(new Set(b.accepted.map((x) => x.key))).toEqual(new Set(r.keys));
    expect(b.duplicates()).toEqual([]);
    expect((await health(name)).pausedForMs).toBeGreaterThan(0);
  });

  it('every relay down: deferred as relays_paused (no attempt counted) once all are paused', async () => {
    const a = await sink({ down: true });
    const name = `only-${randomUUID().slice(0, 8)}`;
    const m = mailer(`${a.url}?name=${name}`, { pauseAfterFailures: 1, cooldownSeconds: 5 });
    const first = await m.send(message(1));
    expect(first).toMatchObject({ kind: 'temporary', session: true });
    const second = await m.send(message(2));
    expect(second).toMatchObject({ kind: 'temporary', backoff: { reason: 'relays_paused', attempted: false } });
    expect(a.refused).toBe(1);
  });
});

describe('relay weights', () => {
  it('splits mail by weight (3:1) among healthy relays', async () => {
    const a = await sink();
    const b = await sink();
    const m = mailer(`${a.url}?weight=3&name=w3-${randomUUID().slice(0, 8)},${b.url}?weight=1&name=w1-${randomUUID().slice(0, 8)}`);
    const r = await sendAll(m, 400, 20);
    expect(r.outcomes.every((o) => o.kind === 'sent')).toBe(true);
    const share = a.accepted.length / 400;
    expect(a.accepted.length + b.accepted.length).toBe(400);
    expect(share).toBeGreaterThan(0.68);
    expect(share).toBeLessThan(0.82);
  });
});

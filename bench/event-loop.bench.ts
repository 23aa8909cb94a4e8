// Event loop under hostile input (issue 14: no request may hold the event loop over 50 ms). A real
// `postgate web` process on its own embedded PostgreSQL; the delay is measured inside the server by
// monitorEventLoopDelay (prom-client's postgate_nodejs_eventloop_lag_{max,p99}_seconds on /metrics;
// its histogram is reset at each scrape, so a scrape before and after a phase brackets that phase).
// Baseline, in the same run: the same server answering GET /healthz only (one every 50 ms, the probe
// that runs through every phase). Then, phase by phase, with /healthz probed all along: the 500 KB
// {{#if}} template and the 250 KB MJML template each created, updated and previewed; the other
// hostile templates (test/faults/hostile-inputs.ts); fuzz bodies on every endpoint; every
// card-number spelling; 1 MB JSON bodies without and with a key; DKIM key generation; many keys
// (60 000 keys in ~900 KB, ~18 000 in 256 KiB attributes and notice data, a body at the shape limits
// of json-shape.ts, a legitimate 500-line invoice), each without and with an Idempotency-Key, and ten
// 60 000-key bodies at once. Prints each phase's worst and p99
// delay, its ratio to the baseline, and the worst of all. Figures include monitorEventLoopDelay's
// 10 ms sampling interval (an idle loop reads about 10–11 ms).
// Run: npm run bench -- event-loop (EVENT_LOOP_PHASES=many runs only the phases whose name holds 'many')
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { MIGRATIONS_DIR } from '../src/main.js';
import { createDb, migrate } from '../src/platform/db.js';
import { createTenant } from '../src/tenants/store.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { killAll, startProcess } from '../test/support/processes.js';
import { CARD_VARIANTS, HEADER_NAME_ATTACKS, HEAVY_MJML_TEMPLATE, HOSTILE_TEMPLATES, STALL_TEMPLATE } from '../test/faults/hostile-inputs.js';
import { startBenchPostgres } from './support.js';

const BASELINE_SECONDS = 5;
const ONE_MB = 1024 * 1024;
const BOUND_MS = 50;
const REQUEST_TIMEOUT_MS = 180_000;
/** Only the phases whose name holds this text (the baseline always runs). */
const ONLY = process.env.EVENT_LOOP_PHASES ?? '';

/** An object of `n` keys k0…k(n-1), each holding its index. */
function manyKeys(n: number, prefix = 'k'): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`${prefix}${i}`] = i;
  return o;
}

interface Delay { maxMs: number; p99Ms: number }
interface Phase extends Delay { name: string; ms: number; requests: number; statuses: Record<string, number>; probes: number; healthzWorstMs: number }

const fmt = (v: number) => `${v.toFixed(1)} ms`;

export default async function main(): Promise<void> {
  const pgc = await startBenchPostgres('postgate');
  try {
    await migrate(pgc.url, MIGRATIONS_DIR);
    const tenantId = randomUUID();
    const db = createDb(pgc.url, { max: 2 });
    let key: string;
    try {
      await createTenant(db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org', postalAddress: '1 Main Street, Springfield' }, tenantId);
      await db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'acme.org')); // the operator vouches (sending domains)
      key = (await db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['admin']))).key;
    } finally {
      await db.close();
    }
    const web = await startProcess('web', { databaseUrl: pgc.url, env: { LOG_LEVEL: 'warn' } });
    const base = web.url as string;
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    async function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
      try {
        const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        return { status: res.status, text: await res.text() };
      } catch {
        return { status: -1, text: '' };
      }
    }
    async function delay(): Promise<Delay> {
      const text = await (await fetch(`${base}/metrics`)).text();
      const read = (n: string) => Number(new RegExp(`^postgate_nodejs_eventloop_lag_${n}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000;
      return { maxMs: read('max'), p99Ms: read('p99') };
    }
    /** Runs `work` between two scrapes while /healthz is probed every 50 ms. */
    async function phase(name: string, work: (send: typeof call) => Promise<void>): Promise<Phase> {
      if (ONLY && !name.startsWith('baseline') && !name.includes(ONLY)) return { name, ms: 0, requests: 0, statuses: {}, probes: 0, healthzWorstMs: 0, maxMs: Number.NaN, p99Ms: Number.NaN };
      const statuses: Record<string, number> = {};
      let requests = 0;
      const counted: typeof call = async (...args) => {
        const r = await call(...args);
        requests++;
        const k = r.status < 0 ? 'none' : `${r.status}`;
        statuses[k] = (statuses[k] ?? 0) + 1;
        return r;
      };
      await delay();
      let probing = true;
      let healthzWorstMs = 0;
      let probes = 0;
      const prober = (async () => {
        while (probing) {
          const t = performance.now();
          await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then((r) => r.arrayBuffer()).catch(() => undefined);
          healthzWorstMs = Math.max(healthzWorstMs, performance.now() - t);
          probes++;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const t0 = performance.now();
      await work(counted);
      const ms = performance.now() - t0;
      probing = false;
      await prober;
      return { name, ms, requests, statuses, probes, healthzWorstMs, ...(await delay()) };
    }

    // Fixtures: a contact for notices, a template to update and preview.
    await call('POST', '/api/contacts', auth, JSON.stringify({ email: 'known@inbox.example', name: 'Known', newsletter: true, consent: { text: 'Yes, send me the newsletter.', source: 'bench' } }));
    const target = (JSON.parse((await call('POST', '/api/templates', auth, JSON.stringify({ name: 'Target', mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>', subject: 'Hi' }))).text) as { id?: string }).id ?? randomUUID();

    // The baseline is the probe alone: the same /healthz every 50 ms that runs through every phase.
    const baseline = await phase(`baseline: GET /healthz only (every 50 ms), ${BASELINE_SECONDS} s`, async () => {
      await new Promise((resolve) => setTimeout(resolve, BASELINE_SECONDS * 1000));
    });

    const phases: Phase[] = [];
    const skip = (label: string) => Boolean(ONLY) && !label.includes(ONLY);
    for (const [label, mjml] of [['500 KB {{#if}} template', STALL_TEMPLATE], ['250 KB MJML template', HEAVY_MJML_TEMPLATE]]) {
      const body = JSON.stringify({ name: label, mjml, subject: 'Hi {{name}}' });
      let saved: string | null = null;
      phases.push(await phase(`${label}: create`, async (send) => {
        const r = await send('POST', '/api/templates', auth, body);
        if (r.status === 201) saved = (JSON.parse(r.text) as { id: string }).id;
      }));
      let updated = false;
      phases.push(await phase(`${label}: update (new version)`, async (send) => { updated = (await send('PUT', `/api/templates/${target}`, auth, body)).status === 200; }));
      phases.push(await phase(`${label}: preview`, async (send) => {
        const id = saved ?? (updated ? target : null);
        if (id) await send('POST', `/api/templates/${id}/preview`, auth, '{}');
      }));
    }
    phases.push(await phase('other hostile templates: create + preview', async (send) => {
      for (const t of HOSTILE_TEMPLATES.filter((x) => x.mjml !== STALL_TEMPLATE && x.mjml !== HEAVY_MJML_TEMPLATE)) {
        const r = await send('POST', '/api/templates', auth, JSON.stringify({ name: t.label, mjml: t.mjml, subject: t.subject, ...(t.text ? { text: t.text } : {}) }));
        if (r.status === 201) await send('POST', `/api/templates/${(JSON.parse(r.text) as { id: string }).id}/preview`, auth, JSON.stringify({ data: t.data ?? {} }));
      }
    }));
    const spec = JSON.parse((await call('GET', '/openapi.json', {})).text) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const endpoints = skip('fuzz') ? [] : Object.entries(spec.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => ({ method: m.toUpperCase(), path: p.replace(/\{[A-Za-z_]+\}/g, () => randomUUID()) })));
    // One bracket per endpoint, so the worst one is named; reported as one phase.
    const values = fc.sample(fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.dictionary(fc.constantFrom('email', 'name', 'mjml', 'subject', 'data', 'lines', '__proto__'),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...CARD_VARIANTS.map((v) => v.text), ...HEADER_NAME_ATTACKS.map((a) => a.text))))), { numRuns: 20, seed: 424242 });
    const perEndpoint: Phase[] = [];
    for (const e of endpoints) {
      perEndpoint.push(await phase(`${e.method} ${e.path.replace(/[0-9a-f-]{36}/g, '{id}')}`, async (send) => {
        for (const v of values) await send(e.method, e.path, auth, e.method === 'GET' ? undefined : JSON.stringify(v));
      }));
    }
    const worstEndpoint = perEndpoint.reduce((a, p) => (p.maxMs > a.maxMs ? p : a), perEndpoint[0]);
    const statuses: Record<string, number> = {};
    for (const p of perEndpoint) for (const [k, n] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
    if (worstEndpoint) phases.push({
      name: `fuzz bodies on every endpoint (worst: ${worstEndpoint.name})`, ms: perEndpoint.reduce((a, p) => a + p.ms, 0), requests: perEndpoint.reduce((a, p) => a + p.requests, 0),
      statuses, probes: perEndpoint.reduce((a, p) => a + p.probes, 0), healthzWorstMs: Math.max(...perEndpoint.map((p) => p.healthzWorstMs)),
      maxMs: worstEndpoint.maxMs, p99Ms: Math.max(...perEndpoint.map((p) => p.p99Ms)),
    });
    phases.push(await phase('DKIM key generation (POST /api/dkim, 3 valid calls)', async (send) => {
      for (const i of [1, 2, 3]) await send('POST', '/api/dkim', auth, JSON.stringify({ selector: `bench${i}`, domain: 'acme.org' }));
    }));
    phases.push(await phase('card numbers in every spelling (bodies and query strings)', async (send) => {
      for (const v of CARD_VARIANTS) {
        await send('POST', '/api/contacts', auth, JSON.stringify({ email: 'c@inbox.example', name: v.text, newsletter: true, consent: { text: v.text, source: 'bench' } }));
        await send('GET', `/api/contacts?${new URLSearchParams([['email', v.text]]).toString()}`, auth);
      }
    }));
    const oneMb = JSON.stringify({ email: 'big@inbox.example', name: 'Big', attributes: { blob: 'x'.repeat(ONE_MB - 2000) }, newsletter: true, consent: { text: 'y', source: 'bench' } });
    phases.push(await phase('1 MB JSON bodies, unauthenticated (8 at once)', async (send) => {
      await Promise.all(Array.from({ length: 8 }, () => send('POST', '/api/contacts', { 'content-type': 'application/json' }, oneMb)));
    }));
    phases.push(await phase('1 MB JSON bodies, authenticated (8 at once)', async (send) => {
      await Promise.all(Array.from({ length: 8 }, () => send('POST', '/api/contacts', auth, oneMb)));
    }));

    // Many keys (issue 14): each body 3 times, without and with an Idempotency-Key (a new key each time).
    const invoiceOf = (over: Record<string, unknown>) => ({ transactionId: `T-${randomUUID()}`, contact: 'known@inbox.example', currency: 'EUR', issuedAt: '2024-05-31',
      lines: [{ description: 'Plan', quantity: 1, unitAmount: 1000 }], total: 1000, ...over });
    const keyed = (headers: Record<string, string>) => ({ ...headers, 'idempotency-key': `bench-${randomUUID()}` });
    const manyKeyBodies: [string, string, () => string][] = [
      ['60 000 keys (~900 KB) at the top of POST /api/invoices (1 MiB limit)', '/api/invoices', () => JSON.stringify(invoiceOf(manyKeys(60_000)))],
      ['60 000 keys (~900 KB) in lines[0] of POST /api/invoices', '/api/invoices', () => JSON.stringify(invoiceOf({ lines: [manyKeys(60_000)] }))],
      ['18 000 keys (256 KiB) on POST /api/lists', '/api/lists', () => JSON.stringify({ name: 'Many', ...manyKeys(18_000) })],
      ['18 000 keys (256 KiB) in attributes of POST /api/contacts', '/api/contacts', () => JSON.stringify({ email: `many-${randomUUID().slice(0, 8)}@inbox.example`, attributes: manyKeys(18_000), newsletter: true, consent: { text: 'Yes', source: 'bench' } })],
      ['18 000 keys (256 KiB) in notice data of POST /api/messages', '/api/messages', () => JSON.stringify({ kind: 'technical', contact: 'known@inbox.example', data: { body: 'Text', ...manyKeys(18_000, 'd') } })],
      ['at the shape limits: 9 lines of 999 members + 240 lines (9 967 values, ~120 KB) on POST /api/invoices', '/api/invoices',
        () => JSON.stringify(invoiceOf({ lines: [...Array.from({ length: 9 }, (_, j) => manyKeys(999, `l${j}k`)), ...Array.from({ length: 240 }, (_, i) => ({ description: `Line ${i}`, quantity: 1, unitAmount: 1 }))] }))],
      ['a legitimate 500-line invoice (~40 KB) on POST /api/invoices', '/api/invoices',
        () => JSON.stringify(invoiceOf({ lines: Array.from({ length: 500 }, (_, i) => ({ description: `Seat ${i} of the annual plan`, quantity: 1, unitAmount: 200 })), total: 100_000 }))],
    ];
    for (const [label, path, make] of manyKeyBodies) {
      for (const withKey of [false, true]) {
        phases.push(await phase(`many keys: ${label}, ${withKey ? 'with' : 'without'} Idempotency-Key (3 in turn)`, async (send) => {
          for (let i = 0; i < 3; i++) await send('POST', path, withKey ? keyed(auth) : auth, make());
        }));
      }
    }
    const sixtyK = JSON.stringify(invoiceOf(manyKeys(60_000)));
    phases.push(await phase('many keys: 60 000 keys (~900 KB) on POST /api/invoices, 10 at once with Idempotency-Key', async (send) => {
      await Promise.all(Array.from({ length: 10 }, () => send('POST', '/api/invoices', keyed(auth), sixtyK)));
    }));

    const b = baseline;
    console.log(`${b.name}: ${b.probes} probes; event-loop delay max ${fmt(b.maxMs)}, p99 ${fmt(b.p99Ms)}; /healthz worst ${fmt(b.healthzWorstMs)}`);
    for (const p of phases.filter((x) => x.requests > 0 || !ONLY)) {
      console.log(`${p.name}: ${(p.ms / 1000).toFixed(1)} s, ${p.requests} requests ${JSON.stringify(p.statuses)}; event-loop delay max ${fmt(p.maxMs)} ` +
        `(${(p.maxMs / b.maxMs).toFixed(1)}× baseline), p99 ${fmt(p.p99Ms)} (${(p.p99Ms / b.p99Ms).toFixed(1)}×); /healthz worst ${fmt(p.healthzWorstMs)}`);
    }
    const ran = phases.filter((p) => !Number.isNaN(p.maxMs));
    const worst = ran.reduce((a, p) => (p.maxMs > a.maxMs ? p : a));
    const worstP99 = Math.max(...ran.map((p) => p.p99Ms));
    console.log(`worst event-loop delay under hostile input: ${fmt(worst.maxMs)} (${worst.name}) = ${(worst.maxMs / b.maxMs).toFixed(1)}× baseline ${fmt(b.maxMs)}; ` +
      `worst p99 ${fmt(worstP99)}; issue 14 bound ${BOUND_MS} ms (plus the 10 ms sampling interval): ${worst.maxMs <= BOUND_MS + 10 ? 'within' : 'EXCEEDED'}`);
  } finally {
    await killAll();
    await pgc.stop();
  }
}

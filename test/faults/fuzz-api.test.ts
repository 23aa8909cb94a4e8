// Every API endpoint (discovered from /openapi.json) and the public token pages, fuzzed with
// generated malformed and hostile input (fast-check): wrong types, huge strings, CR/LF, NUL, lone
// surrogates, unicode, prototype-pollution keys, numbers at the edges, deep nesting, broken JSON,
// wrong content types, oversized bodies, hostile path segments and query strings. Against a real
// `postgate web` process (a crash is a dead process, not a caught exception). For every request:
// never a 5xx, never a dropped connection; an /api error is JSON with a code; and a request that was
// refused (4xx) changed nothing: every public table has the same rows before and after it.
//
// Issue 14's hostile input on top (test/faults/hostile-inputs.ts): templates that stall, log, reach
// prototypes, escape their context or use triple-stash; RFC 2047 encoded-words and bidi controls in
// names; payment-card numbers spelt with double spaces, dots, tabs, NBSP, full-width, Arabic-Indic or
// Devanagari digits and zero-width characters, in every string field, query string, User-Agent and
// bounce diagnostic. /healthz must answer within 1 s while the worst of it runs (the 50 ms figure is
// `npm run bench -- event-loop`'s). The suite runs on a PostgreSQL cluster of its own, and ends by
// stopping the process and the cluster and sweeping every data file, every row, the server log and
// the process's whole output for each card number sent (test/faults/leak-sweep.ts): none may be found.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import nodePath from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenKeys } from '../../src/platform/secrets.js';
import { createDb } from '../../src/platform/db.js';
import { createTenant } from '../../src/tenants/store.js';
import { vouchDomain } from '../../src/tenants/domains.js';
import { createApiKey } from '../../src/tenants/api-keys.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';
import { signToken } from '../../src/policy/tokens.js';
import { activationToken, readActivationData } from '../../src/consent/activation.js';
import { killAll, startProcess, TEST_TOKEN_KEYS, type PostgateProcess } from '../support/processes.js';
import { NEWSLETTER_MJML, report } from './helpers.js';
import {
  asHeaderValue, CARD_NUMBERS, CARD_VARIANTS, cardSpellings, findCardNumbers, HEADER_NAME_ATTACKS, HEAVY_MJML_TEMPLATE, HOSTILE_TEMPLATES, LOG_MARKER,
  luhnCheckDigit, scriptUrlsIn, STALL_TEMPLATE, type HostileTemplate,
} from './hostile-inputs.js';
import { relationFiles, startPrivateCluster, sweepFiles, sweepTables, type Leak, type PrivateCluster } from './leak-sweep.js';

const RUNS_PER_ENDPOINT = 24;
const RUNS_PER_PAGE = 30;
const SEED = Number(process.env.FUZZ_SEED ?? 424242);
const MAX_BODY_BYTES = 1024 * 1024;

let cluster: PrivateCluster;
let dataDir: string;
let web: PostgateProcess;
/** Everything the web process wrote, unbounded (its own output() keeps only the tail). */
const webOutput: Buffer[] = [];
let owner: pg.Client;
let base: string;
let key: string;
let tenantId: string;
let tables: string[];
const known: Record<string, string[]> = { contacts: [], lists: [], templates: [], campaigns: [], messages: [] };
const failures: { request: string; problem: string }[] = [];
let requests = 0;
let ownerClosed = false;
const statuses = new Map<string, number>();

// ---- the requests ------------------------------------------------------------------------------

interface FuzzRequest { method: string; path: string; headers: Record<string, string>; body?: string | Buffer; label: string; timeoutMs?: number }
interface Answer { status: number; text: string; error: string | null }

async function send(r: FuzzRequest): Promise<Answer> {
  requests++;
  try {
    const body = r.body === undefined || typeof r.body === 'string' ? r.body : new Uint8Array(r.body);
    const res = await fetch(base + r.path, { method: r.method, headers: r.headers, body, redirect: 'manual', signal: AbortSignal.timeout(r.timeoutMs ?? 20_000) });
    return { status: res.status, text: await res.text(), error: null };
  } catch (err) {
    return { status: -1, text: '', error: `${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}` };
  }
}

function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? '' : ` ${Buffer.byteLength(r.body) > 300 ? `<${Buffer.byteLength(r.body)} bytes> ${String(r.body).slice(0, 120)}…` : String(r.body)}`;
  return `${r.method} ${r.path.length > 200 ? `${r.path.slice(0, 200)}…` : r.path} [${r.label}] ${r.headers['content-type'] ?? ''}${body}`;
}

// ---- table snapshots ---------------------------------------------------------------------------

type Snapshot = Map<string, { n: number; h: string }>;

async function snapshot(): Promise<Snapshot> {
  // api_keys.last_used_at is stamped by authentication itself (at most once a minute per key), not by the request's work.
  const sql = tables.map((t) => `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg((to_jsonb(x) - 'last_used_at')::text, '|' ORDER BY (to_jsonb(x) - 'last_used_at')::text), '')) AS h FROM "${t}" x`).join(' UNION ALL ');
  const rows = (await owner.query<{ t: string; n: number; h: string }>(sql)).rows;
  return new Map(rows.map((r) => [r.t, { n: r.n, h: r.h }]));
}

function changes(a: Snapshot, b: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, v] of b) {
    const before = a.get(t) as { n: number; h: string };
    if (before.h !== v.h) out[t] = v.n - before.n;
  }
  return out;
}

/** 4xx answers that record a complete row on purpose (documented in the module that does it). */
function intendedWrite(status: number, text: string, delta: Record<string, number>): boolean {
  // transactional/submit.ts: a refused necessary mail (no such contact) is recorded as a suppressed ledger row.
  // A replay of the same refused request adds one more 'suppressed' event to that refusal row (and to the feed).
  if (status !== 422 || !text.includes('"no_association"')) return false;
  const keys = Object.keys(delta).sort().join(',');
  // Each refusal's ledger event is also the tenant's feed event (migration 074's trigger).
  const one = delta.message_events === 1 && delta.events === 1;
  return one && ((keys === 'events,message_events,messages' && delta.messages === 1) || keys === 'events,message_events');
}

let before: Snapshot;

/** Sends one request and checks every invariant; records a failure instead of throwing, so one run reports them all. */
async function check(r: FuzzRequest): Promise<Answer> {
  const a = await send(r);
  const after = await snapshot();
  const klass = a.error ? 'none' : `${Math.floor(a.status / 100)}xx`;
  statuses.set(klass, (statuses.get(klass) ?? 0) + 1);
  const fail = (problem: string) => failures.push({ request: describeRequest(r), problem });
  if (a.error) fail(`no answer: ${a.error}`);
  else if (a.status >= 500) fail(`HTTP ${a.status}: ${a.text.slice(0, 300)}`);
  else if (a.status >= 400) {
    const delta = changes(before, after);
    if (Object.keys(delta).length && !intendedWrite(a.status, a.text, delta)) fail(`HTTP ${a.status} but rows changed: ${JSON.stringify(delta)} (${a.text.slice(0, 200)})`);
    // 414/431 come from Node's HTTP parser (request line or headers over its limit), before the app runs.
    if (r.path.startsWith('/api') && a.status !== 414 && a.status !== 431) {
      let code: unknown = null;
      try { code = (JSON.parse(a.text) as { error?: { code?: unknown } }).error?.code; } catch { /* not JSON */ }
      if (typeof code !== 'string') fail(`HTTP ${a.status} without a JSON error code: ${a.text.slice(0, 200)}`);
    }
  } else {
    learn(r, a);
  }
  before = after;
  return a;
}

/** Records a failure of a property beyond the invariants check() holds. */
function failed(r: FuzzRequest, a: Answer, problem: string): void {
  failures.push({ request: describeRequest(r), problem: `${problem} (HTTP ${a.status}: ${a.text.slice(0, 200)})` });
}

/** Ids created by successful requests become path parameters of later ones. */
function learn(r: FuzzRequest, a: Answer): void {
  let body: { id?: unknown } | null = null;
  try { body = JSON.parse(a.text) as { id?: unknown }; } catch { return; }
  const id = typeof body?.id === 'string' ? body.id : null;
  if (!id || r.method !== 'POST') return;
  const kind = /^\/api\/(contacts|lists|templates|campaigns|messages|invoices)$/.exec(r.path.split('?')[0])?.[1];
  if (kind) known[kind === 'invoices' ? 'messages' : kind].push(id);
}

// ---- hostile values ----------------------------------------------------------------------------

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', 'x\r\nBcc: victim@example.org', 'Subject\r\n\r\n<html>', '\n', '\r', '\t', '\u0085', '\u2028', '\uFEFF',
  '\uD800', 'a\uDFFFb', 'tail\uD83D', '\u202Etxt.exe', 'ǅ', 'İ', 'ß', '🙂'.repeat(300), 'é'.normalize('NFD'),
  '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; DROP TABLE contacts; --", "' OR '1'='1",
  '{{constructor.constructor("return process")()}}', '{{#each this}}{{/each}}', '{{> partial}}', '{{{unsubscribeUrl}}}',
  '<mjml><mj-body><mj-raw><script>x</script></mj-raw></mj-body></mjml>', '<mjml>', '</mj-body>',
  '../../../etc/passwd', '%00', '%0d%0aSet-Cookie:x=1', 'user@example.org', 'USER@EXAMPLE.ORG', 'a@b', '"quoted"@example.org',
  'x@[127.0.0.1]', 'x@localhost', 'тест@пример.рф', 'a@xn--80ak6aa92e.com', `${'a'.repeat(300)}@example.org`, 'a@@b.org',
  '00000000-0000-0000-0000-000000000000', '00000000-0000-4000-8000-000000000001', randomUUID(), randomUUID().toUpperCase(),
  '1e308', '-1e308', 'NaN', 'Infinity', '-0', '0x10', '1_000', '9007199254740993', '4111111111111111', '4111 1111 1111 1111',
  'true', 'null', '[]', '{}', '__proto__', 'constructor', 'https://evil.example/', 'javascript:alert(1)', 'mailto:x@example.org',
  'EUR', 'eur', 'XXX', 'de-DE', 'x-invalid-locale-tag-that-is-long', '2024-02-30', '2024-05-31', '2024-05-31T25:00:00Z',
  '9999-12-31T23:59:59Z', '0000-01-01', 'account', 'marketing', 'admin', 'subscribers',
];
const HOSTILE_NUMBERS = [1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 0, -0, 0.5, -1, 2 ** 31, 2 ** 63, 1e21, 123.456, 100_001, 1_000_000_001];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.constantFrom(...CARD_VARIANTS.map((v) => v.text)) },
  { weight: 1, arbitrary: fc.constantFrom(...HEADER_NAME_ATTACKS.map((v) => v.text), '{{log "x" level="error"}}', '{{{name}}}', '{{& name}}',
    '{{lookup this "constructor"}}', '{{#if a}}', 'javascript:alert(1)', "x');background:url(javascript:alert(1))") },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 600_000 }).map((n) => 'x'.repeat(n)) },
);
const hostileNumber = fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const FIELD_NAMES = ['email', 'name', 'consent', 'text', 'source', 'newsletter', 'listIds', 'lists', 'scopes', 'total', 'lines', 'data', 'kind', 'contact',
  'mjml', 'subject', 'templateId', 'sendAt', 'replyTo', 'attributes', 'sendRatePerSecond', 'testEmails', 'quantity', 'unitAmount', 'emails', 'version'];
const hostileKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'a.b', '$where', '0', ...FIELD_NAMES),
  fc.string({ unit: 'binary', maxLength: 12 }));
const { value: hostileValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 },
    hostileString, hostileNumber, fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 6 })),
}));

// ---- bodies ------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];
type JsonNode = Record<string | number, unknown>;

function pathsOf(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) pathsOf(v[k], [...at, k], out);
  return out;
}

interface Mutation { pick: number; action: 'replace' | 'delete' | 'add' | 'wrap'; key: string; value: unknown }

function mutate(example: Json, ms: Mutation[]): unknown {
  let doc = structuredClone(example) as unknown;
  for (const m of ms) {
    const paths = pathsOf(doc as Json);
    const p = paths[m.pick % paths.length];
    if (p.length === 0) { doc = m.action === 'wrap' ? [doc] : m.action === 'replace' ? m.value : doc; continue; }
    const parent = p.slice(0, -1).reduce<JsonNode>((o, k) => o[k] as JsonNode, doc as JsonNode);
    const last = p[p.length - 1];
    if (m.action === 'replace') parent[last] = m.value;
    else if (m.action === 'delete') { if (Array.isArray(parent)) parent.splice(Number(last), 1); else delete parent[last]; }
    else if (m.action === 'wrap') parent[last] = [parent[last]];
    else if (parent && typeof parent === 'object' && !Array.isArray(parent)) Object.defineProperty(parent, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return doc;
}

const mutation = fc.record({
  pick: fc.nat(), action: fc.constantFrom<Mutation['action']>('replace', 'replace', 'replace', 'delete', 'add', 'wrap'), key: hostileKey, value: hostileValue,
});

function nested(depth: number, open: string, close: string, leaf = '1'): string {
  return open.repeat(depth) + leaf + close.repeat(depth);
}

/** Bodies that are not what JSON.stringify makes: broken JSON, edge numbers, pollution, deep nesting. */
function rawBodies(example: Json): string[] {
  const text = JSON.stringify(example);
  const inner = text.startsWith('{') && text.length > 2 ? text.slice(1) : '}';
  return [
    '', '{', '{"a":', '[', 'null', 'true', '"string"', '123', '{}garbage', text.slice(0, Math.max(1, Math.floor(text.length / 2))),
    `{"__proto__":{"polluted":true,"admin":true},"constructor":{"prototype":{"polluted":true}},${inner}`,
    `{"total":1e400,${inner}`, `{"quantity":-1e400,${inner}`, `{"x":1${'0'.repeat(400)},${inner}`,
    `\uFEFF${text}`, text.replace(/"/g, "'"), `${text}${text}`, `{"a":"\\ud800"}`, `{"email":"\\u0000@x.org"}`,
    nested(1000, '[', ']'), nested(1000, '{"a":', '}'), nested(100_000, '[', ']'), nested(50_000, '{"a":', '}'),
  ];
}

const CONTENT_TYPES = ['application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain',
  'application/x-www-form-urlencoded', 'application/merge-patch+json', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x'];

// ---- endpoints -----------------------------------------------------------------------------------

interface Endpoint { method: string; path: string; hasBody: boolean; queryKeys: string[] }

function examples(): Record<string, Json> {
  const list = known.lists[0] ?? randomUUID();
  const template = known.templates[0] ?? randomUUID();
  const consent: Json = { text: 'Yes, send me the newsletter.', source: 'signup-form', ip: '203.0.113.7', userAgent: 'Fuzz/1.0' };
  return {
    'PATCH /api/tenant': { name: 'Acme', fromName: 'Acme News', postalAddress: '1 Main Street, Springfield', sendRatePerSecond: 100 },
    'POST /api/keys': { scopes: ['subscribers', 'transactional'] },
    'POST /api/dkim': { selector: 'fuzz', domain: 'acme.org' },
    'POST /api/contacts': { email: `fuzz-${randomUUID().slice(0, 8)}@inbox.example`, name: 'Fuzz', attributes: { city: 'Paris' }, newsletter: true, consent },
    'POST /api/contacts/{id}/subscriptions': { listIds: [list], consent },
    'POST /api/lists': { name: 'Weekly', description: 'Once a week', isDefault: false },
    'PATCH /api/lists/{id}': { name: 'Renamed', description: null },
    'POST /api/invoices': {
      transactionId: `T-${randomUUID()}`, contact: 'known@inbox.example', currency: 'EUR', locale: 'de-DE', issuedAt: '2024-05-31',
      lines: [{ description: 'Plan', quantity: 2, unitAmount: 1000 }], taxes: [{ name: 'VAT', rate: 20, amount: 400 }], total: 2400,
    },
    'POST /api/messages': { kind: 'technical', contact: 'known@inbox.example', data: { body: 'Maintenance tonight.', actionUrl: 'https://acme.org/status' }, idempotencyKey: `k-${randomUUID()}` },
    'POST /api/templates': { name: 'Fuzz', mjml: NEWSLETTER_MJML, subject: 'Hello {{name}}', text: 'Hello {{name}}\n{{unsubscribeUrl}}' },
    'PUT /api/templates/{id}': { name: 'Fuzz 2', mjml: NEWSLETTER_MJML, subject: 'Hi {{name}}' },
    'POST /api/templates/{id}/preview': { data: { name: 'Jane', attributes: { city: 'Oslo' } }, version: 1 },
    'POST /api/campaigns': { name: 'Spring', subject: 'News {{name}}', templateId: template, listIds: [list], replyTo: 'support@acme.org' },
    'POST /api/campaigns/{id}/test': { emails: ['test@acme.org'] },
    'POST /api/test-addresses': { email: 'test@acme.org' },
    'POST /api/campaigns/{id}/schedule': { sendAt: new Date(Date.now() + 86_400_000).toISOString() },
    'POST /api/contacts/{id}/unsubscribe': { listIds: [list], ip: '203.0.113.9', userAgent: 'Fuzz/1.0' },
  };
}

const RAW_INBOUND = `From: MAILER-DAEMON@mx.example\r\nTo: bounces@postgate.test\r\nSubject: Undelivered Mail\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; known@inbox.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n`;

function idsFor(path: string, param: string): string[] {
  if (param === 'listId') return known.lists;
  const kind = /^\/api\/(contacts|lists|templates|campaigns|messages|bounces)/.exec(path)?.[1] ?? '';
  return known[kind] ?? [];
}

const HOSTILE_SEGMENTS = ['not-a-uuid', '%00', '..%2F..%2Fetc%2Fpasswd', '%ZZ', '%F0%9F%99%82', 'x'.repeat(5000), '00000000-0000-0000-0000-000000000000',
  '%27%20OR%201%3D1', 'null', 'undefined', '__proto__', 'constructor', '%0d%0aX-Injected:1', encodeURIComponent('\uD800'.replace(/./g, 'x')), '-1', '1e308'];

function segment(path: string, param: string): fc.Arbitrary<string> {
  const ids = idsFor(path, param);
  return fc.oneof(
    { weight: 4, arbitrary: ids.length ? fc.constantFrom(...ids) : fc.uuid() },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map(encodeURIComponent) },
  );
}

function pathArb(e: Endpoint): fc.Arbitrary<string> {
  const params = [...e.path.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => m[1]);
  if (!params.length) return fc.constant(e.path);
  return fc.tuple(...params.map((p) => segment(e.path, p))).map((vals) => params.reduce((acc, p, i) => acc.replace(`{${p}}`, vals[i]), e.path));
}

function queryArb(e: Endpoint): fc.Arbitrary<string> {
  const keys = [...e.queryKeys, '__proto__', 'constructor', 'limit', 'cursor'];
  const pair = fc.tuple(fc.constantFrom(...keys), fc.oneof(hostileString.map((s) => s.slice(0, 2000)), hostileNumber.map(String)));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((ps) => `?${new URLSearchParams(ps).toString()}`) },
    { weight: 1, arbitrary: fc.constantFrom('?limit=1&limit=2', '?limit[]=1', '?limit[$gt]=0', '?__proto__[x]=1', '?cursor=%00', '?%ZZ=1', '?limit=%', `?cursor=${'a'.repeat(10_000)}`) },
  );
}

function bodyArb(e: Endpoint): fc.Arbitrary<{ body?: string; type?: string; label: string }> {
  const example = examples()[`${e.method} ${e.path}`] ?? {};
  const mutated = fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => ({ body: JSON.stringify(mutate(example, ms)) as string | undefined, type: 'application/json', label: 'mutated' }));
  const random = hostileValue.map((v) => ({ body: JSON.stringify(v) ?? 'null', type: 'application/json', label: 'random' }));
  const raw = fc.constantFrom(...rawBodies(example)).map((b) => ({ body: b, type: 'application/json', label: 'raw' }));
  const typed = fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.constant(JSON.stringify(example))).map(([type, body]) => ({ body, type, label: 'content-type' }));
  if (e.path === '/api/inbound') {
    return fc.oneof(
      fc.constantFrom(RAW_INBOUND, RAW_INBOUND.replace(/\r\n/g, '\n'), '', 'garbage', '\u0000'.repeat(100), RAW_INBOUND.replace('5.1.1', '\u0000'), `${RAW_INBOUND}${'x'.repeat(200_000)}`)
        .map((b) => ({ body: b, type: 'message/rfc822', label: 'raw report' })),
      hostileString.map((s) => ({ body: s, type: 'text/plain', label: 'random report' })),
      typed,
    );
  }
  if (!e.hasBody && e.method === 'GET') return fc.constant({ label: 'no body' });
  return fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 2, arbitrary: random }, { weight: 2, arbitrary: raw }, { weight: 1, arbitrary: typed },
    { weight: 1, arbitrary: fc.constant({ label: 'no body' }) });
}

const authArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<string | null>('good') },
  { weight: 1, arbitrary: fc.constantFrom<string | null>(null, 'Bearer ', `Bearer ${'a'.repeat(5000)}`, 'Basic dXNlcjpwYXNz', 'Bearer pg_forged_key_forged_key_forged', 'bearer x y z') },
);

/** User-Agent headers carrying a card number (UTF-8 bytes as they come off the wire when not Latin-1). */
const CARD_USER_AGENTS = CARD_VARIANTS.map((v) => (v.headerSafe ? v.text : asHeaderValue(v.text)));

function requestArb(e: Endpoint): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(pathArb(e), queryArb(e), bodyArb(e), authArb, fc.option(fc.constantFrom(...CARD_USER_AGENTS), { freq: 6 })).map(([p, q, b, auth, ua]) => {
    const headers: Record<string, string> = {};
    if (ua !== null) headers['user-agent'] = ua;
    if (auth === 'good') headers.authorization = `Bearer ${key}`;
    else if (auth !== null) headers.authorization = auth;
    if (b.type) headers['content-type'] = b.type;
    return { method: e.method, path: p + q, headers, body: e.method === 'GET' || e.method === 'DELETE' && !b.body ? undefined : b.body, label: b.label };
  });
}

/** Fixed, nasty cases for every endpoint: oversized bodies and broken encodings. */
function fixedCases(e: Endpoint): FuzzRequest[] {
  const path = e.path.replace(/\{[A-Za-z_]+\}/g, () => randomUUID());
  const auth = { authorization: `Bearer ${key}` };
  const big = JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES + 1000) });
  const cases: FuzzRequest[] = [
    { method: e.method, path, headers: { ...auth, 'content-type': 'application/json' }, body: big, label: 'oversized' },
    { method: e.method, path, headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all', label: 'bad gzip' },
    { method: e.method, path, headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'br, compress' }, body: '{}', label: 'unknown encoding' },
  ];
  if (e.method !== 'GET') {
    const example = examples()[`${e.method} ${e.path}`] ?? {};
    for (const body of rawBodies(example)) cases.push({ method: e.method, path, headers: { ...auth, 'content-type': 'application/json' }, body, label: 'raw' });
  }
  // Every hostile path segment in every path parameter, once each (the random runs may miss one: a NUL in
  // DELETE /api/test-addresses/{address} was a 500 until a trial found it).
  if (/\{[A-Za-z_]+\}/.test(e.path)) {
    for (const seg of HOSTILE_SEGMENTS.slice(0, 6)) {
      cases.push({ method: e.method, path: e.path.replace(/\{[A-Za-z_]+\}/g, seg), headers: { ...auth, 'content-type': 'application/json' }, body: e.method === 'GET' ? undefined : '{}', label: `segment ${seg.slice(0, 20)}` });
    }
  }
  if (e.path === '/api/inbound') cases.push({ method: e.method, path, headers: { ...auth, 'content-type': 'message/rfc822' }, body: Buffer.alloc(11 * 1024 * 1024, 0x61), label: 'oversized report' });
  return cases.filter((c) => !(e.method === 'GET' && c.body !== undefined)).concat(e.method === 'GET' ? [
    { method: 'GET', path: `${path}?${'a=1&'.repeat(3000)}`, headers: auth, label: 'many params' },
    { method: 'GET', path: `${path}?${'a=1&'.repeat(5000)}`, headers: auth, label: 'URL over the header limit' },
  ] : []);
}

// ---- setup ---------------------------------------------------------------------------------------

const jsonAuth = (): Record<string, string> => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

/** A setup call through the API: throws unless it succeeds. */
async function api(method: string, path: string, body: unknown): Promise<{ id?: string }> {
  const res = await fetch(base + path, { method, headers: jsonAuth(), body: JSON.stringify(body) });
  const json = await res.json() as { id?: string };
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function apiEndpoints(): Promise<Endpoint[]> {
  const spec = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name?: string; in?: string }[] }>> };
  return Object.entries(spec.paths).flatMap(([p, ms]) => Object.entries(ms).map(([m, op]) => ({
    method: m.toUpperCase(), path: p, hasBody: Boolean(op.requestBody), queryKeys: (op.parameters ?? []).filter((q) => q.in === 'query' && q.name).map((q) => q.name as string),
  })));
}

beforeAll(async () => {
  cluster = await startPrivateCluster();
  dataDir = await mkdtemp(nodePath.join(os.tmpdir(), 'postgate-fuzz-data-'));
  // LOG_LEVEL info: the default of config/default.json, what a deployment logs.
  web = await startProcess('web', { databaseUrl: cluster.url, env: { LOG_LEVEL: 'info', DATA_DIR: dataDir } });
  webOutput.push(Buffer.from(web.output(), 'utf8'));
  web.child.stdout?.on('data', (b: Buffer) => webOutput.push(b));
  web.child.stderr?.on('data', (b: Buffer) => webOutput.push(b));
  base = web.url as string;
  owner = new pg.Client({ connectionString: cluster.url });
  await owner.connect();
  tables = (await owner.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)).rows.map((r) => r.t)
    // The staff audit log records refused changes to staff accounts too (issue 19): a row there is the point, not a half-written one.
    .filter((t) => t !== 'staff_audit');
  tenantId = randomUUID();
  const db = createDb(cluster.url, { max: 2 });
  try {
    await createTenant(db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org', postalAddress: '1 Main Street, Springfield' }, tenantId);
    await db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'acme.org')); // the operator vouches (sending domains)
    key = (await db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['admin']))).key;
  } finally {
    await db.close();
  }
  // Real ids for path parameters (and real rows for the fuzz to hit), made through the API itself.
  await api('POST', '/api/test-addresses', { email: 'test@acme.org' });
  known.lists.push((await owner.query<{ id: string }>('SELECT id FROM lists WHERE tenant_id = $1', [tenantId])).rows[0].id);
  known.lists.push((await api('POST', '/api/lists', { name: 'Second' })).id as string);
  const consent = { text: 'Yes, send me the newsletter.', source: 'signup-form' };
  known.contacts.push((await api('POST', '/api/contacts', { email: 'known@inbox.example', name: 'Known', newsletter: true, consent })).id as string);
  known.templates.push((await api('POST', '/api/templates', { name: 'Base', mjml: NEWSLETTER_MJML, subject: 'Hello {{name}}' })).id as string);
  known.campaigns.push((await api('POST', '/api/campaigns', { name: 'Base', templateId: known.templates[0], listIds: [known.lists[0]] })).id as string);
  known.messages.push((await api('POST', '/api/messages', { kind: 'technical', contact: 'known@inbox.example', data: { body: 'Hi' }, idempotencyKey: 'fuzz-setup' })).id as string);
  before = await snapshot();
}, 90_000);

afterAll(async () => {
  if (!ownerClosed) await owner?.end();
  await killAll();
  await cluster?.remove();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function alive(): Promise<void> {
  const res = await fetch(`${base}/healthz`).catch(() => null);
  expect(res?.status, web.output().slice(-3000)).toBe(200);
  expect(web.alive()).toBe(true);
}

// ---- the properties ----------------------------------------------------------------------------------

describe('fuzzing every endpoint with hostile input', () => {
  it('the API: never a 5xx, never a crash, an error code on every refusal, no row written by a refused request', async () => {
    const endpoints = await apiEndpoints();
    expect(endpoints.length).toBeGreaterThan(30);
    const t0 = Date.now();
    for (const e of endpoints) {
      const runs = e.path === '/api/dkim' ? 6 : RUNS_PER_ENDPOINT; // each valid call generates an RSA key
      await fc.assert(fc.asyncProperty(requestArb(e), async (r) => { await check(r); }), { numRuns: runs, seed: SEED, endOnFailure: true });
      for (const r of fixedCases(e)) await check(r);
      await alive();
    }
    // Unknown paths and methods under /api are JSON 404s too.
    for (const [method, path] of [['GET', '/api/nope'], ['DELETE', '/api/tenant'], ['PUT', '/api/contacts'], ['POST', '/api/'], ['GET', '/api/%']]) {
      await check({ method, path, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}', label: 'unknown route' });
    }
    await alive();
    report('API fuzz', { endpoints: endpoints.length, requests, seconds: ((Date.now() - t0) / 1000).toFixed(1), failures: failures.length, statuses: Object.fromEntries(statuses) });
    statuses.clear();
    expect(failures).toEqual([]);
  }, 240_000);

  it('the public token pages: never a 5xx, never a crash, forged or broken tokens change nothing', async () => {
    const keys = parseTokenKeys(TEST_TOKEN_KEYS);
    // A fresh contact (the API fuzz may have erased the others), subscribed through the API.
    const made = await fetch(`${base}/api/contacts`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'pages@inbox.example', name: 'Pages', newsletter: true, consent: { text: 'Yes, send me the newsletter.', source: 'signup-form' } }) });
    expect(made.status).toBe(201);
    const contact = (await made.json() as { id: string }).id;
    const valid = unsubscribeToken(keys, { tenantId, contactId: contact, campaignId: null });
    const otherTenant = unsubscribeToken(keys, { tenantId: randomUUID(), contactId: contact, campaignId: null });
    const noContact = unsubscribeToken(keys, { tenantId, contactId: randomUUID(), campaignId: known.campaigns[0] });
    const wrongPurpose = signToken(keys, 'activation', tenantId, { c: contact }, { ttlSeconds: 3600 });
    const forgedKey = unsubscribeToken(parseTokenKeys('k1:another-secret-key-0123456789'), { tenantId, contactId: contact, campaignId: null });
    const tokenArb = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(valid, otherTenant, noContact, wrongPurpose, forgedKey, `${valid}x`, valid.slice(0, -1), valid.replace('.', ''), `${valid}.${valid}`) },
      { weight: 2, arbitrary: fc.tuple(fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 60 })).map(([a, b]) => `${a}.${b}`.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '')) },
      { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 50 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n) || 'x') },
      { weight: 1, arbitrary: fc.nat({ max: valid.length - 1 }).map((i) => valid.slice(0, i) + (valid[i] === 'A' ? 'B' : 'A') + valid.slice(i + 1)) },
    );
    const formArb = fc.oneof(
      fc.constantFrom('', 'scope=all', 'scope=link', 'List-Unsubscribe=One-Click', 'action=unsubscribe_all', 'action=save', `list=${known.lists[0]}`,
        'list=not-a-uuid&list=%00', 'list[]=1&list[x]=2', '__proto__[polluted]=1', 'a=%ZZ', `x=${'y'.repeat(20_000)}`),
      fc.array(fc.tuple(fc.constantFrom('scope', 'list', 'action', 'List-Unsubscribe', '__proto__', 'constructor'), hostileString.map((s) => s.slice(0, 3000))), { maxLength: 4 })
        .map((ps) => new URLSearchParams(ps).toString()),
    );
    const pageArb = fc.tuple(
      fc.constantFrom(['GET', '/a/'], ['POST', '/a/'], ['GET', '/u/'], ['POST', '/u/'], ['POST', '/u/:/resubscribe'], ['GET', '/u/:/preferences'], ['POST', '/u/:/preferences'],
        ['GET', '/t/'], ['POST', '/t/']),
      tokenArb, formArb, fc.constantFrom('application/x-www-form-urlencoded', 'multipart/form-data; boundary=zz', 'text/plain', 'application/json'),
    ).map(([[method, route], token, form, type]): FuzzRequest => {
      const path = route.includes(':') ? route.replace(':', token) : route + token;
      const body = method === 'POST' ? (type.startsWith('multipart') ? `--zz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n${form}\r\n--zz--\r\n` : form) : undefined;
      return { method, path, headers: method === 'POST' ? { 'content-type': type } : {}, body, label: 'page' };
    });
    const t0 = Date.now();
    const n0 = requests;
    const f0 = failures.length;
    before = await snapshot();
    await fc.assert(fc.asyncProperty(pageArb, async (r) => { await check(r); }), { numRuns: RUNS_PER_PAGE * 9, seed: SEED, endOnFailure: true });
    for (const path of ['/a/', '/u/', '/t/', `/u/${valid.slice(0, 10)}/preferences`]) {
      await check({ method: 'POST', path: `${path}${'t'.repeat(20)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a=${'b'.repeat(17 * 1024)}`, label: 'oversized form' });
    }
    await alive();
    report('public pages fuzz', { requests: requests - n0, seconds: ((Date.now() - t0) / 1000).toFixed(1), failures: failures.length - f0, statuses: Object.fromEntries(statuses) });
    expect(failures.slice(f0)).toEqual([]);
  }, 120_000);
});

// ---- issue 14: hostile templates, header-bound names, card numbers --------------------------------

function idOf(a: Answer): string | null {
  try {
    const id = (JSON.parse(a.text) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch { return null; }
}

const is2xx = (a: Answer): boolean => a.status >= 200 && a.status < 300;

/** What a preview must not show for a template's expectation (probes empty, no script URL). */
function checkRendered(t: Pick<HostileTemplate, 'expect'>, r: FuzzRequest, a: Answer): void {
  if (a.status !== 200) return;
  let out: { html?: unknown; text?: unknown; subject?: unknown };
  try { out = JSON.parse(a.text) as typeof out; } catch { failed(r, a, 'the preview is not JSON'); return; }
  const html = typeof out.html === 'string' ? out.html : '';
  const all = [html, out.text, out.subject].filter((v): v is string => typeof v === 'string').join('\n');
  if (t.expect === 'empty-probes') {
    for (const m of all.matchAll(/⟦(\d+):([^⟧]*)⟧/g)) if (m[2] !== '') failed(r, a, `prototype probe ${m[1]} rendered ${JSON.stringify(m[2].slice(0, 80))}`);
  }
  if (t.expect === 'no-script-url') {
    const bad = scriptUrlsIn(html);
    if (bad.length) failed(r, a, `a merge field put a script URL or a style break-out in the HTML: ${bad.join(' | ')}`);
  }
}

/** The whole output of the web process so far, as text. */
function outputOfWeb(): string {
  return Buffer.concat(webOutput).toString('utf8');
}

const CONSENT = { text: 'Yes, send me the newsletter.', source: 'signup-form' };

describe('issue 14: hostile templates, header-bound names and card numbers', () => {
  it('hostile templates: never a 5xx or a half-written row; no log line, no prototype, no script URL; triple-stash and broken blocks refused', async () => {
    const t0 = Date.now();
    const n0 = requests;
    const f0 = failures.length;
    const target = (await api('POST', '/api/templates', { name: 'Hostile target', mjml: NEWSLETTER_MJML, subject: 'Hello {{name}}' })).id as string;
    const answers: Record<string, string> = {};
    before = await snapshot();
    for (const t of HOSTILE_TEMPLATES) {
      const body = JSON.stringify({ name: `Hostile: ${t.label}`, mjml: t.mjml, subject: t.subject, ...(t.text === undefined ? {} : { text: t.text }) });
      // A generous client timeout: a stall must show up as a slow answer (the event-loop test times it), not as a cascade of aborts.
      const create: FuzzRequest = { method: 'POST', path: '/api/templates', headers: jsonAuth(), body, label: `template: ${t.label}`, timeoutMs: 180_000 };
      const created = await check(create);
      // The two huge ones are saved as new versions by the event-loop test only (each can take the compile budget).
      const update: FuzzRequest = { method: 'PUT', path: `/api/templates/${target}`, headers: jsonAuth(), body, label: `template update: ${t.label}`, timeoutMs: 180_000 };
      const updated = t.mjml.length > 200_000 ? null : await check(update);
      if (t.expect === 'refused') {
        if (created.status !== 422) failed(create, created, 'this template must be refused with 422');
        if (updated && updated.status !== 422) failed(update, updated, 'this template version must be refused with 422');
      }
      const saved = [created.status === 201 ? idOf(created) : null, updated?.status === 200 ? target : null].filter((v): v is string => v !== null);
      answers[t.label] = `${created.status}/${updated?.status ?? '-'}`;
      for (const id of saved) {
        const preview: FuzzRequest = { method: 'POST', path: `/api/templates/${id}/preview`, headers: jsonAuth(), body: JSON.stringify({ data: t.data ?? {} }),
          label: `preview: ${t.label}`, timeoutMs: 180_000 };
        const shown = await check(preview);
        answers[t.label] += ` preview ${shown.status}`;
        checkRendered(t, preview, shown);
      }
    }
    // Preview data reaches the URL merge fields of any template (the base one has {{unsubscribeUrl}} in a button).
    for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', '&#106;avascript:alert(1)', 'vbscript:msgbox(1)']) {
      const preview: FuzzRequest = { method: 'POST', path: `/api/templates/${known.templates[0]}/preview`, headers: jsonAuth(),
        body: JSON.stringify({ data: { unsubscribeUrl: url, preferencesUrl: url, webViewUrl: url } }), label: 'preview: script URL in data' };
      checkRendered({ expect: 'no-script-url' }, preview, await check(preview));
    }
    await alive();
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the last output arrive
    const out = outputOfWeb();
    if (out.includes(LOG_MARKER)) {
      const at = out.indexOf(LOG_MARKER);
      failures.push({ request: 'templates with {{log}}', problem: `a template wrote to the server log: …${out.slice(Math.max(0, at - 200), at + 200)}…` });
    }
    report('hostile templates', { templates: HOSTILE_TEMPLATES.length, requests: requests - n0, seconds: ((Date.now() - t0) / 1000).toFixed(1), failures: failures.length - f0, answers });
    expect(failures.slice(f0)).toEqual([]);
  }, 900_000);

  it('names written into headers: RFC 2047 encoded-words and bidi controls are refused with 422; in subjects they break nothing', async () => {
    const n0 = requests;
    const f0 = failures.length;
    before = await snapshot();
    for (const [i, attack] of HEADER_NAME_ATTACKS.entries()) {
      const refused: FuzzRequest[] = [
        { method: 'PATCH', path: '/api/tenant', headers: jsonAuth(), body: JSON.stringify({ name: attack.text }), label: `tenant name: ${attack.label}` },
        { method: 'PATCH', path: '/api/tenant', headers: jsonAuth(), body: JSON.stringify({ fromName: attack.text }), label: `tenant fromName: ${attack.label}` },
        { method: 'POST', path: '/api/contacts', headers: jsonAuth(), label: `contact name: ${attack.label}`,
          body: JSON.stringify({ email: `named-${i}@inbox.example`, name: attack.text, newsletter: true, consent: CONSENT }) },
      ];
      for (const r of refused) {
        const a = await check(r);
        if (a.status !== 422) failed(r, a, 'a name that goes into a header must be refused with 422');
      }
      // Only the invariants (no 5xx, nothing half-written) where the issue does not name the outcome.
      await check({ method: 'POST', path: '/api/lists', headers: jsonAuth(), body: JSON.stringify({ name: attack.text }), label: `list name: ${attack.label}` });
      await check({ method: 'POST', path: '/api/templates', headers: jsonAuth(), label: `template subject: ${attack.label}`,
        body: JSON.stringify({ name: 'Subject', mjml: NEWSLETTER_MJML, subject: `Hi {{name}} ${attack.text}` }) });
      await check({ method: 'POST', path: '/api/campaigns', headers: jsonAuth(), label: `campaign subject: ${attack.label}`,
        body: JSON.stringify({ name: attack.text, subject: attack.text, templateId: known.templates[0], listIds: [known.lists[0]] }) });
      await check({ method: 'POST', path: '/api/messages', headers: jsonAuth(), label: `notice data: ${attack.label}`,
        body: JSON.stringify({ kind: 'technical', contact: 'known@inbox.example', data: { body: attack.text, subject: attack.text }, idempotencyKey: `named-${i}` }) });
    }
    await api('PATCH', '/api/tenant', { name: 'Acme', fromName: 'Acme News' });
    await alive();
    report('header-bound names', { attacks: HEADER_NAME_ATTACKS.length, requests: requests - n0, failures: failures.length - f0 });
    expect(failures.slice(f0)).toEqual([]);
  }, 120_000);

  it('card numbers in any spelling: refused in every string field and query string of the API, never a 2xx', async () => {
    const t0 = Date.now();
    const n0 = requests;
    const f0 = failures.length;
    before = await snapshot();
    const endpoints = await apiEndpoints();
    let k = 0;
    const nextVariant = () => CARD_VARIANTS[k++ % CARD_VARIANTS.length];
    for (const e of endpoints) {
      if (e.path === '/api/inbound') continue; // a third party's text: redacted, not refused (below)
      const path = e.path.replace(/\{([A-Za-z_]+)\}/g, (_m, param: string) => idsFor(e.path, param)[0] ?? randomUUID());
      const example = examples()[`${e.method} ${e.path}`];
      if (example !== undefined) {
        const paths = pathsOf(example);
        for (const [pick, at] of paths.entries()) {
          const leaf = at.reduce<unknown>((o, key) => (o as JsonNode)[key], example);
          if (typeof leaf !== 'string') continue;
          for (let j = 0; j < 2; j++) {
            const v = nextVariant();
            const r: FuzzRequest = { method: e.method, path, headers: jsonAuth(), label: `card (${v.label}) in ${at.join('.')}`,
              body: JSON.stringify(mutate(example, [{ pick, action: 'replace', key: '', value: v.text }])) };
            const a = await check(r);
            if (is2xx(a)) failed(r, a, `a card number (${v.label}) in ${at.join('.')} was accepted`);
          }
        }
      }
      for (const q of e.queryKeys) {
        const v = nextVariant();
        const r: FuzzRequest = { method: e.method, path: `${path}?${new URLSearchParams([[q, v.text]]).toString()}`, headers: jsonAuth(),
          body: e.method === 'GET' ? undefined : JSON.stringify(example ?? {}), label: `card (${v.label}) in ?${q}` };
        const a = await check(r);
        if (is2xx(a)) failed(r, a, `a card number (${v.label}) in the query parameter ${q} was accepted`);
      }
    }
    // In an object key, and in free text that is neither a name nor an email.
    for (const v of CARD_VARIANTS.filter((_, i) => i % 5 === 0)) {
      const r: FuzzRequest = { method: 'POST', path: '/api/contacts', headers: jsonAuth(), label: `card (${v.label}) in an attribute key`,
        body: JSON.stringify({ email: `attr-${randomUUID().slice(0, 8)}@inbox.example`, name: 'Attr', attributes: { [v.text]: 'x' }, newsletter: true, consent: CONSENT }) };
      const a = await check(r);
      if (is2xx(a)) failed(r, a, `a card number (${v.label}) as an attribute key was accepted`);
    }
    // Headers that may be kept (Idempotency-Key) and bounce diagnostics (a third party's text, kept redacted): the sweep at the end judges them.
    for (const [i, v] of CARD_VARIANTS.filter((x) => x.headerSafe).entries()) {
      if (i % 3 !== 0) continue;
      await check({ method: 'POST', path: '/api/messages', headers: { ...jsonAuth(), 'idempotency-key': v.text }, label: `card (${v.label}) in Idempotency-Key`,
        body: JSON.stringify({ kind: 'technical', contact: 'known@inbox.example', data: { body: 'Maintenance tonight.' }, idempotencyKey: `idem-${i}` }) });
    }
    for (const [i, v] of CARD_VARIANTS.filter((_, n) => n % 4 === 0).entries()) {
      const dsn = RAW_INBOUND.replace('Status: 5.1.1', `Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 rejected, reference ${v.text}`)
        .replace('Subject: Undelivered Mail', `Subject: Undelivered Mail ${i}`);
      await check({ method: 'POST', path: '/api/inbound', headers: { authorization: `Bearer ${key}`, 'content-type': 'message/rfc822' }, body: dsn,
        label: `card (${v.label}) in a bounce diagnostic` });
    }
    await alive();
    report('card numbers in the API', { variants: CARD_VARIANTS.length, requests: requests - n0, seconds: ((Date.now() - t0) / 1000).toFixed(1), failures: failures.length - f0 });
    expect(failures.slice(f0)).toEqual([]);
  }, 180_000);

  it('card numbers in the User-Agent and query strings of the public pages: the pages answer, nothing stores them (swept at the end)', async () => {
    const t0 = Date.now();
    const n0 = requests;
    const f0 = failures.length;
    const keys = parseTokenKeys(TEST_TOKEN_KEYS);
    const variants = CARD_VARIANTS.filter((v) => v.headerSafe || v.card === CARD_NUMBERS[2]);
    for (const [i, v] of variants.entries()) {
      const ua = v.headerSafe ? v.text : asHeaderValue(v.text);
      const query = `?${new URLSearchParams([['ref', v.text]]).toString()}`;
      const contact = (await api('POST', '/api/contacts', { email: `ua-${i}@inbox.example`, name: 'Agent', newsletter: true, consent: CONSENT })).id as string;
      before = await snapshot();
      const activation = (await owner.query<{ id: string; data: Record<string, unknown> }>(
        `SELECT id, data FROM messages WHERE contact_id = $1 AND kind = 'activation' ORDER BY created_at DESC LIMIT 1`, [contact])).rows[0];
      const expiresAt = activation ? readActivationData(activation.data)?.expiresAt : undefined;
      if (activation && expiresAt) {
        const token = activationToken(keys, { id: activation.id, tenantId, contactId: contact }, expiresAt);
        await check({ method: 'GET', path: `/a/${token}${query}`, headers: { 'user-agent': ua }, label: `activation page, card (${v.label})` });
        await check({ method: 'POST', path: `/a/${token}${query}`, headers: { 'user-agent': ua, 'content-type': 'application/x-www-form-urlencoded' }, body: '',
          label: `confirm, card (${v.label}) in User-Agent` });
      } else {
        failures.push({ request: `POST /api/contacts ua-${i}`, problem: 'no activation message to confirm (the User-Agent of the confirm page goes unchecked)' });
      }
      const unsub = unsubscribeToken(keys, { tenantId, contactId: contact, campaignId: null });
      await check({ method: 'GET', path: `/u/${unsub}/preferences${query}`, headers: { 'user-agent': ua }, label: `preferences page, card (${v.label})` });
      await check({ method: 'POST', path: `/u/${unsub}/preferences${query}`, headers: { 'user-agent': ua, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['action', 'save'], ['list', known.lists[0]], ['list', known.lists[1]]]).toString(), label: `preferences saved, card (${v.label}) in User-Agent` });
      await check({ method: 'POST', path: `/u/${unsub}${query}`, headers: { 'user-agent': ua, 'content-type': 'application/x-www-form-urlencoded' }, body: 'scope=all',
        label: `unsubscribe, card (${v.label}) in User-Agent` });
    }
    await alive();
    report('card numbers on the public pages', { variants: variants.length, requests: requests - n0, seconds: ((Date.now() - t0) / 1000).toFixed(1), failures: failures.length - f0 });
    expect(failures.slice(f0)).toEqual([]);
  }, 180_000);
});

// ---- issue 14: the event loop --------------------------------------------------------------------

/**
 * The event-loop bound as a test. Issue 14 asks that no request hold the event loop over 50 ms; that
 * figure is measured by `npm run bench -- event-loop` (monitorEventLoopDelay, worst and p99, against
 * a /healthz-only baseline), because on a shared 2-core CI machine a GC pause or the neighbours'
 * load can pass 50 ms and a timed test would be flaky. What a test can hold without flaking are the
 * stall kinds themselves, with 20× headroom: /healthz answers within 1 s (today: 37 s) while the
 * 500 KB template is saved and previewed and 1 MB bodies are parsed; and an unauthenticated request
 * is refused before its body has been read (a behaviour, not a time: today the 1 MB body is read,
 * parsed and card-scanned first, 0.24 s of event loop per request).
 */
const HEALTHZ_BOUND_MS = 1000;

interface Prober { stop(): Promise<{ probes: number; worstMs: number; failures: string[] }> }

/** GET /healthz every 50 ms (one at a time) until stopped; the slowest round trip. */
function probeHealthz(): Prober {
  let running = true;
  let worstMs = 0;
  let probes = 0;
  const problems: string[] = [];
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(180_000) }).catch((err: Error) => err);
      const ms = performance.now() - t;
      probes++;
      worstMs = Math.max(worstMs, ms);
      if (res instanceof Error) problems.push(`/healthz failed: ${res.message}`);
      else { await res.arrayBuffer(); if (res.status !== 200) problems.push(`/healthz answered ${res.status}`); }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { async stop() { running = false; await loop; return { probes, worstMs, failures: problems }; } };
}

/** The max and p99 event-loop delay since the previous scrape (prom-client resets its histogram at each collect), in ms. */
async function eventLoopDelay(): Promise<{ maxMs: number; p99Ms: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^postgate_nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000;
  return { maxMs: read('max'), p99Ms: read('p99') };
}

/** Whether the server answers a request whose body has not all been sent (it must not wait for the body to refuse it). */
function answeredBeforeBody(path: string, headers: Record<string, string>, bodyBytes: number, waitMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const url = new URL(path, base);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...headers, 'content-length': String(bodyBytes) } });
    const timer = setTimeout(() => { req.destroy(); resolve(null); }, waitMs);
    req.on('response', (res) => { clearTimeout(timer); res.resume(); resolve(res.statusCode ?? null); req.destroy(); });
    req.on('error', () => undefined);
    req.write(`{"email":"${'x'.repeat(1000)}`); // about 1 KB of a 1 MB body, then nothing
  });
}

describe('issue 14: the event loop', () => {
  it(`a hostile template or a 1 MB body never stalls the server: /healthz answers within ${HEALTHZ_BOUND_MS} ms meanwhile`, async () => {
    const f0 = failures.length;
    const target = (await api('POST', '/api/templates', { name: 'Stall target', mjml: NEWSLETTER_MJML, subject: 'Hello {{name}}' })).id as string;
    const oneMb = JSON.stringify({ email: 'big@inbox.example', name: 'Big', attributes: { blob: 'x'.repeat(MAX_BODY_BYTES - 2000) }, newsletter: true, consent: CONSENT });
    const nested = `{"attributes":${'{"a":'.repeat(60_000)}1${'}'.repeat(60_000)}}`;
    await eventLoopDelay(); // resets the histogram
    const prober = probeHealthz();
    const t0 = performance.now();
    const phases: Record<string, number> = {};
    const answers: Record<string, number[]> = {};
    const timed = async (label: string, r: FuzzRequest) => {
      const t = performance.now();
      const a = await send(r);
      phases[label] = Math.round(performance.now() - t);
      if (a.error || a.status >= 500) failures.push({ request: describeRequest(r), problem: a.error ?? `HTTP ${a.status}` });
      return a;
    };
    for (const [name, mjml] of [['500 KB {{#if}} template', STALL_TEMPLATE], ['250 KB MJML template', HEAVY_MJML_TEMPLATE]]) {
      const body = JSON.stringify({ name, mjml, subject: 'Hi {{name}}' });
      const created = await timed(`create ${name}`, { method: 'POST', path: '/api/templates', headers: jsonAuth(), body, label: `${name} create`, timeoutMs: 180_000 });
      // A new version only of the first: the second can take the whole compile budget again (the bench times both).
      const updated = mjml === STALL_TEMPLATE
        ? await timed(`update to ${name}`, { method: 'PUT', path: `/api/templates/${target}`, headers: jsonAuth(), body, label: `${name} update`, timeoutMs: 180_000 })
        : null;
      answers[name] = [created.status, updated?.status ?? 0];
      const previewOf = created.status === 201 ? idOf(created) : updated?.status === 200 ? target : null;
      if (previewOf) await timed(`preview ${name}`, { method: 'POST', path: `/api/templates/${previewOf}/preview`, headers: jsonAuth(), body: '{}', label: `${name} preview`, timeoutMs: 180_000 });
    }
    await Promise.all([0, 1, 2, 3].map((i) => timed(`1 MB body unauthenticated #${i}`, { method: 'POST', path: '/api/contacts', headers: { 'content-type': 'application/json' }, body: oneMb, label: '1 MB unauthenticated' })));
    await Promise.all([0, 1, 2, 3].map((i) => timed(`1 MB body authenticated #${i}`, { method: 'POST', path: '/api/contacts', headers: jsonAuth(), body: oneMb, label: '1 MB authenticated' })));
    await timed('deeply nested body', { method: 'POST', path: '/api/contacts', headers: jsonAuth(), body: nested, label: 'nested 60,000' });
    const probed = await prober.stop();
    const loop = await eventLoopDelay();
    // Authenticate before parsing: refused while the body is still on its way.
    const early = await answeredBeforeBody('/api/contacts', { 'content-type': 'application/json' }, MAX_BODY_BYTES, 5000);
    report('event loop under hostile input', {
      seconds: ((performance.now() - t0) / 1000).toFixed(1), healthzProbes: probed.probes, healthzWorstMs: Math.round(probed.worstMs),
      eventLoopMaxMs: Math.round(loop.maxMs), eventLoopP99Ms: Math.round(loop.p99Ms), unauthenticatedAnsweredBeforeBody: early, templateAnswers: answers, phasesMs: phases,
    });
    expect(failures.slice(f0)).toEqual([]);
    expect(probed.failures).toEqual([]);
    expect(probed.worstMs, `the slowest /healthz while the hostile requests ran (phases, ms: ${JSON.stringify(phases)})`).toBeLessThan(HEALTHZ_BOUND_MS);
    expect(early, 'an unauthenticated 1 MB body is refused (401) before it has been read').toBe(401);
  }, 900_000);
});

// ---- issue 14: nothing kept --------------------------------------------------------------------

describe('issue 14: no card number in the database files or the logs', () => {
  it('every card number sent, in any spelling, is absent from every row, every data file (heap, TOAST, WAL), the server log and the process output', async () => {
    // A positive control: a card number the suite never sends, stored on purpose (full-width digits and
    // NBSP) in a table of its own, must be found in its row, its heap file and the WAL.
    const canary = `601100099013942${luhnCheckDigit('601100099013942')}`;
    await owner.query('CREATE TABLE fuzz_canary (t text)');
    await owner.query('INSERT INTO fuzz_canary VALUES ($1)', [`canary ${cardSpellings(canary).find((v) => v.label === 'full-width digits, spaced')?.text} end`]);
    const cards = [...CARD_NUMBERS, canary];
    const sent = (l: Leak) => l.card !== canary;
    // Every row first (finds values compressed in TOAST, which the file scan cannot read).
    const rows = await sweepTables(owner, cards);
    const names = await relationFiles(owner);
    ownerClosed = true;
    await owner.end();
    await web.stop();
    await cluster.stop(); // fast shutdown: its checkpoint writes every page, so the files hold everything
    const files = await sweepFiles(cluster.dir, cards, names);
    const dataDirFiles = await sweepFiles(dataDir, CARD_NUMBERS);
    const serverLog = findCardNumbers(Buffer.from(cluster.log.join('\n'), 'utf8'), CARD_NUMBERS).map((h): Leak => ({ where: 'PostgreSQL log', card: h.card, context: JSON.stringify(h.context) }));
    const output = findCardNumbers(Buffer.concat(webOutput), CARD_NUMBERS).map((h): Leak => ({ where: 'postgate web stdout/stderr', card: h.card, context: JSON.stringify(h.context) }));
    const canaryFound = { rows: rows.leaks.filter((l) => !sent(l)).length, files: files.leaks.filter((l) => !sent(l)).map((l) => l.where.replace(/ @\d+$/, '')) };
    const found = { rows: rows.leaks.filter(sent), files: files.leaks.filter(sent), dataDir: dataDirFiles.leaks, serverLog, output };
    report('card-number sweep', {
      cards: CARD_NUMBERS.length, tables: rows.tables, dataFiles: files.files, dataMB: (files.bytes / 1e6).toFixed(1), outputKB: Math.round(Buffer.concat(webOutput).length / 1000),
      canary: canaryFound, leaks: Object.fromEntries(Object.entries(found).map(([k, v]) => [k, v.length])),
    });
    // The sweep can see: it read the cluster, and found the canary in its row, its heap file and the WAL.
    expect(files.files).toBeGreaterThan(100);
    expect(canaryFound.rows).toBe(1);
    expect(canaryFound.files.some((f) => f.includes('(public.fuzz_canary)'))).toBe(true);
    expect(canaryFound.files.some((f) => f.startsWith('pg_wal/'))).toBe(true);
    expect(found).toEqual({ rows: [], files: [], dataDir: [], serverLog: [], output: [] });
  }, 120_000);
});

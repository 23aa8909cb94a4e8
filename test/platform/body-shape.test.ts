// JSON bodies are bounded in shape as well as bytes (issue 14: no request may hold the event loop over
// 50 ms): at most 10 000 JSON values, 1 000 members per object, 64 levels, checked on the bytes before
// JSON.parse (src/platform/json-shape.ts). The scanner against a reference walk, then real HTTP.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { invoice } from '../transactional/helpers.js';
import { jsonShapeViolation, MAX_JSON_VALUES, MAX_OBJECT_MEMBERS, type JsonShapeLimits } from '../../src/platform/json-shape.js';
import { canonicalJson } from '../../src/platform/idempotency.js';

const { app, t } = useApp();
const rows = async (sql: string, params: unknown[] = []) => ownerQuery(app.db.url, sql, params);

/** An object of `n` keys k0…k(n-1), each holding its index. */
function manyKeys(n: number, prefix = 'k'): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`${prefix}${i}`] = i;
  return o;
}

/** The reference: values, the largest object and the depth of a parsed value, by plain recursion. */
function shapeOf(v: unknown, depth = 0): { values: number; members: number; depth: number } {
  if (v === null || typeof v !== 'object') return { values: 1, members: 0, depth };
  const children = Object.values(v).map((c) => shapeOf(c, depth + 1));
  return {
    values: 1 + children.reduce((a, c) => a + c.values, 0),
    members: Math.max(Array.isArray(v) ? 0 : children.length, ...children.map((c) => c.members)),
    depth: Math.max(depth + 1, ...children.map((c) => c.depth)),
  };
}

/** Whether a parsed value has an own "__proto__" key anywhere (JSON.parse makes one an own property). */
function hasProtoKey(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  return (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) || Object.values(v).some(hasProtoKey);
}

describe('jsonShapeViolation (the byte scanner)', () => {
  it('agrees with a walk of the parsed value on any JSON, however it is spaced and escaped', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
      const text = JSON.stringify(value, null, pretty ? 2 : undefined) ?? 'null';
      const parsed: unknown = JSON.parse(text); // -0 and duplicate keys as JSON.parse sees them
      const s = shapeOf(parsed);
      const buf = Buffer.from(text);
      const exact: JsonShapeLimits = { values: s.values, members: s.members, depth: s.depth };
      if (hasProtoKey(parsed)) { expect(jsonShapeViolation(buf, exact)?.limit).toBe('reserved_key'); return; }
      expect(jsonShapeViolation(buf, exact)).toBeNull();
      expect(jsonShapeViolation(buf, { ...exact, values: s.values - 1 })).toMatchObject({ limit: 'values', field: 'body' });
      if (s.members > 0) expect(jsonShapeViolation(buf, { ...exact, members: s.members - 1 })?.limit).toBe('members');
      if (s.depth > 0) expect(jsonShapeViolation(buf, { ...exact, depth: s.depth - 1 })?.limit).toBe('depth');
    }), { numRuns: 2000 });
  });

  it('names the object at fault, strings holding quotes, brackets and backslashes notwithstanding', () => {
    const body = JSON.stringify({ 'a"]}\\': [{ x: '"{[,' }, { 'b.c': { d: manyKeys(MAX_OBJECT_MEMBERS + 1) } }] });
    expect(jsonShapeViolation(Buffer.from(body))).toEqual({ limit: 'members', max: MAX_OBJECT_MEMBERS, field: 'a"]}\\[1].b.c.d' });
    expect(jsonShapeViolation(Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`))).toEqual({ limit: 'depth', max: 64, field: '[0]'.repeat(64) });
    expect(jsonShapeViolation(Buffer.from(JSON.stringify({ k: Array.from({ length: MAX_JSON_VALUES }, () => 0) })))).toMatchObject({ limit: 'values', field: 'body' });
  });

  it('stops at the first limit: a 60 000-key body costs about what its first 1 000 keys do', () => {
    const buf = Buffer.from(JSON.stringify({ name: 'x', attributes: manyKeys(60_000) }));
    for (let i = 0; i < 20; i++) jsonShapeViolation(buf); // warm up
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) expect(jsonShapeViolation(buf)?.field).toBe('attributes');
    expect((performance.now() - t0) / 20).toBeLessThan(10);
  });

  it('canonicalJson sorts keys at every level and drops undefined, as before', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }, undefined], é: null, A: Buffer.from('hi') }))
      .toBe('{"A":"base64:aGk=","a":[{"c":"x"},null],"b":1,"é":null}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"z":1,"y":2},"x":0}'))).toBe('{"__proto__":{"y":2,"z":1},"x":0}');
  });
});

describe('the API refuses a body over a shape limit before anything walks it', () => {
  const refused = async (path: string, body: string, field: string, before: () => Promise<unknown[]>) => {
    for (const headers of [{}, { 'idempotency-key': `shape-${randomUUID()}` }] as Record<string, string>[]) {
      const r = await t.api('POST', path, body, headers);
      expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(413);
      expect(r.body.error).toMatchObject({ code: 'body_too_large', field });
      expect(typeof r.body.error.message).toBe('string');
    }
    expect(await before()).toHaveLength(0);
  };

  it('60 000 keys on POST /api/lists, in contact attributes and in notice data: 413 body_too_large, nothing created', async () => {
    await given(app, t).pendingContact('known@example.org');
    const lists = () => rows(`SELECT 1 FROM lists WHERE tenant_id = $1 AND name = 'Many'`, [t.id]);
    const contacts = () => rows(`SELECT 1 FROM contacts WHERE tenant_id = $1 AND email LIKE 'many%'`, [t.id]);
    const notices = () => rows(`SELECT 1 FROM messages WHERE tenant_id = $1 AND recipient = 'known@example.org'`, [t.id]);
    // ~900 KB: over these routes' 256 KiB before it is parsed.
    await refused('/api/lists', JSON.stringify({ name: 'Many', ...manyKeys(60_000) }), 'body', lists);
    await refused('/api/contacts', JSON.stringify({ email: 'many@example.org', attributes: manyKeys(60_000), newsletter: true, consent: { text: 'Yes', source: 'test' } }), 'body', contacts);
    // 18 000 keys fit in 256 KiB: refused by shape, naming the object.
    await refused('/api/lists', JSON.stringify({ name: 'Many', ...manyKeys(18_000) }), 'body', lists);
    await refused('/api/contacts', JSON.stringify({ email: 'many@example.org', attributes: manyKeys(18_000), newsletter: true, consent: { text: 'Yes', source: 'test' } }), 'attributes', contacts);
    await refused('/api/messages', JSON.stringify({ kind: 'technical', contact: 'known@example.org', data: { body: 'Text', ...manyKeys(18_000, 'd') } }), 'data', notices);
    // 1 001 members is over; 60 000 keys fit a 1 MiB route and are refused by shape too.
    await refused('/api/messages', JSON.stringify({ kind: 'technical', contact: 'known@example.org', data: { body: 'Text', ...manyKeys(1_000, 'd') } }), 'data', notices);
    const invoices = () => rows(`SELECT 1 FROM messages WHERE tenant_id = $1 AND purpose LIKE 'invoice:T-MANY%'`, [t.id]);
    await refused('/api/invoices', JSON.stringify(invoice('T-MANY-1', 'known@example.org', { lines: [manyKeys(60_000)] })), 'lines[0]', invoices);
    await refused('/api/invoices', JSON.stringify({ ...invoice('T-MANY-2', 'known@example.org'), ...manyKeys(60_000) }), 'body', invoices);
    await refused('/api/invoices', JSON.stringify(invoice('T-MANY-3', 'known@example.org', { lines: Array.from({ length: 2_500 }, () => ({ description: 'x', quantity: 1, unitAmount: 1 })) })), 'body', invoices);
    expect(await rows(`SELECT 1 FROM idempotency_keys WHERE tenant_id = $1 AND key LIKE 'shape-%'`, [t.id])).toHaveLength(0);
  });

  it('refuses nesting deeper than 64 with the path, and a card number in a key is not echoed', async () => {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`;
    const r = await t.api('POST', '/api/lists', deep, { 'idempotency-key': 'deep-shape' });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'body_too_large', field: Array(64).fill('a').join('.') });
    const card = await t.api('POST', '/api/contacts', JSON.stringify({ email: 'c@example.org', attributes: { '4111 1111 1111 1111': manyKeys(1_001) } }));
    expect(card.status).toBe(413);
    expect(card.body.error.field).toBe('attributes.[card number removed]');
    expect(JSON.stringify(card.body)).not.toContain('4111');
  });

  it('still takes JSON in UTF-16 (checked after transcoding); a charset it cannot decode is 415', async () => {
    const send = (body: Buffer, charset: string) => fetch(`${app.url}/api/lists`, {
      method: 'POST', body: new Uint8Array(body), headers: { authorization: `Bearer ${t.key}`, 'content-type': `application/json; charset=${charset}` },
    });
    const ok = await send(Buffer.from(JSON.stringify({ name: 'Wide' }), 'utf16le'), 'utf-16le');
    expect(ok.status).toBe(201);
    const many = await send(Buffer.from(JSON.stringify({ name: 'Wide', ...manyKeys(1_001) }), 'utf16le'), 'utf-16le');
    expect(many.status).toBe(413);
    const utf32 = await send(Buffer.from(JSON.stringify({ name: 'Wider' })), 'utf-32');
    expect(utf32.status).toBe(415);
    expect(((await utf32.json()) as { error: { code: string } }).error.code).toBe('unsupported_encoding');
  });
});

describe('legitimate large bodies still pass', () => {
  it('a 500-line invoice is accepted, and replayed for its Idempotency-Key', async () => {
    await given(app, t).pendingContact('lines@example.org');
    const lines = Array.from({ length: 500 }, (_, i) => ({ description: `Seat ${i} of the annual plan, billed yearly`, quantity: 1 + (i % 3), unitAmount: 1_000 }));
    const total = lines.reduce((a, l) => a + l.quantity * l.unitAmount, 0);
    const body = invoice(`T-500-${randomUUID()}`, 'lines@example.org', { lines, taxes: Array.from({ length: 20 }, (_, i) => ({ name: `Tax ${i}`, rate: 0, amount: 0 })), total });
    const first = await t.api('POST', '/api/invoices', body, { 'idempotency-key': 'invoice-500' });
    expect(first.status).toBe(202);
    const again = await t.api('POST', '/api/invoices', body, { 'idempotency-key': 'invoice-500' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('a large template (240 KB of MJML, 200 KB of text) is created, and previewed with data of 999 keys', async () => {
    const paragraph = `<mj-text>${'Spring news: our long read of the week, with every detail you asked for, and more. '.repeat(30)}</mj-text>\n`;
    const mjml = `<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{name}}</mj-text>${paragraph.repeat(Math.floor(240_000 / paragraph.length))}<mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>`;
    const text = `Hello {{name}}\n${'All the news in plain text. '.repeat(7_000)}\n{{unsubscribeUrl}}`;
    const created = await t.api('POST', '/api/templates', { name: 'Large', mjml, subject: 'News for {{name}}', text });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    const preview = await t.api('POST', `/api/templates/${created.body.id}/preview`, { data: { name: 'Jane', ...manyKeys(998, 'a') } });
    expect(preview.status, JSON.stringify(preview.body).slice(0, 300)).toBe(200);
    const over = await t.api('POST', `/api/templates/${created.body.id}/preview`, { data: { name: 'Jane', ...manyKeys(1_000, 'a') } });
    expect(over.status).toBe(413);
    expect(over.body.error).toMatchObject({ code: 'body_too_large', field: 'data' });
  }, 60_000);
});

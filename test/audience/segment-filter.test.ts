// The segment filter compiler (pure): every operator's SQL and parameters, the limits, hostile input
// refused with the JSON path of the fault, and (property) that the SQL text depends only on the
// filter's shape, so no name or value a tenant sends ever reaches it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain-error.js';
import { compileSegment, listReferences, parseSegmentFilter, SEGMENT_LIMITS, segmentFilterSchema, type SegmentFilter } from '../../src/audience/segment-filter.js';

const LIST = '0b9a4a57-2b1e-4c39-9d8b-111111111111';
const compile = (raw: unknown, first = 1) => compileSegment(parseSegmentFilter(raw), 'ct', first);

/** The DomainError a raw filter is refused with. */
function fault(raw: unknown): DomainError {
  try {
    parseSegmentFilter(raw);
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

describe('compileSegment: each operator', () => {
  it('eq is containment, in a hashed jsonb equality (both type-strict); names and values are parameters', () => {
    expect(compile({ attribute: 'plan', op: 'eq', value: 'pro' })).toEqual({ sql: 'ct.attributes @> $1::jsonb', params: ['{"plan":"pro"}'] });
    expect(compile({ attribute: 'age', op: 'eq', value: 30 }).params).toEqual(['{"age":30}']);
    expect(compile({ attribute: 'city', op: 'in', value: ['Berlin', 'Köln', 3] })).toEqual({
      sql: 'coalesce((ct.attributes -> $1::text) = ANY($2::jsonb[]), false)', params: ['city', ['"Berlin"', '"Köln"', '3']],
    });
  });

  it('ne needs the attribute present; exists means present and not null', () => {
    expect(compile({ attribute: 'plan', op: 'ne', value: true })).toEqual({
      sql: "(coalesce(jsonb_typeof(ct.attributes -> $1::text), 'null') <> 'null' AND NOT ct.attributes @> $2::jsonb)", params: ['plan', '{"plan":true}'],
    });
    expect(compile({ attribute: 'x', op: 'exists' })).toEqual({ sql: "coalesce(jsonb_typeof(ct.attributes -> $1::text), 'null') <> 'null'", params: ['x'] });
  });

  it('contains: an array element, or a case-insensitive substring for a string value (guarded by type)', () => {
    expect(compile({ attribute: 'tags', op: 'contains', value: 7 })).toEqual({ sql: 'ct.attributes @> $1::jsonb', params: ['{"tags":[7]}'] });
    const s = compile({ attribute: 'tags', op: 'contains', value: 'VIP' });
    expect(s.sql).toBe("(ct.attributes @> $1::jsonb OR CASE WHEN jsonb_typeof(ct.attributes -> $2::text) = 'string' "
      + 'THEN strpos(lower(ct.attributes ->> $2::text), lower($3::text)) > 0 ELSE false END)');
    expect(s.params).toEqual(['{"tags":["VIP"]}', 'tags', 'VIP']);
  });

  it('gt/gte/lt/lte compare numbers as numeric and strings by code point, each only on its own JSON type', () => {
    for (const [op, sym] of [['gt', '>'], ['gte', '>='], ['lt', '<'], ['lte', '<=']] as const) {
      expect(compile({ attribute: 'score', op, value: 3 })).toEqual({
        sql: `CASE WHEN jsonb_typeof(ct.attributes -> $1::text) = 'number' THEN (ct.attributes -> $1::text)::numeric ${sym} $2::numeric ELSE false END`,
        params: ['score', 3],
      });
    }
    expect(compile({ attribute: 'since', op: 'lt', value: '2024-01-01' })).toEqual({
      sql: "CASE WHEN jsonb_typeof(ct.attributes -> $1::text) = 'string' THEN (ct.attributes ->> $1::text) COLLATE \"C\" < $2::text ELSE false END",
      params: ['since', '2024-01-01'],
    });
  });

  it('between is inclusive, numbers or strings', () => {
    expect(compile({ attribute: 'age', op: 'between', value: [18, 30] })).toEqual({
      sql: "CASE WHEN jsonb_typeof(ct.attributes -> $1::text) = 'number' THEN (ct.attributes -> $1::text)::numeric BETWEEN $2::numeric AND $3::numeric ELSE false END",
      params: ['age', 18, 30],
    });
    expect(compile({ attribute: 'code', op: 'between', value: ['a', 'm'] }).sql).toContain("= 'string' THEN (ct.attributes ->> $1::text) COLLATE \"C\" BETWEEN $2::text AND $3::text");
  });

  it('status, list membership (subscribed by default) and dates', () => {
    expect(compile({ status: 'active' })).toEqual({ sql: 'ct.status = $1::text', params: ['active'] });
    expect(compile({ list: LIST })).toEqual({
      sql: '(EXISTS (SELECT 1 FROM lists seg_s1_l WHERE seg_s1_l.id = $1::uuid AND seg_s1_l.deleted_at IS NULL) '
        + 'AND EXISTS (SELECT 1 FROM subscriptions seg_s1 WHERE seg_s1.contact_id = ct.id AND seg_s1.list_id = $2::uuid AND seg_s1.status = $3::text))',
      params: [LIST, LIST, 'subscribed'],
    });
    expect(compile({ list: LIST, subscription: 'unconfirmed' }).params).toEqual([LIST, LIST, 'unconfirmed']);
    expect(compile({ field: 'createdAt', op: 'before', value: '2024-05-31' })).toEqual({
      sql: '(ct.created_at IS NOT NULL AND ct.created_at < $1::timestamptz)', params: ['2024-05-31T00:00:00.000Z'],
    });
    expect(compile({ field: 'confirmedAt', op: 'after', value: '2024-05-31T14:00:00+02:00' })).toEqual({
      sql: '(ct.verified_at IS NOT NULL AND ct.verified_at > $1::timestamptz)', params: ['2024-05-31T12:00:00.000Z'],
    });
    expect(compile({ field: 'confirmedAt', op: 'between', value: ['2024-01-01', '2024-12-31T23:59:59Z'] }).sql)
      .toBe('(ct.verified_at IS NOT NULL AND ct.verified_at >= $1::timestamptz AND ct.verified_at <= $2::timestamptz)');
  });

  it('all, any and not nest; empty all is everyone and empty any no one; placeholders start at firstParam', () => {
    const c = compile({ all: [{ status: 'active' }, { any: [{ attribute: 'a', op: 'eq', value: 1 }, { not: { list: LIST } }] }] }, 7);
    expect(c.sql).toBe('(ct.status = $7::text AND (ct.attributes @> $8::jsonb OR NOT ((EXISTS (SELECT 1 FROM lists seg_s1_l '
      + 'WHERE seg_s1_l.id = $9::uuid AND seg_s1_l.deleted_at IS NULL) AND EXISTS (SELECT 1 FROM subscriptions seg_s1 '
      + 'WHERE seg_s1.contact_id = ct.id AND seg_s1.list_id = $10::uuid AND seg_s1.status = $11::text)))))');
    expect(c.params).toEqual(['active', '{"a":1}', LIST, LIST, 'subscribed']);
    expect(compile({ all: [] }).sql).toBe('true');
    expect(compile({ any: [] }).sql).toBe('false');
    expect(compile({ all: [{ list: LIST }, { list: LIST }] }).sql).toMatch(/seg_s1 .*seg_s2 /);
  });

  it('listReferences: every list condition with the JSON path of its list key', () => {
    const other = '0b9a4a57-2b1e-4c39-9d8b-222222222222';
    const f = parseSegmentFilter({ all: [{ status: 'active' }, { any: [{ list: LIST }, { not: { list: other, subscription: 'unconfirmed' } }] }, { list: LIST }] });
    expect(listReferences(f)).toEqual([
      { list: LIST, path: 'filter.all[1].any[0].list' }, { list: other, path: 'filter.all[1].any[1].not.list' }, { list: LIST, path: 'filter.all[2].list' },
    ]);
    expect(listReferences(parseSegmentFilter({ status: 'active' }))).toEqual([]);
  });

  it('accepts every attribute name the API or an import stores (spaces, punctuation, SQL-looking, non-ASCII): always a parameter', () => {
    for (const name of ['Phone Number', 'a b', "plan') OR 1=1 --", 'Städte', '1st', ' x ', 'a.b', '$n', '"', 'é'.repeat(100)]) {
      for (const c of [compile({ attribute: name, op: 'exists' }), compile({ attribute: name, op: 'gt', value: 1 }), compile({ attribute: name, op: 'eq', value: 'x' })]) {
        expect(c.sql).not.toContain(name);
      }
      expect(compile({ attribute: name, op: 'exists' }).params).toEqual([name]);
      expect(compile({ attribute: name, op: 'eq', value: 'x' }).params).toEqual([JSON.stringify({ [name]: 'x' })]);
    }
  });

  it('an attribute named __proto__ is only a key inside the parameter', () => {
    expect(compile({ attribute: '__proto__', op: 'eq', value: 'x' }).params).toEqual(['{"__proto__":"x"}']);
    expect(compile({ attribute: '__proto__', op: 'contains', value: 1 }).params).toEqual(['{"__proto__":[1]}']);
  });

  it('segmentFilterSchema: the same validation as a zod schema (the fault as an issue naming the path)', () => {
    expect(segmentFilterSchema.parse({ list: LIST })).toEqual({ list: LIST, subscription: 'subscribed' });
    const r = segmentFilterSchema.safeParse({ any: [{ attribute: 'a', op: 'gt', value: [] }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toMatch(/^filter\.any\[0\]\.value: /);
  });

  it('refuses a bad alias or firstParam (programming errors)', () => {
    expect(() => compileSegment({ all: [] }, 'ct; DROP TABLE contacts')).toThrow(/bad alias/);
    expect(() => compileSegment({ all: [] }, 'ct', 0)).toThrow(/bad firstParam/);
  });
});

describe('parseSegmentFilter: hostile and wrong input → invalid_segment naming the JSON path', () => {
  const cases: [string, unknown, string][] = [
    ['not an object', 'plan = pro', 'filter'],
    ['an array at the top', [{ status: 'active' }], 'filter'],
    ['no condition key', { foo: 1 }, 'filter'],
    ['__proto__ beside a condition', JSON.parse('{"status":"active","__proto__":{"x":1}}'), 'filter.__proto__'],
    ['__proto__ alone', JSON.parse('{"__proto__":{"all":[]}}'), 'filter'],
    ['a line break in an attribute name', { all: [{ status: 'active' }, { status: 'pending' }, { attribute: 'plan\nx', op: 'eq', value: 'x' }] }, 'filter.all[2].attribute'],
    ['a NUL in an attribute name', { attribute: 'a\u0000b', op: 'exists' }, 'filter.attribute'],
    ['a C1 control or DEL in an attribute name', { any: [{ attribute: 'a\u0085b', op: 'exists' }] }, 'filter.any[0].attribute'],
    ['DEL in an attribute name', { attribute: 'a\u007fb', op: 'exists' }, 'filter.attribute'],
    ['a lone surrogate in an attribute name', { attribute: 'a\ud800', op: 'exists' }, 'filter.attribute'],
    ['an empty attribute name', { attribute: '', op: 'exists' }, 'filter.attribute'],
    ['an unknown operator', { attribute: 'plan', op: 'like', value: '%' }, 'filter.op'],
    ['raw SQL as a key', { sql: 'SELECT 1' }, 'filter'],
    ['a wrong value type', { all: [{ status: 'active' }, { status: 'active' }, { attribute: 'age', op: 'gt', value: { $gt: 1 } }] }, 'filter.all[2].value'],
    ['a missing value', { attribute: 'age', op: 'eq' }, 'filter.value'],
    ['a value on exists', { attribute: 'age', op: 'exists', value: 1 }, 'filter.value'],
    ['in with a nested array', { attribute: 'c', op: 'in', value: ['a', ['b']] }, 'filter.value[1]'],
    ['in empty', { attribute: 'c', op: 'in', value: [] }, 'filter.value'],
    ['between reversed', { attribute: 'a', op: 'between', value: [30, 18] }, 'filter.value'],
    ['between mixed types', { attribute: 'a', op: 'between', value: [1, 'z'] }, 'filter.value'],
    ['between strings reversed', { attribute: 'a', op: 'between', value: ['2024-05-02', '2024-05-01'] }, 'filter.value'],
    ['a date between reversed', { all: [{ field: 'createdAt', op: 'between', value: ['2024-05-02', '2024-05-01'] }] }, 'filter.all[0].value'],
    ['a date between reversed once in UTC', { field: 'confirmedAt', op: 'between', value: ['2024-05-01T10:00:00+00:00', '2024-05-01T11:00:00+02:00'] }, 'filter.value'],
    ['a NUL in a value', { attribute: 'a', op: 'eq', value: 'x\u0000y' }, 'filter.value'],
    ['a lone surrogate', { attribute: 'a', op: 'eq', value: 'x\ud800' }, 'filter.value'],
    ['an unknown status', { status: "active' OR '1'='1" }, 'filter.status'],
    ['a list that is not a uuid', { list: '1 OR 1=1' }, 'filter.list'],
    ['an unknown date field', { field: 'updated_at; --', op: 'before', value: '2024-01-01' }, 'filter.field'],
    ['not a date', { field: 'createdAt', op: 'before', value: 'yesterday' }, 'filter.value'],
    ['an impossible date', { field: 'createdAt', op: 'after', value: '2024-13-45' }, 'filter.value'],
    ['a group with a second key', { all: [], any: [] }, 'filter.any'],
    ['a group that is not an array', { any: { status: 'active' } }, 'filter.any'],
    ['an extra key on a condition', { attribute: 'a', op: 'eq', value: 1, sql: 'x' }, 'filter.sql'],
    ['Infinity-like number as string is a string, but a huge name is refused', { attribute: 'a'.repeat(101), op: 'exists' }, 'filter.attribute'],
  ];
  for (const [what, raw, field] of cases) {
    it(what, () => {
      const e = fault(raw);
      expect(e.code).toBe('invalid_segment');
      expect(e.field).toBe(field);
      expect(e.message.startsWith(`${field}: `)).toBe(true);
    });
  }

  it('limits: depth 5, 50 conditions, 1,000 values in in, 1 KiB strings', () => {
    let deep: unknown = { status: 'active' };
    for (let i = 0; i < SEGMENT_LIMITS.depth; i++) deep = { all: [deep] };
    expect(() => parseSegmentFilter(deep)).not.toThrow();
    const tooDeep = fault({ not: deep });
    expect(tooDeep.field).toBe('filter.not.all[0].all[0].all[0].all[0]');
    let huge: unknown = { status: 'active' };
    for (let i = 0; i < 10_000; i++) huge = { not: huge }; // refused at depth 6, never walked further
    expect(fault(huge).message).toMatch(/nested at most 5 deep/);
    const fifty = Array.from({ length: 50 }, () => ({ status: 'active' }));
    expect(() => parseSegmentFilter({ all: fifty })).not.toThrow();
    expect(fault({ all: [...fifty, { status: 'active' }] }).field).toBe('filter.all');
    expect(fault({ all: [{ all: fifty.slice(0, 30) }, { any: fifty.slice(0, 21) }] }).field).toBe('filter.all[1].any[20]');
    expect(() => parseSegmentFilter({ attribute: 'c', op: 'in', value: Array.from({ length: 1000 }, (_, i) => i) })).not.toThrow();
    expect(fault({ attribute: 'c', op: 'in', value: Array.from({ length: 1001 }, (_, i) => i) }).field).toBe('filter.value');
    expect(() => parseSegmentFilter({ attribute: 'c', op: 'eq', value: 'é'.repeat(512) })).not.toThrow();
    expect(fault({ attribute: 'c', op: 'eq', value: 'é'.repeat(513) }).message).toMatch(/1024 bytes/);
  });

  it('accepts a date between whose bounds are equal, or in order only once in UTC', () => {
    expect(() => parseSegmentFilter({ field: 'createdAt', op: 'between', value: ['2024-05-01', '2024-05-01T00:00:00Z'] })).not.toThrow();
    expect(() => parseSegmentFilter({ field: 'createdAt', op: 'between', value: ['2024-05-01T10:00:00+05:00', '2024-05-01T06:00:00Z'] })).not.toThrow();
    expect(() => parseSegmentFilter({ attribute: 'a', op: 'between', value: [3, 3] })).not.toThrow();
  });

  it('normalises: dates to UTC ISO, the subscription defaulted', () => {
    expect(parseSegmentFilter({ all: [{ list: LIST }, { field: 'createdAt', op: 'between', value: ['2024-01-01', '2024-02-01T00:00:00+01:00'] }] })).toEqual({
      all: [{ list: LIST, subscription: 'subscribed' }, { field: 'createdAt', op: 'between', value: ['2024-01-01T00:00:00.000Z', '2024-01-31T23:00:00.000Z'] }],
    });
  });
});

// ---------------------------------------------------------------- property: no input reaches the SQL text
// Any name an import or the API stores (no control characters): never SQL text, whatever it holds.
const name = fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }).filter((s) => !/[\p{Cc}\p{Cs}]/u.test(s));
const text = fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }).filter((s) => !s.includes('\u0000'));
const scalar = fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.integer());
const date = fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }).map((d) => d.toISOString());

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ attribute: name, op: fc.constantFrom('eq', 'ne', 'contains'), value: scalar }),
  fc.record({ attribute: name, op: fc.constant('in'), value: fc.array(scalar, { minLength: 1, maxLength: 5 }) }),
  fc.record({ attribute: name, op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: fc.oneof(text, fc.integer()) }),
  fc.record({ attribute: name, op: fc.constant('between'), value: fc.tuple(fc.integer(), fc.integer()).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]) }),
  fc.record({ attribute: name, op: fc.constant('exists') }),
  fc.record({ status: fc.constantFrom('pending', 'active', 'suppressed') }),
  fc.record({ list: fc.uuid(), subscription: fc.constantFrom('subscribed', 'unconfirmed', 'unsubscribed') }),
  fc.record({ field: fc.constantFrom('createdAt', 'confirmedAt'), op: fc.constantFrom('before', 'after'), value: date }),
);
const filter = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('group')),
  group: fc.oneof(
    fc.record({ all: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ not: tie('node') }),
  ),
})).group;

/** The same filter with every name and value replaced by a fixed one of the same type. */
function masked(f: unknown): unknown {
  if (Array.isArray(f)) return f.map(masked);
  if (typeof f === 'string') return 'S';
  if (typeof f === 'number') return 1;
  if (typeof f === 'boolean') return true;
  if (f && typeof f === 'object') {
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, k === 'op' || k === 'field' || (k === 'status') || k === 'subscription' ? v
      : k === 'list' ? LIST : k === 'value' && typeof v === 'string' && /^\d{4}-/.test(v) ? '2000-01-01T00:00:00.000Z' : masked(v)]));
  }
  return f;
}

/** Walks the filter's names and string values. */
function strings(f: unknown, out: string[] = []): string[] {
  if (typeof f === 'string') out.push(f);
  else if (Array.isArray(f)) f.forEach((x) => strings(x, out));
  else if (f && typeof f === 'object') for (const [k, v] of Object.entries(f)) if (k !== 'op' && k !== 'field') strings(v, out);
  return out;
}

describe('property: the SQL text depends only on the shape of the filter', () => {
  it('is the same SQL whatever the names and values, with one parameter per placeholder', () => {
    fc.assert(fc.property(filter, (raw) => {
      let parsed: SegmentFilter;
      try {
        parsed = parseSegmentFilter(raw);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'invalid_segment') return; // over a limit, or a generated string too long: refused
        throw err;
      }
      const c = compileSegment(parsed);
      expect(c.sql).toBe(compileSegment(parseSegmentFilter(masked(raw))).sql);
      const placeholders = new Set([...c.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
      expect(placeholders.size).toBe(c.params.length);
      if (c.params.length) expect(Math.max(...placeholders)).toBe(c.params.length);
      for (const s of strings(raw).filter((x) => x.length >= 12)) expect(c.sql).not.toContain(s);
    }), { numRuns: 500 });
  });
});

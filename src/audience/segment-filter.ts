// Segment filters (PURE): a tenant's saved JSON filter over its contacts, validated here and compiled
// to a parameterised SQL predicate. Never raw SQL from a tenant: the SQL text depends only on the
// filter's shape (which operators, how nested); every attribute name, value, list id, status and date
// is a bind parameter ($n). Typed comparisons are guarded by jsonb_typeof inside CASE (whose order
// PostgreSQL keeps, unlike AND's), so a contact whose attribute has another type simply does not
// match: no cast error, whatever the data.
//
// The language (README "Segments"):
//   group       {"all": [c…]} (AND; empty: everyone) | {"any": [c…]} (OR; empty: no one) | {"not": c}
//   attribute   {"attribute": name, "op": op, "value": v}, op one of
//               eq, ne            a string, number or boolean (type-strict: "1" is not 1); ne needs the
//                                 attribute to be present (and not null)
//               in                1–1,000 such values
//               contains          an element of an array attribute (type-strict), or, for a string
//                                 value, a case-insensitive substring of a string attribute
//               gt, gte, lt, lte  a number (numeric attributes) or a string (string attributes, by code
//                                 point: ISO dates compare correctly)
//               between           [low, high], both numbers or both strings, inclusive
//               exists            no value: present and not null
//   status      {"status": "pending" | "active" | "suppressed"} (erased contacts are in no segment)
//   list        {"list": uuid, "subscription"?: "subscribed" (default) | "unconfirmed" | "unsubscribed"}
//               (a list deleted after the filter was saved matches no one; listReferences lets a
//               caller refuse an unknown or deleted list up front)
//   dates       {"field": "createdAt" | "confirmedAt", "op": "before" | "after" | "between",
//                "value": ISO 8601 date or date-time | [from, to]} (before/after strict, between inclusive)
// Limits: groups nested at most 5 deep, at most 50 conditions, `in` at most 1,000 values, strings at
// most 1 KiB (UTF-8). A fault is a DomainError 'invalid_segment' naming its JSON path
// (e.g. filter.all[2].value).
import { z } from 'zod';
import { DomainError } from '../domain-error.js';
import { UUID_PATTERN } from '../policy/ids.js';

export const SEGMENT_LIMITS = { depth: 5, conditions: 50, inValues: 1000, stringBytes: 1024 } as const;

/**
 * The characters of an attribute name: a top-level key of contacts.attributes (dots are plain
 * characters, not paths), any name the contacts API or an import stores ("Phone Number", "Städte",
 * "a.b"), but no control characters (C0, DEL, C1: NUL included) nor unpaired surrogates. The name is
 * always a bind parameter, never SQL text. Length: 1–MAX_ATTRIBUTE_NAME UTF-16 code units, as stored.
 */
export const ATTRIBUTE_NAME = /^[^\p{Cc}\p{Cs}]+$/u;
/** The longest attribute name (the contacts API's and the import's limit). */
export const MAX_ATTRIBUTE_NAME = 100;

export type Scalar = string | number | boolean;
export type AttributeOp = 'eq' | 'ne' | 'in' | 'contains' | 'gt' | 'gte' | 'lt' | 'lte' | 'between' | 'exists';
export type AttributeCondition =
  | { attribute: string; op: 'eq' | 'ne' | 'contains'; value: Scalar }
  | { attribute: string; op: 'in'; value: Scalar[] }
  | { attribute: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string }
  | { attribute: string; op: 'between'; value: [number, number] | [string, string] }
  | { attribute: string; op: 'exists' };
export type DateCondition =
  | { field: 'createdAt' | 'confirmedAt'; op: 'before' | 'after'; value: string }
  | { field: 'createdAt' | 'confirmedAt'; op: 'between'; value: [string, string] };
export type SegmentFilter =
  | { all: SegmentFilter[] } | { any: SegmentFilter[] } | { not: SegmentFilter }
  | AttributeCondition | DateCondition
  | { status: 'pending' | 'active' | 'suppressed' }
  | { list: string; subscription: 'subscribed' | 'unconfirmed' | 'unsubscribed' };

/* ------------------------------------------------------------------ validation */

const utf8 = new TextEncoder();
const LONE_SURROGATE = /\p{Cs}/u;

/** A string PostgreSQL (text and jsonb) takes as it is: ≤ 1 KiB, no NUL, no lone surrogate. */
const safeString = z.string().min(1, 'must not be empty')
  .refine((s) => utf8.encode(s).length <= SEGMENT_LIMITS.stringBytes, `must be at most ${SEGMENT_LIMITS.stringBytes} bytes`)
  .refine((s) => !s.includes('\u0000') && !LONE_SURROGATE.test(s), 'must not contain NUL or unpaired surrogate characters');
const finite = z.number().finite();
const scalar = z.union([safeString, finite, z.boolean()], { error: 'must be a string, a number or a boolean' });
const ordered = z.union([finite, safeString], { error: 'must be a number or a string' });
const range = z.union([z.tuple([finite, finite]), z.tuple([safeString, safeString])], { error: 'must be [low, high]: two numbers or two strings' })
  .refine((r) => r[0] <= r[1], 'low must not be above high');

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** An ISO 8601 date or date-time with offset (years 1000–9999), normalised to UTC ISO. */
const isoDate = z.string().regex(ISO_DATE, 'must be an ISO 8601 date (2024-05-31) or date-time with offset (2024-05-31T14:00:00Z)')
  .refine((s) => !Number.isNaN(Date.parse(s)) && Number(s.slice(0, 4)) >= 1000, 'must be a real date')
  .transform((s) => new Date(s).toISOString());

const attributeName = z.string().min(1, 'must not be empty')
  .max(MAX_ATTRIBUTE_NAME, `must be at most ${MAX_ATTRIBUTE_NAME} characters`)
  .regex(ATTRIBUTE_NAME, 'must not contain control characters or unpaired surrogates');

const VALUE_OF: Record<AttributeOp, z.ZodType | null> = {
  eq: scalar, ne: scalar, contains: scalar,
  in: z.array(scalar).min(1, 'must hold at least one value').max(SEGMENT_LIMITS.inValues, `must hold at most ${SEGMENT_LIMITS.inValues} values`),
  gt: ordered, gte: ordered, lt: ordered, lte: ordered, between: range, exists: null,
};

const attributeShape = z.strictObject({
  attribute: attributeName,
  op: z.enum(['eq', 'ne', 'in', 'contains', 'gt', 'gte', 'lt', 'lte', 'between', 'exists']),
  value: z.unknown().optional(),
});
const dateShape = z.strictObject({ field: z.enum(['createdAt', 'confirmedAt']), op: z.enum(['before', 'after', 'between']), value: z.unknown() });
const dateValue = {
  single: isoDate,
  // Both normalised to UTC ISO (same length, years 1000–9999): string order is time order.
  range: z.tuple([isoDate, isoDate], { error: 'must be [from, to]: two ISO 8601 dates' }).refine((r) => r[0] <= r[1], 'from must not be after to'),
};
const statusShape = z.strictObject({ status: z.enum(['pending', 'active', 'suppressed']) });
const listShape = z.strictObject({
  list: z.string().regex(UUID_PATTERN, 'must be a list id (UUID)'),
  subscription: z.enum(['subscribed', 'unconfirmed', 'unsubscribed']).default('subscribed'),
});

const KINDS = ['all', 'any', 'not', 'attribute', 'field', 'status', 'list'] as const;

function invalid(path: string, message: string): DomainError {
  return new DomainError('invalid_segment', `${path}: ${message}`, path);
}

function pathOf(base: string, p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${String(k)}`), base);
}

/** Parses `input` with a zod schema, or throws invalid_segment naming the first fault's path under `base`. */
function check<T>(schema: z.ZodType<T>, input: unknown, base: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const unknownKey = issue.code === 'unrecognized_keys' && issue.keys.length > 0;
  const where = pathOf(base, unknownKey ? [...issue.path, issue.keys[0]] : issue.path);
  throw invalid(where, unknownKey ? 'unknown key: not accepted here' : issue.message);
}

interface Walk { conditions: number }

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseGroup(items: unknown, path: string, depth: number, w: Walk): SegmentFilter[] {
  if (!Array.isArray(items)) throw invalid(path, 'must be an array of conditions');
  if (items.length > SEGMENT_LIMITS.conditions) throw invalid(path, `must hold at most ${SEGMENT_LIMITS.conditions} conditions`);
  return items.map((item, i) => parseNode(item, `${path}[${i}]`, depth + 1, w));
}

function parseAttribute(node: Record<string, unknown>, path: string): AttributeCondition {
  const a = check(attributeShape, node, path);
  const schema = VALUE_OF[a.op];
  if (schema === null) {
    if (a.value !== undefined) throw invalid(`${path}.value`, "must be absent for 'exists'");
    return { attribute: a.attribute, op: 'exists' };
  }
  if (a.value === undefined) throw invalid(`${path}.value`, `is required for '${a.op}'`);
  return { attribute: a.attribute, op: a.op, value: check(schema, a.value, `${path}.value`) } as AttributeCondition;
}

function parseDate(node: Record<string, unknown>, path: string): DateCondition {
  const d = check(dateShape, node, path);
  if (d.op === 'between') return { field: d.field, op: d.op, value: check(dateValue.range, d.value, `${path}.value`) };
  return { field: d.field, op: d.op, value: check(dateValue.single, d.value, `${path}.value`) };
}

function parseGroupNode(node: Record<string, unknown>, kind: 'all' | 'any' | 'not', path: string, depth: number, w: Walk): SegmentFilter {
  if (depth > SEGMENT_LIMITS.depth) throw invalid(path, `groups may be nested at most ${SEGMENT_LIMITS.depth} deep`);
  const extra = Object.keys(node).find((k) => k !== kind);
  if (extra !== undefined) throw invalid(`${path}.${extra}`, 'unknown key: not accepted here');
  if (kind === 'not') return { not: parseNode(node.not, `${path}.not`, depth + 1, w) };
  const items = parseGroup(node[kind], `${path}.${kind}`, depth, w);
  return kind === 'all' ? { all: items } : { any: items };
}

function parseNode(node: unknown, path: string, depth: number, w: Walk): SegmentFilter {
  if (!isPlainObject(node)) throw invalid(path, 'must be a condition object');
  const kind = KINDS.find((k) => Object.hasOwn(node, k));
  if (kind === undefined) throw invalid(path, `must be a condition: an object with one of ${KINDS.join(', ')}`);
  if (kind === 'all' || kind === 'any' || kind === 'not') return parseGroupNode(node, kind, path, depth, w);
  w.conditions += 1;
  if (w.conditions > SEGMENT_LIMITS.conditions) throw invalid(path, `a filter holds at most ${SEGMENT_LIMITS.conditions} conditions`);
  if (kind === 'attribute') return parseAttribute(node, path);
  if (kind === 'field') return parseDate(node, path);
  if (kind === 'status') return check(statusShape, node, path);
  return check(listShape, node, path);
}

/**
 * Validates a filter as a tenant sent it (already JSON-parsed; any shape) and returns it typed,
 * normalised (dates in UTC ISO, subscription defaulted). Throws DomainError 'invalid_segment' whose
 * field is the JSON path of the first fault under `field` (e.g. "filter.all[2].value").
 */
export function parseSegmentFilter(input: unknown, field = 'filter'): SegmentFilter {
  return parseNode(input, field, 1, { conditions: 0 });
}

/** A list condition of a filter: the list id and the JSON path of its `list` key (e.g. filter.all[1].list). */
export interface ListReference { list: string; path: string }

/**
 * Every list a parsed filter names, with the JSON path (under `field`, as parseSegmentFilter names
 * faults) of each condition's `list` key, in document order: what a caller checks against the
 * tenant's live lists before saving or counting a filter.
 */
export function listReferences(filter: SegmentFilter, field = 'filter'): ListReference[] {
  if ('all' in filter) return filter.all.flatMap((f, i) => listReferences(f, `${field}.all[${i}]`));
  if ('any' in filter) return filter.any.flatMap((f, i) => listReferences(f, `${field}.any[${i}]`));
  if ('not' in filter) return listReferences(filter.not, `${field}.not`);
  return 'list' in filter ? [{ list: filter.list, path: `${field}.list` }] : [];
}

/** The filter as a zod schema (validation by parseSegmentFilter, faults as zod issues at their path), for request bodies. */
export const segmentFilterSchema = z.unknown().transform((v, ctx) => {
  try {
    return parseSegmentFilter(v, 'filter');
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
});

/* ------------------------------------------------------------------ compilation */

/** A compiled predicate: SQL text with $n placeholders and their values, in order. */
export interface CompiledSegment { sql: string; params: unknown[] }

class Binder {
  readonly params: unknown[] = [];
  private subqueries = 0;
  constructor(private next: number) {}
  /** A placeholder for `value`, cast to `type` (a fixed SQL type name, never input). */
  bind(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.next++}::${type}`;
  }
  alias(): string {
    this.subqueries += 1;
    return `seg_s${this.subqueries}`;
  }
}

const COMPARE: Record<'gt' | 'gte' | 'lt' | 'lte', string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };
const containing = (name: string, value: unknown) => JSON.stringify({ [name]: value });

/** The attribute as jsonb and as text, its name bound once. */
function attr(a: string, name: string, b: Binder): { json: string; text: string } {
  const k = b.bind(name, 'text');
  return { json: `${a}.attributes -> ${k}`, text: `${a}.attributes ->> ${k}` };
}

/** `test` of the attribute's value, only where its JSON type is `type` (CASE keeps the order: the cast never sees another type). */
function typed(t: { json: string; text: string }, type: 'number' | 'string', test: (v: string) => string): string {
  const value = type === 'number' ? `(${t.json})::numeric` : `(${t.text}) COLLATE "C"`; // jsonb → numeric directly: no text round trip
  return `CASE WHEN jsonb_typeof(${t.json}) = '${type}' THEN ${test(value)} ELSE false END`;
}

const present = (t: { json: string }) => `coalesce(jsonb_typeof(${t.json}), 'null') <> 'null'`;

function compileOrdered(a: string, c: AttributeCondition & { op: 'gt' | 'gte' | 'lt' | 'lte' | 'between' }, b: Binder): string {
  const t = attr(a, c.attribute, b);
  if (c.op === 'between') {
    const [lo, hi] = c.value;
    const numeric = typeof lo === 'number';
    const cast = numeric ? 'numeric' : 'text';
    return typed(t, numeric ? 'number' : 'string', (v) => `${v} BETWEEN ${b.bind(lo, cast)} AND ${b.bind(hi, cast)}`);
  }
  const numeric = typeof c.value === 'number';
  return typed(t, numeric ? 'number' : 'string', (v) => `${v} ${COMPARE[c.op as keyof typeof COMPARE]} ${b.bind(c.value, numeric ? 'numeric' : 'text')}`);
}

function compileContains(a: string, c: { attribute: string; value: Scalar }, b: Binder): string {
  const element = `${a}.attributes @> ${b.bind(containing(c.attribute, [c.value]), 'jsonb')}`;
  if (typeof c.value !== 'string') return element;
  const t = attr(a, c.attribute, b);
  const needle = b.bind(c.value, 'text');
  return `(${element} OR ${typed(t, 'string', () => `strpos(lower(${t.text}), lower(${needle})) > 0`)})`;
}

function compileAttribute(a: string, c: AttributeCondition, b: Binder): string {
  switch (c.op) {
    case 'eq': return `${a}.attributes @> ${b.bind(containing(c.attribute, c.value), 'jsonb')}`;
    case 'ne': return `(${present(attr(a, c.attribute, b))} AND NOT ${a}.attributes @> ${b.bind(containing(c.attribute, c.value), 'jsonb')})`;
    // jsonb equality against a constant array is a hashed lookup (PostgreSQL 14+) from 9 values on: 1,000 values cost what 2 do.
    case 'in': return `coalesce((${attr(a, c.attribute, b).json}) = ANY(${b.bind(c.value.map((v) => JSON.stringify(v)), 'jsonb[]')}), false)`;
    case 'exists': return present(attr(a, c.attribute, b));
    case 'contains': return compileContains(a, c, b);
    default: return compileOrdered(a, c, b);
  }
}

function compileDate(a: string, c: DateCondition, b: Binder): string {
  const column = `${a}.${c.field === 'createdAt' ? 'created_at' : 'verified_at'}`;
  // `IS NOT NULL AND …`, not coalesce(): never NULL (so `not` complements it), and still an index condition.
  if (c.op === 'between') return `(${column} IS NOT NULL AND ${column} >= ${b.bind(c.value[0], 'timestamptz')} AND ${column} <= ${b.bind(c.value[1], 'timestamptz')})`;
  return `(${column} IS NOT NULL AND ${column} ${c.op === 'before' ? '<' : '>'} ${b.bind(c.value, 'timestamptz')})`;
}

function compileNode(a: string, f: SegmentFilter, b: Binder): string {
  if ('all' in f) return f.all.length === 0 ? 'true' : `(${f.all.map((x) => compileNode(a, x, b)).join(' AND ')})`;
  if ('any' in f) return f.any.length === 0 ? 'false' : `(${f.any.map((x) => compileNode(a, x, b)).join(' OR ')})`;
  if ('not' in f) return `NOT (${compileNode(a, f.not, b)})`;
  if ('attribute' in f) return compileAttribute(a, f, b);
  if ('field' in f) return compileDate(a, f, b);
  if ('status' in f) return `${a}.status = ${b.bind(f.status, 'text')}`;
  const s = b.alias();
  // Only a live list: a deleted list keeps its subscriptions (soft delete), which no segment counts. The
  // list's check is uncorrelated (planned once, an InitPlan), not a join repeated for every contact.
  return `(EXISTS (SELECT 1 FROM lists ${s}_l WHERE ${s}_l.id = ${b.bind(f.list, 'uuid')} AND ${s}_l.deleted_at IS NULL) `
    + `AND EXISTS (SELECT 1 FROM subscriptions ${s} WHERE ${s}.contact_id = ${a}.id AND ${s}.list_id = ${b.bind(f.list, 'uuid')} AND ${s}.status = ${b.bind(f.subscription, 'text')}))`;
}

const ALIAS = /^[a-z_][a-z0-9_]{0,30}$/;

/**
 * Compiles a parsed filter to a boolean SQL predicate over the contacts table under `alias` (a row of
 * contacts; list conditions add an EXISTS over subscriptions of lists not deleted). Placeholders start at `$firstParam`,
 * so the predicate composes into a query that already has firstParam − 1 parameters:
 * `WHERE … AND (${sql})` with `[...own, ...params]`. Every leaf yields true or false, never NULL, so
 * `not` is the exact complement. Throws only on a programming error (a bad alias or firstParam).
 */
export function compileSegment(filter: SegmentFilter, alias = 'ct', firstParam = 1): CompiledSegment {
  if (!ALIAS.test(alias)) throw new Error(`compileSegment: bad alias ${alias}`);
  if (!Number.isInteger(firstParam) || firstParam < 1) throw new Error(`compileSegment: bad firstParam ${firstParam}`);
  const b = new Binder(firstParam);
  return { sql: compileNode(alias, filter, b), params: b.params };
}

// The segment builder's model: rows of conditions joined by AND (all) or OR (any), each optionally
// negated, and its translation to and from the filter JSON of /api/segments (README "Segments"; the
// server validates it: src/audience/segment-filter.ts). A filter the rows cannot show (nested groups)
// is edited as JSON instead. The server's fault paths (filter.all[2].value) map back to a row's control.

export interface Segment { id: string; name: string; filter: Record<string, unknown>; createdAt: string; updatedAt: string }
export interface AttributeName { name: string; types: string[] }

export type Kind = 'attribute' | 'status' | 'list' | 'createdAt' | 'confirmedAt';
export type AttributeOp = 'eq' | 'ne' | 'in' | 'contains' | 'gt' | 'gte' | 'lt' | 'lte' | 'between' | 'exists';
export type ValueType = 'string' | 'number' | 'boolean';
export type DateOp = 'before' | 'after' | 'between';
export type Subscription = 'subscribed' | 'unconfirmed' | 'unsubscribed';
export type ContactStatus = 'pending' | 'active' | 'suppressed';
export type Match = 'all' | 'any';

export interface Row {
  key: string; kind: Kind; negate: boolean;
  attribute: string; op: AttributeOp; valueType: ValueType; value: string; value2: string;
  status: ContactStatus;
  list: string; subscription: Subscription;
  dateOp: DateOp; date: string; date2: string;
}
export interface Model { match: Match; rows: Row[] }

export const KIND_LABEL: Record<Kind, string> = {
  attribute: 'Attribute', status: 'Contact status', list: 'List subscription', createdAt: 'Date added', confirmedAt: 'Date confirmed',
};
export const OP_LABEL: Record<AttributeOp, string> = {
  eq: 'is', ne: 'is not', in: 'is one of', contains: 'contains', gt: 'is greater than', gte: 'is at least',
  lt: 'is less than', lte: 'is at most', between: 'is between', exists: 'is set',
};
export const TYPE_LABEL: Record<ValueType, string> = { string: 'Text', number: 'Number', boolean: 'Yes/no' };
export const STATUS_LABEL: Record<ContactStatus, string> = { pending: 'Unconfirmed', active: 'Active', suppressed: 'Suppressed' };
export const SUBSCRIPTION_LABEL: Record<Subscription, string> = { subscribed: 'Subscribed', unconfirmed: 'Awaiting confirmation', unsubscribed: 'Unsubscribed' };
export const DATE_OP_LABEL: Record<DateOp, string> = { before: 'before', after: 'after', between: 'between' };

let nextKey = 0;
/** A new row: an attribute condition, nothing filled in. */
export function newRow(over: Partial<Row> = {}): Row {
  return {
    key: `r${++nextKey}`, kind: 'attribute', negate: false, attribute: '', op: 'eq', valueType: 'string', value: '', value2: '',
    status: 'active', list: '', subscription: 'subscribed', dateOp: 'after', date: '', date2: '', ...over,
  };
}

export const emptyModel = (): Model => ({ match: 'all', rows: [newRow()] });

type Scalar = string | number | boolean;

/** A typed value from the text of a control; undefined when empty (the server then says it is required). */
function typed(text: string, type: ValueType): Scalar | undefined {
  if (type === 'boolean') return text === '' ? undefined : text === 'true';
  if (text.trim() === '') return undefined;
  return type === 'number' ? Number(text) : text;
}

function attributeFilter(r: Row): Record<string, unknown> {
  const f: Record<string, unknown> = { attribute: r.attribute, op: r.op };
  if (r.op === 'exists') return f;
  if (r.op === 'in') {
    const values = r.value.split(',').map((v) => typed(v.trim(), r.valueType)).filter((v) => v !== undefined);
    return values.length > 0 ? { ...f, value: values } : f;
  }
  if (r.op === 'between') return { ...f, value: [typed(r.value, r.valueType) ?? null, typed(r.value2, r.valueType) ?? null] };
  const v = typed(r.value, r.valueType);
  return v === undefined ? f : { ...f, value: v };
}

function rowFilter(r: Row): Record<string, unknown> {
  let f: Record<string, unknown>;
  if (r.kind === 'attribute') f = attributeFilter(r);
  else if (r.kind === 'status') f = { status: r.status };
  else if (r.kind === 'list') f = { list: r.list, subscription: r.subscription };
  else f = { field: r.kind, op: r.dateOp, value: r.dateOp === 'between' ? [r.date, r.date2] : r.date };
  return r.negate ? { not: f } : f;
}

/**
 * Whether a row is filled in enough to be counted: an attribute condition names its attribute and every
 * value its operator needs, a list condition its list, a date condition its date(s). The server still
 * judges the values (a complete row may be refused, and its fault shows at the row).
 */
export function rowComplete(r: Row): boolean {
  if (r.kind === 'status') return true;
  if (r.kind === 'list') return r.list !== '';
  if (r.kind === 'createdAt' || r.kind === 'confirmedAt') return r.date !== '' && (r.dateOp !== 'between' || r.date2 !== '');
  if (r.attribute.trim() === '') return false;
  if (r.op === 'exists') return true;
  if (r.op === 'in') return r.value.split(',').some((v) => typed(v.trim(), r.valueType) !== undefined);
  if (r.op === 'between') return typed(r.value, r.valueType) !== undefined && typed(r.value2, r.valueType) !== undefined;
  return typed(r.value, r.valueType) !== undefined;
}

/** The filter JSON of the rows. */
export function filterOf(m: Model): Record<string, unknown> {
  return { [m.match]: m.rows.map(rowFilter) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const valueTypeOf = (v: unknown): ValueType => (typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string');
const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
/** A stored date (UTC ISO) as the date control shows it. */
const day = (v: unknown): string => text(v).slice(0, 10);

function rowOf(node: unknown): Row | null {
  if (!isObject(node)) return null;
  if ('not' in node) {
    const inner = rowOf(node.not);
    return inner && !inner.negate ? { ...inner, negate: true } : null;
  }
  if ('attribute' in node) {
    const op = node.op as AttributeOp;
    const v = node.value;
    if (Array.isArray(v)) {
      return newRow({ attribute: text(node.attribute), op, valueType: valueTypeOf(v[0]), value: op === 'between' ? text(v[0]) : v.map(text).join(', '), value2: op === 'between' ? text(v[1]) : '' });
    }
    return newRow({ attribute: text(node.attribute), op, valueType: valueTypeOf(v), value: text(v) });
  }
  if ('status' in node) return newRow({ kind: 'status', status: node.status as ContactStatus });
  if ('list' in node) return newRow({ kind: 'list', list: text(node.list), subscription: (node.subscription as Subscription | undefined) ?? 'subscribed' });
  if ('field' in node) {
    const between = node.op === 'between' && Array.isArray(node.value);
    return newRow({ kind: node.field as Kind, dateOp: node.op as DateOp, date: day(between ? (node.value as unknown[])[0] : node.value), date2: between ? day((node.value as unknown[])[1]) : '' });
  }
  return null;
}

/** The rows of a stored filter, or null when it has nested groups the rows cannot show (edit it as JSON). */
export function modelOf(filter: Record<string, unknown>): Model | null {
  for (const match of ['all', 'any'] as const) {
    if (Object.keys(filter).length === 1 && Array.isArray(filter[match])) {
      const rows = (filter[match] as unknown[]).map(rowOf);
      return rows.every((r): r is Row => r !== null) ? { match, rows } : null;
    }
  }
  const row = rowOf(filter);
  return row ? { match: 'all', rows: [row] } : null;
}

/** Where a server fault lands: a row and the part of it (attribute, op, value, list…), or the whole filter. */
export interface FaultPlace { row: number | null; part: string | null }

/** "filter.all[2].not.value[1]" → row 2, part "value"; "filter.any" → the whole filter. */
export function placeOf(field: string | null): FaultPlace {
  const m = /^filter\.(?:all|any)\[(\d+)\](?:\.not)?(?:\.([A-Za-z]+))?/.exec(field ?? '');
  return m ? { row: Number(m[1]), part: m[2] ?? null } : { row: null, part: null };
}

/** The server's message without the path it starts with ("filter.all[0].value: is required" → "is required"). */
export const faultText = (message: string): string => message.replace(/^filter[^\s:]*: /, '');

/** A one-line description of a stored filter, for the list of segments. */
export function describeFilter(filter: Record<string, unknown>, listName: (id: string) => string): string {
  const m = modelOf(filter);
  if (!m) return 'Nested conditions (edit to see them)';
  if (m.rows.length === 0) return m.match === 'all' ? 'Everyone' : 'No one';
  const one = (r: Row): string => {
    let s: string;
    if (r.kind === 'attribute') s = `${r.attribute} ${OP_LABEL[r.op]}${r.op === 'exists' ? '' : ` ${r.op === 'between' ? `${r.value} and ${r.value2}` : r.value}`}`;
    else if (r.kind === 'status') s = `status is ${STATUS_LABEL[r.status].toLowerCase()}`;
    else if (r.kind === 'list') s = `${SUBSCRIPTION_LABEL[r.subscription].toLowerCase()} to ${listName(r.list)}`;
    else s = `${KIND_LABEL[r.kind].toLowerCase()} ${r.dateOp} ${r.dateOp === 'between' ? `${r.date} and ${r.date2}` : r.date}`;
    return r.negate ? `not (${s})` : s;
  };
  return m.rows.map(one).join(m.match === 'all' ? ' and ' : ' or ');
}

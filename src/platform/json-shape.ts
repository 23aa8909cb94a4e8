// The shape of a JSON body, read from its bytes before JSON.parse sees them (issue 14: no request may
// hold the event loop over 50 ms). Parsing, the card scan, the Idempotency-Key fingerprint and the
// schemas all cost per JSON value, and an object with tens of thousands of keys is worse still
// (V8 keeps it as a dictionary): a 900 KB body of 60 000 keys took 55–95 ms to JSON.parse alone.
// So the shape is bounded first, in one linear pass over the bytes without recursion and without
// building anything: strings are skipped with Buffer#indexOf, and the pass stops at the first limit
// crossed (a 60 000-key body is refused after its 1 001st key).
//
// The pass does not validate JSON (JSON.parse does, next): on malformed input its counts may be off,
// which can only turn a 400 into a 413. On well-formed UTF-8 JSON they are exact: structural bytes
// are ASCII, and UTF-8 never uses an ASCII byte inside a multi-byte character.

/** At most this many JSON values in a body, containers included (a 500-line invoice has ~2 000). */
export const MAX_JSON_VALUES = 10_000;
/** At most this many members in one JSON object (attributes and data records are the only open maps). */
export const MAX_OBJECT_MEMBERS = 1_000;
/** At most this many containers nested (the card scan's MAX_SCAN_DEPTH). */
export const MAX_JSON_DEPTH = 64;

/** Shape limits: JSON values in all, members in one object, containers nested. */
export interface JsonShapeLimits { values: number; members: number; depth: number }
/** The limits every JSON body of the API is held to (http.ts checks them before JSON.parse). */
export const JSON_SHAPE_LIMITS: JsonShapeLimits = { values: MAX_JSON_VALUES, members: MAX_OBJECT_MEMBERS, depth: MAX_JSON_DEPTH };

/** The first limit a body crosses: which one, its value, and where (a body path such as attributes or lines[3]; 'body' for the whole). */
export interface ShapeViolation { limit: 'values' | 'members' | 'depth' | 'reserved_key'; max: number; field: string }

/**
 * The key "__proto__": JSON.parse makes it an own property, but zod's records and object spreads
 * drop it or, worse, treat it as the prototype, so a body naming it would be read differently from
 * how it was written. Refused wherever it appears (max is 0 in the violation).
 */
const PROTO_KEY = Buffer.from('"__proto__"', 'latin1');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Longest key (bytes) a reported field spells out; a longer one is shown as '…'. */
const MAX_KEY_IN_FIELD = 100;

const utf8 = new TextDecoder('utf-8');

/** The key spelled by the JSON string at bytes [start, end] (quotes included), or '…' when too long or malformed. */
function keyAt(buf: Uint8Array, start: number, end: number): string {
  if (end - start > MAX_KEY_IN_FIELD + 2) return '…';
  try {
    const key: unknown = JSON.parse(utf8.decode(buf.subarray(start, end + 1)));
    return typeof key === 'string' ? key : '…';
  } catch {
    return '…';
  }
}

/** Strings up to this many bytes are stepped through; longer ones are searched with Buffer#indexOf (native). */
const SHORT_STRING = 64;

/** The index of the quote closing the string opened at `open`, or -1 when it is never closed. */
function closingQuote(bytes: Buffer, open: number): number {
  const stop = Math.min(bytes.length, open + 1 + SHORT_STRING);
  let j = open + 1;
  for (; j < stop; j++) {
    const b = bytes[j];
    if (b === QUOTE) return j;
    if (b === BACKSLASH) j++;
  }
  if (j >= bytes.length) return -1;
  // A long string: the next quote not escaped (preceded by an even number of backslashes).
  let end = bytes.indexOf(QUOTE, j);
  while (end >= 0) {
    let slashes = 0;
    while (bytes[end - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return end;
    end = bytes.indexOf(QUOTE, end + 1);
  }
  return -1;
}

/** Whether the key at bytes [start, end] (quotes included) reads "__proto__", escaped or not. */
function isProtoKey(bytes: Buffer, start: number, end: number): boolean {
  const len = end - start + 1;
  if (len === PROTO_KEY.length) return bytes.compare(PROTO_KEY, 0, len, start, end + 1) === 0;
  if (len < PROTO_KEY.length || len > 80) return false;
  const slash = bytes.indexOf(BACKSLASH, start);
  if (slash >= 0 && slash < end) return keyAt(bytes, start, end) === '__proto__';
  return false;
}

/**
 * The first shape limit a UTF-8 JSON text crosses, or null within them: more than `values` JSON
 * values in all (containers count, object keys do not), more than `members` members in one object,
 * or containers nested deeper than `depth`. One pass over the bytes, O(length), no recursion.
 */
export function jsonShapeViolation(buf: Uint8Array, limits: JsonShapeLimits = JSON_SHAPE_LIMITS): ShapeViolation | null {
  const n = buf.length;
  const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  // One frame per open container: object or array, members so far, and the byte range of its last key.
  const isObject = new Uint8Array(limits.depth + 1);
  const members = new Int32Array(limits.depth + 1);
  const keyStart = new Int32Array(limits.depth + 1);
  const keyEnd = new Int32Array(limits.depth + 1);
  let depth = 0;
  let values = 0;
  /** True where the next token starts a new element of the open container (after '{', '[' or ','). */
  let fresh = true;

  const fieldOf = (frames: number): string => {
    let out = '';
    for (let d = 0; d < frames; d++) {
      out += isObject[d] ? `${out ? '.' : ''}${keyAt(buf, keyStart[d], keyEnd[d])}` : `[${members[d] - 1}]`;
    }
    return out || 'body';
  };
  /** Counts a new element (a value) of the open container, or the root; a violation when that crosses a limit. */
  const element = (): ShapeViolation | null => {
    fresh = false;
    values++;
    if (values > limits.values) return { limit: 'values', max: limits.values, field: 'body' };
    if (depth > 0) {
      const top = depth - 1;
      members[top]++;
      if (isObject[top] && members[top] > limits.members) return { limit: 'members', max: limits.members, field: fieldOf(top) };
    }
    return null;
  };

  let i = 0;
  while (i < n) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === COLON) { i++; continue; }
    if (c === COMMA) { fresh = true; i++; continue; }
    if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) { if (depth > 0) depth--; fresh = false; i++; continue; }
    const starts = fresh;
    if (starts) {
      const hit = element();
      if (hit) return hit;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= limits.depth) return { limit: 'depth', max: limits.depth, field: fieldOf(depth) };
      isObject[depth] = c === OPEN_OBJECT ? 1 : 0;
      members[depth] = 0;
      depth++;
      fresh = true;
      i++;
      continue;
    }
    if (c === QUOTE) {
      const end = closingQuote(bytes, i);
      if (end < 0) return null; // unterminated: JSON.parse refuses it
      // A string that begins an object member is its key (a member's value never begins one: ':' leaves fresh false).
      if (starts && depth > 0 && isObject[depth - 1]) {
        keyStart[depth - 1] = i; keyEnd[depth - 1] = end;
        if (isProtoKey(bytes, i, end)) return { limit: 'reserved_key', max: 0, field: fieldOf(depth) };
      }
      i = end + 1;
      continue;
    }
    i++; // a byte of a number or of true, false, null
  }
  return null;
}

// Zod building blocks for response schemas (documented in /openapi.json and checked against real
// responses in test/platform/openapi.test.ts): timestamps as JSON carries them, the one list
// envelope {items, nextCursor}, and the opaque keyset cursor of newest-first listings.
import { z } from 'zod';
import { DomainError } from '../domain-error.js';
import { UUID_PATTERN } from '../policy/ids.js';

/** A date-time as JSON carries it (ISO 8601, e.g. 2024-05-31T14:00:00.000Z). */
export const timestamp = z.iso.datetime({ offset: true });
export const id = z.string().regex(UUID_PATTERN, 'must be a UUID');

/** The one list envelope: a page of items and the cursor of the next page (null at the end). */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** A keyset position: the sort timestamp to the microsecond (UTC, as PostgreSQL's to_char gives it) and the row id. */
export interface Keyset { at: string; id: string }
const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The opaque cursor of a keyset position. */
export function encodeKeyset(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.at, k.id])).toString('base64url');
}

/** Reads a cursor made by encodeKeyset; anything else is 422 invalid on `field`. */
export function decodeKeyset(s: string, field = 'query.cursor'): Keyset {
  try {
    const [at, rowId] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof rowId === 'string' && CURSOR_AT.test(at) && UUID_PATTERN.test(rowId)) return { at, id: rowId };
  } catch { /* fall through */ }
  throw new DomainError('invalid', `${field}: not a cursor returned by this listing`, field);
}

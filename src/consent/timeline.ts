// A contact's timeline: the messages sent to them (with their states), their consent records (opt-ins,
// confirmations, opt-outs: the unsubscribes, suppress and unsuppress) and the bounces and complaints
// about them, newest first, in one keyset-paged stream. No SQL here: each source is read by the file
// that owns its table (mail/ledger.ts, consent/records.ts, bounces/store.ts), each query returning at
// most one page after the cursor; the pages are merged here.
import { DomainError } from '../domain-error.js';
import type { Queryable } from '../platform/db.js';
import { contactMessagesPage } from '../mail/ledger.js';
import { contactBouncesPage } from '../bounces/store.js';
import { consentEventsPage } from './records.js';

/** A timeline position: the sort time to the microsecond (UTC) and the row's key ('m:<uuid>', 'c:<20 digits>', 'b:<uuid>'). */
export interface TimelinePosition { at: string; key: string }

export type TimelineItem =
  | { type: 'message'; id: string; at: Date; kind: string; purpose: string; campaignId: string | null; subject: string | null;
    status: string; reason: string | null; sentAt: Date | null }
  | { type: 'consent'; id: string; at: Date; action: string; source: string; listId: string | null; listName: string | null;
    textHash: string | null; detail: Record<string, unknown> }
  | { type: 'bounce'; id: string; at: Date; kind: string; reason: string | null; status: string | null; diagnostic: string | null;
    feedbackType: string | null; messageId: string | null; campaignId: string | null; action: string | null; rawKept: boolean; rawWithheld: string | null };

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const KEY = /^(?:[mb]:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|c:\d{20})$/;

/** PURE: the opaque cursor of a position (base64url of [at, key]). */
export function encodeTimelineCursor(p: TimelinePosition): string {
  return Buffer.from(JSON.stringify([p.at, p.key])).toString('base64url');
}

/** PURE: reads a cursor made by encodeTimelineCursor; anything else is DomainError invalid on `field`. */
export function decodeTimelineCursor(s: string, field = 'query.cursor'): TimelinePosition {
  try {
    const [at, key] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof key === 'string' && AT.test(at) && KEY.test(key)) return { at, key };
  } catch { /* fall through */ }
  throw new DomainError('invalid', `${field}: not a cursor returned by this timeline`, field);
}

type Sorted = { item: TimelineItem; pos: TimelinePosition };

/** Newest first: time descending, then key descending (byte order, as the queries' C collation). */
const newestFirst = (a: Sorted, b: Sorted): number =>
  a.pos.at === b.pos.at ? (a.pos.key < b.pos.key ? 1 : a.pos.key > b.pos.key ? -1 : 0) : (a.pos.at < b.pos.at ? 1 : -1);

/**
 * One page of a contact's timeline, newest first: at most `limit` items (1…500) strictly after the
 * position of `cursor` (from an earlier page's nextCursor), and the cursor of the next page (null at
 * the end). Three indexed reads of at most limit + 1 rows each. Errors: DomainError invalid
 * (query.cursor) for a cursor this function did not make. The caller checks the contact exists.
 */
export async function contactTimeline(c: Queryable, contactId: string, o: { limit: number; cursor?: string }):
Promise<{ items: TimelineItem[]; nextCursor: string | null }> {
  const before = o.cursor === undefined ? undefined : decodeTimelineCursor(o.cursor);
  const n = o.limit + 1;
  const messages = await contactMessagesPage(c, contactId, n, before);
  const consent = await consentEventsPage(c, contactId, n, before);
  const bounces = await contactBouncesPage(c, contactId, n, before);
  const all: Sorted[] = [
    ...messages.map((m): Sorted => ({ pos: { at: m.cursorAt, key: m.key }, item: {
      type: 'message', id: m.id, at: m.createdAt, kind: m.kind, purpose: m.purpose, campaignId: m.campaignId, subject: m.subject,
      status: m.status, reason: m.reason, sentAt: m.sentAt } })),
    ...consent.map((e): Sorted => ({ pos: { at: e.cursorAt, key: e.key }, item: {
      type: 'consent', id: e.id, at: e.at, action: e.action, source: e.source, listId: e.listId, listName: e.listName,
      textHash: e.textHash, detail: e.detail } })),
    ...bounces.map((b): Sorted => ({ pos: { at: b.cursorAt, key: b.key }, item: {
      type: 'bounce', id: b.id, at: b.receivedAt, kind: b.kind, reason: b.reason, status: b.status, diagnostic: b.diagnostic,
      feedbackType: b.feedbackType, messageId: b.messageId, campaignId: b.campaignId, action: b.action, rawKept: b.rawKept,
      rawWithheld: b.rawWithheld } })),
  ].sort(newestFirst);
  const pageRows = all.slice(0, o.limit);
  const last = pageRows[pageRows.length - 1];
  return { items: pageRows.map((s) => s.item), nextCursor: all.length > o.limit && last ? encodeTimelineCursor(last.pos) : null };
}

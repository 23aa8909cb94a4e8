// Suppression management, so a wrong judgement can be undone: list (filtered, keyset-paged), add by
// hand, remove with a required reason. The one copy of the rules: the API (suppressions-api.ts) and
// the CLI (`postgate suppression …`) both call these functions; SQL stays in suppressions.ts.
//
// Rules:
// - Removing a suppression never re-subscribes anyone: it only lets mail be tried again. A contact
//   whose status is 'suppressed' (hard bounce, repeated soft bounces) goes back to 'active' through
//   the consent state machine's 'unsuppress' event once no 'all' suppression is left; its list
//   subscriptions are untouched (unsubscribed stays unsubscribed). Erased contacts stay erased.
// - An erasure suppression (reason 'erased') is never removed here: only the person's fresh,
//   confirmed opt-in lifts it (migration 040). It is kept and reported as such.
// - Every removal with a contact behind it is an 'unsuppress' consent record (reason, who, what);
//   a manual addition is a 'suppress' record when a contact exists.
// Errors are DomainError (code, field); adapters map them (the API to a status, the CLI to one line).
import { z } from 'zod';
import { DomainError } from '../domain-error.js';
import type { Db } from '../platform/db.js';
import { bodyText, email } from '../platform/schemas.js';
import { hasHeaderInjection, parseAddress } from '../policy/addresses.js';
import { findContact, setContactStatus } from './contacts.js';
import { recordConsent } from './records.js';
import { isInvalid, nextContact, type ContactStatus } from './state.js';
import {
  addSuppression, addressHashes, deleteSuppressions, listSuppressions, suppressionsOf,
  type SuppressionRow, type SuppressionScope,
} from './suppressions.js';
import { isUuid } from '../policy/ids.js';

/** Who acts: an API key (its id is recorded) or the operator's CLI. */
export type Actor = { kind: 'api'; keyId: string } | { kind: 'cli' };
const actorId = (a: Actor): string => (a.kind === 'api' ? a.keyId : 'cli');

// ---- inputs (validated the same way for the API and the CLI) ---------------------------------------

const scope = z.enum(['all', 'marketing']);

/** Lone UTF-16 surrogates cannot be stored in jsonb (the consent record's detail): refused up front. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (v: string) => !LONE_SURROGATE.test(v);

/**
 * An address to look up: suppressions may hold addresses the strict parser would refuse (a bounce's
 * Final-Recipient), so a look-up takes any single-line text with an '@' and matches it as typed and,
 * when it parses, as normalised; both case-insensitively (the hash is of the lower-cased address).
 */
const lookupAddress = z.string().trim().min(3).max(320)
  .refine((v) => !hasHeaderInjection(v) && wellFormed(v), 'must not contain line breaks, control characters or broken Unicode')
  .refine((v) => v.includes('@'), 'must be an email address');

/** A suppression reason: a short token such as manual, legal_request (free text goes in note). */
const reasonToken = z.string().trim().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a short token of lower-case letters, digits and _ (e.g. manual); put free text in note')
  .refine((v) => v !== 'erased', "'erased' is set by erasure only");

/** Why a suppression is removed: free text, required. */
const removalReason = bodyText(1000).refine(wellFormed, 'must be well-formed Unicode').transform((v) => v.trim())
  .refine((v) => v.length > 0, 'a reason for the removal is required');

const isoDate = z.iso.datetime({ offset: true }).refine((v) => Number(v.slice(0, 4)) >= 1, 'year must be 0001 or later');

export const suppressionsQuery = z.object({
  address: lookupAddress.optional(),
  scope: scope.optional(),
  reason: z.string().trim().min(1).max(40).refine((v) => !hasHeaderInjection(v) && wellFormed(v), 'must not contain control characters').optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
}).strict();
export type SuppressionsQuery = z.infer<typeof suppressionsQuery>;

export const addSuppressionSchema = z.object({
  address: email,
  scope: scope.default('all'),
  reason: reasonToken,
  note: bodyText(1000).refine(wellFormed, 'must be well-formed Unicode').optional(),
}).strict();
export type AddSuppressionInput = z.infer<typeof addSuppressionSchema>;

export const removeSuppressionSchema = z.object({
  address: lookupAddress,
  scope: scope.optional(),
  reason: removalReason,
}).strict();
export type RemoveSuppressionInput = z.infer<typeof removeSuppressionSchema>;

/** Validates with one of the schemas above; the first issue becomes an 'invalid' DomainError naming its field. */
export function validateInput<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = prefix + (issue.path.map(String).join('.') || '$');
  const given = (value as { reason?: unknown } | null)?.reason;
  if (issue.path[0] === 'reason' && (given === undefined || (typeof given === 'string' && given.trim() === ''))) {
    throw new DomainError('reason_required', 'a reason is required to remove a suppression', field);
  }
  throw new DomainError('invalid', `${field}: ${issue.message}`, field);
}

// ---- output ----------------------------------------------------------------------------------------

export interface SuppressionItem {
  id: string; address: string | null; scope: SuppressionScope; reason: string; createdAt: string;
  note: string | null; createdBy: string | null; source: Record<string, unknown> & { type: string };
}

function sourceType(reason: string): string {
  if (reason === 'hard_bounce' || reason === 'soft_bounces') return 'bounce';
  if (reason === 'complaint') return 'complaint';
  if (reason === 'erased') return 'erasure';
  return 'manual';
}

export function suppressionItem(r: SuppressionRow): SuppressionItem {
  const type = typeof r.source?.type === 'string' ? r.source.type : sourceType(r.reason);
  return {
    id: r.id, address: r.address, scope: r.scope, reason: r.reason, createdAt: r.createdAt.toISOString(),
    note: r.note, createdBy: r.createdBy, source: { ...r.source, type },
  };
}

// ---- cursor: opaque, over (created_at to the microsecond, id) ------------------------------------

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function encodeCursor(r: SuppressionRow): string {
  return Buffer.from(JSON.stringify([r.cursorAt, r.id])).toString('base64url');
}

function decodeCursor(s: string, prefix: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && CURSOR_AT.test(at) && isUuid(id)) return { at, id };
  } catch { /* fall through */ }
  throw new DomainError('invalid', `${prefix}cursor: not a cursor returned by this listing`, `${prefix}cursor`);
}

/** The spellings an address is looked up by: as typed and, when it parses, as normalised. */
function spellings(address: string): { all: string[]; key: string } {
  const p = parseAddress(address);
  return p.ok ? { all: [address, p.value.address], key: p.value.address } : { all: [address], key: address };
}

// ---- operations ------------------------------------------------------------------------------------

/** One page of the tenant's suppressions, newest first. `prefix` names fields in errors (e.g. 'query.'). */
export async function listSuppressionPage(db: Db, tenantId: string, q: SuppressionsQuery, prefix = ''):
Promise<{ items: SuppressionItem[]; nextCursor: string | null }> {
  const after = q.cursor !== undefined ? decodeCursor(q.cursor, prefix) : undefined;
  return db.withTenant(tenantId, async (c) => {
    const hashes = q.address !== undefined ? await addressHashes(c, tenantId, spellings(q.address).all) : undefined;
    const rows = await listSuppressions(c, tenantId, { hashes, scope: q.scope, reason: q.reason, since: q.since, until: q.until, after, limit: q.limit });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map(suppressionItem), nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  });
}

/** Adds a suppression by hand; idempotent (created false: the existing one of that scope is returned). */
export async function addManualSuppression(db: Db, tenantId: string, input: AddSuppressionInput, actor: Actor):
Promise<{ created: boolean; item: SuppressionItem; contactId: string | null }> {
  return db.withTenant(tenantId, async (c) => {
    const by = actorId(actor);
    const created = await addSuppression(c, tenantId, input.address, input.scope, input.reason,
      { note: input.note ?? null, createdBy: by, source: { type: actor.kind } });
    const [row] = await suppressionsOf(c, tenantId, await addressHashes(c, tenantId, [input.address]), input.scope);
    if (!row) throw new Error('suppression vanished after insert');
    const contact = await findContact(c, { email: input.address });
    const live = contact && contact.status !== 'erased' ? contact : null;
    if (created && live) {
      await recordConsent(c, tenantId, { contactId: live.id, listId: null, action: 'suppress', source: actor.kind, ip: null, userAgent: null,
        textHash: null, detail: { scope: input.scope, reason: input.reason, note: input.note ?? null, by } });
    }
    return { created, item: suppressionItem(row), contactId: live?.id ?? null };
  });
}

export interface RemoveResult {
  address: string;
  removed: SuppressionItem[];
  /** What still suppresses the address (an erasure suppression, or another scope when one was named). */
  kept: SuppressionItem[];
  contact: { id: string; status: ContactStatus; previousStatus: ContactStatus } | null;
}

/** Removes the address's suppressions (one scope, or all of them); 404 when there is none. */
export async function unsuppressAddress(db: Db, tenantId: string, input: RemoveSuppressionInput, actor: Actor): Promise<RemoveResult> {
  const names = spellings(input.address);
  return db.withTenant(tenantId, async (c) => {
    const hashes = await addressHashes(c, tenantId, names.all);
    const rows = await suppressionsOf(c, tenantId, hashes, input.scope, true);
    if (rows.length === 0) throw new DomainError('not_found', 'no suppression for this address', 'address');
    const removable = rows.filter((r) => r.reason !== 'erased');
    if (removable.length === 0) {
      throw new DomainError('erasure_suppression',
        "this address was erased: its suppression is lifted only by the person's own fresh, confirmed opt-in", 'address');
    }
    await deleteSuppressions(c, tenantId, removable.map((r) => r.id));
    const kept = await suppressionsOf(c, tenantId, hashes);

    let contact: RemoveResult['contact'] = null;
    const found = await findContact(c, { email: names.key }, true);
    if (found && found.status !== 'erased') {
      let status: ContactStatus = found.status;
      if (found.status === 'suppressed' && !kept.some((k) => k.scope === 'all')) {
        const t = nextContact(found.status, 'unsuppress');
        if (!isInvalid(t) && t.changed) {
          await setContactStatus(c, found.id, t.status, false);
          status = t.status;
        }
      }
      await recordConsent(c, tenantId, { contactId: found.id, listId: null, action: 'unsuppress', source: actor.kind, ip: null, userAgent: null,
        textHash: null, detail: {
          reason: input.reason, by: actorId(actor), removed: removable.map((r) => ({ scope: r.scope, reason: r.reason })),
          ...(status !== found.status ? { from: found.status, to: status } : {}),
        } });
      contact = { id: found.id, status, previousStatus: found.status };
    }
    return { address: names.key.toLowerCase(), removed: removable.map(suppressionItem), kept: kept.map(suppressionItem), contact };
  });
}

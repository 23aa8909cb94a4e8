// The message ledger: one row per email, unique on (tenant, purpose), with its timeline. This file
// owns message state: it is the only one that changes `messages` or appends to `message_events`
// (erasure, which nulls personal data, is the one declared exception; test/architecture.test.ts
// checks it). Reading is not exclusive: the record of communications, bounce matching, campaign
// figures and the data export also SELECT from `messages`. Each transition below writes the row and its event in ONE statement
// (`WITH m AS (UPDATE messages … RETURNING …) INSERT INTO message_events … SELECT … FROM m`).
//
// The event channel. Every event the ledger writes is announced twice, to the same subscribers' taste:
//   - cross-process: `pg_notify('postgate_message_events', '<event id>')` in the statement that
//     inserts the event, so PostgreSQL delivers it at commit and never for a rolled-back write. The
//     payload is the `message_events.id` (a bigint, in decimal); read the row by id (it carries
//     tenant_id, message_id, type, detail, at). LISTEN as the owner, or as postgate_app inside
//     the tenant to read it back (RLS).
//   - in-process: `subscribe(listener)` receives `{ id, tenantId, messageId, type, detail }` once the
//     writing transaction commits (platform/db afterCommit), never for a rolled-back one.
// NOTIFY rather than an outbox table: no extra write per event and no sweeper; a consumer that must
// not miss events while disconnected catches up by reading message_events past the last id it saw.
//
// Named queries only; callers pass a client from withTenant.
import { EventEmitter } from 'node:events';
import { afterCommit, type Queryable } from '../platform/db.js';
import type { MessageKind } from '../policy/kinds.js';
import type { ContactStatus, SubscriptionStatus } from '../consent/state.js';
import { redactCapabilities, type CapabilityLink } from './capabilities.js';
import { redactCardNumbers } from '../policy/cards.js';

export type MessageStatus = 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'bounced' | 'complained' | 'suppressed' | 'cancelled';
export const FINAL_STATUSES: readonly MessageStatus[] = ['sent', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled'];

export interface LedgerMessage {
  id: string; tenantId: string; purpose: string; kind: MessageKind; contactId: string | null; campaignId: string | null;
  recipient: string | null; template: string; templateVersion: number; subject: string | null; data: Record<string, unknown>;
  requestHash: string | null; status: MessageStatus; reason: string | null; attempts: number; messageIdHeader: string | null;
  smtpResponse: string | null; createdAt: Date; sentAt: Date | null;
}

export const MESSAGE_COLUMNS = `id, tenant_id AS "tenantId", purpose, kind, contact_id AS "contactId", campaign_id AS "campaignId",
  recipient, template, template_version AS "templateVersion", subject, data, request_hash AS "requestHash", status, reason,
  attempts, message_id_header AS "messageIdHeader", smtp_response AS "smtpResponse", created_at AS "createdAt", sent_at AS "sentAt"`;

/* ------------------------------------------------------------------ the event channel */

/** The NOTIFY channel; the payload is the message_events id. */
export const MESSAGE_EVENTS_CHANNEL = 'postgate_message_events';

export interface LedgerEvent { id: string; tenantId: string; messageId: string; type: string; detail: Record<string, unknown> }
export type LedgerListener = (event: LedgerEvent) => void;

const bus = new EventEmitter();
bus.setMaxListeners(0);

/** Hears every message event written by this process, after its transaction commits. Returns the unsubscribe. */
export function subscribe(listener: LedgerListener): () => void {
  bus.on('event', listener);
  return () => { bus.off('event', listener); };
}

function emit(event: LedgerEvent): void {
  for (const listener of bus.listeners('event') as LedgerListener[]) {
    try { listener(event); } catch { /* a subscriber's failure is its own */ }
  }
}

/** The columns an event insert returns (its id also NOTIFYed in the same statement). */
const EVENT_RETURNING = `RETURNING id::text AS event_id, tenant_id AS event_tenant, message_id AS event_message, type AS event_type,
  detail AS event_detail, pg_notify('${MESSAGE_EVENTS_CHANNEL}', id::text) AS event_notified`;

interface EventRow { event_id: string | null; event_tenant: string; event_message: string; event_type: string; event_detail: Record<string, unknown> }

/** Hands the events a statement wrote to in-process subscribers once the transaction commits. */
function publish(c: Queryable, rows: readonly Partial<EventRow>[]): void {
  const events: LedgerEvent[] = [];
  for (const r of rows) {
    if (r.event_id) events.push({ id: r.event_id, tenantId: r.event_tenant as string, messageId: r.event_message as string, type: r.event_type as string, detail: r.event_detail ?? {} });
  }
  if (events.length) afterCommit(c, () => { if (bus.listenerCount('event') > 0) for (const e of events) emit(e); });
}

/** `WITH m AS (<change RETURNING id, tenant_id, type, detail>)` → the event of each changed row. */
async function changeWithEvents(c: Queryable, change: string, params: unknown[]): Promise<number> {
  const r = await c.query<EventRow>(`WITH m AS (${change})
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, type, detail FROM m ${EVENT_RETURNING}`, params);
  publish(c, r.rows);
  return r.rowCount ?? 0;
}

/* ------------------------------------------------------------------ new rows */

export interface NewMessage {
  tenantId: string; purpose: string; kind: MessageKind; contactId: string | null; campaignId?: string | null;
  recipient: string; template: string; templateVersion?: number; data: Record<string, unknown>; requestHash?: string | null;
  /** Not dispatched before this time (paced activation mail of an import); default now. */
  notBefore?: Date | null;
}

/**
 * Records a message once. Returns the row and whether this call created it; an existing row for the
 * same purpose is returned untouched (idempotency). A new row (and its 'queued' event, same
 * statement) is queued for dispatch in the same transaction and the dispatchers are woken when it
 * commits. enqueueMessages with one message.
 */
export async function enqueueMessage(c: Queryable, m: NewMessage): Promise<{ message: LedgerMessage; created: boolean }> {
  return (await enqueueMessages(c, m.tenantId, [m]))[0];
}

/**
 * Records many messages of ONE tenant in one statement (group commit of requests; purposes distinct):
 * each new purpose becomes a row with its 'queued' event and send_queue entry (due at its notBefore,
 * else now), the dispatchers woken at commit; an existing purpose is returned untouched (created
 * false), read in a second statement only when there is one. Results in the order of `ms`.
 */
export async function enqueueMessages(c: Queryable, tenantId: string, ms: readonly Omit<NewMessage, 'tenantId'>[]):
Promise<{ message: LedgerMessage; created: boolean }[]> {
  if (!ms.length) return [];
  const ins = await c.query<LedgerMessage & EventRow>(`WITH r AS (
      SELECT * FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::int[], $8::jsonb[], $9::text[], $10::uuid[], $11::timestamptz[])
        WITH ORDINALITY AS r(purpose, kind, contact_id, recipient, template, template_version, data, request_hash, campaign_id, not_before, n)),
    m AS (
      INSERT INTO messages (tenant_id, purpose, kind, contact_id, campaign_id, recipient, template, template_version, data, request_hash)
      SELECT $1, purpose, kind, contact_id, campaign_id, recipient, template, template_version, data, request_hash FROM r ORDER BY n
      ON CONFLICT (tenant_id, purpose) DO NOTHING RETURNING *),
    e AS (INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, 'queued', '{}' FROM m ${EVENT_RETURNING}),
    q AS (INSERT INTO send_queue (message_id, tenant_id, due_at)
      SELECT m.id, m.tenant_id, coalesce(r.not_before, now()) FROM m JOIN r ON r.purpose = m.purpose RETURNING message_id)
    SELECT ${MESSAGE_COLUMNS}, e.*, pg_notify('postgate_send', '') AS send_notified FROM m JOIN e ON e.event_message = m.id JOIN q ON q.message_id = m.id`,
  [tenantId, ms.map((m) => m.purpose), ms.map((m) => m.kind), ms.map((m) => m.contactId), ms.map((m) => m.recipient), ms.map((m) => m.template),
    ms.map((m) => m.templateVersion ?? 1), ms.map((m) => JSON.stringify(m.data)), ms.map((m) => m.requestHash ?? null),
    ms.map((m) => m.campaignId ?? null), ms.map((m) => m.notBefore ?? null)]);
  publish(c, ins.rows);
  const created = new Map(ins.rows.map((row) => [row.purpose, messageOf(row)]));
  const missing = ms.filter((m) => !created.has(m.purpose)).map((m) => m.purpose);
  const existing = missing.length ? await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND purpose = ANY($2::text[])`, [tenantId, missing]) : null;
  const old = new Map((existing?.rows ?? []).map((row) => [row.purpose, row]));
  return ms.map((m) => {
    const made = created.get(m.purpose);
    if (made) return { message: made, created: true };
    const found = old.get(m.purpose);
    if (!found) throw new Error(`message ${m.purpose} neither inserted nor found`);
    return { message: found, created: false };
  });
}

function messageOf(row: LedgerMessage & Partial<EventRow>): LedgerMessage {
  const { event_id: _i, event_tenant: _t, event_message: _m, event_type: _y, event_detail: _d, ...message } = row as LedgerMessage & EventRow & { event_notified?: unknown };
  delete (message as { event_notified?: unknown }).event_notified;
  delete (message as { send_notified?: unknown }).send_notified;
  return message;
}

export interface RefusedMessage { tenantId: string; purpose: string; kind: MessageKind; recipient: string | null; template: string; data: Record<string, unknown>; requestHash: string }

/**
 * A request refused before it became mail (no association): a 'suppressed' row that is never
 * queued, with its 'suppressed' event (stage 'request'), in one statement. The same refusal again
 * (same purpose) adds one more 'suppressed' event to the existing row: every refused request is on record.
 */
export async function recordRefusal(c: Queryable, s: RefusedMessage, reason: string): Promise<LedgerMessage> {
  const r = await c.query<LedgerMessage & EventRow>(`WITH m AS (
      INSERT INTO messages (tenant_id, purpose, kind, recipient, template, data, request_hash, status, reason)
      VALUES ($1, $2, $3, $4, $5, $6, $7, 'suppressed', $8) ON CONFLICT (tenant_id, purpose) DO NOTHING RETURNING *),
    e AS (INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, 'suppressed', $9 FROM m ${EVENT_RETURNING})
    SELECT ${MESSAGE_COLUMNS}, e.* FROM m JOIN e ON e.event_message = m.id`,
  [s.tenantId, s.purpose, s.kind, s.recipient, s.template, JSON.stringify(s.data), s.requestHash, reason, JSON.stringify({ reason, stage: 'request' })]);
  if (r.rows[0]) {
    publish(c, r.rows);
    return messageOf(r.rows[0]);
  }
  const existing = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND purpose = $2`, [s.tenantId, s.purpose]);
  if (!existing.rows[0]) throw new Error('refused message vanished');
  await recordEvent(c, existing.rows[0], 'suppressed', { reason, stage: 'request' });
  return existing.rows[0];
}

/** The first placeholder a CampaignChunk's segment predicate may use ($1–$7 are queueCampaignRecipients' own). */
export const CAMPAIGN_SEGMENT_FIRST_PARAM = 8;

export interface CampaignChunk {
  tenantId: string; campaignId: string; listIds: readonly string[]; templateVersion: number; after: string | null; limit: number;
  /** Inclusive upper bound of contact ids (a key range of a parallel materialisation); null or absent: none. */
  through?: string | null;
  /** The campaign's segment as a predicate over contacts `ct`, compiled by src/audience/segment-filter.ts compileSegment from CAMPAIGN_SEGMENT_FIRST_PARAM (never other SQL). */
  segment?: { sql: string; params: unknown[] };
}

/**
 * Materialises one chunk of a campaign's audience: the subscribed contacts after `after` (by id)
 * become 'queued' rows (ON CONFLICT DO NOTHING, so a resumed start adds nobody twice), narrowed by
 * the campaign's segment when it has one. No event per row: a campaign row's timeline starts with its first outcome.
 */
export async function queueCampaignRecipients(c: Queryable, k: CampaignChunk): Promise<{ scanned: number; inserted: number; last: string | null }> {
  const r = await c.query<{ scanned: number; inserted: number; last: string | null }>(`WITH chunk AS (
      SELECT ct.id, ct.email FROM contacts ct
      WHERE ($3::uuid IS NULL OR ct.id > $3::uuid) AND ($7::uuid IS NULL OR ct.id <= $7::uuid) AND ct.email IS NOT NULL AND ct.status <> 'erased'
        -- The repeated bound lets the subscriptions scan start at the chunk, not at the first contact
        -- (without it a merge join read every earlier subscription again: quadratic over a million).
        AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = ct.id AND ($3::uuid IS NULL OR s.contact_id > $3::uuid)
          AND s.list_id = ANY($2::uuid[]) AND s.status = 'subscribed')
        AND (${k.segment?.sql ?? 'true'})
      ORDER BY ct.id LIMIT $4),
    ins AS (
      INSERT INTO messages (tenant_id, purpose, kind, contact_id, campaign_id, recipient, template, template_version)
      SELECT $5::uuid, 'campaign:' || $1::text || ':' || chunk.id::text, 'marketing', chunk.id, $1::uuid, chunk.email, 'campaign:' || $1::text, $6::int FROM chunk
      ON CONFLICT (tenant_id, purpose) DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM chunk)::int AS scanned, (SELECT count(*) FROM ins)::int AS inserted,
      (SELECT id::text FROM chunk ORDER BY id DESC LIMIT 1) AS last`,
  [k.campaignId, k.listIds, k.after, k.limit, k.tenantId, k.templateVersion, k.through ?? null, ...k.segment?.params ?? []]);
  return r.rows[0];
}

/* ------------------------------------------------------------------ reading */

export async function getMessage(c: Queryable, id: string, forUpdate = false): Promise<LedgerMessage | null> {
  const r = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ?? null;
}

/** Of these message ids (uuids), those the transaction's tenant has (RLS): the outbox shows an admin key its own tenant's files only. */
export async function tenantMessageIds(c: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await c.query<{ id: string }>('SELECT id FROM messages WHERE id = ANY($1::uuid[]) AND tenant_id = app_tenant()', [ids]);
  return new Set(r.rows.map((row) => row.id));
}

/** Open messages of a tenant by state (see queueCounts): each count stops at the limit asked. */
export interface QueueCounts { queued: number; deferred: number; sending: number; oldestQueuedAt: Date | null }

/**
 * The tenant's open work now (the dashboard's queue health): messages queued (waiting to be claimed,
 * due or not), deferred (a 4xx, waiting for their retry) and sending (claimed, under a lease), each
 * counted up to `limit` (a count equal to `limit` means `limit` or more). `oldestQueuedAt`: the
 * earliest `next_attempt_at` of a queued message, i.e. since when the longest-waiting one has been
 * due (its creation, for a message never tried; a message a stopping worker released waits anew);
 * null with nothing queued.
 *
 * Bounded reads: campaign rows only of `campaignIds` (the tenant's running and paused campaigns),
 * through messages_campaign_status, at most `limit` rows per state, and the oldest by one index probe
 * per campaign; single messages through their send_queue pointers (the tenant's open single
 * messages, each joined by primary key). Measured with 1,000,000 campaign rows (430,000 open) and
 * 10,000 open single messages: see src/dashboard/dashboard.ts.
 */
export async function queueCounts(c: Queryable, tenantId: string, campaignIds: readonly string[], limit: number): Promise<QueueCounts> {
  const r = await c.query<{ status: string; n: number; oldest: Date | null }>(`WITH single AS MATERIALIZED (
      -- one primary-key look-up per pointer (OFFSET 0: never a hash join over all of messages)
      SELECT m.status, m.next_attempt_at FROM send_queue q
        CROSS JOIN LATERAL (SELECT status, next_attempt_at FROM messages WHERE id = q.message_id OFFSET 0) m
        WHERE q.tenant_id = $1 AND m.status IN ('queued', 'deferred', 'sending'))
    SELECT s.status,
      -- per campaign, an index scan in index order that stops at the limit (a bitmap scan would read every row first)
      least($3::int, (SELECT count(*) FROM (SELECT 1 FROM unnest($2::uuid[]) k CROSS JOIN LATERAL (
          SELECT 1 FROM messages WHERE campaign_id = k AND status = s.status ORDER BY next_attempt_at LIMIT $3) x LIMIT $3) a)
        + (SELECT count(*) FROM single WHERE single.status = s.status))::int AS n,
      CASE WHEN s.status = 'queued' THEN least(
        (SELECT min((SELECT next_attempt_at FROM messages WHERE campaign_id = k AND status = 'queued' ORDER BY next_attempt_at LIMIT 1))
           FROM unnest($2::uuid[]) k),
        (SELECT min(next_attempt_at) FROM single WHERE single.status = 'queued')) END AS oldest
    FROM (VALUES ('queued'), ('deferred'), ('sending')) s(status)`, [tenantId, campaignIds, limit]);
  const n = (st: string) => r.rows.find((x) => x.status === st)?.n ?? 0;
  return { queued: n('queued'), deferred: n('deferred'), sending: n('sending'), oldestQueuedAt: r.rows.find((x) => x.status === 'queued')?.oldest ?? null };
}

/** A message of a contact as their timeline shows it (src/consent/timeline.ts); key is 'm:<id>', cursorAt created_at to the microsecond (UTC). */
export interface ContactMessageRow {
  id: string; kind: string; purpose: string; campaignId: string | null; subject: string | null; status: MessageStatus;
  reason: string | null; createdAt: Date; sentAt: Date | null; cursorAt: string; key: string;
}

/**
 * One page of a contact's messages, newest first (created_at, then id), strictly after the timeline
 * position `before` ({at: ISO timestamp with microseconds, key: 'm:<id>' or another source's key, compared
 * in the C collation}); at most `limit` rows, read through messages_contact.
 */
export async function contactMessagesPage(c: Queryable, contactId: string, limit: number, before?: { at: string; key: string }): Promise<ContactMessageRow[]> {
  const r = await c.query<ContactMessageRow>(`SELECT id, kind, purpose, campaign_id AS "campaignId", subject, status, reason,
      created_at AS "createdAt", sent_at AS "sentAt",
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt", 'm:' || id::text AS key
    FROM messages WHERE contact_id = $1
      AND ($2::timestamptz IS NULL OR (created_at, ('m:' || id::text) COLLATE "C") < ($2::timestamptz, $3::text COLLATE "C"))
    ORDER BY created_at DESC, id DESC LIMIT $4`, [contactId, before?.at ?? null, before?.key ?? null, limit]);
  return r.rows;
}

export interface MessageEvent { type: string; detail: Record<string, unknown>; at: Date }

export async function messageEvents(c: Queryable, messageId: string): Promise<MessageEvent[]> {
  const r = await c.query<MessageEvent>('SELECT type, detail, at FROM message_events WHERE message_id = $1 ORDER BY id', [messageId]);
  return r.rows;
}

/* ------------------------------------------------------------------ single-message transitions */

type Ref = Pick<LedgerMessage, 'id' | 'tenantId'>;

/**
 * A timeline event that changes no state: 'reclaimed', a delivery report ('delayed',
 * 'delivery_report'), a bounce that does not change the status ('soft_bounce', 'blocked', …).
 */
export async function recordEvent(c: Queryable, m: Ref, type: string, detail: Record<string, unknown>): Promise<void> {
  const r = await c.query<EventRow>(`INSERT INTO message_events (tenant_id, message_id, type, detail) VALUES ($1, $2, $3, $4) ${EVENT_RETURNING}`,
    [m.tenantId, m.id, type, JSON.stringify(detail)]);
  publish(c, r.rows);
}

/**
 * Reasons of a deferral in which no relay was asked (src/relays: the destination domain was already
 * in back-off, every relay was paused): the attempt the claim counted is given back.
 */
export const NOT_ATTEMPTED_REASONS: readonly string[] = ['domain_backoff', 'relays_paused'];

/** sending → deferred: due again after `delaySeconds`; `reason` (a throttle's) is kept, and one of NOT_ATTEMPTED_REASONS gives the attempt back. */
export async function markDeferred(c: Queryable, m: Ref, s: { response: string; attempt: number; delaySeconds: number; reason?: string | null }): Promise<void> {
  const reason = s.reason ?? null;
  await changeWithEvents(c, `UPDATE messages SET status = 'deferred', smtp_response = $2, lease_until = NULL, reason = $5,
      attempts = CASE WHEN $5 = ANY($6::text[]) THEN greatest(attempts - 1, 0) ELSE attempts END,
      next_attempt_at = now() + $3 * interval '1 second', updated_at = now() WHERE id = $1
    RETURNING id, tenant_id, 'deferred'::text AS type, $4::jsonb AS detail`,
  [m.id, s.response, s.delaySeconds, JSON.stringify({ response: s.response, attempt: s.attempt, retryInSeconds: Math.round(s.delaySeconds), ...(reason ? { reason } : {}) }),
    reason, NOT_ATTEMPTED_REASONS]);
}

/**
 * → failed: refused for good ('rejected'), retries exhausted, or the message could not be built
 * ('render_error', straight from queued: the attempt that found it out is counted, and `extra`,
 * e.g. the stage and error, goes on the event).
 */
export async function markFailed(c: Queryable, m: Ref, s: { response: string | null; attempt: number; reason: string; extra?: Record<string, unknown> }): Promise<void> {
  const base = s.response === null ? { reason: s.reason, attempt: s.attempt } : { response: s.response, attempt: s.attempt, reason: s.reason };
  const detail = { ...base, ...(s.extra ?? {}) };
  await changeWithEvents(c, `UPDATE messages SET status = 'failed', reason = $3, smtp_response = coalesce($2, smtp_response), lease_until = NULL,
      attempts = greatest(attempts, $5), updated_at = now()
    WHERE id = $1 RETURNING id, tenant_id, 'failed'::text AS type, $4::jsonb AS detail`,
  [m.id, s.response, s.reason, JSON.stringify(detail), s.attempt]);
}

/** → suppressed: the gate (or a missing renderer) refused it at send time; the reason says why. */
export async function markSuppressed(c: Queryable, m: Ref, reason: string, note?: string): Promise<void> {
  await changeWithEvents(c, `UPDATE messages SET status = 'suppressed', reason = $2, updated_at = now() WHERE id = $1
    RETURNING id, tenant_id, 'suppressed'::text AS type, $3::jsonb AS detail`,
  [m.id, reason, JSON.stringify({ reason, ...(note ? { note } : {}) })]);
}

/** sent → bounced (a hard bounce), with the bounce's facts on the event. */
export async function markBounced(c: Queryable, m: Ref, detail: Record<string, unknown>): Promise<void> {
  await afterDelivery(c, m, 'bounced', 'hard_bounce', detail);
}

/** sent → complained (a feedback report of abuse). */
export async function markComplained(c: Queryable, m: Ref, detail: Record<string, unknown>): Promise<void> {
  await afterDelivery(c, m, 'complained', 'complaint', detail);
}

async function afterDelivery(c: Queryable, m: Ref, status: 'bounced' | 'complained', reason: string, detail: Record<string, unknown>): Promise<void> {
  await changeWithEvents(c, `UPDATE messages SET status = $2, reason = $3, updated_at = now() WHERE id = $1
    RETURNING id, tenant_id, $2::text AS type, $4::jsonb AS detail`,
  [m.id, status, reason, JSON.stringify({ ...detail, reason })]);
}

/* ------------------------------------------------------------------ single messages in batches (transactional) */

/** One message of a batch going out: its attempt number and the composed headers to keep. */
export interface SendingMark { id: string; attempt: number; subject: string; messageIdHeader: string }

/**
 * markSending for many messages in ONE statement: each row → 'sending', attempt counted, subject and
 * Message-ID kept, leased for `leaseSeconds`, with its 'sending' event (detail {attempt}) — the same
 * as markSending once per message. The caller holds the rows locked (the sender's load FOR UPDATE).
 * Returns how many rows changed.
 */
export async function markSendingMany(c: Queryable, marks: readonly SendingMark[], leaseSeconds: number): Promise<number> {
  if (!marks.length) return 0;
  return changeWithEvents(c, `UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, subject = r.subject, message_id_header = r.mid,
      lease_until = now() + $4 * interval '1 second', updated_at = now()
    FROM unnest($1::uuid[], $2::text[], $3::text[], $5::int[]) AS r(id, subject, mid, attempt) WHERE m.id = r.id
    RETURNING m.id, m.tenant_id, 'sending'::text AS type, jsonb_build_object('attempt', r.attempt) AS detail`,
  [marks.map((k) => k.id), marks.map((k) => k.subject), marks.map((k) => k.messageIdHeader), leaseSeconds, marks.map((k) => k.attempt)]);
}

/** A message handed over, as recordSentMany records it. */
export interface SentRecord { id: string; tenantId: string; response: string; attempt: number; body: { html: string; text: string }; links: readonly CapabilityLink[] }

/**
 * recordSent for many messages in ONE statement (ids distinct): each row → 'sent' (a status a DSN
 * already moved on stays), its body kept redacted for `retentionDays` (none when 0), its send_queue
 * entry removed, and its 'sent' event ({response, attempt}). Same rules as recordSent.
 */
export async function recordSentMany(c: Queryable, sent: readonly SentRecord[], retentionDays: number): Promise<void> {
  if (!sent.length) return;
  const kept = sent.map((s) => (retentionDays > 0 ? redactCapabilities(s.body, s.links) : { html: '', text: '' }));
  const r = await c.query<EventRow>(`WITH r AS (
      SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::text[]) WITH ORDINALITY AS r(id, tenant_id, response, detail, html, text, n)),
    m AS (
      UPDATE messages m SET status = CASE WHEN m.status = 'sending' THEN 'sent' ELSE m.status END, sent_at = now(), smtp_response = r.response,
        lease_until = NULL, reason = CASE WHEN m.status = 'sending' THEN NULL ELSE m.reason END, updated_at = now() FROM r WHERE m.id = r.id
      RETURNING m.id, m.tenant_id, 'sent'::text AS type, r.detail, r.n),
    b AS (INSERT INTO message_bodies (message_id, tenant_id, html, text, expires_at)
      SELECT r.id, r.tenant_id, r.html, r.text, now() + $7 * interval '1 day' FROM r WHERE $7 > 0
      ON CONFLICT (message_id) DO UPDATE SET html = EXCLUDED.html, text = EXCLUDED.text, expires_at = EXCLUDED.expires_at),
    q AS (DELETE FROM send_queue WHERE message_id IN (SELECT id FROM r))
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, type, detail FROM m ORDER BY n ${EVENT_RETURNING}`,
  [sent.map((s) => s.id), sent.map((s) => s.tenantId), sent.map((s) => s.response), sent.map((s) => JSON.stringify({ response: s.response, attempt: s.attempt })),
    kept.map((k) => redactCardNumbers(k.html)), kept.map((k) => redactCardNumbers(k.text)), retentionDays]);
  publish(c, r.rows);
}

/* ------------------------------------------------------------------ campaign (batch) transitions */

/** A claimed campaign row with the consent facts the gate needs, read in the claiming statement. */
export interface ClaimedRow {
  id: string; recipient: string | null; attempts: number; reclaimed: boolean;
  contactId: string | null; contactStatus: ContactStatus | null;
  email: string | null; name: string | null; attributes: Record<string, unknown> | null;
  subscription: SubscriptionStatus | null;
  suppressedAll: boolean; suppressedMarketing: boolean;
}

export interface CampaignClaim {
  tenantId: string; campaignId: string; listIds: readonly string[]; limit: number; leaseSeconds: number; worker: string;
  /** SQL for the salted address hash (consent/suppressions sqlAddressHash('salt.hash_salt', 'k.recipient')). */
  addressHashSql: string;
}

/**
 * Claims up to `limit` rows of the campaign: first those whose lease expired (a dead worker's; each
 * gets a 'reclaimed' event in the same statement), then queued or deferred rows that are due. Each
 * claimed row is 'sending' with attempts + 1 until `leaseSeconds` from the moment of the claim (clock
 * time, not the transaction's start, which may be older if the transaction waited for a lock).
 * Consent and suppression are read in the same statement, so an unsubscribe a moment ago is seen.
 */
export async function claimCampaignBatch(c: Queryable, k: CampaignClaim): Promise<ClaimedRow[]> {
  const r = await c.query<ClaimedRow & Partial<EventRow>>(`WITH expired AS (
      SELECT id, status FROM messages WHERE campaign_id = $1 AND status = 'sending' AND lease_until < now()
      LIMIT $2 FOR UPDATE SKIP LOCKED),
    due AS (
      SELECT id, status FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'deferred') AND next_attempt_at <= now()
      LIMIT $2 FOR UPDATE SKIP LOCKED),
    picked AS (SELECT * FROM (SELECT * FROM expired UNION ALL SELECT * FROM due) p LIMIT $2),
    claimed AS (
      UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, lease_until = clock_timestamp() + $3 * interval '1 second', updated_at = now()
      FROM picked WHERE m.id = picked.id
      RETURNING m.id, m.tenant_id, m.contact_id, m.recipient, m.attempts, picked.status = 'sending' AS reclaimed),
    ev AS (
      INSERT INTO message_events (tenant_id, message_id, type, detail)
      SELECT tenant_id, id, 'reclaimed', $6::jsonb FROM claimed WHERE reclaimed ${EVENT_RETURNING}),
    salt AS (SELECT hash_salt FROM tenants WHERE id = $4)
    SELECT k.id, k.recipient, k.attempts, k.reclaimed,
      ct.id AS "contactId", ct.status AS "contactStatus", ct.email, ct.name, ct.attributes,
      (SELECT CASE WHEN bool_or(s.status = 'subscribed') THEN 'subscribed' WHEN bool_or(s.status = 'unsubscribed') THEN 'unsubscribed'
                   WHEN bool_or(s.status = 'unconfirmed') THEN 'unconfirmed' END
         FROM subscriptions s WHERE s.contact_id = k.contact_id AND s.list_id = ANY($5::uuid[])) AS subscription,
      coalesce(sp.all_scope, false) AS "suppressedAll", coalesce(sp.any_scope, false) AS "suppressedMarketing",
      ev.event_id, ev.event_tenant, ev.event_message, ev.event_type, ev.event_detail
    FROM claimed k
    CROSS JOIN salt
    LEFT JOIN ev ON ev.event_message = k.id
    LEFT JOIN contacts ct ON ct.id = k.contact_id
    LEFT JOIN LATERAL (
      SELECT bool_or(x.scope = 'all') AS all_scope, count(*) > 0 AS any_scope FROM suppressions x
      WHERE k.recipient IS NOT NULL AND x.tenant_id = $4 AND x.address_hash = ${k.addressHashSql}) sp ON true`,
  [k.campaignId, k.limit, k.leaseSeconds, k.tenantId, k.listIds, JSON.stringify({ worker: k.worker })]);
  publish(c, r.rows);
  return r.rows.map(({ event_id: _i, event_tenant: _t, event_message: _m, event_type: _y, event_detail: _d, ...row }) => row);
}

/** 'released': claimed but never handed to SMTP (the worker is stopping); back to 'queued', attempt not counted. */
export type OutcomeStatus = 'sent' | 'deferred' | 'failed' | 'suppressed' | 'released';
export interface Outcome {
  /** The attempt number of the claim this outcome belongs to: the fence against a row taken over meanwhile. */
  id: string; attempt: number; status: OutcomeStatus; reason: string | null; response: string | null; retryInSeconds: number;
  subject: string | null; messageIdHeader: string | null; detail: Record<string, unknown>;
}

/**
 * Writes a batch of outcomes and their events in one statement. Rows no longer 'sending' (another
 * worker reclaimed and finished them) are left alone, and so are rows claimed again since (a higher
 * attempt number), except that a 'sent' is always recorded: the message did go out. Rows are locked
 * in id order, like every other multi-row update of campaign rows, so concurrent writers cannot deadlock.
 */
export async function recordOutcomes(c: Queryable, outcomes: readonly Outcome[]): Promise<number> {
  if (!outcomes.length) return 0;
  const col = <K extends keyof Outcome>(key: K) => outcomes.map((o) => o[key]);
  const r = await c.query<EventRow>(`WITH r AS (
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::jsonb[], $9::int[])
        AS r(id, status, reason, response, delay, subject, mid, detail, attempt)),
    locked AS (SELECT m.id FROM messages m JOIN r ON r.id = m.id WHERE m.status = 'sending' ORDER BY m.id FOR UPDATE OF m),
    u AS (
      UPDATE messages m SET status = CASE WHEN r.status = 'released' THEN 'queued' ELSE r.status END,
        reason = r.reason, smtp_response = coalesce(r.response, m.smtp_response),
        attempts = CASE WHEN r.status = 'released' OR (r.status = 'deferred' AND r.reason = ANY($10::text[])) THEN greatest(m.attempts - 1, 0) ELSE m.attempts END,
        sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE m.sent_at END,
        next_attempt_at = CASE WHEN r.status = 'deferred' THEN now() + r.delay * interval '1 second'
                               WHEN r.status = 'released' THEN now() ELSE m.next_attempt_at END,
        lease_until = NULL, subject = coalesce(r.subject, m.subject), message_id_header = coalesce(r.mid, m.message_id_header), updated_at = now()
      FROM r JOIN locked USING (id) WHERE m.id = r.id AND m.status = 'sending' AND (r.status = 'sent' OR m.attempts = r.attempt)
      RETURNING m.id, m.tenant_id, r.status, r.detail)
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, status, detail FROM u ${EVENT_RETURNING}`,
  [col('id'), col('status'), col('reason'), col('response'), col('retryInSeconds'), col('subject'), col('messageIdHeader'),
    outcomes.map((o) => JSON.stringify(o.detail)), col('attempt'), NOT_ATTEMPTED_REASONS]);
  publish(c, r.rows);
  return r.rowCount ?? 0;
}

/**
 * Keeps a live worker's claim: extends the lease of the rows it still holds, fenced by the attempt
 * number of its claim (a row taken over meanwhile is not renewed). Never waits: a row being written
 * right now is skipped, so renewals and outcome writes cannot deadlock. Returns the ids renewed.
 * Not a state change: no event.
 */
export async function renewLeases(c: Queryable, held: ReadonlyMap<string, number>, leaseSeconds: number): Promise<Set<string>> {
  if (!held.size) return new Set();
  const r = await c.query<{ id: string }>(`WITH want AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(id, attempt)),
      l AS (SELECT m.id FROM messages m JOIN want w ON w.id = m.id AND m.attempts = w.attempt
            WHERE m.status = 'sending' ORDER BY m.id FOR UPDATE OF m SKIP LOCKED)
    UPDATE messages m SET lease_until = clock_timestamp() + $3 * interval '1 second' FROM l WHERE m.id = l.id RETURNING m.id`,
  [[...held.keys()], [...held.values()], leaseSeconds]);
  return new Set(r.rows.map((row) => row.id));
}

/** Cancel: every recipient of the campaign not yet handed to SMTP becomes 'cancelled' (one event each). */
export async function cancelCampaignMessages(c: Queryable, campaignId: string): Promise<number> {
  return changeWithEvents(c, `UPDATE messages SET status = 'cancelled', reason = 'campaign_cancelled', lease_until = NULL, updated_at = now()
      WHERE campaign_id = $1 AND status IN ('queued', 'deferred')
    RETURNING id, tenant_id, 'cancelled'::text AS type, '{"reason":"campaign_cancelled"}'::jsonb AS detail`, [campaignId]);
}

/**
 * Retention: deletes at most `limit` expired bodies (expires_at passed, BODY_RETENTION_DAYS), oldest
 * first, every tenant, through purge_expired_bodies() (migration 079: rows another transaction holds
 * are skipped, not waited for). Returns how many; fewer than `limit` means none is left to take.
 */
export async function purgeExpiredBodies(c: Queryable, limit: number): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT purge_expired_bodies($1)::text AS n', [limit]);
  return Number(r.rows[0].n);
}

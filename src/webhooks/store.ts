// The owner of webhook_endpoints, webhook_deliveries and webhook_attempts (migration 075): endpoints,
// the fan-out of feed events into deliveries, claims, outcomes, the delivery log and replays. It reads
// `events` only inside statements that join it (a declared read view): the fan-out, the payload at
// send time, the log's event types and the replay.
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { feedEnd } from '../events/feed.js';

export interface Endpoint {
  id: string; url: string; types: string[]; description: string | null; enabled: boolean;
  disabledReason: string | null; disabledAt: string | null; lastSuccessAt: string | null;
  createdAt: string; updatedAt: string;
}

const ENDPOINT_COLUMNS = `id, url, types, description, enabled, disabled_reason, disabled_at, last_success_at, created_at, updated_at`;

interface EndpointRow {
  id: string; url: string; types: string[]; description: string | null; enabled: boolean;
  disabled_reason: string | null; disabled_at: Date | null; last_success_at: Date | null; created_at: Date; updated_at: Date;
}

function endpointOf(r: EndpointRow): Endpoint {
  return {
    id: r.id, url: r.url, types: r.types, description: r.description, enabled: r.enabled,
    disabledReason: r.disabled_reason, disabledAt: r.disabled_at?.toISOString() ?? null,
    lastSuccessAt: r.last_success_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
  };
}

/** How long a rotated-out secret still signs, in hours. */
export const PREVIOUS_SECRET_HOURS = 24;

export interface NewEndpoint { url: string; types: string[]; description: string | null; enabled: boolean; secret: string }

/** Endpoints per tenant: each gets every event it names, so the count multiplies outgoing requests. */
export const MAX_ENDPOINTS = 20;

/**
 * Creates an endpoint. Its cursor starts at the feed's current end (feedEnd): every event committed
 * later is delivered, none before (a replay sends history). A tenant's 21st is DomainError 'conflict'.
 */
export async function createEndpoint(c: Queryable, tenantId: string, e: NewEndpoint): Promise<Endpoint> {
  // Counted under a per-tenant lock, so concurrent requests cannot pass the cap together.
  await c.query(`SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::text, 0))`, [tenantId]);
  const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_endpoints');
  if (n.rows[0].n >= MAX_ENDPOINTS) {
    throw new DomainError('conflict', `a tenant has at most ${MAX_ENDPOINTS} webhook endpoints (each one receives every event it names): delete one first`, 'url');
  }
  const start = await feedEnd(c);
  const r = await c.query<EndpointRow>(`INSERT INTO webhook_endpoints (tenant_id, url, types, description, enabled, secret, cursor_txid, cursor_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${ENDPOINT_COLUMNS}`,
  [tenantId, e.url, e.types, e.description, e.enabled, e.secret, start.txid, start.id]);
  return endpointOf(r.rows[0]);
}

/** The tenant's endpoints, oldest first. */
export async function listEndpoints(c: Queryable): Promise<Endpoint[]> {
  const r = await c.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id`);
  return r.rows.map(endpointOf);
}

/** One endpoint of the tenant, or null (also for an id that is not a UUID). */
export async function getEndpoint(c: Queryable, id: string): Promise<Endpoint | null> {
  const r = await c.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id::text = $1`, [id]);
  return r.rows[0] ? endpointOf(r.rows[0]) : null;
}

export interface EndpointPatch { url?: string; types?: string[]; description?: string | null; enabled?: boolean }

/** Changes an endpoint; enabling it clears the disabled state (its pending deliveries resume). Null when not found. */
export async function updateEndpoint(c: Queryable, id: string, p: EndpointPatch): Promise<Endpoint | null> {
  const r = await c.query<EndpointRow>(`UPDATE webhook_endpoints SET
      url = coalesce($2, url), types = coalesce($3, types),
      description = CASE WHEN $4 THEN $5 ELSE description END,
      enabled = coalesce($6, enabled),
      disabled_reason = CASE WHEN $6 IS TRUE THEN NULL ELSE disabled_reason END,
      disabled_at = CASE WHEN $6 IS TRUE THEN NULL ELSE disabled_at END,
      updated_at = now()
    WHERE id::text = $1 RETURNING ${ENDPOINT_COLUMNS}`,
  [id, p.url ?? null, p.types ?? null, p.description !== undefined, p.description ?? null, p.enabled ?? null]);
  return r.rows[0] ? endpointOf(r.rows[0]) : null;
}

/**
 * Replaces an endpoint's secret. The old one is kept for PREVIOUS_SECRET_HOURS: attempts meanwhile are
 * signed with both (two space-separated signatures), so a receiver deploying the new secret late still
 * verifies. False when not found.
 */
export async function setEndpointSecret(c: Queryable, id: string, secret: string): Promise<boolean> {
  const r = await c.query(`UPDATE webhook_endpoints SET previous_secret = secret,
      previous_secret_until = now() + $3 * interval '1 hour', secret = $2, updated_at = now() WHERE id::text = $1`, [id, secret, PREVIOUS_SECRET_HOURS]);
  return (r.rowCount ?? 0) > 0;
}

/** Deletes an endpoint with its deliveries and their attempts. False when not found. */
export async function deleteEndpoint(c: Queryable, id: string): Promise<boolean> {
  const r = await c.query(`DELETE FROM webhook_endpoints WHERE id::text = $1`, [id]);
  return (r.rowCount ?? 0) > 0;
}

/** Ids of tenants (any tenant: a definer function) with an endpoint behind the feed or a due delivery; at most `limit`. */
export async function tenantsWithWork(c: Queryable, limit: number): Promise<string[]> {
  const r = await c.query<{ t: string }>(`SELECT t FROM webhook_tenants_with_work($1) t`, [limit]);
  return r.rows.map((x) => x.t);
}

/** The tenant's enabled endpoints' ids (the fan-out's work list). */
export async function enabledEndpointIds(c: Queryable): Promise<string[]> {
  const r = await c.query<{ id: string }>(`SELECT id FROM webhook_endpoints WHERE enabled ORDER BY id`);
  return r.rows.map((x) => x.id);
}

/**
 * One fan-out step of one endpoint, in the caller's transaction: locks the endpoint (FOR UPDATE SKIP
 * LOCKED: another worker doing it is left alone), reads up to `batch` events after its cursor below
 * the feed's horizon, inserts a delivery for each event of its types and moves the cursor past all
 * of them. Returns how many events were scanned (null when the endpoint was locked elsewhere or is
 * disabled) and deliveries created.
 */
export async function fanOutStep(c: Queryable, tenantId: string, endpointId: string, batch: number): Promise<{ scanned: number; created: number } | null> {
  const lock = await c.query<{ cursor_txid: string; cursor_id: string; types: string[] }>(
    `SELECT cursor_txid, cursor_id, types FROM webhook_endpoints WHERE id = $1 AND enabled FOR NO KEY UPDATE SKIP LOCKED`, [endpointId]);
  const ep = lock.rows[0];
  if (!ep) return null;
  const r = await c.query<{ scanned: string; created: string }>(`WITH scanned AS (
      SELECT e.id, e.txid, e.type FROM events e
      WHERE e.tenant_id = $1 AND (e.txid, e.id) > ($2::bigint, $3::bigint) AND e.txid < events_horizon()
      ORDER BY e.txid, e.id LIMIT $5),
    ins AS (
      INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id)
      SELECT $1, $4, s.id FROM scanned s WHERE $6::text[] = '{*}' OR s.type = ANY($6::text[])
      ON CONFLICT DO NOTHING RETURNING 1),
    last AS (SELECT txid, id FROM scanned ORDER BY txid DESC, id DESC LIMIT 1),
    moved AS (UPDATE webhook_endpoints w SET cursor_txid = last.txid, cursor_id = last.id FROM last WHERE w.id = $4 RETURNING 1)
    SELECT (SELECT count(*) FROM scanned) AS scanned, (SELECT count(*) FROM ins) AS created, (SELECT count(*) FROM moved) AS moved`,
  [tenantId, ep.cursor_txid, ep.cursor_id, endpointId, batch, ep.types]);
  return { scanned: Number(r.rows[0].scanned), created: Number(r.rows[0].created) };
}

/** A claimed delivery with what its POST needs; `event` is null when the event no longer exists (erased). */
export interface ClaimedDelivery {
  id: string; endpointId: string; eventId: string; attempt: number; url: string; secret: string;
  /** The secret before the last rotation, while it still signs (PREVIOUS_SECRET_HOURS); else null. */
  previousSecret: string | null;
  event: { type: string; at: string; data: Record<string, unknown> } | null;
}

/**
 * Claims up to `limit` due deliveries of the tenant's enabled endpoints (pending and due, or 'sending'
 * whose lease ran out: a crashed worker's), oldest due first, SKIP LOCKED: status 'sending', attempt
 * + 1, leased for `leaseMs`. Per endpoint at most `perEndpoint` minus its deliveries in flight (rows
 * 'sending' under a live lease, any worker process); the endpoint row is locked (SKIP LOCKED) while
 * counting, so two workers never both fill the same room. Returns them with the endpoint's URL and
 * secret and the event (read now).
 */
export async function claimDeliveries(c: Queryable, tenantId: string, limit: number, leaseMs: number, perEndpoint = 4): Promise<ClaimedDelivery[]> {
  const r = await c.query<{ id: string; endpoint_id: string; event_id: string; attempts: number; url: string; secret: string;
    previous_secret: string | null; type: string | null; at: Date | null; data: Record<string, unknown> | null }>(`WITH eps AS MATERIALIZED (
      SELECT w.id FROM webhook_endpoints w WHERE w.tenant_id = $3 AND w.enabled ORDER BY w.id FOR NO KEY UPDATE SKIP LOCKED),
    room AS MATERIALIZED (
      SELECT eps.id, $4::int - (SELECT count(*) FROM webhook_deliveries s WHERE s.endpoint_id = eps.id
        AND s.status = 'sending' AND s.next_attempt_at > now())::int AS n FROM eps),
    due AS (
      SELECT x.id FROM room, LATERAL (
        SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
        WHERE d.endpoint_id = room.id AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at LIMIT greatest(room.n, 0) FOR UPDATE OF d SKIP LOCKED) x
      WHERE room.n > 0 ORDER BY x.next_attempt_at LIMIT $1),
    claimed AS (
      UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1,
        next_attempt_at = now() + $2 * interval '1 millisecond', first_attempt_at = coalesce(d.first_attempt_at, now())
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.endpoint_id, d.event_id, d.attempts)
    SELECT k.id, k.endpoint_id, k.event_id, k.attempts, w.url, w.secret,
      CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END AS previous_secret, e.type, e.at, e.data
    FROM claimed k JOIN webhook_endpoints w ON w.id = k.endpoint_id LEFT JOIN events e ON e.id = k.event_id`,
  [limit, leaseMs, tenantId, perEndpoint]);
  return r.rows.map((x) => ({
    id: x.id, endpointId: x.endpoint_id, eventId: x.event_id, attempt: x.attempts, url: x.url, secret: x.secret,
    previousSecret: x.previous_secret,
    event: x.type === null || x.at === null ? null : { type: x.type, at: x.at.toISOString(), data: x.data ?? {} },
  }));
}

/**
 * Deletes every delivery (of any endpoint, with its attempts: the log keeps the receiver's answer,
 * which may echo the payload) of the given events, in the caller's transaction. Erasure calls it with
 * the ids of the person's events it deleted. Returns how many deliveries went.
 */
export async function forgetEventDeliveries(c: Queryable, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const r = await c.query('DELETE FROM webhook_deliveries WHERE event_id = ANY($1::bigint[])', [eventIds]);
  return r.rowCount ?? 0;
}

/** Marks a claimed delivery whose event no longer exists (erased) 'dropped': it is never sent. */
export async function dropDelivery(c: Queryable, id: string, attempt: number): Promise<void> {
  await c.query(`UPDATE webhook_deliveries SET status = 'dropped', finished_at = now(), last_error = 'event_deleted'
    WHERE id = $1 AND attempts = $2 AND status = 'sending'`, [id, attempt]);
}

export interface AttemptResult {
  statusCode: number | null; durationMs: number; error: string | null; response: string | null;
}

/** One attempt's outcome to record: delivered, retried at `retryAt`, or failed (`retryAt` null). */
export interface Outcome {
  delivery: { id: string; endpointId: string; eventId: string; attempt: number };
  attempt: AttemptResult; delivered: boolean; retryAt: Date | null;
}

/**
 * Records attempts of claimed deliveries of the tenant and their outcomes in one statement, each fenced
 * by its attempt number (a late outcome of a lease taken over since is dropped). A 2xx stamps the
 * endpoint's last success (to the second). Returns the deliveries that failed for good (schedule
 * exhausted) while their endpoint has had no success since they were first tried: the caller disables
 * those endpoints.
 */
export async function recordAttempts(c: Queryable, tenantId: string, outcomes: readonly Outcome[]): Promise<Outcome[]> {
  if (outcomes.length === 0) return [];
  const status = (o: Outcome) => (o.delivered ? 'delivered' : o.retryAt ? 'pending' : 'failed');
  const r = await c.query<{ id: string }>(`WITH v AS (
      SELECT * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::timestamptz[], $6::int[], $7::text[], $8::int[], $9::text[])
        AS v(id, attempt, status, retry_at, code, error, ms, response)),
    d AS (
      UPDATE webhook_deliveries w SET status = v.status, next_attempt_at = coalesce(v.retry_at, w.next_attempt_at),
        last_status_code = v.code, last_error = v.error, finished_at = CASE WHEN v.status IN ('delivered', 'failed') THEN now() END
      FROM v WHERE w.id = v.id AND w.attempts = v.attempt AND w.status = 'sending'
      RETURNING w.id, v.attempt, v.code, v.ms, v.error, v.response)
    INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status_code, duration_ms, error, response)
    SELECT $1, d.id, d.attempt, d.code, d.ms, d.error, d.response FROM d RETURNING delivery_id::text AS id`,
  [tenantId, outcomes.map((o) => o.delivery.id), outcomes.map((o) => o.delivery.attempt), outcomes.map(status),
    outcomes.map((o) => o.retryAt), outcomes.map((o) => o.attempt.statusCode), outcomes.map((o) => o.attempt.error),
    outcomes.map((o) => o.attempt.durationMs), outcomes.map((o) => o.attempt.response)]);
  const written = new Set(r.rows.map((x) => x.id));
  const mine = outcomes.filter((o) => written.has(o.delivery.id));
  const succeeded = [...new Set(mine.filter((o) => o.delivered).map((o) => o.delivery.endpointId))];
  if (succeeded.length > 0) {
    // At most once a second per endpoint: every success writing the one endpoint row would serialise them.
    await c.query(`UPDATE webhook_endpoints SET last_success_at = now()
      WHERE id = ANY($1::uuid[]) AND (last_success_at IS NULL OR last_success_at < now() - interval '1 second')`, [succeeded]);
  }
  const failed = mine.filter((o) => status(o) === 'failed');
  if (failed.length === 0) return [];
  const s = await c.query<{ id: string }>(`SELECT d.id::text AS id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.id = ANY($1::bigint[]) AND (w.last_success_at IS NULL OR w.last_success_at < d.first_attempt_at)`, [failed.map((o) => o.delivery.id)]);
  const hopeless = new Set(s.rows.map((x) => x.id));
  return failed.filter((o) => hopeless.has(o.delivery.id));
}

/** Disables an enabled endpoint with a reason. Returns its URL when it was enabled (the caller appends the notice), else null. */
export async function disableEndpoint(c: Queryable, id: string, reason: string): Promise<string | null> {
  const r = await c.query<{ url: string }>(`UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
    WHERE id = $1 AND enabled RETURNING url`, [id, reason]);
  return r.rows[0]?.url ?? null;
}

export interface AttemptView { attempt: number; at: string; statusCode: number | null; durationMs: number; error: string | null; response: string | null }
export interface DeliveryView {
  id: string; eventId: string; eventType: string | null; replay: number; status: string; attempts: number;
  nextAttemptAt: string | null; createdAt: string; finishedAt: string | null;
  lastStatusCode: number | null; lastError: string | null; attemptLog: AttemptView[];
}

interface DeliveryRow {
  id: string; event_id: string; type: string | null; replay: number; status: string; attempts: number; next_attempt_at: Date;
  created_at: Date; finished_at: Date | null; last_status_code: number | null; last_error: string | null;
  log: { attempt: number; at: string; status_code: number | null; duration_ms: number; error: string | null; response: string | null }[];
}

/** An endpoint's deliveries, newest first, `limit` after the delivery id `before` (exclusive; null: from the newest), each with its attempts. */
export async function listDeliveries(c: Queryable, endpointId: string, before: string | null, limit: number): Promise<DeliveryView[]> {
  const r = await c.query<DeliveryRow>(`SELECT d.id, d.event_id, e.type, d.replay, d.status, d.attempts, d.next_attempt_at, d.created_at,
      d.finished_at, d.last_status_code, d.last_error,
      coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at, 'status_code', a.status_code,
        'duration_ms', a.duration_ms, 'error', a.error, 'response', a.response) ORDER BY a.attempt, a.id)
        FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS log
    FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id
    WHERE d.endpoint_id = $1 AND ($2::bigint IS NULL OR d.id < $2::bigint)
    ORDER BY d.id DESC LIMIT $3`, [endpointId, before, limit]);
  return r.rows.map((x) => ({
    id: x.id, eventId: x.event_id, eventType: x.type, replay: x.replay, status: x.status, attempts: x.attempts,
    nextAttemptAt: x.status === 'pending' || x.status === 'sending' ? x.next_attempt_at.toISOString() : null,
    createdAt: x.created_at.toISOString(), finishedAt: x.finished_at?.toISOString() ?? null,
    lastStatusCode: x.last_status_code, lastError: x.last_error,
    attemptLog: x.log.map((a) => ({ attempt: a.attempt, at: new Date(a.at).toISOString(), statusCode: a.status_code,
      durationMs: a.duration_ms, error: a.error, response: a.response })),
  }));
}

/** What a replay selects: one event (any type), or the events of the endpoint's types in [since, until). */
export type ReplaySelection = { eventId: string } | { since: Date; until: Date };

/**
 * Creates a new delivery (the next replay number) for each selected event of the tenant that exists
 * below the feed's horizon, at most `cap` events: more than `cap` writes nothing and returns
 * {tooMany: true}. Returns how many deliveries were created.
 */
export async function replay(c: Queryable, tenantId: string, endpointId: string, sel: ReplaySelection, cap: number): Promise<{ created: number; tooMany: boolean }> {
  const one = 'eventId' in sel;
  const r = await c.query<{ n: string; created: string }>(`WITH ep AS (SELECT types FROM webhook_endpoints WHERE id = $2),
    picked AS (
      SELECT e.id FROM events e, ep
      WHERE e.tenant_id = $1 AND e.txid < events_horizon() AND CASE WHEN $3
        THEN e.id = $4::bigint
        ELSE e.at >= $5 AND e.at < $6 AND (ep.types = '{*}' OR e.type = ANY(ep.types)) END
      ORDER BY e.at, e.id LIMIT $7 + 1),
    ins AS (
      INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, replay)
      SELECT $1, $2, p.id, 1 + coalesce((SELECT max(x.replay) FROM webhook_deliveries x WHERE x.endpoint_id = $2 AND x.event_id = p.id), 0)
      FROM picked p WHERE (SELECT count(*) FROM picked) <= $7
      ON CONFLICT DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM picked) AS n, (SELECT count(*) FROM ins) AS created`,
  [tenantId, endpointId, one, one ? sel.eventId : null, one ? null : sel.since, one ? null : sel.until, cap]);
  const n = Number(r.rows[0].n);
  return { created: Number(r.rows[0].created), tooMany: n > cap };
}

/**
 * Deletes finished deliveries (and their attempts) older than `days` days, every tenant, at most
 * `limit` of them (oldest first; omitted: all) (definer function of migrations 075, 079); returns how many.
 */
export async function purgeFinishedDeliveries(c: Queryable, days: number, limit?: number): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT purge_webhook_deliveries($1, $2)::text AS n', [days, limit ?? null]);
  return Number(r.rows[0].n);
}

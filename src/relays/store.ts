// The SQL of relay_health, relay_rate_windows and domain_throttles (migration 078): the state every
// worker process shares about relays and destination domains. System-wide tables (no tenant): called
// with the pool, one autocommitted statement each, so they work through PgBouncer in transaction mode.
// Times are computed by PostgreSQL and returned as milliseconds from now, so no process compares its
// own clock with the database's.
import type { Queryable } from '../platform/db.js';

/** A relay's shared health: failures in a row, and how long it stays paused (0: not paused). */
export interface RelayHealth { relay: string; failures: number; pausedForMs: number }
/** A destination domain in back-off: for how much longer, at which level. */
export interface DomainThrottle { domain: string; level: number; forMs: number }
/** Sends granted in the current second of a relay, and the milliseconds left in that second. */
export interface RelayGrant { granted: number; windowLeftMs: number }

const MS_LEFT = (col: string) => `greatest(0, ceil(extract(epoch FROM (${col} - clock_timestamp())) * 1000))::int`;

/** The relays with failures or a pause, and the domains in back-off now: one round trip for the refresh of every process. */
export async function loadSharedState(c: Queryable): Promise<{ relays: RelayHealth[]; domains: DomainThrottle[] }> {
  const r = await c.query<{ kind: string; key: string; n: number; ms: number }>(`
    SELECT 'relay' AS kind, relay AS key, failures AS n, ${MS_LEFT('coalesce(paused_until, clock_timestamp())')} AS ms
      FROM relay_health WHERE failures > 0 OR paused_until > clock_timestamp()
    UNION ALL
    SELECT 'domain', domain, level, ${MS_LEFT('until')} FROM domain_throttles WHERE until > clock_timestamp()`);
  return {
    relays: r.rows.filter((x) => x.kind === 'relay').map((x) => ({ relay: x.key, failures: x.n, pausedForMs: x.ms })),
    domains: r.rows.filter((x) => x.kind === 'domain').map((x) => ({ domain: x.key, level: x.n, forMs: x.ms })),
  };
}

/**
 * Counts a session failure of the relay; at `pauseAfter` failures in a row (and at every failure
 * after that until a success) it is paused for `cooldownSeconds`. Returns the new health.
 */
export async function recordRelayFailure(c: Queryable, relay: string, error: string, pauseAfter: number, cooldownSeconds: number): Promise<RelayHealth> {
  const r = await c.query<{ failures: number; ms: number }>(`INSERT INTO relay_health AS h (relay, failures, paused_until, last_error)
      VALUES ($1, 1, CASE WHEN $3::int <= 1 THEN clock_timestamp() + $4 * interval '1 second' END, $2)
    ON CONFLICT (relay) DO UPDATE SET failures = h.failures + 1, last_error = $2, updated_at = now(),
      paused_until = CASE WHEN h.failures + 1 >= $3::int THEN clock_timestamp() + $4 * interval '1 second' ELSE h.paused_until END
    RETURNING failures, ${MS_LEFT('coalesce(paused_until, clock_timestamp())')} AS ms`,
  [relay, error.slice(0, 500), pauseAfter, cooldownSeconds]);
  return { relay, failures: r.rows[0].failures, pausedForMs: r.rows[0].ms };
}

/** A relay took a message (or judged a recipient): its session works, failures and pause are cleared. */
export async function recordRelaySuccess(c: Queryable, relay: string): Promise<void> {
  await c.query('UPDATE relay_health SET failures = 0, paused_until = NULL, updated_at = now() WHERE relay = $1 AND (failures > 0 OR paused_until IS NOT NULL)', [relay]);
}

/** Every relay's recorded health (the `postgate` operator's view and tests). */
export async function relayHealth(c: Queryable): Promise<RelayHealth[]> {
  const r = await c.query<{ relay: string; failures: number; ms: number }>(
    `SELECT relay, failures, ${MS_LEFT('coalesce(paused_until, clock_timestamp())')} AS ms FROM relay_health ORDER BY relay`);
  return r.rows.map((x) => ({ relay: x.relay, failures: x.failures, pausedForMs: x.ms }));
}

/**
 * Reserves up to `wanted` sends through the relay in the current second (PostgreSQL's clock), never
 * more than `limit` in that second across every process. Now and then (1 call in 64) drops windows
 * older than a minute.
 */
export async function reserveRelaySends(c: Queryable, relay: string, wanted: number, limit: number): Promise<RelayGrant> {
  if (Math.random() < 1 / 64) await c.query("DELETE FROM relay_rate_windows WHERE window_start < now() - interval '1 minute'");
  const r = await c.query<{ granted: number; ms: number }>(`INSERT INTO relay_rate_windows AS w (relay, window_start, used, last_grant)
      VALUES ($1, date_trunc('second', clock_timestamp()), least($2::int, $3::int), least($2::int, $3::int))
    ON CONFLICT (relay, window_start) DO UPDATE
      SET last_grant = least(w.used + $2::int, $3::int) - least(w.used, $3::int), used = greatest(w.used, least(w.used + $2::int, $3::int))
    RETURNING last_grant AS granted, greatest(1, ${MS_LEFT("window_start + interval '1 second'")}) AS ms`,
  [relay, wanted, limit]);
  return { granted: r.rows[0].granted, windowLeftMs: r.rows[0].ms };
}

/**
 * A domain answered 421 or 4.7.x: it is in back-off from now. When it already is (another message
 * found out first), the level stays and the end does not move; otherwise the level goes up by one
 * (back to 1 when its last back-off ended more than `maxSeconds` ago) and the back-off lasts
 * base × 2^(level − 1) seconds, at most `maxSeconds`. Returns the back-off in force.
 */
export async function throttleDomain(c: Queryable, domain: string, reply: string, baseSeconds: number, maxSeconds: number): Promise<DomainThrottle> {
  const r = await c.query<{ level: number; ms: number }>(`INSERT INTO domain_throttles AS d (domain, level, until, reply)
      VALUES ($1, 1, clock_timestamp() + least($4::float8, $3::float8) * interval '1 second', $2)
    ON CONFLICT (domain) DO UPDATE SET
      level = CASE WHEN d.until > clock_timestamp() THEN d.level
                   WHEN d.until < clock_timestamp() - $4 * interval '1 second' THEN 1 ELSE d.level + 1 END,
      until = CASE WHEN d.until > clock_timestamp() THEN d.until
                   ELSE clock_timestamp() + least($4::float8, $3::float8 * 2 ^ least(30, CASE WHEN d.until < clock_timestamp() - $4 * interval '1 second' THEN 0 ELSE d.level END)) * interval '1 second' END,
      reply = CASE WHEN d.until > clock_timestamp() THEN d.reply ELSE $2 END, updated_at = now()
    RETURNING level, ${MS_LEFT('until')} AS ms`,
  [domain, reply.slice(0, 500), baseSeconds, maxSeconds]);
  return { domain, level: r.rows[0].level, forMs: r.rows[0].ms };
}

/** Domains in back-off now (tests, the operator's view). */
export async function domainThrottles(c: Queryable): Promise<DomainThrottle[]> {
  const r = await c.query<{ domain: string; level: number; ms: number }>(
    `SELECT domain, level, ${MS_LEFT('until')} AS ms FROM domain_throttles WHERE until > clock_timestamp() ORDER BY domain`);
  return r.rows.map((x) => ({ domain: x.domain, level: x.level, forMs: x.ms }));
}

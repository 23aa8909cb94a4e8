-- Retention in small batches (issue 18). Every purge function takes p_limit, the most rows one call
-- removes (NULL: all, as before), so the maintenance sweep (src/retention.ts) runs each batch in a
-- transaction of its own and loops until a call removes fewer than p_limit rows or its time budget is
-- spent: no long transaction, and no row is locked for longer than one batch. Rows picked are taken
-- FOR UPDATE SKIP LOCKED, so a purge never waits for a row another transaction holds (an erasure, a
-- webhook claim); such a row is left for the next sweep. Oldest first, through the expiry indexes.
-- A system sweep sees no tenant's rows (row security), hence definer functions, as before.

-- Bodies (message_bodies, src/mail/ledger.ts). The AFTER DELETE trigger of migration 020 still
-- forgets a finished necessary message's render input, row by row, inside the same batch.
CREATE FUNCTION purge_expired_bodies(p_limit int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE n bigint;
BEGIN
  WITH picked AS (
    SELECT message_id FROM message_bodies WHERE expires_at < now() ORDER BY expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM message_bodies b USING picked p WHERE b.message_id = p.message_id RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION purge_expired_bodies(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_bodies(int) TO postgate_app;

-- Raw bounce reports (bounces, src/bounces/store.ts): the raw bytes go, the metadata stays.
DROP FUNCTION purge_expired_bounces();
CREATE FUNCTION purge_expired_bounces(p_limit int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE n bigint;
BEGIN
  WITH picked AS (
    SELECT id FROM bounces WHERE raw IS NOT NULL AND raw_expires_at < now() ORDER BY raw_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  u AS (UPDATE bounces b SET raw = NULL, raw_expires_at = NULL FROM picked p WHERE b.id = p.id RETURNING 1)
  SELECT count(*) INTO n FROM u;
  RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION purge_expired_bounces(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_bounces(int) TO postgate_app;

-- Idempotency-Key claims and stored responses (idempotency_keys, src/platform/idempotency.ts).
DROP FUNCTION purge_expired_idempotency_keys();
CREATE FUNCTION purge_expired_idempotency_keys(p_limit int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE n bigint;
BEGIN
  WITH picked AS (
    SELECT tenant_id, key FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM idempotency_keys k USING picked p WHERE k.tenant_id = p.tenant_id AND k.key = p.key RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION purge_expired_idempotency_keys(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_idempotency_keys(int) TO postgate_app;

-- purge_expired() (001, 050, 063) stays for callers that want everything at once, unbatched.
CREATE OR REPLACE FUNCTION purge_expired() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  PERFORM purge_expired_bodies(NULL);
  PERFORM purge_expired_bounces(NULL);
  PERFORM purge_expired_idempotency_keys(NULL);
END $$;

-- Feed events (events, src/events/feed.ts) older than p_days: per tenant through events_at
-- (tenant_id, at), tenant after tenant, until p_limit rows are picked.
DROP FUNCTION purge_expired_events(int);
CREATE FUNCTION purge_expired_events(p_days int, p_limit int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  cutoff timestamptz := now() - make_interval(days => p_days);
  n bigint;
BEGIN
  WITH picked AS (
    SELECT x.id FROM tenants t CROSS JOIN LATERAL (
      SELECT e.id FROM events e WHERE e.tenant_id = t.id AND e.at < cutoff ORDER BY e.at LIMIT p_limit FOR UPDATE SKIP LOCKED) x
    LIMIT p_limit),
  d AS (DELETE FROM events e USING picked p WHERE e.id = p.id RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION purge_expired_events(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_events(int, int) TO postgate_app;

-- Finished webhook deliveries (webhook_deliveries, src/webhooks/store.ts) older than p_days, their
-- attempts with them (ON DELETE CASCADE); pending and sending deliveries always stay. In id order:
-- a delivery finishes after it was created, so the expired ones are the oldest ids.
DROP FUNCTION purge_webhook_deliveries(int);
CREATE FUNCTION purge_webhook_deliveries(p_days int, p_limit int DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  cutoff timestamptz := now() - make_interval(days => p_days);
  n bigint;
BEGIN
  WITH picked AS (
    SELECT id FROM webhook_deliveries
     WHERE status IN ('delivered', 'failed', 'dropped') AND coalesce(finished_at, created_at) < cutoff
     ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM webhook_deliveries w USING picked p WHERE w.id = p.id RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN n;
END $$;
REVOKE EXECUTE ON FUNCTION purge_webhook_deliveries(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_webhook_deliveries(int, int) TO postgate_app;

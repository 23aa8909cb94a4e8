-- Webhooks (issue 17): endpoints per tenant, an outbox of deliveries fed from the event feed
-- (`events`, migration 074), and the log of every attempt. src/webhooks/store.ts owns all three.
--
-- Fan-out: each endpoint keeps a cursor (cursor_txid, cursor_id) on the feed's (txid, id) order. One
-- transaction per endpoint (locked FOR UPDATE SKIP LOCKED) reads the events after the cursor below
-- events_horizon(), inserts one delivery per matching event and advances the cursor, so an event
-- becomes a delivery exactly once per endpoint, whatever the number of worker processes.
-- Delivery: a due row is claimed under a lease (status 'sending', next_attempt_at = lease end,
-- attempts + 1, SKIP LOCKED), POSTed outside any transaction, and its outcome written fenced by the
-- attempt number. The payload is built from the event row at send time: an event deleted by erasure
-- is never sent (the delivery becomes 'dropped'), so deliveries hold no personal data of their own.
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  url text NOT NULL,
  types text[] NOT NULL,                    -- event types, or {*} for every type
  description text,
  secret text NOT NULL,                     -- Standard Webhooks whsec_<base64>; shown once, needed to sign
  previous_secret text,                     -- the secret before the last rotation: also signs until previous_secret_until
  previous_secret_until timestamptz,        -- the rotation + 24 h
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,                     -- why the endpoint was disabled automatically (persistent failure)
  disabled_at timestamptz,
  cursor_txid bigint NOT NULL,              -- the feed position fanned out so far: (txid, id) of events
  cursor_id bigint NOT NULL,
  last_success_at timestamptz,              -- the last 2xx answer
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at, id);

CREATE TABLE webhook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id bigint NOT NULL,                 -- events.id; no foreign key: erasure deletes events (→ 'dropped')
  replay integer NOT NULL DEFAULT 0,        -- 0: the fan-out's delivery; n: the n-th replay of the event
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'dropped')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),   -- due time; while 'sending', the lease's end
  first_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (endpoint_id, event_id, replay)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id); -- erasure deletes an event's deliveries
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status IN ('pending', 'sending');

CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  delivery_id bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  status_code integer,                      -- null: no HTTP answer (error says why)
  duration_ms integer NOT NULL,
  error text,                               -- timeout, ssrf_refused, connection_error:<code>, http_<status>
  response text                             -- the first 1 KiB of the answer's body
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO postgate_app;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO postgate_app;
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_attempts TO postgate_app;

-- The dispatcher's cross-tenant discovery: the ids of tenants with webhook work (an enabled endpoint
-- behind the visible feed, or a delivery due or whose lease ran out), nothing else. The dispatcher then
-- works each tenant inside withTenant, under its row security.
CREATE FUNCTION webhook_tenants_with_work(p_limit integer) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT x.t FROM (SELECT DISTINCT w.tenant_id AS t FROM webhook_endpoints w WHERE w.enabled) x
  WHERE EXISTS (
      SELECT 1 FROM webhook_endpoints w JOIN events e ON e.tenant_id = w.tenant_id
        AND (e.txid, e.id) > (w.cursor_txid, w.cursor_id) AND e.txid < events_horizon()
      WHERE w.tenant_id = x.t AND w.enabled)
    OR EXISTS (
      SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
      WHERE d.tenant_id = x.t AND d.status IN ('pending', 'sending') AND d.next_attempt_at <= now())
  LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION webhook_tenants_with_work(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_tenants_with_work(integer) TO postgate_app;

-- Retention of the delivery log (the maintenance cron, EVENTS_RETENTION_DAYS like the feed): finished
-- deliveries (delivered, failed, dropped) older than the retention go, their attempts with them. A
-- system sweep sees no tenant's rows, hence a definer function; pending deliveries always stay.
CREATE FUNCTION purge_webhook_deliveries(p_days int) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  WITH d AS (
    DELETE FROM webhook_deliveries
     WHERE status IN ('delivered', 'failed', 'dropped') AND coalesce(finished_at, created_at) < now() - make_interval(days => p_days)
    RETURNING 1)
  SELECT count(*) FROM d
$$;
REVOKE EXECUTE ON FUNCTION purge_webhook_deliveries(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_webhook_deliveries(int) TO postgate_app;

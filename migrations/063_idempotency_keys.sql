-- Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field"), honoured on every
-- POST of the API (src/platform/http.ts; the SQL is src/platform/idempotency.ts). One row per
-- (tenant, key): the fingerprint of the first request (sha-256 of method, path, query and canonical
-- JSON body), then, once it succeeded, its status and JSON body, replayed to a retry. A row still
-- 'in_progress' answers 409 to a concurrent request; one left behind by a dead process is taken over
-- after a few minutes. A failed request (4xx/5xx) deletes its row: the key is free to retry.
-- Rows expire after 24 hours; purge_expired() (the maintenance cron) deletes them.
CREATE TABLE idempotency_keys (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  fingerprint text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  status text NOT NULL CHECK (status IN ('in_progress', 'completed')),
  response_status integer,
  response_body text,               -- the JSON body as sent, replayed byte for byte
  created_at timestamptz NOT NULL DEFAULT now(),
  locked_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO postgate_app;

CREATE FUNCTION purge_expired_idempotency_keys() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  DELETE FROM idempotency_keys WHERE expires_at < now()
$$;
-- purge_expired() (001, 050) plus the idempotency purge. A later migration replacing purge_expired()
-- must keep calling purge_expired_bounces() and purge_expired_idempotency_keys().
CREATE OR REPLACE FUNCTION purge_expired() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  DELETE FROM message_bodies WHERE expires_at < now();
  PERFORM purge_expired_bounces();
  PERFORM purge_expired_idempotency_keys();
END $$;

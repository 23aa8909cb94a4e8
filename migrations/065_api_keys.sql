-- API keys that can be listed, revoked and expire (issue 15). The SQL of api_keys is
-- src/tenants/api-keys.ts; the table, its row-level security and grants are 001_core.sql's.
-- name: a label for people (optional). expires_at: past it, the key no longer authenticates (null:
-- never). last_used_at: when the key last authenticated, to the minute (see auth_api_key below).
-- revoked_at (001) is set once by DELETE /api/keys/{id} or `postgate key revoke` and never cleared.
ALTER TABLE api_keys ADD COLUMN name text CHECK (name IS NULL OR length(name) BETWEEN 1 AND 200),
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN last_used_at timestamptz;
-- The listing: newest first per tenant, keyset-paged on (created_at, id).
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at DESC, id DESC);

-- Authentication across tenants, still deliberately narrow (SECURITY DEFINER: it runs as the owner
-- and bypasses row-level security): a key's tenant, id and scopes by its sha-256, when the key is
-- neither revoked nor expired. It now also records the use, cheaply: last_used_at is written only
-- when it is null or more than 60 s old, so a busy key writes at most once a minute (the re-check in
-- the UPDATE's WHERE makes concurrent requests at the boundary write once). Because it writes, it
-- is VOLATILE (001 declared it STABLE, which would forbid the UPDATE). search_path is pinned to the
-- system catalog and the owner's schema, with pg_temp last, so nobody's objects are resolved in it.
CREATE OR REPLACE FUNCTION auth_api_key(p_hash bytea) RETURNS TABLE (tenant_id uuid, key_id uuid, scopes text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  v_id uuid; v_tenant uuid; v_scopes text[]; v_used timestamptz;
BEGIN
  SELECT k.id, k.tenant_id, k.scopes, k.last_used_at INTO v_id, v_tenant, v_scopes, v_used
    FROM public.api_keys k
   WHERE k.key_hash = p_hash AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now());
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  IF v_used IS NULL OR v_used < now() - interval '60 seconds' THEN
    UPDATE public.api_keys k SET last_used_at = now()
     WHERE k.id = v_id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds');
  END IF;
  tenant_id := v_tenant; key_id := v_id; scopes := v_scopes;
  RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION auth_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_api_key(bytea) TO postgate_app;

-- Sending domains and the DKIM key lifecycle (issue 15). The SQL is src/tenants/domains.ts
-- (domains) and src/tenants/dkim.ts (dkim_keys).
--
-- A tenant may use a domain for From, its bounce domain and DKIM d= only once it is verified for
-- it: by DNS (a TXT "postgate-verification=<token>" at _postgate.<domain>, checked through the API)
-- or vouched for by the operator (the CLI; the API never vouches). A domain verified by DNS belongs
-- to one tenant (partial unique index); the API refuses to claim or verify a domain verified for any
-- other tenant (domain_verified_elsewhere(), below, since row-level security hides their rows). Only
-- the operator may vouch for one domain for several tenants (departments sharing a domain, say).
CREATE TABLE domains (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  domain text NOT NULL CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9.-]+\.[a-z0-9-]+$'),
  token text NOT NULL,             -- the verification TXT's value after "postgate-verification="
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified')),
  verified_by text CHECK (verified_by IN ('dns', 'operator')),
  verified_at timestamptz,
  last_check jsonb,                -- per-record status of the last DNS check
  checked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, domain),
  CHECK ((state = 'verified') = (verified_by IS NOT NULL AND verified_at IS NOT NULL))
);
CREATE UNIQUE INDEX domains_verified_by_dns_once ON domains (domain) WHERE state = 'verified' AND verified_by = 'dns';
CREATE INDEX domains_tenant_created ON domains (tenant_id, created_at DESC, id);

ALTER TABLE domains ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON domains USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON domains TO postgate_app;

-- Is the domain verified for a tenant other than the current one (app.tenant_id)? The one narrow
-- cross-tenant question the API needs; it says yes or no, nothing about who.
CREATE FUNCTION domain_verified_elsewhere(p_domain text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT EXISTS (SELECT 1 FROM domains d WHERE d.domain = lower(p_domain) AND d.state = 'verified'
    AND d.tenant_id IS DISTINCT FROM app_tenant())
$$;
REVOKE ALL ON FUNCTION domain_verified_elsewhere(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION domain_verified_elsewhere(text) TO postgate_app;

-- Existing installations keep sending: the From domain and bounce domain each tenant already had
-- are recorded as vouched for by the operator (who ran them before domains were checked).
INSERT INTO domains (tenant_id, domain, token, state, verified_by, verified_at, last_check)
SELECT DISTINCT t.id, d.domain, replace(gen_random_uuid()::text, '-', ''), 'verified', 'operator', now(), '{"grandfathered": true}'::jsonb
FROM tenants t
CROSS JOIN LATERAL (VALUES (lower(split_part(t.from_email, '@', 2))), (lower(t.bounce_domain))) AS d(domain)
WHERE d.domain IS NOT NULL AND d.domain ~ '^[a-z0-9.-]+\.[a-z0-9-]+$'
ON CONFLICT (tenant_id, domain) DO NOTHING;

-- DKIM keys: pending (generated, record not yet seen in DNS: never signs) → active (its TXT record
-- resolved with the right p=, or the operator activated it) → retired (a newer key of the domain
-- became active; its record may be removed once the grace period, DKIM_RETIRE_GRACE_DAYS, is over).
-- At most one active key per tenant and domain; signing uses it.
ALTER TABLE dkim_keys ADD COLUMN state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'retired'));
ALTER TABLE dkim_keys ADD COLUMN activated_at timestamptz;
ALTER TABLE dkim_keys ADD COLUMN retired_at timestamptz;
UPDATE dkim_keys k SET state = CASE WHEN k.active AND NOT EXISTS (
    SELECT 1 FROM dkim_keys n WHERE n.tenant_id = k.tenant_id AND n.domain = k.domain AND n.active AND (n.created_at, n.id) > (k.created_at, k.id))
  THEN 'active' ELSE 'retired' END,
  activated_at = k.created_at,
  retired_at = CASE WHEN k.active THEN NULL ELSE now() END;
UPDATE dkim_keys SET retired_at = now() WHERE state = 'retired' AND retired_at IS NULL;
ALTER TABLE dkim_keys DROP COLUMN active;
ALTER TABLE dkim_keys ADD CONSTRAINT dkim_keys_state_times CHECK (
  (state = 'pending' AND activated_at IS NULL AND retired_at IS NULL)
  OR (state = 'active' AND activated_at IS NOT NULL AND retired_at IS NULL)
  OR (state = 'retired' AND retired_at IS NOT NULL));
CREATE UNIQUE INDEX dkim_keys_one_active ON dkim_keys (tenant_id, domain) WHERE state = 'active';

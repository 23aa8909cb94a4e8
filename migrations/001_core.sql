-- Core schema: tenants, keys, contacts, lists, consent, the message ledger, suppression, tokens.
-- Tenancy: every client table has tenant_id and row-level security bound to app_tenant(), the
-- per-transaction setting app.tenant_id. The service queries as the plain role postgate_app (see
-- src/platform/db.ts), which every policy binds. RLS is ENABLEd, not FORCEd, on purpose: the owner
-- (the migration role) is only used for migrations and for the few SECURITY DEFINER lookups below
-- that must cross tenants by design (API-key authentication, VERP → message).

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgate_app') THEN
    CREATE ROLE postgate_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END $$;
GRANT postgate_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO postgate_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO postgate_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO postgate_app;

CREATE FUNCTION app_tenant() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- Secrets shared by every process of one installation (token keys when TOKEN_KEYS is not set).
CREATE TABLE instance_settings (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON instance_settings FROM postgate_app;

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  from_email text NOT NULL,
  from_name text NOT NULL,
  reply_to text NOT NULL,
  postal_address text,
  bounce_domain text,
  require_dkim boolean NOT NULL DEFAULT false,
  test_emails text[] NOT NULL DEFAULT '{}',
  send_rate_per_second integer,
  hash_salt bytea NOT NULL DEFAULT uuid_send(gen_random_uuid()),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key_hash bytea NOT NULL UNIQUE,
  prefix text NOT NULL,
  scopes text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

CREATE TABLE dkim_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  domain text NOT NULL,
  selector text NOT NULL,
  private_key text NOT NULL,
  public_key text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, domain, selector)
);

CREATE TABLE contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email text,                      -- NULL once erased
  email_key text,                  -- lower-cased address for uniqueness; NULL once erased
  name text,
  attributes jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suppressed', 'erased')),
  verified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  erased_at timestamptz
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (tenant_id, email_key) WHERE email_key IS NOT NULL;
CREATE INDEX contacts_tenant_created ON contacts (tenant_id, created_at, id);

CREATE TABLE lists (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX lists_one_default ON lists (tenant_id) WHERE is_default;

CREATE TABLE subscriptions (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  list_id uuid NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('unconfirmed', 'subscribed', 'unsubscribed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (contact_id, list_id)
);
CREATE INDEX subscriptions_list_status ON subscriptions (list_id, status, contact_id);

CREATE TABLE consent_texts (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  hash text NOT NULL,              -- sha-256 hex of the wording
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, hash)
);

-- Append-only proof of permission: updates are refused by a trigger; rows go only with erasure.
CREATE TABLE consent_events (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  list_id uuid REFERENCES lists(id) ON DELETE SET NULL,
  action text NOT NULL,            -- opt_in, confirm, opt_out, suppress, unsuppress, register
  source text NOT NULL,            -- api, page, one_click, preferences, complaint, bounce, mailto
  ip inet,
  user_agent text,
  text_hash text,
  detail jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_events_contact ON consent_events (contact_id, at);
CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'consent_events is append-only'; END $$;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
  FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

-- The ledger: one row per email, unique on what it is for.
CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  purpose text NOT NULL,           -- activation:<contact>:<n> | invoice:<txid> | notice:<key> | campaign:<c>:<contact> | test:<c>:<n>
  kind text NOT NULL CHECK (kind IN ('activation', 'invoice', 'account', 'technical', 'legal', 'support', 'marketing', 'test')),
  contact_id uuid REFERENCES contacts(id) ON DELETE SET NULL,
  campaign_id uuid,
  recipient text,                  -- NULL once erased
  template text NOT NULL,
  template_version integer NOT NULL DEFAULT 1,
  subject text,
  data jsonb NOT NULL DEFAULT '{}',-- render input; emptied on erasure
  request_hash text,               -- idempotency: hash of the request that created it
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled')),
  reason text,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  message_id_header text,
  smtp_response text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (tenant_id, purpose)
);
CREATE INDEX messages_campaign_status ON messages (campaign_id, status, next_attempt_at) WHERE campaign_id IS NOT NULL;
CREATE INDEX messages_tenant_created ON messages (tenant_id, created_at DESC, id);
CREATE INDEX messages_contact ON messages (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX messages_header ON messages (message_id_header) WHERE message_id_header IS NOT NULL;

CREATE TABLE message_events (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  type text NOT NULL,              -- queued, sending, sent, deferred, failed, suppressed, bounced, complained, reclaimed, cancelled
  detail jsonb NOT NULL DEFAULT '{}',
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE TABLE message_bodies (
  message_id uuid PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  html text,
  text text,
  expires_at timestamptz NOT NULL
);
CREATE INDEX message_bodies_expiry ON message_bodies (expires_at);

-- Suppression survives erasure: it holds only a salted hash of the address.
CREATE TABLE suppressions (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  address_hash text NOT NULL,      -- hex SHA-256(tenant salt ‖ lower-cased address): salted, not an HMAC
  scope text NOT NULL CHECK (scope IN ('all', 'marketing')),
  reason text NOT NULL,            -- hard_bounce, soft_bounces, complaint, erased, manual
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, address_hash, scope)
);

CREATE TABLE token_uses (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  token_hash text PRIMARY KEY,
  purpose text NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now()
);

-- Dispatch pointers for single messages (activation, invoices, notices, tests). Only ids: no
-- personal data, so it carries no tenant policy and workers claim across tenants with SKIP LOCKED.
CREATE TABLE send_queue (
  message_id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  due_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz
);
CREATE INDEX send_queue_due ON send_queue (due_at);

DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'api_keys', 'dkim_keys', 'contacts', 'lists', 'subscriptions',
    'consent_texts', 'consent_events', 'messages', 'message_events', 'message_bodies', 'suppressions', 'token_uses']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s = app_tenant()) WITH CHECK (%s = app_tenant())',
      t, CASE WHEN t = 'tenants' THEN 'id' ELSE 'tenant_id' END, CASE WHEN t = 'tenants' THEN 'id' ELSE 'tenant_id' END);
  END LOOP;
END $$;

-- Cross-tenant lookups, deliberately narrow (SECURITY DEFINER: they run as the owner).
CREATE FUNCTION auth_api_key(p_hash bytea) RETURNS TABLE (tenant_id uuid, key_id uuid, scopes text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT k.tenant_id, k.id, k.scopes FROM api_keys k WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
$$;
CREATE FUNCTION message_tenant(p_message uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT m.tenant_id FROM messages m WHERE m.id = p_message
$$;
CREATE FUNCTION message_tenant_by_header(p_header text) RETURNS TABLE (tenant_id uuid, message_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT m.tenant_id, m.id FROM messages m WHERE m.message_id_header = p_header LIMIT 1
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO postgate_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO postgate_app;
REVOKE ALL ON instance_settings FROM postgate_app;

-- Housekeeping across tenants (run by the maintenance cron); later migrations extend it.
CREATE FUNCTION purge_expired() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  DELETE FROM message_bodies WHERE expires_at < now();
END $$;

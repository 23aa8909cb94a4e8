-- Bounces and complaints: every inbound report (DSN, ARF complaint, auto-reply, unrecognised) and every
-- synchronous 5xx at send time, classified, tied to its message and contact when they can be found.
-- The raw message is kept only until raw_expires_at (BOUNCE_RAW_RETENTION_DAYS); purge_expired()
-- then empties it and keeps the metadata. raw_hash makes a report delivered twice (an MTA retrying
-- after a dropped connection) count once.
CREATE TABLE bounces (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
  contact_id uuid REFERENCES contacts(id) ON DELETE SET NULL,
  campaign_id uuid,
  kind text NOT NULL CHECK (kind IN ('hard', 'soft', 'blocked', 'complaint', 'autoreply', 'unknown')),
  source text NOT NULL CHECK (source IN ('smtp', 'api', 'send')),   -- inbound listener, POST /api/inbound, 5xx at send time
  matched_by text NOT NULL CHECK (matched_by IN ('verp', 'message_id', 'recipient', 'ledger', 'none')),  -- ledger: a 5xx at send time
  status text,                     -- RFC 3463 enhanced status code, e.g. 5.1.1
  reason text,                     -- short classifier reason
  diagnostic text,                 -- Diagnostic-Code / SMTP response text
  recipient text,                  -- Final-Recipient (NULL once the contact is erased)
  feedback_type text,              -- ARF Feedback-Type (abuse, fraud, …)
  action text,                     -- what Postgate did: suppressed, counted, unsubscribed, recorded
  raw bytea,                       -- the report as received; NULL after raw_expires_at or when withheld
  raw_withheld text,               -- why raw was not kept (e.g. card_data)
  raw_hash text NOT NULL,          -- sha-256 hex of the report (dedupe)
  raw_expires_at timestamptz,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bounces_dedupe ON bounces (tenant_id, raw_hash, (coalesce(message_id, '00000000-0000-0000-0000-000000000000'::uuid)));
CREATE INDEX bounces_contact_kind ON bounces (contact_id, kind, received_at) WHERE contact_id IS NOT NULL;
CREATE INDEX bounces_message ON bounces (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX bounces_campaign_kind ON bounces (campaign_id, kind) WHERE campaign_id IS NOT NULL;
CREATE INDEX bounces_tenant_received ON bounces (tenant_id, received_at DESC, id);
CREATE INDEX bounces_raw_expiry ON bounces (raw_expires_at) WHERE raw IS NOT NULL;

ALTER TABLE bounces ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bounces USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON bounces TO postgate_app;

-- The tenant of a contact, across tenants: the compact List-Unsubscribe mailto token names only the
-- contact (src/bounces/mailto.ts). Narrow on purpose, like message_tenant() in 001.
CREATE FUNCTION contact_tenant(p_contact uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT c.tenant_id FROM contacts c WHERE c.id = p_contact
$$;

-- Housekeeping: raw bounce messages past their retention lose the raw bytes, keep the metadata.
CREATE FUNCTION purge_expired_bounces() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  UPDATE bounces SET raw = NULL, raw_expires_at = NULL WHERE raw IS NOT NULL AND raw_expires_at < now()
$$;
-- purge_expired() (001) plus the bounce purge. A later migration replacing purge_expired() must keep
-- calling purge_expired_bounces().
CREATE OR REPLACE FUNCTION purge_expired() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  DELETE FROM message_bodies WHERE expires_at < now();
  PERFORM purge_expired_bounces();
END $$;

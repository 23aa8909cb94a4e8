-- Test addresses (issue 15): the mailboxes a tenant may send test copies of its campaigns to, each
-- verified once through a single-use link mailed to it (src/campaigns/test-addresses.ts owns the
-- table). 'pending' until the person at the address confirms on the page (a POST), then 'verified';
-- only verified addresses get test sends, and never one a suppression names (the gate decides at
-- send time). Erasure deletes the row. The rate limits count the ledger ('verification' and 'test'
-- messages), not this table, so deleting and re-adding an address does not reset them.
CREATE TABLE test_addresses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  address text NOT NULL,               -- as given, normalised (trimmed, domain lower-case IDNA)
  address_key text NOT NULL,           -- lower(btrim(address)): uniqueness and look-ups
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified')),
  verified_at timestamptz,
  verification_sent_at timestamptz,    -- the last verification mail queued
  verifications_sent integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, address_key),
  CHECK ((state = 'verified') = (verified_at IS NOT NULL))
);

ALTER TABLE test_addresses ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON test_addresses USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON test_addresses TO postgate_app;

-- The old setting (tenants.test_emails, never verified) becomes pending test addresses: they get no
-- test sends until someone asks them again (POST /api/test-addresses) and they confirm.
INSERT INTO test_addresses (tenant_id, address, address_key)
  SELECT t.id, btrim(e), lower(btrim(e)) FROM tenants t, unnest(t.test_emails) AS e WHERE btrim(e) <> ''
  ON CONFLICT (tenant_id, address_key) DO NOTHING;
ALTER TABLE tenants DROP COLUMN test_emails;

-- The verification mail is a message kind of its own: necessary mail without a contact.
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
  CHECK (kind IN ('activation', 'invoice', 'account', 'technical', 'legal', 'support', 'marketing', 'test', 'verification'));
-- The rate limits count a tenant's messages of one kind in the last hour or day: the index
-- messages_tenant_kind_created of 020 (tenant_id, kind, created_at DESC, id WHERE kind <> 'marketing') serves them.

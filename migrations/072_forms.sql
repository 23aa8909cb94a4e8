-- Public subscription forms and anti-abuse for activation mail (issue 16).
--
-- * mailbox_key(address): the mailbox an address reaches, as src/policy/addresses.ts mailboxKey()
--   computes it (test/consent/activation-cap.test.ts checks they agree): lower-cased, a `+tag` cut
--   from the local part (any domain), and for gmail.com / googlemail.com the dots removed and the
--   domain gmail.com. The activation cap (src/consent/activation.ts assertUnderCap) counts the
--   activation messages of one mailbox in 24 hours with mailbox_activations(), through the
--   expression index below: an index lookup, and no stored column to keep in step (the index build
--   covers existing rows; an erased recipient, NULL, has no key).
-- * public_list_tenant(list): the tenant of a public, live list (not archived, not deleted), or
--   null. The one cross-tenant question the public form page asks (/subscribe/<list id>), before it
--   can open the tenant's transaction; it says nothing about private, archived or deleted lists.
-- * form_hits: one row per accepted form submission, per tenant and keyed hash of the client IP
--   (HMAC, never the IP), for FORM_PER_IP_PER_HOUR / FORM_PER_IP_PER_DAY (src/consent/forms.ts owns
--   it; rows older than a day are pruned as it writes).
-- One expression, no FROM: PostgreSQL inlines it (in the index too), which keeps it cheap.
CREATE FUNCTION mailbox_key(p_address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN position('@' IN lower(btrim(p_address))) = 0 THEN lower(btrim(p_address))
    WHEN substring(lower(btrim(p_address)) FROM '@([^@]*)$') IN ('gmail.com', 'googlemail.com')
      THEN replace(regexp_replace(substring(lower(btrim(p_address)) FROM '^(.*)@[^@]*$'), '^([^+]+)\+.*$', '\1'), '.', '') || '@gmail.com'
    ELSE regexp_replace(substring(lower(btrim(p_address)) FROM '^(.*)@[^@]*$'), '^([^+]+)\+.*$', '\1')
      || '@' || substring(lower(btrim(p_address)) FROM '@([^@]*)$')
  END
$$;
GRANT EXECUTE ON FUNCTION mailbox_key(text) TO postgate_app;

CREATE INDEX messages_activation_mailbox ON messages (tenant_id, mailbox_key(recipient), created_at) WHERE kind = 'activation';

-- The activation messages of one mailbox of p_tenant, which must be the current tenant (app_tenant();
-- another tenant counts 0), since p_since: how
-- many, and the oldest. SECURITY DEFINER because under row-level security the planner may not use
-- the expression index (mailbox_key() is not LEAKPROOF, so its condition cannot be applied before
-- the policy's: a scan of every activation of the tenant in the window); as the owner the count is
-- one index range scan. Scoped to app_tenant(): it never counts another tenant's mail.
CREATE FUNCTION mailbox_activations(p_tenant uuid, p_key text, p_since timestamptz, OUT n integer, OUT oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT count(*)::int, min(created_at) FROM messages
  WHERE tenant_id = p_tenant AND p_tenant = app_tenant() AND kind = 'activation' AND mailbox_key(recipient) = p_key AND created_at > p_since
$$;
REVOKE ALL ON FUNCTION mailbox_activations(uuid, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mailbox_activations(uuid, text, timestamptz) TO postgate_app;

CREATE FUNCTION public_list_tenant(p_list uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT l.tenant_id FROM lists l
  WHERE l.id = p_list AND l.visibility = 'public' AND l.archived_at IS NULL AND l.deleted_at IS NULL
$$;
REVOKE ALL ON FUNCTION public_list_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public_list_tenant(uuid) TO postgate_app;

CREATE TABLE form_hits (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  ip_hash bytea NOT NULL,              -- HMAC-SHA256 of the client IP under a key derived from the token keys
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX form_hits_ip ON form_hits (tenant_id, ip_hash, at);
CREATE INDEX form_hits_at ON form_hits (at);

ALTER TABLE form_hits ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON form_hits USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, DELETE ON form_hits TO postgate_app;

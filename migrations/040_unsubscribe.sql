-- Unsubscribe and data rights.
-- Erasure leaves a salted hash of the address on the suppression list with scope 'marketing' and
-- reason 'erased' (src/data-rights/erase.ts), so no later import or campaign reaches the address.
-- A fresh registration must still work: its activation email is necessary mail (not blocked by a
-- 'marketing' suppression), and when the person confirms that fresh opt-in (a 'confirm' consent
-- record, written by the consent flow when the activation link is used), this trigger lifts the
-- 'erased' suppression for the contact's address. Suppressions for other reasons (complaint, hard
-- bounce, manual) are never lifted here. Runs as the invoker, inside the tenant's transaction (RLS).
CREATE FUNCTION lift_erasure_suppression() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM suppressions s
   USING contacts ct, tenants t
   WHERE ct.id = NEW.contact_id AND ct.email IS NOT NULL AND t.id = NEW.tenant_id
     AND s.tenant_id = NEW.tenant_id AND s.reason = 'erased'
     AND s.address_hash = encode(sha256(t.hash_salt || convert_to(lower(btrim(ct.email)), 'UTF8')), 'hex');
  RETURN NULL;
END $$;

CREATE TRIGGER consent_events_lift_erasure_suppression AFTER INSERT ON consent_events
  FOR EACH ROW WHEN (NEW.action = 'confirm') EXECUTE FUNCTION lift_erasure_suppression();

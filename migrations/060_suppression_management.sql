-- Suppression management (GET/POST/DELETE /api/suppressions, `postgate suppression …`).
-- A suppression row gains:
--   id          a stable key for keyset paging on (created_at, id)
--   address     the normalised (lower-cased) address while the person is not erased, so the list can
--               show it; erasure (src/data-rights/erase.ts) nulls it for the person's hash, and no
--               address is stored for a hash that carries an 'erased' suppression
--   note        free text from whoever added it by hand (nulled with the address on erasure)
--   created_by  the API key id or 'cli' for manual additions; NULL when Postgate added it (bounce,
--               complaint, erasure)
--   source      what caused it: {type: bounce|complaint|erasure|api|cli, bounceId, messageId, status…}
-- Removals are recorded as 'unsuppress' consent events on the contact (consent_events.action is
-- free text; the actions are listed in src/consent/records.ts).
ALTER TABLE suppressions
  ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN address text,
  ADD COLUMN note text,
  ADD COLUMN created_by text,
  ADD COLUMN source jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX suppressions_id ON suppressions (id);
CREATE INDEX suppressions_tenant_created ON suppressions (tenant_id, created_at DESC, id DESC);

-- Existing rows: the address of a live contact with that hash, when there is one.
UPDATE suppressions s SET address = ct.email_key
  FROM contacts ct JOIN tenants t ON t.id = ct.tenant_id
 WHERE ct.tenant_id = s.tenant_id AND ct.email_key IS NOT NULL AND ct.status <> 'erased'
   AND s.address_hash = encode(sha256(t.hash_salt || convert_to(lower(btrim(ct.email)), 'UTF8')), 'hex')
   AND NOT EXISTS (SELECT 1 FROM suppressions e WHERE e.tenant_id = s.tenant_id AND e.address_hash = s.address_hash AND e.reason = 'erased');

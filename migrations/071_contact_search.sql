-- Contact search (issue 16): GET /api/contacts?q=… finds contacts by part of the address or of the
-- name, case-insensitively. A leading-wildcard LIKE cannot use a B-tree, so trigram GIN indexes
-- serve it (pg_trgm ships with PostgreSQL and is a trusted extension: the database owner may create
-- it, no superuser needed). Patterns of fewer than three characters have no trigram and scan.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contacts_email_key_trgm ON contacts USING gin (email_key gin_trgm_ops);
CREATE INDEX contacts_name_trgm ON contacts USING gin (lower(name) gin_trgm_ops);

-- Under row-level security PostgreSQL evaluates the tenant policy before any qual whose operator
-- is not LEAKPROOF, and LIKE (textlike) is not: postgate_app's own query can never use the indexes
-- above and scans the tenant (~0.4 s at 200,000 contacts). contact_search_page runs as the owner (RLS
-- is ENABLEd, not FORCEd, see 001) and is bound to the caller's tenant by app_tenant() itself, so it
-- crosses no tenant. It returns one keyset page of the ids of this tenant's contacts whose email_key
-- or lower(name) matches p_pattern (a LIKE pattern, lower-cased, escape character backslash, built by
-- src/consent/contacts.ts from the user's text with its wildcards escaped), with the listing's other
-- filters, ordered by (created_at, id), after the contact p_after. The statement is built with
-- format(%L) (quoted literals, no injection) so that it is planned with the actual pattern: a common
-- pattern walks contacts_tenant_created and stops at the page, a rare one takes the trigram indexes.
CREATE FUNCTION contact_search_page(p_pattern text, p_status text, p_email_key text, p_list uuid, p_sub_status text,
  p_after uuid, p_limit integer) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $fn$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT c.id FROM contacts c
    WHERE c.tenant_id = app_tenant() AND (c.email_key LIKE %1$L ESCAPE '\' OR lower(c.name) LIKE %1$L ESCAPE '\')
      AND (%2$L::text IS NULL OR c.status = %2$L::text)
      AND (%3$L::text IS NULL OR c.email_key = %3$L::text)
      AND (%4$L::uuid IS NULL AND %5$L::text IS NULL OR EXISTS (SELECT 1 FROM subscriptions s JOIN lists l ON l.id = s.list_id AND l.deleted_at IS NULL
        WHERE s.contact_id = c.id AND (%4$L::uuid IS NULL OR s.list_id = %4$L::uuid) AND (%5$L::text IS NULL OR s.status = %5$L::text)))
      AND (%6$L::uuid IS NULL OR (c.created_at, c.id) > (SELECT a.created_at, a.id FROM contacts a WHERE a.id = %6$L::uuid AND a.tenant_id = app_tenant()))
    ORDER BY c.created_at, c.id LIMIT %7$s$q$, p_pattern, p_status, p_email_key, p_list, p_sub_status, p_after, greatest(0, least(p_limit, 1000)));
END
$fn$;
REVOKE ALL ON FUNCTION contact_search_page(text, text, text, uuid, text, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION contact_search_page(text, text, text, uuid, text, uuid, integer) TO postgate_app;

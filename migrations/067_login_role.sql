-- A login role of its own for the service (src/platform/roles.ts). The runtime login is a plain
-- member of postgate_app: not a superuser, NOBYPASSRLS, owning nothing, so neither SET ROLE NONE nor
-- RESET ROLE gives it more than postgate_app's rights. This migration gives that role what it needs
-- without the owner connection: the token keys (instance_settings stays owner-only) and the list of
-- applied migrations (a process holding only the runtime DATABASE_URL checks the schema is current).

-- Token keys when TOKEN_KEYS is not set: the stored value, or p_candidate stored first if none is.
-- Narrow on purpose: only the 'token_keys' row, never another setting (the runtime login's password
-- lives in the same table).
CREATE FUNCTION instance_token_keys(p_candidate text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO instance_settings (name, value) VALUES ('token_keys', p_candidate) ON CONFLICT (name) DO NOTHING;
  RETURN (SELECT value FROM instance_settings WHERE name = 'token_keys');
END $$;
REVOKE ALL ON FUNCTION instance_token_keys(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION instance_token_keys(text) TO postgate_app;

-- Read-only: which migrations are applied (schema_migrations predates 001's default privileges).
GRANT SELECT ON schema_migrations TO postgate_app;

REVOKE ALL ON instance_settings FROM postgate_app;

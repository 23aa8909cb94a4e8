-- Staff accounts for the console (issue 19). src/staff/users.ts owns staff_users and
-- staff_password_links; src/staff/sessions.ts owns staff_sessions and staff_login_throttle;
-- src/staff/audit.ts owns staff_audit.
--
-- A staff member belongs to one tenant and signs in with an email address unique across tenants
-- (sign-in names no tenant). The password is an argon2id PHC string (never the password). Five
-- failed sign-ins in a row lock the account for a while (locked_until); a success resets the count.
CREATE TABLE staff_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  role text NOT NULL CHECK (role IN ('admin', 'marketing', 'viewer')),
  password_hash text,                         -- null until the one-time link has been used
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  disabled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  password_set_at timestamptz
);
CREATE UNIQUE INDEX staff_users_email ON staff_users (email);
CREATE INDEX staff_users_tenant ON staff_users (tenant_id, created_at);

-- One-time links to set a password (a new account, or an invitation): only the token's sha-256 is kept.
CREATE TABLE staff_password_links (
  token_hash bytea PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX staff_password_links_user ON staff_password_links (user_id);

-- Sessions: the cookie holds a random secret; the row holds its sha-256. A session ends at
-- expires_at (absolute), after idle_until passes without a request (slid forward on use, at most
-- once a minute), or when revoked (log out, log out everywhere, a disabled or removed account).
CREATE TABLE staff_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash bytea NOT NULL UNIQUE,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  idle_until timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  user_agent text,
  ip text
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- Sign-in attempts per client address and window (system-wide, before any tenant is known).
CREATE TABLE staff_login_throttle (
  client text NOT NULL,
  window_start timestamptz NOT NULL,
  attempts integer NOT NULL,
  PRIMARY KEY (client, window_start)
);

-- Failed sign-ins naming an address that has no usable account (unknown, no password yet, disabled),
-- by the address's sha-256: counted and locked exactly as an account is, so the answers (401 five
-- times, then 423) do not tell whether an account exists.
CREATE TABLE staff_unknown_logins (
  email_hash bytea PRIMARY KEY,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who did what, when: every staff action that changes something, and every sign-in event.
CREATE TABLE staff_audit (
  id bigserial PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid REFERENCES staff_users(id) ON DELETE SET NULL,
  user_email text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,                       -- the API operation (postCampaignsByIdStart) or login, login_failed, logout, …
  method text,
  path text,
  status integer
);
CREATE INDEX staff_audit_tenant_at ON staff_audit (tenant_id, at DESC, id DESC);

DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['staff_users', 'staff_password_links', 'staff_sessions', 'staff_audit'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()))', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO postgate_app', t);
  END LOOP;
END $$;
GRANT USAGE ON SEQUENCE staff_audit_id_seq TO postgate_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_login_throttle, staff_unknown_logins TO postgate_app;

-- Sign-in across tenants, deliberately narrow (SECURITY DEFINER: runs as the owner and bypasses row
-- security), as auth_api_key: the account an email address names, for the password check.
CREATE FUNCTION staff_login_account(p_email text)
RETURNS TABLE (user_id uuid, tenant_id uuid, role text, password_hash text, locked_until timestamptz, disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT u.id, u.tenant_id, u.role, u.password_hash, u.locked_until, u.disabled_at IS NOT NULL
    FROM public.staff_users u WHERE u.email = lower(p_email)
$$;
REVOKE ALL ON FUNCTION staff_login_account(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_login_account(text) TO postgate_app;

-- The live session a cookie's sha-256 names, with its account; slides idle_until forward (at most
-- once a minute, like auth_api_key's last use) and never past expires_at.
CREATE FUNCTION auth_staff_session(p_hash bytea, p_idle_seconds integer)
RETURNS TABLE (session_id uuid, tenant_id uuid, user_id uuid, email text, role text, csrf_token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE r record;
BEGIN
  SELECT s.id, s.tenant_id, s.user_id, u.email, u.role, s.csrf_token, s.expires_at, s.last_seen_at INTO r
    FROM public.staff_sessions s JOIN public.staff_users u ON u.id = s.user_id
   WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now() AND s.idle_until > now()
     AND u.disabled_at IS NULL;
  IF r.id IS NULL THEN
    RETURN;
  END IF;
  IF r.last_seen_at < now() - interval '60 seconds' THEN
    UPDATE public.staff_sessions s SET last_seen_at = now(),
      idle_until = least(s.expires_at, now() + make_interval(secs => p_idle_seconds))
     WHERE s.id = r.id;
  END IF;
  session_id := r.id; tenant_id := r.tenant_id; user_id := r.user_id; email := r.email; role := r.role;
  csrf_token := r.csrf_token; expires_at := r.expires_at;
  RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION auth_staff_session(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_staff_session(bytea, integer) TO postgate_app;

-- A one-time password link's account, by the token's sha-256, while the link is unused and unexpired.
CREATE FUNCTION staff_password_link(p_hash bytea) RETURNS TABLE (user_id uuid, tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT l.user_id, l.tenant_id FROM public.staff_password_links l
   WHERE l.token_hash = p_hash AND l.used_at IS NULL AND l.expires_at > now()
$$;
REVOKE ALL ON FUNCTION staff_password_link(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_password_link(bytea) TO postgate_app;

-- The retention sweep: sessions ended (revoked, expired or idle) more than a day ago, across tenants.
CREATE FUNCTION purge_ended_staff_sessions(p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  WITH gone AS (
    DELETE FROM public.staff_sessions WHERE id IN (
      SELECT id FROM public.staff_sessions
       WHERE least(coalesce(revoked_at, 'infinity'), expires_at, idle_until) < now() - interval '1 day' LIMIT p_limit)
    RETURNING 1)
  SELECT count(*)::int FROM gone
$$;
REVOKE ALL ON FUNCTION purge_ended_staff_sessions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_ended_staff_sessions(integer) TO postgate_app;

-- Campaigns: versioned templates, campaigns, and the per-tenant send-rate windows.
-- Each campaign's recipients are rows of the messages ledger (purpose campaign:<campaign>:<contact>,
-- kind 'marketing', campaign_id set); this migration adds no per-recipient table of its own.

-- A template is a name and a pointer to its current version; versions are immutable, so a campaign
-- keeps rendering exactly the version it was created with even after the template is edited.
CREATE TABLE templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  current_version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX templates_tenant_created ON templates (tenant_id, created_at, id);

CREATE TABLE template_versions (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  template_id uuid NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
  version integer NOT NULL,
  mjml text NOT NULL,
  subject text NOT NULL,
  text text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (template_id, version)
);

CREATE TABLE campaigns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  subject text NOT NULL,                     -- a Handlebars template, like the template's own subject
  template_id uuid NOT NULL REFERENCES templates(id),
  template_version integer NOT NULL,
  list_ids uuid[] NOT NULL,
  reply_to text,                             -- NULL: the tenant's reply-to
  send_at timestamptz,
  status text NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed')),
  paused_reason text,
  start_job_id text,                         -- the pg-boss job that starts a scheduled campaign
  audience_ready_at timestamptz,             -- set once the audience is materialised as ledger rows
  excluded jsonb NOT NULL DEFAULT '{}',      -- on the lists but not materialised, by reason
  heartbeat_at timestamptz,                  -- last sign of life of a drain (or start) on this campaign
  wake_at timestamptz,                       -- a follow-up drain is scheduled for this time
  started_at timestamptz,
  completed_at timestamptz,
  cancelled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (template_id, template_version) REFERENCES template_versions (template_id, version)
);
CREATE INDEX campaigns_tenant_created ON campaigns (tenant_id, created_at DESC, id);
CREATE INDEX campaigns_running ON campaigns (status, heartbeat_at) WHERE status IN ('running', 'scheduled');

-- Messages sent per tenant per second, shared by every worker process (the campaign rate limit).
CREATE TABLE rate_windows (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  window_start timestamptz NOT NULL,
  used integer NOT NULL,
  last_grant integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, window_start)
);

-- "Unsubscribed" progress figure: opt-outs that name the campaign they came from.
CREATE INDEX consent_events_campaign ON consent_events ((detail->>'campaignId')) WHERE action = 'opt_out' AND detail ? 'campaignId';

DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['templates', 'template_versions', 'campaigns', 'rate_windows'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO postgate_app', t);
  END LOOP;
END $$;

-- Recovery sweep across tenants (SECURITY DEFINER: campaigns are tenant-bound). Claims, atomically,
-- running campaigns nobody has worked on for p_stale_seconds (a killed worker, a lost job) and
-- scheduled campaigns whose start time passed long ago, stamping them so that one sweeper gets each.
CREATE FUNCTION campaigns_to_recover(p_stale_seconds double precision) RETURNS TABLE (tenant_id uuid, campaign_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
  UPDATE campaigns c SET heartbeat_at = now(), wake_at = NULL
  WHERE c.id IN (
    SELECT x.id FROM campaigns x
    WHERE (x.status = 'running' AND greatest(x.heartbeat_at, x.wake_at, x.started_at) < now() - p_stale_seconds * interval '1 second')
       OR (x.status = 'scheduled' AND x.send_at < now() - greatest(p_stale_seconds, 60) * interval '1 second'
           AND coalesce(x.heartbeat_at, '-infinity') < now() - p_stale_seconds * interval '1 second')
    ORDER BY x.id LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING c.tenant_id, c.id
$$;
REVOKE ALL ON FUNCTION campaigns_to_recover(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION campaigns_to_recover(double precision) TO postgate_app;

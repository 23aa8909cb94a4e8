-- Engagement tracking (issue 17): clicks on signed redirect links (/c/<token>) and opens of a 1×1
-- image (/o/<token>) in campaign mail, off unless the tenant (or the campaign) turns them on.
-- src/engagement/store.ts owns the table. One row per recorded hit; no IP address and no user agent
-- are stored. A hit by a link scanner (HEAD, a known scanner user agent, or within
-- ENGAGEMENT_SCANNER_SECONDS of the message's sending) is kept with scanner = true and its reason,
-- so figures can count people and scanners apart. At most 100 hits are recorded per message and
-- link (opens: per message), so a flood on one link cannot write unbounded rows.
CREATE TABLE engagements (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  campaign_id uuid,
  contact_id uuid,
  kind text NOT NULL CHECK (kind IN ('click', 'open')),
  url text,                                   -- the link's target (clicks); NULL for opens
  at timestamptz NOT NULL DEFAULT now(),
  scanner boolean NOT NULL DEFAULT false,
  scanner_reason text CHECK (scanner_reason IN ('head', 'too_soon', 'user_agent')),
  CHECK ((kind = 'click') = (url IS NOT NULL)),
  CHECK (scanner = (scanner_reason IS NOT NULL))
);
-- The per-message checks of a hit (first human click on this url? cap reached?) and erasure by message.
CREATE INDEX engagements_message ON engagements (message_id, kind, url);
CREATE INDEX engagements_contact ON engagements (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX engagements_campaign ON engagements (campaign_id, kind) WHERE campaign_id IS NOT NULL;
ALTER TABLE engagements ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON engagements USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT, INSERT, DELETE ON engagements TO postgate_app;

-- The settings: per tenant (default off), per campaign (NULL: the tenant's setting).
ALTER TABLE tenants ADD COLUMN track_clicks boolean NOT NULL DEFAULT false,
                    ADD COLUMN track_opens boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD COLUMN track_clicks boolean,
                      ADD COLUMN track_opens boolean;

-- Campaign figures (issue 17): counters kept as the events happen, so GET /api/campaigns/{id}/stats
-- sums a few rows instead of scanning the ledger. src/campaigns/stats.ts owns (and only reads) them;
-- the triggers below are their only writers.
--
--   campaign_stats_hours  per campaign, per UTC hour, per slot: audience (ledger rows materialised),
--                         sent, bounced (messages, by kind), complaints, unsubscribes, opens, clicks,
--                         and `bounced_of_sent`: the first bounce of a message counted against the
--                         hour it was SENT, so delivered = Σ over send hours older than N hours of
--                         (sent − bounced_of_sent).
--   campaign_stats_links  per campaign, per link, per slot: clicks (human), unique clicks (first
--                         human click of a message on the link), scanner clicks. A link is the
--                         click event's `link` (src/engagement/links.ts statsLink): the target
--                         without its query, fragment and user info (scheme://host[:port]/path),
--                         never the full rendered URL, so a personalised query (?e={{email}}) puts
--                         no address here and one link stays one row whatever the audience.
--
-- Unique clicks of the campaign (hourly) count messages with a human click on ANY link (the click
-- event's `firstClick`), so the unique-click rate is at most 1; per link, its own `unique`.
--
-- Contention: each trigger aggregates its statement's rows (REFERENCING NEW TABLE) into one upsert
-- per (campaign, hour) or (campaign, url). Many drain workers commit outcome batches of one campaign
-- at once, and an upserted row stays locked until its transaction commits, so the counters are
-- spread over 8 slots by backend (pg_backend_pid() % 8): two connections share a row only when
-- their pids share a slot. Rows are upserted in key order within a statement (no deadlock between
-- two statements that touch the same keys).
--
-- Counted once: a message's bounces by kind, its first bounce (any kind), its first complaint, and a
-- contact's first unsubscribe naming the campaign (a one-click unsubscribe may opt out of several
-- lists: one event per list). Only bounces and complaints of messages that were sent are counted.
-- Erasure deletes a person's events; nothing here is decremented (figures are aggregates, not
-- personal data), and there is no DELETE trigger. A link whose PATH names the person
-- (https://shop.example/u/ann@example.org) is scrubbed at erasure: campaign_stats_links_erase below
-- merges its counts into a row with the address replaced by [erased] (totals stay exact).
--
-- One clock: a message's sent and its bounced_of_sent fall in the same hour, the hour of its
-- message.sent event (events.at), looked up by events_message (bounces are rare).
CREATE TABLE campaign_stats_hours (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,           -- no foreign key: the ledger's campaign_id has none either
  hour timestamptz NOT NULL,           -- date_trunc('hour', …, 'UTC')
  slot smallint NOT NULL,
  audience bigint NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  bounced bigint NOT NULL DEFAULT 0,   -- messages with a first bounce in this hour (any kind)
  hard bigint NOT NULL DEFAULT 0,
  soft bigint NOT NULL DEFAULT 0,
  blocked bigint NOT NULL DEFAULT 0,
  complaints bigint NOT NULL DEFAULT 0,
  unsubscribes bigint NOT NULL DEFAULT 0,
  opens bigint NOT NULL DEFAULT 0,
  unique_opens bigint NOT NULL DEFAULT 0,
  scanner_opens bigint NOT NULL DEFAULT 0,
  clicks bigint NOT NULL DEFAULT 0,
  unique_clicks bigint NOT NULL DEFAULT 0,
  scanner_clicks bigint NOT NULL DEFAULT 0,
  bounced_of_sent bigint NOT NULL DEFAULT 0, -- first bounces of messages SENT in this hour
  PRIMARY KEY (campaign_id, hour, slot)
);
CREATE INDEX campaign_stats_hours_tenant ON campaign_stats_hours (tenant_id);
ALTER TABLE campaign_stats_hours ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaign_stats_hours USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT ON campaign_stats_hours TO postgate_app;

CREATE TABLE campaign_stats_links (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  url_hash text NOT NULL,              -- md5 of the url: the key (a url may be longer than an index entry)
  url text NOT NULL,
  slot smallint NOT NULL,
  clicks bigint NOT NULL DEFAULT 0,
  unique_clicks bigint NOT NULL DEFAULT 0,
  scanner_clicks bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, url_hash, slot)
);
CREATE INDEX campaign_stats_links_tenant ON campaign_stats_links (tenant_id);
ALTER TABLE campaign_stats_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaign_stats_links USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()));
GRANT SELECT ON campaign_stats_links TO postgate_app;

-- The audience: campaign rows of the ledger as they are materialised (they carry no 'queued' event).
CREATE FUNCTION campaign_stats_from_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  INSERT INTO campaign_stats_hours AS s (tenant_id, campaign_id, hour, slot, audience)
  SELECT tenant_id, campaign_id, date_trunc('hour', now(), 'UTC'), pg_backend_pid() % 8, count(*)
  FROM new_rows WHERE campaign_id IS NOT NULL
  GROUP BY tenant_id, campaign_id ORDER BY campaign_id
  ON CONFLICT (campaign_id, hour, slot) DO UPDATE SET audience = s.audience + EXCLUDED.audience;
  RETURN NULL;
END $$;
CREATE TRIGGER messages_campaign_stats AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_stats_from_messages();

-- Events → hourly counters. `f` holds one row per counted fact, with its hour; bounces add a second
-- row at their message's send hour (bounced_of_sent). The rare kinds (bounce, complaint,
-- unsubscribe) look up whether they were counted before; sent, opens and clicks never do.
CREATE FUNCTION campaign_stats_from_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  WITH n AS (
    SELECT * FROM new_rows
    WHERE campaign_id IS NOT NULL
      AND type IN ('message.sent', 'message.bounced', 'message.complained', 'contact.unsubscribed', 'message.opened', 'message.clicked')),
  b AS ( -- bounces and complaints of sent messages, with whether this is the message's first of its kind / of any bounce
    SELECT n.tenant_id, n.campaign_id, n.type, n.at, coalesce((SELECT min(e.at) FROM events e
        WHERE e.message_id = n.message_id AND e.type = 'message.sent'), m.sent_at) AS sent_at, coalesce(n.data->>'bounceKind', '') AS kind,
      (SELECT count(*) FROM message_events me WHERE me.message_id = n.message_id
         AND me.type = CASE n.type WHEN 'message.complained' THEN 'complained' ELSE
           CASE n.data->>'bounceKind' WHEN 'hard' THEN 'bounced' WHEN 'soft' THEN 'soft_bounce' ELSE 'blocked' END END) <= 1 AS first_of_kind,
      n.type = 'message.bounced' AND (SELECT count(*) FROM message_events me WHERE me.message_id = n.message_id
         AND me.type IN ('bounced', 'soft_bounce', 'blocked')) <= 1 AS first_bounce
    FROM n JOIN messages m ON m.id = n.message_id
    WHERE n.type IN ('message.bounced', 'message.complained') AND m.sent_at IS NOT NULL),
  f AS (
    SELECT tenant_id, campaign_id, at AS t,
      (type = 'message.sent')::int AS sent, 0 AS bounced, 0 AS hard, 0 AS soft, 0 AS blocked, 0 AS complaints,
      -- (a complaint's opt-out names the campaign too, but it is counted as a complaint, not an unsubscribe)
      (type = 'contact.unsubscribed' AND data->>'source' IS DISTINCT FROM 'complaint' AND NOT EXISTS (SELECT 1 FROM events e
         WHERE e.contact_id = n.contact_id AND e.campaign_id = n.campaign_id AND e.type = 'contact.unsubscribed'
           AND e.data->>'source' IS DISTINCT FROM 'complaint' AND e.id < n.id))::int AS unsubscribes,
      (type = 'message.opened' AND NOT data @> '{"scanner": true}')::int AS opens,
      (type = 'message.opened' AND NOT data @> '{"scanner": true}' AND data @> '{"unique": true}')::int AS unique_opens,
      (type = 'message.opened' AND data @> '{"scanner": true}')::int AS scanner_opens,
      (type = 'message.clicked' AND NOT data @> '{"scanner": true}')::int AS clicks,
      (type = 'message.clicked' AND NOT data @> '{"scanner": true}' AND data @> '{"firstClick": true}')::int AS unique_clicks,
      (type = 'message.clicked' AND data @> '{"scanner": true}')::int AS scanner_clicks,
      0 AS bounced_of_sent
    FROM n WHERE type NOT IN ('message.bounced', 'message.complained')
    UNION ALL
    SELECT tenant_id, campaign_id, at, 0, (first_bounce)::int,
      (kind = 'hard' AND first_of_kind)::int, (kind = 'soft' AND first_of_kind)::int, (kind = 'blocked' AND first_of_kind)::int,
      (type = 'message.complained' AND first_of_kind)::int, 0, 0, 0, 0, 0, 0, 0, 0
    FROM b
    UNION ALL
    SELECT tenant_id, campaign_id, sent_at, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 FROM b WHERE first_bounce)
  INSERT INTO campaign_stats_hours AS s (tenant_id, campaign_id, hour, slot, sent, bounced, hard, soft, blocked, complaints,
    unsubscribes, opens, unique_opens, scanner_opens, clicks, unique_clicks, scanner_clicks, bounced_of_sent)
  SELECT tenant_id, campaign_id, date_trunc('hour', t, 'UTC') AS h, pg_backend_pid() % 8, sum(sent), sum(bounced), sum(hard), sum(soft),
    sum(blocked), sum(complaints), sum(unsubscribes), sum(opens), sum(unique_opens), sum(scanner_opens), sum(clicks),
    sum(unique_clicks), sum(scanner_clicks), sum(bounced_of_sent)
  FROM f GROUP BY tenant_id, campaign_id, h
  HAVING sum(sent + bounced + hard + soft + blocked + complaints + unsubscribes + opens + scanner_opens + clicks + scanner_clicks + bounced_of_sent) > 0
  ORDER BY campaign_id, h
  ON CONFLICT (campaign_id, hour, slot) DO UPDATE SET
    sent = s.sent + EXCLUDED.sent, bounced = s.bounced + EXCLUDED.bounced, hard = s.hard + EXCLUDED.hard,
    soft = s.soft + EXCLUDED.soft, blocked = s.blocked + EXCLUDED.blocked, complaints = s.complaints + EXCLUDED.complaints,
    unsubscribes = s.unsubscribes + EXCLUDED.unsubscribes, opens = s.opens + EXCLUDED.opens,
    unique_opens = s.unique_opens + EXCLUDED.unique_opens, scanner_opens = s.scanner_opens + EXCLUDED.scanner_opens,
    clicks = s.clicks + EXCLUDED.clicks, unique_clicks = s.unique_clicks + EXCLUDED.unique_clicks,
    scanner_clicks = s.scanner_clicks + EXCLUDED.scanner_clicks, bounced_of_sent = s.bounced_of_sent + EXCLUDED.bounced_of_sent;

  INSERT INTO campaign_stats_links AS s (tenant_id, campaign_id, url_hash, url, slot, clicks, unique_clicks, scanner_clicks)
  SELECT tenant_id, campaign_id, md5(data->>'link') AS k, data->>'link', pg_backend_pid() % 8,
    count(*) FILTER (WHERE NOT data @> '{"scanner": true}'),
    count(*) FILTER (WHERE NOT data @> '{"scanner": true}' AND data @> '{"unique": true}'),
    count(*) FILTER (WHERE data @> '{"scanner": true}')
  FROM new_rows WHERE campaign_id IS NOT NULL AND type = 'message.clicked' AND jsonb_typeof(data->'link') = 'string'
  GROUP BY tenant_id, campaign_id, data->>'link' ORDER BY campaign_id, k
  ON CONFLICT (campaign_id, url_hash, slot) DO UPDATE SET clicks = s.clicks + EXCLUDED.clicks,
    unique_clicks = s.unique_clicks + EXCLUDED.unique_clicks, scanner_clicks = s.scanner_clicks + EXCLUDED.scanner_clicks;
  RETURN NULL;
END $$;
CREATE TRIGGER events_campaign_stats AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_stats_from_events();

-- Erasure (src/data-rights/erase.ts): the links of the person's campaigns whose url matches
-- `pattern` (a case-blind ARE of their address) become one row per campaign and slot with the
-- address replaced by [erased], their counts added up (totals stay exact). The caller's tenant only
-- (app_tenant()). Returns the rows removed.
CREATE FUNCTION campaign_stats_links_erase(campaign_ids uuid[], pattern text) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  -- The merged rows never collide with a deleted one: each merged url lost the address every deleted url holds.
  WITH gone AS (
    DELETE FROM campaign_stats_links s WHERE s.tenant_id = app_tenant() AND s.campaign_id = ANY(campaign_ids) AND s.url ~* pattern
    RETURNING s.tenant_id, s.campaign_id, regexp_replace(s.url, pattern, '[erased]', 'gi') AS url, s.slot, s.clicks, s.unique_clicks, s.scanner_clicks),
  merged AS (
    INSERT INTO campaign_stats_links AS s (tenant_id, campaign_id, url_hash, url, slot, clicks, unique_clicks, scanner_clicks)
    SELECT tenant_id, campaign_id, md5(url) AS k, url, slot, sum(clicks), sum(unique_clicks), sum(scanner_clicks)
    FROM gone GROUP BY tenant_id, campaign_id, url, slot ORDER BY campaign_id, k, slot
    ON CONFLICT (campaign_id, url_hash, slot) DO UPDATE SET clicks = s.clicks + EXCLUDED.clicks,
      unique_clicks = s.unique_clicks + EXCLUDED.unique_clicks, scanner_clicks = s.scanner_clicks + EXCLUDED.scanner_clicks
    RETURNING 1)
  SELECT count(*)::int FROM gone
$$;
REVOKE ALL ON FUNCTION campaign_stats_links_erase(uuid[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION campaign_stats_links_erase(uuid[], text) TO postgate_app;

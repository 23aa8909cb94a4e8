-- Audience (issue 16), the shared schema every part of the issue builds on:
-- * lists get a visibility (public: on the preference page and open to self-subscription; private:
--   never shown, joined only by the tenant), an archive mark and a soft delete. A deleted list keeps
--   its subscriptions and consent records (nothing cascades), so re-creating a list of the same name
--   is a new, empty list and can resurrect no one. Names are unique per tenant among lists not deleted
--   (case-insensitive); existing duplicates get their id's first 8 characters appended.
-- * segments: a saved, validated JSON filter (src/audience/segment-filter.ts compiles it to
--   parameterised SQL; src/audience/segments.ts owns the table).
-- * campaigns may be narrowed by a segment, and take their template version when they start unless
--   it is pinned.
ALTER TABLE lists ADD COLUMN visibility text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private'));
ALTER TABLE lists ADD COLUMN archived_at timestamptz;
ALTER TABLE lists ADD COLUMN deleted_at timestamptz;
ALTER TABLE lists ADD CONSTRAINT lists_default_live CHECK (NOT is_default OR (archived_at IS NULL AND deleted_at IS NULL));

WITH d AS (SELECT id, row_number() OVER (PARTITION BY tenant_id, lower(btrim(name)) ORDER BY created_at, id) AS n FROM lists)
UPDATE lists l SET name = l.name || ' (' || left(l.id::text, 8) || ')' FROM d WHERE d.id = l.id AND d.n > 1;
CREATE UNIQUE INDEX lists_name_unique ON lists (tenant_id, lower(btrim(name))) WHERE deleted_at IS NULL;

CREATE TABLE segments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  filter jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX segments_name_unique ON segments (tenant_id, lower(btrim(name)));
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON segments USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON segments TO postgate_app;

-- A segment a campaign uses cannot be deleted (RESTRICT: the API answers 409).
ALTER TABLE campaigns ADD COLUMN segment_id uuid REFERENCES segments(id) ON DELETE RESTRICT;
ALTER TABLE campaigns ADD COLUMN template_pinned boolean NOT NULL DEFAULT false;

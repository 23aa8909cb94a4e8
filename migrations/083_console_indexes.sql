-- Indexes for the staff console's filters (issue 19).
-- The bounces page's recipient filter (exact, case-insensitive: lower(recipient) = lower($1)), newest first.
CREATE INDEX bounces_tenant_recipient ON bounces (tenant_id, lower(recipient), received_at DESC) WHERE recipient IS NOT NULL;

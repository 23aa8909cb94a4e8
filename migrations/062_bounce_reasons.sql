-- Bounce judgement (issue 12): reports of kind 'feedback' (RFC 5965 feedback that is not a complaint:
-- not-spam, auth-failure, other, …) are recorded and never acted on. `reason` holds the taxonomy of
-- src/bounces/reasons.ts (Sisimai's vocabulary); rows written before keep their old wording.
ALTER TABLE bounces DROP CONSTRAINT IF EXISTS bounces_kind_check;
ALTER TABLE bounces ADD CONSTRAINT bounces_kind_check
  CHECK (kind IN ('hard', 'soft', 'blocked', 'complaint', 'feedback', 'autoreply', 'unknown'));
CREATE INDEX IF NOT EXISTS bounces_reason ON bounces (tenant_id, reason, received_at);

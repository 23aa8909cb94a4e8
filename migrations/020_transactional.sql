-- Transactional mail: indexes for the record of communications, and body retention for the render
-- input of necessary mail.
-- GET /api/messages filters by recipient and by kind (newest first); marketing rows are the bulk of
-- the ledger and are listed per campaign instead, so the kind index leaves them out.
CREATE INDEX messages_tenant_recipient ON messages (tenant_id, lower(recipient), created_at DESC) WHERE recipient IS NOT NULL;
CREATE INDEX messages_tenant_kind_created ON messages (tenant_id, kind, created_at DESC, id) WHERE kind <> 'marketing';

-- An invoice's lines or a notice's text live in messages.data (the render input) as well as in the
-- stored body. Bodies are kept BODY_RETENTION_DAYS; when purge_expired() (or an erasure) deletes a
-- body, the render input of a finished necessary message goes with it. The metadata (kind, template,
-- subject, recipient, Message-ID, timeline) stays.
CREATE FUNCTION forget_necessary_render_input() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE messages SET data = '{}'::jsonb
   WHERE id = OLD.message_id AND kind IN ('invoice', 'account', 'technical', 'legal', 'support')
     AND status IN ('sent', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled') AND data <> '{}'::jsonb;
  RETURN OLD;
END $$;
CREATE TRIGGER message_bodies_forget_render_input AFTER DELETE ON message_bodies
  FOR EACH ROW EXECUTE FUNCTION forget_necessary_render_input();

-- Consent: the activation cap counts activation messages per address over the last 24 hours.
CREATE INDEX messages_activation_recipient ON messages (tenant_id, lower(recipient), created_at) WHERE kind = 'activation';
-- Contacts listing filtered by status, paged by (created_at, id).
CREATE INDEX contacts_tenant_status_created ON contacts (tenant_id, status, created_at, id);

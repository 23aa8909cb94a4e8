-- Import activations (issue 16): an import's paced activation mails (data carries importId and
-- dueAt) are not counted by the tenant's hourly ceiling of the API and forms
-- (assertTenantUnderCeiling), and the next import activation of a tenant is paced after the latest
-- one scheduled (latestImportActivationDue). One partial index for each side.
CREATE INDEX messages_own_activations ON messages (tenant_id, created_at DESC)
  WHERE kind = 'activation' AND NOT (data ? 'importId');
CREATE INDEX messages_import_activations ON messages (tenant_id, created_at DESC)
  WHERE kind = 'activation' AND data ? 'importId';

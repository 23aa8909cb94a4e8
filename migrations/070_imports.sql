-- CSV imports (issue 16): one row per upload, and the uploaded file itself in ~1 MiB chunks, so any
-- worker process can run the job and no process ever holds the whole file (src/audience/imports.ts
-- owns both tables). The web process writes the chunks in short transactions while the upload
-- streams in ('receiving'); a failed upload deletes its row (the chunks cascade). The worker reads the
-- chunks in order, writes contacts in batches (each batch, its progress and its counts in ONE
-- transaction, so `rows_done` is exactly what was committed and a retried job resumes after it), and
-- deletes the chunks when the import ends.
CREATE TABLE imports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'receiving' CHECK (status IN ('receiving', 'queued', 'running', 'completed', 'failed')),
  dry_run boolean NOT NULL DEFAULT false,
  options jsonb NOT NULL DEFAULT '{}',      -- the validated request options (delimiter, encoding, mapping, lists, …)
  attestation jsonb,                        -- {by: api key id, source, text, date, ip}: who attests the consent; null: none
  counts jsonb NOT NULL DEFAULT '{}',       -- rows, created, updated, subscribed, unconfirmed, skipped{reason: n}, duplicates, errors, activations
  row_errors jsonb NOT NULL DEFAULT '[]',   -- the first 100 row errors and skips: {row, line, column, code, message}
  rows_done integer NOT NULL DEFAULT 0,     -- data rows committed (the resume point of a retried job)
  bytes bigint NOT NULL DEFAULT 0,          -- the uploaded file's size
  bytes_read bigint NOT NULL DEFAULT 0,     -- bytes of it parsed so far
  encoding text, delimiter text,            -- what the parser used (given or detected)
  error jsonb,                              -- why a failed import failed: {code, field, message}
  created_by text,                          -- the API key id
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX imports_tenant_created ON imports (tenant_id, created_at DESC, id DESC);

CREATE TABLE import_chunks (
  import_id uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (import_id, seq)
);
-- The chunks are written once and read once: no compression (CSV compresses, but pglz on a MiB costs more than it saves here).
ALTER TABLE import_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON imports USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON imports TO postgate_app;
ALTER TABLE import_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON import_chunks USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON import_chunks TO postgate_app;

-- Consent events of imported rows carry action 'import' (the attestation is in detail); the lookup
-- of existing contacts by address is the unique index contacts_email_key.

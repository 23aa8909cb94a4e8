// Test settings shared by the embedded suite (vitest.config.ts) and the PgBouncer suite
// (vitest.pgbouncer.config.ts); each adds its own file list.
export const sharedTestOptions = {
  globalSetup: ['test/support/global-setup.ts'],
  pool: 'forks',
  maxWorkers: 2,
  // Each worker process runs file after file with one module graph: express, pg-boss, nodemailer,
  // handlebars… and the template pool's thread (which loads MJML) are loaded once per worker, not
  // once per file (about a fifth of the suite's CPU). What a file starts it stops (useApp's afterAll);
  // the process-wide state that stays (src/mail/template-pool.ts's shared pool, the ledger's
  // in-process bus) is shared by every Postgate of a process anyway. Per-file state: vi.restoreAllMocks
  // runs between files; nothing may change process.env or the working directory.
  isolate: false,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  teardownTimeout: 30_000,
} as const;

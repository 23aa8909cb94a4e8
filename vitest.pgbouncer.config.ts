// The PgBouncer suite (issue 18): `npm run test:pgbouncer` (.ci/standalone-pg.sh) runs these files
// against a standalone PostgreSQL server through PgBouncer in transaction pooling, the app in split
// mode with non-superuser logins (test/support/external-pg.ts). Chosen for what transaction pooling
// and a non-superuser owner can break; the whole run must stay within about 3 minutes on the 2-core
// CI machine (the embedded suite takes most of CI's 20). Kept apart from vitest.config.ts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // As vitest.config.ts: one module graph per worker process, not per file (loading it is most of
    // this run's CPU on a busy machine).
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    include: [
      // Proof that the pool goes through PgBouncer and LISTEN and pg-boss do not (SHOW CLIENTS, pg_stat_activity).
      'test/platform/direct-url.test.ts',
      // LISTEN wake-ups of the transactional dispatcher (postgate_send); idempotency keys decided in one transaction.
      'test/transactional/invoices.test.ts',
      // The ledger's state machine and its transactions (src/mail/ledger.ts).
      'test/mail/ledger.test.ts',
      // LISTEN wake-ups of the webhook dispatcher (postgate_events), its leases and per-endpoint counts, and the event feed.
      'test/webhooks/delivery.test.ts',
      // Real processes (web and three workers) starting at once: prepare (pg-boss schema, grants) as a
      // non-superuser owner under its session advisory lock, then each on PgBouncer and the direct URL.
      'test/faults/startup.test.ts',
      // Row-level security: the runtime login sees one tenant's rows, and none without a tenant.
      'test/tenants/isolation.test.ts',
      // Imports: a CSV streamed into PostgreSQL in batches, import jobs resumed through pg-boss, and a
      // campaign to the imported contacts (pg-boss campaign start and drain jobs).
      'test/audience/imports.test.ts',
      // Consent flows: double opt-in, per-mailbox advisory transaction locks, caps counted in PostgreSQL.
      'test/consent/activation.test.ts',
      // Left out, for time: test/campaigns/delivery.test.ts (pause, resume, cancel: pg-boss as above, a
      // minute and a half), test/events/cursor.test.ts (100,000 events; its plan assertion is written
      // for PostgreSQL 17's EXPLAIN and fails on Debian 12's 15), and the worker-kill tests
      // (test/campaigns/workers.test.ts spawns its own fixture on the superuser URL; test/faults/workers.test.ts: minutes).
    ],
  },
});

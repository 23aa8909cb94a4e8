// The PgBouncer suite (issue 18): `npm run test:pgbouncer` (.ci/standalone-pg.sh) runs these files
// against a standalone PostgreSQL server through PgBouncer in transaction pooling, the app in split
// mode with non-superuser logins (test/support/external-pg.ts). Chosen for what transaction pooling
// and a non-superuser owner can break; the whole run must stay within about 4 minutes on the 2-core
// CI machine (the embedded suite takes most of CI's 20). Kept apart from vitest.config.ts.
import { defineConfig } from 'vitest/config';
import { sharedTestOptions } from './vitest.shared.js';

export default defineConfig({
  test: {
    ...sharedTestOptions,
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
      // Staff sign-in across tenants through SECURITY DEFINER functions owned by a non-superuser, sessions,
      // lock-outs and the audit log, under transaction pooling (issue 19).
      'test/staff/sessions.test.ts',
      // Imports: a CSV streamed into PostgreSQL in batches, import jobs resumed through pg-boss, and a
      // campaign to the imported contacts (pg-boss campaign start and drain jobs).
      'test/audience/imports.test.ts',
      // Consent flows: double opt-in, per-mailbox advisory transaction locks, caps counted in PostgreSQL.
      'test/consent/activation.test.ts',
      // pg-boss campaign start and drain jobs: pause, resume, cancel, the recovery sweep.
      'test/campaigns/delivery.test.ts',
      // The event feed's cursor below events_horizon() (snapshot xmin) while 20 transactions commit out of
      // order, read through transaction pooling (no session may hold a snapshot).
      'test/events/cursor.test.ts',
      'test/events/feed.test.ts',
      // Every event type over webhooks, and a receiver down across a restart (outbox rows, leases).
      'test/webhooks/every-event.test.ts',
      'test/webhooks/restart.test.ts',
      // Relays: failover and per-domain back-off state shared in PostgreSQL, and a per-relay rate held
      // across two real worker processes.
      'test/relays/campaign.test.ts',
      'test/relays/rate-processes.test.ts',
      // Campaign figures (statement-level triggers into counters) and erasure.
      'test/campaigns/stats.test.ts',
      'test/data-rights/data-rights.test.ts',
      // RFC 8058 one-click and the preference pages (consent records in one transaction each).
      'test/unsubscribe/pages.test.ts',
      // Inbound DSN/ARF over SMTP into the ledger and suppression.
      'test/bounces/inbound-smtp.test.ts',
      // Left out: the worker-kill tests (test/campaigns/workers.test.ts spawns its own fixture on the
      // superuser URL; test/faults/workers.test.ts and the fault-injection suites take minutes), and the
      // tests of the embedded cluster itself (embedded-postgres, login-role's provisioned mode).
    ],
  },
});

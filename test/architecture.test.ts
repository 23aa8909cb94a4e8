// The shape of the code: the pure core imports no adapter and does no I/O; only the composition
// root reads process.env.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = path.join(dir, f);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});
const PURE = [
  ...walk(path.join(root, 'src/policy')),
  'src/consent/state.ts', 'src/mail/render.ts', 'src/mail/compose.ts', 'src/mail/mime.ts', 'src/bounces/classify.ts', 'src/bounces/reasons.ts',
  'src/bounces/mime.ts', 'src/html.ts', 'src/campaigns/lifecycle.ts', 'src/domain-error.ts',
  'src/audience/segment-filter.ts', 'src/engagement/links.ts', 'src/engagement/scanners.ts',
  'src/audience/import-parse.ts', 'src/audience/import-map.ts', 'src/audience/import-values.ts',
  'src/webhooks/schedule.ts', 'src/webhooks/urls.ts', 'src/relays/policy.ts',
  'src/mail/html-safety.ts', 'src/dashboard/days.ts',
].map((p) => path.resolve(root, p));
const IO = /from ['"](node:)?(fs|fs\/promises|net|http|https|child_process|dgram|pg|pg-boss|express|smtp-server)['"]|from ['"][./]*\/?platform\//;

describe('architecture', () => {
  it('keeps the pure core free of adapters and I/O', () => {
    expect(PURE.length).toBeGreaterThan(5);
    const offenders = PURE.filter((f) => IO.test(readFileSync(f, 'utf8'))).map((f) => path.relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('lets only the ledger change message state (erasure is the declared exception)', () => {
    // Erasure nulls personal data in place (and cancels what is still open): the one declared exception.
    const exempt = new Set(['src/mail/ledger.ts', 'src/unsubscribe/erase.ts', 'src/data-rights/erase.ts']);
    const writesState = /\bUPDATE\s+messages\b|\bINSERT\s+INTO\s+message_events\b/i;
    const writesAny = /\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+(messages|message_events)\b/i;
    const files = walk(path.join(root, 'src')).map((f) => [path.relative(root, f).split(path.sep).join('/'), readFileSync(f, 'utf8')] as const);
    expect(files.filter(([rel, text]) => rel === 'src/mail/ledger.ts' && writesState.test(text))).toHaveLength(1);
    expect(files.filter(([rel, text]) => !exempt.has(rel) && writesState.test(text)).map(([rel]) => rel)).toEqual([]);
    // Everyone else may read messages and their events, and write nothing to them.
    expect(files.filter(([rel, text]) => !exempt.has(rel) && writesAny.test(text)).map(([rel]) => rel)).toEqual([]);
  });

  it('reads process.env only in the composition root', () => {
    const readers = walk(path.join(root, 'src')).filter((f) => /process\.env/.test(readFileSync(f, 'utf8')));
    expect(readers.map((f) => path.relative(root, f))).toEqual(['src/main.ts']);
  });
});

// ---------------------------------------------------------------- one owner per table (docs/architecture.md)
// Every table of migrations/*.sql has exactly one file in src/ whose SQL writes it (INSERT INTO,
// UPDATE … SET, DELETE FROM). Other files call that file's named queries. A table is read in its
// owner's folder; another folder reads it only through a declared read view below. SQL keywords are
// written in capitals in this code base, which is what lets a plain scan find them.
const TABLES = readdirSync(path.join(root, 'migrations')).filter((f) => f.endsWith('.sql'))
  .flatMap((f) => [...readFileSync(path.join(root, 'migrations', f), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)].map((m) => m[1]));

const OWNERS: Record<string, string> = {
  instance_settings: 'src/platform/secrets.ts',
  tenants: 'src/tenants/store.ts',
  api_keys: 'src/tenants/api-keys.ts',
  dkim_keys: 'src/tenants/dkim.ts',
  domains: 'src/tenants/domains.ts',
  contacts: 'src/consent/contacts.ts',
  lists: 'src/consent/lists.ts',
  subscriptions: 'src/consent/subscriptions.ts',
  consent_texts: 'src/consent/records.ts',
  consent_events: 'src/consent/records.ts',
  suppressions: 'src/consent/suppressions.ts',
  token_uses: 'src/consent/activation.ts',
  messages: 'src/mail/ledger.ts',
  message_events: 'src/mail/ledger.ts',
  message_bodies: 'src/mail/ledger.ts',
  send_queue: 'src/mail/ledger.ts',
  templates: 'src/campaigns/templates-store.ts',
  template_versions: 'src/campaigns/templates-store.ts',
  campaigns: 'src/campaigns/campaigns-store.ts',
  rate_windows: 'src/campaigns/rate-limit.ts',
  test_addresses: 'src/campaigns/test-addresses.ts',
  bounces: 'src/bounces/store.ts',
  inbound_quota: 'migrations/061_inbound_quota.sql', // written only by the SECURITY DEFINER inbound_quota_take()
  idempotency_keys: 'src/platform/idempotency.ts', // Idempotency-Key claims and stored responses (purge: purge_expired())
  segments: 'src/audience/segments.ts', // saved segment filters (issue 16)
  imports: 'src/audience/imports.ts', // CSV import jobs: the row, its progress and report
  import_chunks: 'src/audience/imports.ts', // the uploaded file in ~1 MiB chunks until the job ends
  form_hits: 'src/consent/forms.ts', // accepted public-form posts per keyed IP hash (FORM_PER_IP_PER_HOUR/DAY)
  events: 'src/events/feed.ts', // the tenant's event feed (issue 17): rows from migration 074's triggers and appendEvent
  engagements: 'src/engagement/store.ts', // recorded clicks and opens of tracked campaign mail (issue 17)
  campaign_stats_hours: 'src/campaigns/stats.ts', // campaign figures per UTC hour (written only by migration 077's triggers)
  campaign_stats_links: 'src/campaigns/stats.ts', // campaign clicks per link (written only by migration 077's triggers)
  webhook_endpoints: 'src/webhooks/store.ts', // webhook endpoints: URL, types, secret, feed cursor (issue 17)
  webhook_deliveries: 'src/webhooks/store.ts', // the webhook outbox: one row per (endpoint, event, replay)
  webhook_attempts: 'src/webhooks/store.ts', // the delivery log: every POST's status, duration, error, answer
  relay_health: 'src/relays/store.ts', // each relay's failures in a row and pause (issue 18, SMTP_URLS)
  relay_rate_windows: 'src/relays/store.ts', // sends per relay per second, shared by every process (rate=)
  domain_throttles: 'src/relays/store.ts', // destination domains in back-off after a 421 or 4.7.x
  staff_users: 'src/staff/users.ts', // console accounts: email, role, argon2id hash, lock-out (issue 19)
  staff_password_links: 'src/staff/users.ts', // one-time set-password links (sha-256 of the token)
  staff_sessions: 'src/staff/sessions.ts', // console sessions (sha-256 of the cookie), CSRF token, idle and absolute ends
  staff_login_throttle: 'src/staff/sessions.ts', // sign-in attempts per client address per 15 minutes
  staff_unknown_logins: 'src/staff/sessions.ts', // failed sign-ins naming no usable account, locked as an account's
  staff_audit: 'src/staff/audit.ts', // who did what, when
};

/** Files that may read and write any table. */
const ANY_TABLE: { file: RegExp; reason: string }[] = [
  { file: /^src\/(unsubscribe|data-rights)\/export\.ts$/, reason: 'the data export gathers everything held about a person' },
  { file: /^src\/(unsubscribe|data-rights)\/erase\.ts$/, reason: 'erasure nulls the person\'s data in every table in one transaction' },
];

/**
 * Writers of the ledger's tables that the delivery-core rewrite of issue 13 is moving into
 * src/mail/ledger.ts. Tolerated until then; an entry that no longer writes fails the test, so the
 * list only shrinks. Nothing may be added here.
 */
const LEDGER_MOVE_PENDING: Record<string, string[]> = {
  send_queue: ['src/mail/dispatcher.ts', 'src/mail/sender.ts'],
};

/** Cross-folder reads: a folder reading a table another folder owns (always through SELECT/JOIN, never a write). */
const READ_VIEWS: { folder: string; tables: string[]; reason: string }[] = [
  { folder: 'src/campaigns', tables: ['tenants', 'contacts', 'subscriptions', 'suppressions'], reason: 'audience and claim queries re-check consent and suppression in the same statement that claims' },
  { folder: 'src/campaigns', tables: ['messages', 'consent_events'], reason: 'progress figures count the campaign\'s ledger rows and the opt-outs that name it' },
  { folder: 'src/consent', tables: ['tenants'], reason: 'the suppression hash is salted per tenant' },
  { folder: 'src/consent', tables: ['messages'], reason: 'the activation cap counts activation messages per address' },
  { folder: 'src/consent', tables: ['campaigns'], reason: 'a list that a campaign not finished targets is not archived or deleted' },
  { folder: 'src/bounces', tables: ['contacts', 'messages'], reason: 'a report is matched to its message and contact' },
  { folder: 'src/mail', tables: ['contacts', 'tenants', 'subscriptions', 'suppressions'], reason: 'the send path gathers gate facts in its claim' },
  { folder: 'src/transactional', tables: ['messages', 'message_bodies'], reason: 'the record of communications lists the ledger' },
  { folder: 'src/unsubscribe', tables: ['contacts', 'lists', 'subscriptions', 'campaigns'], reason: 'a token\'s target: its contact, the campaign\'s lists, the preference page' },
  { folder: 'src/unsubscribe', tables: ['messages'], reason: 'a campaign mail\'s link names its ledger message (issue 20: short links): its contact and campaign are read from that row' },
  { folder: 'src/audience', tables: ['contacts', 'subscriptions', 'lists'], reason: 'a segment count and the compiled segment predicate read contacts and their subscriptions to lists not deleted' },
  { folder: 'src/platform', tables: ['send_queue'], reason: 'readiness: the schema is migrated (LIMIT 0, no row read)' },
  { folder: 'src/webhooks', tables: ['events'], reason: 'the fan-out inserts deliveries from the feed in one statement; the claim builds the payload from the event row at send time (an erased event is never sent)' },
];

const rel = (f: string) => path.relative(root, f).split(path.sep).join('/');
/** Source without comment lines (// …, /* …, * …), so prose never counts as SQL. */
const code = (f: string) => readFileSync(f, 'utf8').split('\n')
  .filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l)).map((l) => l.replace(/(^|\s)\/\/.*$/, '')).join('\n');
const writes = (t: string) => new RegExp(`\\b(?:INSERT\\s+INTO\\s+${t}\\b|UPDATE\\s+${t}\\s+(?:(?:AS\\s+)?\\w+\\s+)?SET\\b|DELETE\\s+FROM\\s+${t}\\b)`);
const reads = (t: string) => new RegExp(`\\b(?:FROM|JOIN)\\s+${t}\\b`);
const SOURCES = walk(path.join(root, 'src')).map((f) => ({ file: rel(f), text: code(f) }));
const exempt = (file: string) => ANY_TABLE.some((e) => e.file.test(file));

describe('one owner per table', () => {
  it('names an owner for every table of the migrations, and only for those', () => {
    expect(TABLES.length).toBeGreaterThan(15);
    expect(Object.keys(OWNERS).sort()).toEqual([...new Set(TABLES)].sort());
  });

  it('lets only the owner write a table (export and erasure excepted)', () => {
    const extra: string[] = [];
    for (const t of TABLES) {
      for (const s of SOURCES) {
        if (s.file === OWNERS[t] || exempt(s.file) || LEDGER_MOVE_PENDING[t]?.includes(s.file)) continue;
        if (writes(t).test(s.text)) extra.push(`${t} written by ${s.file} (owner: ${OWNERS[t]})`);
      }
    }
    expect(extra).toEqual([]);
  });

  it('keeps the pending ledger moves honest: each entry still writes its table', () => {
    const stale = Object.entries(LEDGER_MOVE_PENDING).flatMap(([t, files]) => files
      .filter((f) => !SOURCES.some((s) => s.file === f && writes(t).test(s.text)))
      .map((f) => `${f} no longer writes ${t}: remove it from LEDGER_MOVE_PENDING`));
    expect(stale).toEqual([]);
  });

  it('reads a table in its owner\'s folder, elsewhere only through a declared read view', () => {
    const folderOf = (f: string) => f.slice(0, f.lastIndexOf('/'));
    const undeclared: string[] = [];
    for (const t of TABLES) {
      const owner = folderOf(OWNERS[t]);
      for (const s of SOURCES) {
        const folder = folderOf(s.file);
        if (folder === owner || exempt(s.file) || !reads(t).test(s.text)) continue;
        if (LEDGER_MOVE_PENDING[t]?.includes(s.file)) continue;
        if (!READ_VIEWS.some((v) => v.folder === folder && v.tables.includes(t))) undeclared.push(`${s.file} reads ${t} (owned by ${OWNERS[t]})`);
      }
    }
    expect(undeclared).toEqual([]);
  });
});

// ---------------------------------------------------------------- no SQL in route handlers
// Route files (the JSON API, HTML pages, ops endpoints, the HTTP adapter and any file that registers
// routes) call named queries of the owning store; they hold no SQL and no client.query.
const ROUTE_NAME = /(^|\/)([\w-]+-api|api|module|pages|[\w-]+-pages)\.ts$|^src\/platform\/(ops|http)\.ts$/;
const REGISTERS_ROUTES = /\bapi\.route\(|\b(pages|router|r|app)\.(get|post|put|patch|delete|all)\(/;
const SQL = /\bSELECT\b[^'"`;]*?\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+(?:(?:AS\s+)?\w+\s+)?SET\b|\bDELETE\s+FROM\b|\.query(?:<[^>]*>)?\(/;

describe('no SQL in route handlers', () => {
  const routes = SOURCES.filter((s) => ROUTE_NAME.test(s.file) || REGISTERS_ROUTES.test(s.text));

  it('finds the route files', () => {
    expect(routes.map((r) => r.file)).toEqual(expect.arrayContaining([
      'src/campaigns/campaigns-api.ts', 'src/unsubscribe/api.ts', 'src/tenants/module.ts', 'src/platform/ops.ts', 'src/platform/http.ts',
    ]));
  });

  it('holds no SQL in them', () => {
    expect(routes.filter((r) => SQL.test(r.text)).map((r) => r.file)).toEqual([]);
  });
});

// ---------------------------------------------------------------- domain errors without HTTP
// Domain code throws DomainError (src/domain-error.ts: a code, a field, details). Only the HTTP
// adapter maps codes to statuses, so ApiError (an HTTP status) appears only there and in route files
// (the JSON API: *-api.ts, api.ts, and the module files that register routes).
const API_ROUTE_FILE = /(^|\/)([\w-]+-api|api|module)\.ts$/;

describe('domain errors without HTTP', () => {
  it('references ApiError only in route files and the HTTP adapter', () => {
    const offenders = walk(path.join(root, 'src')).map((f) => path.relative(root, f).split(path.sep).join('/'))
      .filter((f) => f !== 'src/platform/http.ts' && !API_ROUTE_FILE.test(f))
      .filter((f) => /\bApiError\b/.test(readFileSync(path.join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('keeps the domain error module free of HTTP: it imports nothing', () => {
    expect(readFileSync(path.join(root, 'src/domain-error.ts'), 'utf8')).not.toMatch(/^\s*import\b/m);
  });
});

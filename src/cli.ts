// The postgate command: start | web | worker | migrate | tenant create | key create|list|revoke | domain add|list | dkim generate | bounce classify
// | suppression list|add|remove
import os from 'node:os';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { ConfigError, type Config } from './config.js';
import { configFromEnv, MIGRATIONS_DIR, openDatabase, startPostgate, type Database, type Postgate } from './main.js';
import type { Roles } from './deps.js';
import { createDb, type Db } from './platform/db.js';
import { prepareDatabase } from './platform/roles.js';
import { SCOPES } from './platform/http.js';
import { createLogger, type Logger } from './platform/log.js';
import { displayNameProblem, isReplyToAcceptable, parseAddress } from './policy/addresses.js';
import { createTenant, tenantExists } from './tenants/store.js';
import { dkimGenerateCommand, domainCommand, vouchForTenant } from './tenants/domains-cli.js';
import { isDomainName } from './policy/domains.js';
import { addressDomain } from './policy/domains.js';
import { createApiKey } from './tenants/api-keys.js';
import { keyCommand, writeFirstAdminKey } from './tenants/keys-cli.js';
import { suppressionCommand } from './consent/suppression-cli.js';
import { userCommand } from './staff/users-cli.js';

class UsageError extends Error {}

const USAGE = `usage: postgate <command>
  start                     web + worker in one process (embedded PostgreSQL when DATABASE_URL is unset)
  web | worker              one role only
  migrate                   apply migrations and exit
  tenant create --name N --from-email E --from-name N --reply-to E [--postal-address A] [--json]
  key create --tenant ID --scopes a,b [--name N] [--expires-in-days N] [--json]
  key list --tenant ID [--json]
  key revoke --tenant ID --key KEYID [--json]
  domain add --tenant ID --domain D [--verified] [--json]   (--verified: the operator vouches for it)
  domain list --tenant ID [--json]
  dkim generate --tenant ID --selector S [--domain D] [--activate]
  bounce classify FILE…     one JSON line per file
  suppression list --tenant ID [--address A] [--scope all|marketing] [--reason R] [--since T] [--until T] [--json]
  suppression add --tenant ID --address A [--scope all|marketing] --reason R [--note N] [--json]
  suppression remove --tenant ID --address A --reason R [--scope all|marketing] [--json]
  user create --tenant ID --email E --role admin|marketing|viewer [--password P] [--json]
                            a staff console account; without --password, prints a one-time link to set one`;

async function withDatabase<T>(config: Config, log: Logger, fn: (db: Db, database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, log);
  try {
    // Migrations as the owner; the command's queries as the runtime login (bound by row-level security).
    const db = createDb(await prepareDatabase(database, MIGRATIONS_DIR, log), { max: 2 });
    try { return await fn(db, database); } finally { await db.close(); }
  } finally {
    await database.embedded?.stop();
  }
}

function need(values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v.trim();
}

/** A signal repeated within this many ms is the same press: `npm start` forwards the terminal's Ctrl-C, which reached Postgate too. */
const SAME_SIGNAL_MS = 1000;
/** A stop that takes longer than this (ms) ends in process.exit(1) anyway; stopParts keeps it under 5 s. */
const STOP_WATCHDOG_MS = 10_000;

/**
 * SIGINT (Ctrl-C), SIGTERM and SIGHUP, handled from the beginning of a start: the first stops
 * Postgate (at once, or as soon as its start is done) and exits 0 (1 if the stop failed). A second
 * signal, a second or more later, exits at once (128 + its number); the embedded PostgreSQL then
 * shuts itself down (the exit hook in platform/embedded-postgres.ts) and mail claimed but not sent
 * is retried after its lease.
 */
function stopOnSignals(log: Logger): { started(pg: Postgate): void } {
  let running: Postgate | null = null;
  let first: { signal: NodeJS.Signals; at: number } | null = null;
  const stop = (pg: Postgate, signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping: finishing in-flight sends');
    setTimeout(() => { log.error('stop did not finish in time; exiting'); process.exit(1); }, STOP_WATCHDOG_MS).unref();
    pg.stop().then(() => process.exit(0), (err: Error) => { log.error({ err: err.message }, 'unclean stop'); process.exit(1); });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (Date.now() - first.at < SAME_SIGNAL_MS) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    }
    first = { signal, at: Date.now() };
    if (running) stop(running, signal);
    else log.info({ signal }, 'stopping as soon as the start is done');
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  return { started(pg) { running = pg; if (first) stop(pg, first.signal); } };
}

async function serve(config: Config, roles: Roles): Promise<void> {
  const log = createLogger(config.LOG_LEVEL);
  const signals = stopOnSignals(log);
  const pg = await startPostgate(config, roles, { log });
  signals.started(pg);
  const lines = [`Postgate is running (${Object.entries(roles).filter(([, on]) => on).map(([r]) => r).join(' + ')})`];
  const where = (port: number) => `${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}${config.HOST === '127.0.0.1' || config.HOST === '::1' ? ', this machine only' : ''}`;
  const httpPort = (pg.httpServer?.address() as { port: number } | null)?.port ?? config.PORT;
  if (pg.url) lines.push(`  API and pages:  ${config.PUBLIC_URL}  (listening on ${where(httpPort)})`);
  if (pg.url) lines.push(`  Staff console:  ${config.PUBLIC_URL.replace(/\/+$/, '')}/console/  (an account: PUBLIC_URL=${config.PUBLIC_URL} npm run postgate -- user create --tenant ID --email E --role admin)`);
  if (pg.inboundPort !== null) {
    lines.push(`  Bounce SMTP:    listening on ${where(pg.inboundPort)}, STARTTLS ${config.INBOUND_TLS_CERT ? 'offered' : 'not offered (no INBOUND_TLS_CERT)'}`);
  }
  for (const l of config.insecureLinks) lines.push(`  Warning:        ${l.variable} ${l.problem} (allowed by ALLOW_INSECURE_LINKS)`);
  lines.push(pg.deps.mailer.mode === 'outbox'
    ? `  Sent mail:      ${config.PUBLIC_URL}/outbox  (files in ${config.DATA_DIR}/outbox; set SMTP_URL to deliver)`
    : config.SMTP_URLS ? '  Sent mail:      relayed through the relays of SMTP_URLS (weights, rates, failover)'
    : `  Sent mail:      relayed through SMTP_URL (${config.SMTP_URL?.startsWith('smtps:') ? 'TLS' : config.SMTP_REQUIRE_TLS ? 'STARTTLS required' : 'STARTTLS when offered, else in clear'})`);
  if (!config.DATABASE_URL) lines.push(`  Data:           ${config.DATA_DIR}`);
  const first = await ensureDefaultTenant(pg.deps.db, config);
  if (first) {
    // The key itself never reaches stdout (the service log under a Procfile): only the file's path.
    lines.push('', `  First start: ${first.created ? 'created the default tenant' : 'the default tenant'} ${first.tenantId}`,
      `  Admin API key written to ${first.keyFile} (mode 0600; not shown here): KEY=$(cat ${first.keyFile})`,
      `  Before it can send, give it a real sender identity (reply-to on a real domain, postal address):`,
      `    curl -X PATCH ${config.PUBLIC_URL}/api/tenant -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\`,
      `      -d '{"fromEmail":"news@your-domain.org","replyTo":"hello@your-domain.org","postalAddress":"1 Main St, Town"}'`,
      `  (a From domain must be verified first: POST /api/domains and its /verify, or postgate domain add --verified)`,
      `  Your console account: PUBLIC_URL=${config.PUBLIC_URL} npm run postgate -- user create --tenant ${first.tenantId} --email you@example.org --role admin`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * The first start of an installation creates one tenant and an admin key, written to
 * DATA_DIR/first-admin-key (0600; also with an external DATABASE_URL); the key is never printed.
 * Once the default tenant has a key (even revoked), never again.
 */
async function ensureDefaultTenant(db: Db, config: Config): Promise<{ tenantId: string; created: boolean; keyFile: string } | null> {
  const id = '00000000-0000-4000-8000-000000000001';
  const created = !(await db.withTenant(id, (c) => tenantExists(c, id))) && await createDefaultTenant(db, config, id);
  const written = await writeFirstAdminKey(db, id, config.DATA_DIR);
  return written ? { tenantId: id, created, keyFile: written.file } : null;
}

/** Creates the default tenant; false when another process created it first. */
async function createDefaultTenant(db: Db, config: Config, id: string): Promise<boolean> {
  const host = new URL(config.PUBLIC_URL).hostname;
  // A host that is no sending domain (an IP, one label, an odd spelling) gets the local placeholder domain.
  const domain = isDomainName(host) ? host : 'postgate.localhost';
  try {
    await createTenant(db, { name: 'Default', fromEmail: `newsletter@${domain}`, fromName: 'Postgate', replyTo: `hello@${domain}` }, id);
    await vouchForTenant(db, id, domain); // the operator's own installation: its From domain is vouched for
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return false; // another process created it first
    throw err;
  }
  return true;
}

async function tenantCreate(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    name: { type: 'string' }, 'from-email': { type: 'string' }, 'from-name': { type: 'string' },
    'reply-to': { type: 'string' }, 'postal-address': { type: 'string' }, json: { type: 'boolean' } } });
  const from = parseAddress(need(values, 'from-email'));
  if (!from.ok) throw new UsageError(`--from-email is not a valid address (${from.error})`);
  const reply = isReplyToAcceptable(need(values, 'reply-to'));
  if (!reply.ok) throw new UsageError(`--reply-to must be a valid address on a real domain (${reply.error})`);
  for (const option of ['name', 'from-name'] as const) {
    const problem = displayNameProblem(need(values, option), true); // both reach headers (From, subjects), as at the API
    if (problem) throw new UsageError(`--${option} cannot go into a mail header (${problem})`);
  }
  const out = await withDatabase(config, log, async (db) => {
    const id = randomUUID();
    await createTenant(db, { name: need(values, 'name'), fromEmail: from.value.address, fromName: need(values, 'from-name'),
      replyTo: reply.value.address, postalAddress: values['postal-address'] ?? null }, id);
    const domain = addressDomain(from.value.address);
    const { shared } = await vouchForTenant(db, id, domain); // the operator vouches for the --from-email domain
    if (shared) process.stderr.write(`postgate: note: ${domain} is also verified for another tenant (vouched for by the operator: shared)\n`);
    const key = await db.withTenant(id, (c) => createApiKey(c, id, [...SCOPES]));
    return { tenantId: id, apiKey: key.key };
  });
  process.stdout.write(values.json ? JSON.stringify(out) + '\n' : `tenant ${out.tenantId}\napi key (shown once): ${out.apiKey}\n`);
}

/** What a CLI command module gets: the configuration, a migrated database for one task, usage errors and stdout. */
function cliIo(config: Config, log: Logger) {
  return { config, withDb: <T>(fn: (db: Db) => Promise<T>) => withDatabase(config, log, (db) => fn(db)),
    usage: (message: string) => new UsageError(message), out: (text: string) => { process.stdout.write(text); } };
}

async function run(argv: string[]): Promise<void> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'bounce' && sub === 'classify') {
    const { classifyFiles } = await import('./bounces/classify-files.js');
    for (const line of await classifyFiles(rest)) process.stdout.write(JSON.stringify(line) + '\n');
    return;
  }
  const config = configFromEnv();
  const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  switch (cmd) {
    case 'start': return serve(config, { web: true, worker: true, inbound: true });
    case 'web': return serve(config, { web: true, worker: false, inbound: false });
    case 'worker': return serve({ ...config }, { web: false, worker: true, inbound: true });
    case 'migrate': {
      const applied = await withDatabase(config, log, async () => [] as string[]);
      process.stdout.write(`migrations up to date${applied.length ? '' : ''}\n`);
      return;
    }
    case 'tenant': if (sub === 'create') return tenantCreate(config, log, rest); break;
    case 'key':
      if (sub === 'create' || sub === 'list' || sub === 'revoke') {
        return keyCommand(sub, rest, cliIo(config, log));
      }
      break;
    case 'dkim':
      if (sub === 'generate') return dkimGenerateCommand(rest, cliIo(config, log));
      break;
    case 'domain':
      if (sub === 'add' || sub === 'list') return domainCommand(sub, rest, cliIo(config, log));
      break;
    case 'user':
      if (sub === 'create') return userCommand(sub, rest, cliIo(config, log));
      break;
    case 'suppression':
      if (sub === 'list' || sub === 'add' || sub === 'remove') {
        return suppressionCommand(sub, rest, cliIo(config, log));
      }
      break;
  }
  throw new UsageError(cmd ? `unknown command: ${[cmd, sub].filter(Boolean).join(' ')}` : 'no command given');
}

run(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`postgate: ${err.message}\n`);
  else if (err instanceof UsageError) process.stderr.write(`postgate: ${err.message}\n${USAGE}\n`);
  else if (err instanceof Error && /^(Option|Unknown option|Unexpected argument)/.test(err.message)) process.stderr.write(`postgate: ${err.message}\n${USAGE}\n`);
  else process.stderr.write(`postgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});

// The postgate command: start | web | worker | migrate | tenant create | key create | dkim generate | bounce classify
// | suppression list|add|remove
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { ConfigError, type Config } from './config.js';
import { configFromEnv, MIGRATIONS_DIR, openDatabase, startPostgate, type Database } from './main.js';
import type { Roles } from './deps.js';
import { createDb, migrate, type Db } from './platform/db.js';
import { SCOPES, type Scope } from './platform/http.js';
import { createLogger, type Logger } from './platform/log.js';
import { displayNameProblem, isReplyToAcceptable, parseAddress } from './policy/addresses.js';
import { createApiKey, createTenant, dkimTxtRecord, getTenant, storeDkimKey, tenantExists } from './tenants/store.js';
import { suppressionCommand } from './consent/suppression-cli.js';

class UsageError extends Error {}

const USAGE = `usage: postgate <command>
  start                     web + worker in one process (embedded PostgreSQL when DATABASE_URL is unset)
  web | worker              one role only
  migrate                   apply migrations and exit
  tenant create --name N --from-email E --from-name N --reply-to E [--postal-address A] [--json]
  key create --tenant ID --scopes a,b [--json]
  dkim generate --tenant ID --selector S [--domain D]
  bounce classify FILE…     one JSON line per file
  suppression list --tenant ID [--address A] [--scope all|marketing] [--reason R] [--since T] [--until T] [--json]
  suppression add --tenant ID --address A [--scope all|marketing] --reason R [--note N] [--json]
  suppression remove --tenant ID --address A --reason R [--scope all|marketing] [--json]`;

async function withDatabase<T>(config: Config, log: Logger, fn: (db: Db, database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, log);
  try {
    await migrate(database.ownerUrl, MIGRATIONS_DIR, log);
    const db = createDb(database.ownerUrl, { max: 2 });
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

async function serve(config: Config, roles: Roles): Promise<void> {
  const log = createLogger(config.LOG_LEVEL);
  const pg = await startPostgate(config, roles, { log });
  const lines = [`Postgate is running (${Object.entries(roles).filter(([, on]) => on).map(([r]) => r).join(' + ')})`];
  if (pg.url) lines.push(`  API and pages:  ${config.PUBLIC_URL}  (listening on port ${config.PORT})`);
  lines.push(pg.deps.mailer.mode === 'outbox'
    ? `  Sent mail:      ${config.PUBLIC_URL}/outbox  (files in ${config.DATA_DIR}/outbox; set SMTP_URL to deliver)`
    : `  Sent mail:      relayed through SMTP_URL`);
  if (!config.DATABASE_URL) lines.push(`  Data:           ${config.DATA_DIR}`);
  const first = await ensureDefaultTenant(pg.deps.db, config);
  if (first) {
    lines.push('', `  First start: created the default tenant ${first.tenantId}`, `  Admin API key (shown once, keep it): ${first.key}`,
      `  Before it can send, give it a real sender identity (reply-to on a real domain, postal address):`,
      `    curl -X PATCH ${config.PUBLIC_URL}/api/tenant -H "Authorization: Bearer ${first.key}" -H 'Content-Type: application/json' \\`,
      `      -d '{"fromEmail":"news@your-domain.org","replyTo":"hello@your-domain.org","postalAddress":"1 Main St, Town"}'`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping: finishing in-flight sends');
    pg.stop().then(() => process.exit(0), (err: Error) => { log.error({ err: err.message }, 'unclean stop'); process.exit(1); });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** The first start of an installation creates one tenant and prints its key; never again. */
async function ensureDefaultTenant(db: Db, config: Config): Promise<{ tenantId: string; key: string } | null> {
  const id = '00000000-0000-4000-8000-000000000001';
  const exists = await db.withTenant(id, (c) => tenantExists(c, id));
  if (exists) return null;
  const host = new URL(config.PUBLIC_URL).hostname;
  const domain = host.includes('.') && !/^[\d.]+$/.test(host) ? host : 'postgate.localhost';
  try {
    await createTenant(db, { name: 'Default', fromEmail: `newsletter@${domain}`, fromName: 'Postgate', replyTo: `hello@${domain}` }, id);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return null; // another process created it first
    throw err;
  }
  const key = await db.withTenant(id, (c) => createApiKey(c, id, ['admin']));
  return { tenantId: id, key: key.key };
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
    const key = await db.withTenant(id, (c) => createApiKey(c, id, [...SCOPES]));
    return { tenantId: id, apiKey: key.key };
  });
  process.stdout.write(values.json ? JSON.stringify(out) + '\n' : `tenant ${out.tenantId}\napi key (shown once): ${out.apiKey}\n`);
}

async function keyCreate(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tenant: { type: 'string' }, scopes: { type: 'string' }, json: { type: 'boolean' } } });
  const tenant = need(values, 'tenant');
  const scopes = need(values, 'scopes').split(',').map((s) => s.trim());
  const bad = scopes.find((s) => !SCOPES.includes(s as Scope));
  if (bad) throw new UsageError(`unknown scope '${bad}' (known: ${SCOPES.join(', ')})`);
  const out = await withDatabase(config, log, (db) => db.withTenant(tenant, async (c) => {
    if (!(await tenantExists(c, tenant))) throw new UsageError(`no tenant ${tenant}`);
    return createApiKey(c, tenant, scopes as Scope[]);
  }));
  process.stdout.write(values.json ? JSON.stringify({ keyId: out.id, apiKey: out.key, scopes }) + '\n' : `api key (shown once): ${out.key}\n`);
}

async function dkimGenerate(config: Config, log: Logger, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tenant: { type: 'string' }, selector: { type: 'string' }, domain: { type: 'string' } } });
  const tenant = need(values, 'tenant');
  const selector = need(values, 'selector');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/i.test(selector)) throw new UsageError('--selector must be a DNS label');
  const key = await withDatabase(config, log, (db) => db.withTenant(tenant, async (c) => {
    const t = await getTenant(c, tenant);
    if (!t) throw new UsageError(`no tenant ${tenant}`);
    const domain = (values.domain ?? t.fromEmail.split('@')[1]).toLowerCase();
    return storeDkimKey(c, tenant, domain, selector);
  }));
  process.stdout.write(`${dkimTxtRecord(key)}\n`);
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
    case 'key': if (sub === 'create') return keyCreate(config, log, rest); break;
    case 'dkim': if (sub === 'generate') return dkimGenerate(config, log, rest); break;
    case 'suppression':
      if (sub === 'list' || sub === 'add' || sub === 'remove') {
        return suppressionCommand(sub, rest, {
          withDb: (fn) => withDatabase(config, log, (db) => fn(db)),
          usage: (message) => new UsageError(message),
          out: (text) => { process.stdout.write(text); },
        });
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

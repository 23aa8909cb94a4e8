// Composition root: config → database (embedded or DATABASE_URL) → pools → services → HTTP server
// and workers. The only module that reads process.env.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import { ConfigError, loadConfig, projectRoot, type Config, type RawConfig } from './config.js';
import type { AppDeps, Module, Roles } from './deps.js';
import { createDb, type Db } from './platform/db.js';
import { databaseLogins, prepareRuntime, type DatabaseLogins } from './platform/roles.js';
import { startEmbeddedPostgres, type EmbeddedHandle } from './platform/embedded-postgres.js';
import { warmTemplatePool } from './mail/template-pool.js';
import { Api, apiKeyAuthenticator, apiNotFound, errorHandler, keyOrSessionAuthenticator, notFoundPage, pageErrors, requestLog } from './platform/http.js';
import { idempotencyStore } from './platform/idempotency.js';
import { createLogger, type Logger } from './platform/log.js';
import { createMetrics } from './platform/metrics.js';
import { opsRouter } from './platform/ops.js';
import { startQueue, type Boss } from './platform/queue.js';
import { loadTokenKeys } from './platform/secrets.js';
import { createDnsLookup, parseDnsServers } from './platform/dns.js';
import { createOutboxMailer, createSmtpMailer, type Mailer, type RelayTls } from './platform/smtp.js';
import { createRelayMailer, type RelayMailerConfig } from './relays/mailer.js';
import { parseDomainLimits, parseRelayUrls } from './relays/policy.js';
import { Dispatcher } from './mail/dispatcher.js';
import { RendererRegistry } from './mail/renderers.js';
import { Delivery } from './mail/delivery.js';
import { Sender } from './mail/sender.js';
import { tenantMessageIds } from './mail/ledger.js';
import { tenantsModule } from './tenants/module.js';
import { findApiKey } from './tenants/api-keys.js';
import { consentModule } from './consent/module.js';
import { transactionalModule } from './transactional/module.js';
import { campaignsModule } from './campaigns/module.js';
import { unsubscribeModule } from './unsubscribe/module.js';
import { dataRightsModule } from './data-rights/module.js';
import { bouncesModule, inboundListenerPort } from './bounces/module.js';
import { maintenanceModule } from './maintenance.js';
import { eventsModule } from './events/module.js';
import { audienceModule } from './audience/module.js';
import { webhooksModule } from './webhooks/module.js';
import { engagementModule } from './engagement/module.js';
import { staffAudit, staffModule, staffSessionLookup } from './staff/module.js';
import { dashboardModule } from './dashboard/module.js';
import { consoleRouter } from './console/static.js';

export const MIGRATIONS_DIR = path.join(projectRoot, 'migrations');
/** The built staff console (npm run build:console; `prepare` runs it at install). */
const CONSOLE_DIST = path.join(projectRoot, 'console', 'dist');
const MODULES = [tenantsModule, consentModule, transactionalModule, campaignsModule, unsubscribeModule, dataRightsModule, bouncesModule, audienceModule, engagementModule, eventsModule, webhooksModule, dashboardModule, staffModule, maintenanceModule];

export function configFromEnv(overrides: Partial<RawConfig> = {}): Config {
  return loadConfig(process.env, overrides);
}

/** The logins (src/platform/roles.ts: owner for migrations, runtime login for everything else) and the embedded cluster, if started. */
export interface Database extends DatabaseLogins { embedded: EmbeddedHandle | null }

/** DATABASE_URL when set; otherwise the embedded cluster under DATA_DIR (started, or reused if running). */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.DATABASE_OWNER_URL && !config.DATABASE_URL) throw new ConfigError('invalid configuration: DATABASE_OWNER_URL is set but DATABASE_URL (the runtime login) is not');
  if (config.DATABASE_DIRECT_URL && !config.DATABASE_URL) throw new ConfigError('invalid configuration: DATABASE_DIRECT_URL is set but DATABASE_URL (the pooled login) is not');
  if (config.DATABASE_URL) return { ...await databaseLogins(config.DATABASE_URL, config.DATABASE_OWNER_URL, config.DATABASE_DIRECT_URL), embedded: null };
  const embedded = await startEmbeddedPostgres(config.DATA_DIR, log);
  return { ownerUrl: embedded.url, runtimeUrl: null, embedded };
}

export interface Postgate {
  config: Config; deps: AppDeps; url: string | null; httpServer: http.Server | null; inboundPort: number | null;
  stop(): Promise<void>;
}

function createMailer(config: Config, db: Db, log: Logger): Mailer {
  const tls = { requireTls: config.SMTP_REQUIRE_TLS, ca: config.SMTP_TLS_CA ? readFileSync(config.SMTP_TLS_CA) : undefined };
  if (config.SMTP_URLS) return createRelayMailer(relayMailerConfig(config, tls), { db: db.pool, log });
  if (!config.SMTP_URL) return createOutboxMailer(config.DATA_DIR);
  return createSmtpMailer(config.SMTP_URL, config.SMTP_POOL_SIZE, tls);
}

/** SMTP_URLS and the RELAY_* and DOMAIN_* settings as the relay mailer takes them (src/relays). */
function relayMailerConfig(config: Config, tls: RelayTls): RelayMailerConfig {
  return {
    relays: parseRelayUrls(config.SMTP_URLS as string, config.SMTP_POOL_SIZE), tls,
    pauseAfterFailures: config.RELAY_PAUSE_AFTER_FAILURES, cooldownSeconds: config.RELAY_COOLDOWN_SECONDS, refreshMs: config.RELAY_STATE_REFRESH_MS,
    domainConcurrency: config.DOMAIN_CONCURRENCY, domainLimits: parseDomainLimits(config.DOMAIN_CONCURRENCY_OVERRIDES),
    backoffBaseSeconds: config.DOMAIN_BACKOFF_BASE_SECONDS, backoffMaxSeconds: config.DOMAIN_BACKOFF_MAX_SECONDS,
  };
}

/** Logs, at every start, each insecure setting ALLOW_INSECURE_LINKS lets through, and mail to the relay in clear. */
function warnInsecure(config: Config, log: Logger): void {
  for (const l of config.insecureLinks) log.warn({ variable: l.variable }, `insecure links allowed by ALLOW_INSECURE_LINKS: ${l.variable} ${l.problem}`);
  if ((config.SMTP_URL ?? config.SMTP_URLS)?.startsWith('smtp:') && !config.SMTP_REQUIRE_TLS) log.warn('SMTP_REQUIRE_TLS=false: mail goes to the relay in clear when it does not offer STARTTLS');
}

/** TRUST_PROXY as express's `trust proxy` setting: false for none, a hop count, or the list of addresses and subnets. */
function trustProxy(v: string): boolean | number | string {
  if (v === 'none') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}

function buildApp(deps: AppDeps, modules: Module[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy(deps.config.TRUST_PROXY));
  app.use(requestLog(deps.log, deps.metrics.httpDuration));
  // Bodies are read inside Api.route, after authentication and the scope check (never for a caller without a key).
  // An API key, or a staff member's console session cookie (issue 19; X-CSRF-Token on every change).
  const authenticate = keyOrSessionAuthenticator(apiKeyAuthenticator((keyHash) => findApiKey(deps.db, keyHash)), staffSessionLookup(deps));
  const api = new Api(authenticate, { maxBodyBytes: deps.config.MAX_BODY_BYTES, idempotency: idempotencyStore(deps.db), audit: staffAudit(deps) });
  const pages = express.Router();
  for (const m of modules) m.routes?.(api, pages);
  app.use(opsRouter({ db: deps.db, metrics: deps.metrics, api, publicUrl: deps.config.PUBLIC_URL, dataDir: deps.config.DATA_DIR, outbox: deps.mailer.mode === 'outbox',
    authenticate, tenantMessages: (tenantId, ids) => deps.db.withTenant(tenantId, (c) => tenantMessageIds(c, ids)) }));
  app.use(api.router);
  app.use('/api', apiNotFound(api));
  app.use(consoleRouter(CONSOLE_DIST));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }), pages, pageErrors);
  app.use(notFoundPage);
  app.use(errorHandler(deps.log));
  return app;
}

async function listen(app: express.Express, port: number, host: string): Promise<http.Server> {
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => resolve()); });
  return server;
}

/** A URL this machine can reach a server bound to `host` on: loopback for a wildcard bind. */
export function localUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** In-flight work (sends, job handlers) gets this long after a stop begins, in milliseconds; then the relay connections still delivering are closed. */
export const STOP_GRACE_MS = 2500;
/** After that close, how long the deferred outcomes get to be written, in milliseconds. */
const STOP_ABORT_MS = 1000;
/** The most the queue and the pool each get to close, in milliseconds. */
const STOP_STEP_MS = 1200;
/** The whole stop, in milliseconds: the embedded PostgreSQL's fast shutdown gets what is left of it (at least 0.5 s), then it shuts down immediately. */
const STOP_BUDGET_MS = 4500;

/** What a Postgate has started so far: stopped by stopParts, the database last (also after a failed start). */
interface Parts {
  database?: Database;
  /** Whether this start opened the database (a failed start stops only what it started). */
  ownDatabase: boolean;
  db?: Db; boss?: Boss; mailer?: Mailer; modules: Module[]; httpServer?: http.Server | null; dispatcher?: Dispatcher | null;
}

/** Whether `p` settles within `ms` milliseconds (it is never rejected here). */
async function within(p: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!p) return true;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); })]);
  clearTimeout(timer);
  return done;
}

/**
 * Stops in this order, in under 5 s however slow the relay is: stop taking work (HTTP, inbound SMTP,
 * queue workers, the dispatcher, all at once) and give in-flight sends STOP_GRACE_MS; then close the
 * relay connections still delivering (those sends are recorded as deferred and retried; a row whose
 * outcome could still not be written stays leased and is reclaimed after the lease, as after a crash);
 * then pg-boss, the pool, and the embedded PostgreSQL last (fast shutdown), so every ledger write
 * above has a database to go to.
 */
async function stopParts(p: Parts, log: Logger, why: 'stop' | 'failed start'): Promise<void> {
  const httpClosed = new Promise<void>((resolve) => {
    const s = p.httpServer;
    if (!s) return resolve();
    s.close(() => resolve());
    s.closeAllConnections();
  });
  const quiet = Promise.allSettled([httpClosed, ...p.modules.map((m) => Promise.resolve().then(() => m.stop?.())), p.dispatcher?.stop()]);
  const t0 = Date.now();
  const embedded = why === 'stop' || p.ownDatabase ? p.database?.embedded : undefined;
  void embedded?.checkpoint(); // flushes while the work settles, so the shutdown checkpoint is short
  const step = (what: string) => log.debug({ ms: Date.now() - t0, why }, `stop: ${what}`);
  if (!(await within(quiet, STOP_GRACE_MS))) {
    step('grace period over; closing relay connections still delivering');
    p.mailer?.abort?.();
    if (!(await within(quiet, STOP_ABORT_MS))) log.warn('stop: some in-flight work did not finish; its messages stay leased and are retried after the lease');
  }
  step('no more work taken; in-flight work settled');
  // From here on the queue's connections are closed under it, by its own stop or the database's: expected, no warning.
  p.boss?.removeAllListeners('error').on('error', (err: Error) => log.debug({ err: err.message }, 'queue error while stopping'));
  await within(p.boss?.stop({ graceful: true, timeout: 1000, wait: true }), STOP_STEP_MS);
  step('queue stopped');
  p.mailer?.close();
  await within(p.db?.close(), STOP_STEP_MS);
  step('pool closed');
  await embedded?.stop({ fastMs: Math.max(500, STOP_BUDGET_MS - (Date.now() - t0)) });
  step('database stopped');
}

/** A start failure as one line: a port in use names its variable. */
function startFailure(err: unknown, config: Config): Error {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code === 'EADDRINUSE') {
    const variable = e.port === config.INBOUND_SMTP_PORT ? 'INBOUND_SMTP_PORT' : 'PORT';
    return new Error(`cannot listen on port ${e.port ?? config.PORT} (${variable}): it is already in use; stop what listens there or set ${variable}`);
  }
  if (e?.syscall === 'getaddrinfo' || e?.code === 'EADDRNOTAVAIL') {
    return new Error(`cannot listen on HOST ${config.HOST}: ${e.code === 'EADDRNOTAVAIL' ? 'not an address of this machine' : 'no such host'}; set HOST to an address of this machine`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Starts Postgate with the given roles. In tests, called with overrides instead of the environment.
 * A start that fails stops whatever it had started (the database it opened last) and throws one
 * Error (a port in use names PORT or INBOUND_SMTP_PORT).
 */
export async function startPostgate(config: Config, roles: Roles, opts: { log?: Logger; database?: Database } = {}): Promise<Postgate> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const parts: Parts = { ownDatabase: !opts.database, modules: [] };
  try {
    return await assemble(config, roles, log, opts, parts);
  } catch (err) {
    await stopParts(parts, log, 'failed start');
    throw startFailure(err, config);
  }
}

async function assemble(config: Config, roles: Roles, log: Logger, opts: { database?: Database }, parts: Parts): Promise<Postgate> {
  warnInsecure(config, log);
  const database = opts.database ?? await openDatabase(config, log);
  parts.database = database;
  // Migrations and pg-boss's schema as the owner; every run-time connection as the runtime login:
  // the pool's transactions on the pooled URL (PgBouncer), session connections (LISTEN, pg-boss) direct.
  const runtime = await prepareRuntime(database, MIGRATIONS_DIR, log);
  const tokens = await loadTokenKeys(runtime.pooled, config.TOKEN_KEYS);
  const db = createDb(runtime.pooled, { max: roles.worker ? 20 : 10, log, directUrl: runtime.direct });
  parts.db = db;
  const boss = await startQueue(runtime.direct, log, { supervise: roles.worker, schedule: roles.worker, migrate: false });
  parts.boss = boss;
  const mailer = createMailer(config, db, log);
  parts.mailer = mailer;
  const metrics = createMetrics();
  const renderers = new RendererRegistry();
  // MJML takes seconds to load: for the API the compile thread starts now, not at the first template.
  // A worker-only process compiles each template version once: its thread boots then and exits when
  // idle (~80 MB of RSS). The idle thread does not keep the process alive; it is shared by every Postgate of this process.
  if (roles.web) warmTemplatePool();
  // A 5xx at send time goes to the modules that handle it (bounces), passed in here: explicit wiring, no event bus.
  let modules: Module[] = [];
  const delivery = new Delivery({ mailer, tokens, log, counters: metrics.sendCounters,
    config: { bounceDomain: config.BOUNCE_DOMAIN, retryBaseSeconds: config.RETRY_BASE_SECONDS, maxAttempts: config.MAX_ATTEMPTS },
    onPermanentFailure: async (tenantId, messageId, outcome) => { for (const m of modules) await m.onPermanentFailure?.(tenantId, messageId, outcome); } });
  const sender = new Sender({ db, delivery, tokens, renderers, config: {
    publicUrl: config.PUBLIC_URL, bodyRetentionDays: config.BODY_RETENTION_DAYS, leaseSeconds: config.SEND_LEASE_SECONDS } });
  const dns = createDnsLookup({ servers: parseDnsServers(config.DNS_SERVERS) });
  const deps: AppDeps = { config, log, db, boss, mailer, tokens, renderers, delivery, metrics, roles, dns };
  modules = MODULES.map((factory) => factory(deps));
  parts.modules = modules;
  for (const m of modules) m.renderers?.(renderers);

  let httpServer: http.Server | null = null;
  if (roles.web) httpServer = await listen(buildApp(deps, modules), config.PORT, config.HOST);
  parts.httpServer = httpServer;
  let dispatcher: Dispatcher | null = null;
  if (roles.worker) {
    for (const m of modules) await m.workers?.();
    dispatcher = new Dispatcher(db, sender, log, { url: db.directUrl, concurrency: config.SEND_CONCURRENCY, leaseSeconds: config.SEND_LEASE_SECONDS });
    parts.dispatcher = dispatcher;
    await dispatcher.start();
  }
  for (const m of modules) await m.start?.();
  const port = httpServer ? (httpServer.address() as { port: number }).port : null;
  const url = port === null ? null : localUrl(config.HOST, port);
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= stopParts(parts, log, 'stop'));
  return { config, deps, url, httpServer, inboundPort: inboundListenerPort(deps), stop };
}

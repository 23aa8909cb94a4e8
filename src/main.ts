// Composition root: config → database (embedded or DATABASE_URL) → pools → services → HTTP server
// and workers. The only module that reads process.env.
import http from 'node:http';
import path from 'node:path';
import express from 'express';
import { loadConfig, projectRoot, type Config, type RawConfig } from './config.js';
import type { AppDeps, Module, Roles } from './deps.js';
import { createDb, migrate } from './platform/db.js';
import { startEmbeddedPostgres, type EmbeddedHandle } from './platform/embedded-postgres.js';
import { warmTemplatePool } from './mail/template-pool.js';
import { Api, apiKeyAuthenticator, apiNotFound, errorHandler, notFoundPage, requestLog } from './platform/http.js';
import { idempotencyStore } from './platform/idempotency.js';
import { createLogger, type Logger } from './platform/log.js';
import { createMetrics } from './platform/metrics.js';
import { opsRouter } from './platform/ops.js';
import { startQueue } from './platform/queue.js';
import { loadTokenKeys } from './platform/secrets.js';
import { createOutboxMailer, createSmtpMailer, type Mailer } from './platform/smtp.js';
import { Dispatcher } from './mail/dispatcher.js';
import { RendererRegistry } from './mail/renderers.js';
import { Delivery } from './mail/delivery.js';
import { Sender } from './mail/sender.js';
import { tenantsModule } from './tenants/module.js';
import { findApiKey } from './tenants/store.js';
import { consentModule } from './consent/module.js';
import { transactionalModule } from './transactional/module.js';
import { campaignsModule } from './campaigns/module.js';
import { unsubscribeModule } from './unsubscribe/module.js';
import { dataRightsModule } from './data-rights/module.js';
import { bouncesModule, inboundListenerPort } from './bounces/module.js';
import { maintenanceModule } from './maintenance.js';

export const MIGRATIONS_DIR = path.join(projectRoot, 'migrations');
const MODULES = [tenantsModule, consentModule, transactionalModule, campaignsModule, unsubscribeModule, dataRightsModule, bouncesModule, maintenanceModule];

export function configFromEnv(overrides: Partial<RawConfig> = {}): Config {
  return loadConfig(process.env, overrides);
}

export interface Database { ownerUrl: string; embedded: EmbeddedHandle | null }

/** DATABASE_URL when set; otherwise the embedded cluster under DATA_DIR (started, or reused if running). */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  if (config.DATABASE_URL) return { ownerUrl: config.DATABASE_URL, embedded: null };
  const embedded = await startEmbeddedPostgres(config.DATA_DIR, log);
  return { ownerUrl: embedded.url, embedded };
}

export interface Postgate {
  config: Config; deps: AppDeps; url: string | null; httpServer: http.Server | null; inboundPort: number | null;
  stop(): Promise<void>;
}

function createMailer(config: Config): Mailer {
  return config.SMTP_URL ? createSmtpMailer(config.SMTP_URL, config.SMTP_POOL_SIZE) : createOutboxMailer(config.DATA_DIR);
}

function buildApp(deps: AppDeps, modules: Module[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestLog(deps.log, deps.metrics.httpDuration));
  // Bodies are read inside Api.route, after authentication and the scope check (never for a caller without a key).
  const api = new Api(apiKeyAuthenticator((keyHash) => findApiKey(deps.db, keyHash)),
    { maxBodyBytes: deps.config.MAX_BODY_BYTES, idempotency: idempotencyStore(deps.db) });
  const pages = express.Router();
  for (const m of modules) m.routes?.(api, pages);
  app.use(opsRouter({ db: deps.db, metrics: deps.metrics, api, publicUrl: deps.config.PUBLIC_URL, dataDir: deps.config.DATA_DIR, outbox: deps.mailer.mode === 'outbox' }));
  app.use(api.router);
  app.use('/api', apiNotFound(api));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }), pages);
  app.use(notFoundPage);
  app.use(errorHandler(deps.log));
  return app;
}

async function listen(app: express.Express, port: number): Promise<http.Server> {
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, () => resolve()); });
  return server;
}

/** Starts Postgate with the given roles. In tests, called with overrides instead of the environment. */
export async function startPostgate(config: Config, roles: Roles, opts: { log?: Logger; database?: Database } = {}): Promise<Postgate> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const database = opts.database ?? await openDatabase(config, log);
  await migrate(database.ownerUrl, MIGRATIONS_DIR, log);
  const tokens = await loadTokenKeys(database.ownerUrl, config.TOKEN_KEYS);
  const db = createDb(database.ownerUrl, { max: roles.worker ? 20 : 10, log });
  const boss = await startQueue(database.ownerUrl, log, { supervise: roles.worker, schedule: roles.worker });
  const mailer = createMailer(config);
  const metrics = createMetrics();
  const renderers = new RendererRegistry();
  // MJML takes seconds to load: the compile thread starts now, not at the first template. Its idle
  // thread does not keep the process alive, and it is shared by every Postgate of this process.
  if (roles.web || roles.worker) warmTemplatePool();
  // A 5xx at send time goes to the modules that handle it (bounces), passed in here: explicit wiring, no event bus.
  let modules: Module[] = [];
  const delivery = new Delivery({ mailer, tokens, log, counters: metrics.sendCounters,
    config: { bounceDomain: config.BOUNCE_DOMAIN, retryBaseSeconds: config.RETRY_BASE_SECONDS, maxAttempts: config.MAX_ATTEMPTS },
    onPermanentFailure: async (tenantId, messageId, outcome) => { for (const m of modules) await m.onPermanentFailure?.(tenantId, messageId, outcome); } });
  const sender = new Sender({ db, delivery, tokens, renderers, config: {
    publicUrl: config.PUBLIC_URL, bodyRetentionDays: config.BODY_RETENTION_DAYS, leaseSeconds: config.SEND_LEASE_SECONDS } });
  const deps: AppDeps = { config, log, db, boss, mailer, tokens, renderers, delivery, metrics, roles };
  modules = MODULES.map((factory) => factory(deps));
  for (const m of modules) m.renderers?.(renderers);

  let httpServer: http.Server | null = null;
  if (roles.web) httpServer = await listen(buildApp(deps, modules), config.PORT);
  let dispatcher: Dispatcher | null = null;
  if (roles.worker) {
    for (const m of modules) await m.workers?.();
    dispatcher = new Dispatcher(db, sender, log, { url: database.ownerUrl, concurrency: config.SEND_CONCURRENCY, leaseSeconds: config.SEND_LEASE_SECONDS });
    await dispatcher.start();
  }
  for (const m of modules) await m.start?.();
  const port = httpServer ? (httpServer.address() as { port: number }).port : null;
  const url = port === null ? null : `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= (async () => {
    await new Promise<void>((resolve) => { if (!httpServer) return resolve(); httpServer.close(() => resolve()); httpServer.closeAllConnections(); });
    for (const m of modules) await m.stop?.();
    await dispatcher?.stop();
    await boss.stop({ graceful: true, timeout: 10_000, wait: true }).catch(() => undefined);
    mailer.close();
    await db.close();
    await database.embedded?.stop();
  })());
  return { config, deps, url, httpServer, inboundPort: inboundListenerPort(deps), stop };
}

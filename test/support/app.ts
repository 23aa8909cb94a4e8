// Starts a real Postgate (HTTP server + workers) on a fresh database and a real SMTP sink.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type RawConfig } from '../../src/config.js';
import type { Roles } from '../../src/deps.js';
import { startPostgate, type Postgate } from '../../src/main.js';
import { createLogger } from '../../src/platform/log.js';
import { createTenant } from '../../src/tenants/store.js';
import { createApiKey } from '../../src/tenants/api-keys.js';
import { vouchDomain } from '../../src/tenants/domains.js';
import { addressDomain } from '../../src/policy/domains.js';
import type { Scope } from '../../src/platform/http.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { appDatabaseEnv } from './external-pg.js';
import { startSmtpSink, type SinkOptions, type SmtpSink } from './smtp-sink.js';

export interface TestApp {
  pg: Postgate; url: string; db: TestDatabase; sink: SmtpSink;
  /** Creates a tenant with a full sender identity and an all-scopes key. */
  tenant(overrides?: TenantOverrides): Promise<TestTenant>;
  stop(): Promise<void>;
}
export type TenantOverrides = Partial<{ name: string; fromEmail: string; replyTo: string; postalAddress: string | null; scopes: Scope[] }>;
export interface TestTenant {
  id: string; key: string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
}

export interface TestAppOptions { config?: Partial<RawConfig>; roles?: Partial<Roles>; sink?: SinkOptions; database?: TestDatabase; smtp?: boolean }

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const db = opts.database ?? await createTestDatabase();
  const sink = await startSmtpSink(opts.sink);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-app-'));
  const config = loadConfig({}, {
    ...appDatabaseEnv(db.url), DATA_DIR: dataDir, PORT: 0, PUBLIC_URL: 'https://postgate.test', SMTP_URL: opts.smtp === false ? undefined : sink.url,
    BOUNCE_DOMAIN: 'bounces.postgate.test', SMTP_REQUIRE_TLS: false, // the plain sink offers no STARTTLS (test/relay-tls.test.ts covers TLS)
    LOG_LEVEL: 'silent', TOKEN_KEYS: 'k1:test-secret-key-0123456789', INBOUND_SMTP_PORT: 0, RETRY_BASE_SECONDS: 0.2,
    ...opts.config,
  });
  const roles: Roles = { web: true, worker: true, inbound: true, ...opts.roles };
  const pg = await startPostgate(config, roles, { log: createLogger('silent', false) }).catch(async (err: unknown) => {
    await sink.close();
    if (!opts.database) await db.drop();
    throw err;
  });
  const url = pg.url as string;
  const app: TestApp = {
    pg, url, db, sink,
    async tenant(o = {}) {
      const id = randomUUID();
      await createTenant(pg.deps.db, {
        name: o.name ?? 'Acme', fromEmail: o.fromEmail ?? 'news@acme.org', fromName: 'Acme News',
        replyTo: o.replyTo ?? 'support@acme.org', postalAddress: o.postalAddress === undefined ? '1 Main Street, Springfield' : o.postalAddress,
      }, id);
      await vouchAsOperator(pg, id, addressDomain(o.fromEmail ?? 'news@acme.org'));
      const key = (await pg.deps.db.withTenant(id, (c) => createApiKey(c, id, o.scopes ?? ['subscribers', 'transactional', 'campaigns', 'admin']))).key;
      return { id, key, api: (method, p, body, headers) => request(url, key, method, p, body, headers) };
    },
    async stop() {
      await pg.stop();
      await sink.close();
      if (!opts.database) await db.drop();
    },
  };
  return app;
}

/**
 * The operator vouches for a domain of the tenant (as `postgate domain add --verified` does): the
 * tenant may then use it for From, its bounce domain and DKIM. tenant() does it for the fromEmail's domain.
 */
export async function vouchAsOperator(pg: Postgate, tenantId: string, domain: string): Promise<void> {
  await pg.deps.db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, domain));
}

export interface UseAppOptions extends TestAppOptions {
  /** The first tenant, `t` (default: app.tenant()'s Acme); false for none. */
  tenant?: TenantOverrides | false;
}
export interface AppHandle {
  /** The running app; usable from the test file's own beforeAll hooks (registered after useApp) on. */
  app: TestApp;
  /** The first tenant. */
  t: TestTenant;
  /** Another tenant, made in the same beforeAll after `t`, in the order asked. Call at file or describe level. */
  tenant(overrides?: TenantOverrides): TestTenant;
}

/**
 * Starts a test app (and a tenant) in beforeAll and stops it in afterAll, for the file or describe
 * block it is called in. Options may be a function, evaluated in beforeAll, when they depend on
 * something an earlier hook starts (a fault SMTP server, say).
 *
 *   const { app, t } = useApp({ config: { PAUSE_MIN_SENT: 10 } });
 *   const other = tenant({ name: 'Other' }); // from const { app, t, tenant } = useApp()
 */
export function useApp(options: UseAppOptions | (() => UseAppOptions | Promise<UseAppOptions>) = {}): AppHandle {
  let app: TestApp | undefined;
  let started = false;
  const tenants: { overrides: TenantOverrides; value?: TestTenant }[] = [];
  const first: { overrides: TenantOverrides; value?: TestTenant } = { overrides: {} };

  beforeAll(async () => {
    const o = typeof options === 'function' ? await options() : options;
    const { tenant, ...appOptions } = o;
    app = await startTestApp(appOptions);
    started = true;
    if (tenant !== false) { first.overrides = tenant ?? {}; first.value = await app.tenant(first.overrides); }
    for (const x of tenants) x.value = await app.tenant(x.overrides);
  });
  afterAll(async () => { await app?.stop(); });

  return {
    app: late(() => app, 'app'),
    t: late(() => first.value, 't (useApp with tenant: false has none)'),
    tenant(overrides = {}) {
      if (started) throw new Error('useApp().tenant() is for file or describe level; inside a hook or test use app.tenant()');
      const x: { overrides: TenantOverrides; value?: TestTenant } = { overrides };
      tenants.push(x);
      return late(() => x.value, 'tenant');
    },
  };
}

/** An object that stands for one made later (in beforeAll): every property is read from it. */
function late<T extends object>(get: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get(_, key) {
      const target = get();
      if (!target) {
        if (key === 'then' || typeof key === 'symbol') return undefined;
        throw new Error(`useApp: ${what} is used before useApp's beforeAll ran`);
      }
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    set(_, key, value) { const target = get(); if (!target) return false; return Reflect.set(target, key, value); },
    has(_, key) { const target = get(); return target ? key in target : false; },
    ownKeys() { const target = get(); return target ? Reflect.ownKeys(target) : []; },
    getOwnPropertyDescriptor(_, key) { const target = get(); return target ? Reflect.getOwnPropertyDescriptor(target, key) : undefined; },
  });
}

export async function request(base: string, key: string | null, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const h: Record<string, string> = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (body !== undefined) { payload = typeof body === 'string' ? body : JSON.stringify(body); h['content-type'] ??= 'application/json'; }
  const res = await fetch(base + p, { method, headers: h, body: payload, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : null; } catch { /* HTML or text */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

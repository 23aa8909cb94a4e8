// What both screenshot scripts (page-screenshots.ts, console-screenshots.ts) stand on: Postgate on its
// embedded PostgreSQL in a throw-away DATA_DIR, the test SMTP sink as its relay, the Northwind Coffee
// tenant (its domain vouched for, an API key), and Debian's chromium. Nothing leaves the machine.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig, type RawConfig } from '../src/config.js';
import { startPostgate, type Postgate } from '../src/main.js';
import type { Scope } from '../src/platform/http.js';
import { createLogger } from '../src/platform/log.js';
import { createApiKey } from '../src/tenants/api-keys.js';
import { vouchDomain } from '../src/tenants/domains.js';
import { createTenant } from '../src/tenants/store.js';
import { startSmtpSink, type SinkOptions, type SmtpSink } from '../test/support/smtp-sink.js';

export const PUBLIC_URL = 'https://postgate.test';

export interface Showcase { pg: Postgate; sink: SmtpSink; dataDir: string; url: string; key: string; tenantId: string }

/** Starts Postgate and the sink and makes the tenant with a key of `scopes`; `config` adds settings. */
export async function startShowcase(o: { scopes: Scope[]; sink?: SinkOptions; config?: Partial<RawConfig> }): Promise<Showcase> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-screenshots-'));
  const sink = await startSmtpSink(o.sink);
  const config = loadConfig({}, {
    DATA_DIR: dataDir, PORT: 0, PUBLIC_URL, SMTP_URL: sink.url, SMTP_REQUIRE_TLS: false, BOUNCE_DOMAIN: 'bounces.postgate.test',
    LOG_LEVEL: 'silent', TOKEN_KEYS: `k1:${randomUUID()}${randomUUID()}`, INBOUND_SMTP_PORT: 0, ...o.config,
  });
  const pg = await startPostgate(config, { web: true, worker: true, inbound: false }, { log: createLogger('silent', false) });
  const tenantId = randomUUID();
  await createTenant(pg.deps.db, { name: 'Northwind Coffee', fromEmail: 'news@northwind-coffee.com', fromName: 'Northwind Coffee',
    replyTo: 'hello@northwind-coffee.com', postalAddress: 'Hafenstraße 12, 20457 Hamburg, Germany' }, tenantId);
  const key = await pg.deps.db.withTenant(tenantId, async (c) => {
    await vouchDomain(c, tenantId, 'northwind-coffee.com');
    return (await createApiKey(c, tenantId, o.scopes)).key;
  });
  return { pg, sink, dataDir, url: pg.url as string, key, tenantId };
}

/** Debian's chromium, headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
}

/** Closes the browser, stops Postgate and the sink, and removes the DATA_DIR. */
export async function stopShowcase(s: Showcase, browser: Browser): Promise<void> {
  await browser.close();
  await s.pg.stop();
  await s.sink.close();
  await rm(s.dataDir, { recursive: true, force: true });
}

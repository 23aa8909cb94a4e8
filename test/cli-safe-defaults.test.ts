// Safe production defaults as a real `postgate` process sees them (src/cli.ts serve, src/config.ts):
// relaying with an http PUBLIC_URL refuses to start in one line; ALLOW_INSECURE_LINKS=1 starts and
// warns at every start; the banner says where it listens (127.0.0.1 when nothing is relayed).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { killAll, startProcess } from './support/processes.js';
import { startSmtpSink, type SmtpSink } from './support/smtp-sink.js';

const BIN = path.join(projectRoot, 'bin', 'postgate.js');
let db: TestDatabase;
let sink: SmtpSink;

beforeAll(async () => { db = await createTestDatabase(); sink = await startSmtpSink(); });
afterAll(async () => { await killAll(); await sink.close(); await db.drop(); });

/** The environment without any Postgate setting inherited from the test runner, plus `env`. */
function envWith(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(DATABASE_|SMTP_|PUBLIC_URL|BOUNCE_DOMAIN|HOST|ALLOW_|INBOUND_|TOKEN_KEYS|PORT|DATA_DIR)/.test(k)) out[k] = v;
  return { ...out, LOG_LEVEL: 'warn', ...env };
}

describe('relaying with insecure links', () => {
  it('refuses to start with an http PUBLIC_URL and SMTP_URL, in one line naming PUBLIC_URL', () => {
    const r = spawnSync(process.execPath, [BIN, 'web'], {
      env: envWith({ SMTP_URL: sink.url, PUBLIC_URL: 'http://mail.example.org', BOUNCE_DOMAIN: 'bounces.example.org', DATABASE_URL: db.url }),
      encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^postgate: invalid configuration: PUBLIC_URL is http, not https; .*ALLOW_INSECURE_LINKS=1/);
    expect(r.stdout).not.toContain('Postgate is running');
  });

  it('refuses the default BOUNCE_DOMAIN (bounces.postgate.localhost) with SMTP_URL', () => {
    const r = spawnSync(process.execPath, [BIN, 'web'], {
      env: envWith({ SMTP_URL: sink.url, PUBLIC_URL: 'https://mail.example.org', DATABASE_URL: db.url }), encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^postgate: invalid configuration: BOUNCE_DOMAIN bounces\.postgate\.localhost is not a public domain name/);
  });

  it('with ALLOW_INSECURE_LINKS=1 starts, and warns at every start naming what is insecure', async () => {
    for (let start = 0; start < 2; start++) {
      const p = await startProcess('web', { databaseUrl: db.url, smtpUrl: sink.url,
        env: { PUBLIC_URL: 'http://localhost:9', BOUNCE_DOMAIN: 'bounces.postgate.localhost', ALLOW_INSECURE_LINKS: '1' } });
      const out = p.output();
      expect(out).toContain('insecure links allowed by ALLOW_INSECURE_LINKS: PUBLIC_URL is http, not https');
      expect(out).toContain('BOUNCE_DOMAIN bounces.postgate.localhost is not a public domain name (allowed by ALLOW_INSECURE_LINKS)');
      await p.stop();
    }
  }, 90_000);
});

describe('the start banner', () => {
  it('says where each listener is bound: this machine only when nothing is relayed', async () => {
    const p = await startProcess('start', { databaseUrl: db.url });
    const port = new URL(p.url!).port;
    expect(p.output()).toContain(`(listening on 127.0.0.1:${port}, this machine only)`);
    expect(p.output()).toMatch(/Bounce SMTP: +listening on 127\.0\.0\.1:\d+, this machine only, STARTTLS not offered \(no INBOUND_TLS_CERT\)/);
    await p.stop();
  }, 60_000);

  it('says mail to the relay needs STARTTLS (relaying binds 0.0.0.0)', async () => {
    const p = await startProcess('web', { databaseUrl: db.url, smtpUrl: sink.url, env: { SMTP_REQUIRE_TLS: 'true' } });
    expect(p.output()).toMatch(/listening on 0\.0\.0\.0:\d+\)/);
    expect(p.output()).toContain('relayed through SMTP_URL (STARTTLS required)');
    await p.stop();
  }, 60_000);
});

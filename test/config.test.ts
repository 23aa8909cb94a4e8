// Safe production defaults in the configuration (issue 15): relayed mail refuses insecure links
// unless ALLOW_INSECURE_LINKS says otherwise, the listening address follows what is relayed, and the
// TLS settings name readable files. Pure checks (isRealDomain, insecureLinks) and loadConfig's one line.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, insecureLinks, isRealDomain, loadConfig } from '../src/config.js';

const RELAY = { SMTP_URL: 'smtp://relay.example.org:587' };
const SAFE = { ...RELAY, PUBLIC_URL: 'https://mail.example.org', BOUNCE_DOMAIN: 'bounces.example.org' };

/** loadConfig's error message, or null when it loads. */
function refusal(env: Record<string, string>): string | null {
  try { loadConfig(env); return null; } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
}

describe('isRealDomain', () => {
  it.each(['example.org', 'mail.example.co.uk', 'postgate.test', 'bounces.postgate.test', 'EXAMPLE.ORG.', 'xn--bcher-kva.example'])('accepts %s', (name) => {
    expect(isRealDomain(name)).toBe(true);
  });
  it.each(['localhost', 'app.localhost', 'bounces.postgate.localhost', 'printer.local', 'box.localdomain', 'db.internal',
    'x.invalid', 'nas.home.arpa', 'intranet', '127.0.0.1', '10.1.2.3', '192.0.2.2', '[::1]', '::1', 'fd00::2', '127.1', 'a.b.123'])('refuses %s', (name) => {
    expect(isRealDomain(name)).toBe(false);
  });
});

describe('insecureLinks (pure)', () => {
  it('finds nothing when nothing is relayed, whatever the links', () => {
    expect(insecureLinks({ PUBLIC_URL: 'http://localhost:3000', BOUNCE_DOMAIN: 'bounces.postgate.localhost' })).toEqual([]);
  });

  it('names each insecure variable of a relaying install', () => {
    expect(insecureLinks({ ...RELAY, PUBLIC_URL: 'http://localhost:3000', BOUNCE_DOMAIN: 'bounces.postgate.localhost' })).toEqual([
      { variable: 'PUBLIC_URL', problem: 'is http, not https' },
      { variable: 'PUBLIC_URL', problem: 'host localhost is not a public domain name' },
      { variable: 'BOUNCE_DOMAIN', problem: 'bounces.postgate.localhost is not a public domain name' },
    ]);
    expect(insecureLinks({ ...RELAY, PUBLIC_URL: 'https://10.0.0.5', BOUNCE_DOMAIN: 'bounces.example.org' }))
      .toEqual([{ variable: 'PUBLIC_URL', problem: 'host 10.0.0.5 is not a public domain name' }]);
    expect(insecureLinks({ ...RELAY, PUBLIC_URL: 'https://mail.example.org:8443', BOUNCE_DOMAIN: 'bounces.example.org' })).toEqual([]);
  });
});

describe('loadConfig: relayed mail refuses insecure links', () => {
  it('refuses an http PUBLIC_URL with SMTP_URL, in one line naming the variable', () => {
    const m = refusal({ ...SAFE, PUBLIC_URL: 'http://mail.example.org' });
    expect(m).toMatch(/^invalid configuration: PUBLIC_URL is http, not https; /);
    expect(m).toContain('ALLOW_INSECURE_LINKS=1');
    expect(m).not.toContain('\n');
  });

  it('refuses the defaults (http://localhost, bounces.postgate.localhost) once SMTP_URL is set', () => {
    expect(refusal(RELAY)).toMatch(/^invalid configuration: PUBLIC_URL /);
    expect(refusal({ ...RELAY, PUBLIC_URL: 'https://mail.example.org' })).toMatch(/^invalid configuration: BOUNCE_DOMAIN bounces\.postgate\.localhost is not a public domain name/);
    expect(refusal({ ...SAFE, PUBLIC_URL: 'https://127.0.0.1:3000' })).toMatch(/^invalid configuration: PUBLIC_URL host 127\.0\.0\.1 /);
    expect(refusal({ ...SAFE, BOUNCE_DOMAIN: 'bounces.corp.internal' })).toMatch(/^invalid configuration: BOUNCE_DOMAIN /);
  });

  it('loads a safe relaying configuration, and the local defaults without SMTP_URL', () => {
    expect(refusal(SAFE)).toBeNull();
    expect(loadConfig(SAFE).insecureLinks).toEqual([]);
    expect(refusal({})).toBeNull();
  });

  it('with ALLOW_INSECURE_LINKS=1 loads, and says what is insecure (main.ts logs it at every start)', () => {
    const c = loadConfig({ ...RELAY, ALLOW_INSECURE_LINKS: '1' });
    expect(c.insecureLinks.map((l) => l.variable)).toEqual(['PUBLIC_URL', 'PUBLIC_URL', 'BOUNCE_DOMAIN']);
    expect(refusal({ ...RELAY, ALLOW_INSECURE_LINKS: 'yes' })).toMatch(/^invalid configuration: ALLOW_INSECURE_LINKS must be true, false, 1 or 0/);
    expect(refusal({ ...RELAY, ALLOW_INSECURE_LINKS: '0' })).toMatch(/PUBLIC_URL/);
  });
});

describe('loadConfig: HOST', () => {
  it('defaults to 127.0.0.1 when nothing is relayed and 0.0.0.0 when SMTP_URL is set', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig(SAFE).HOST).toBe('0.0.0.0');
  });
  it('takes an address or host name, and refuses anything else naming HOST', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ ...SAFE, HOST: '10.0.0.5' }).HOST).toBe('10.0.0.5');
    expect(loadConfig({ HOST: '::' }).HOST).toBe('::');
    expect(loadConfig({ HOST: 'localhost' }).HOST).toBe('localhost');
    expect(refusal({ HOST: 'http://x' })).toMatch(/^invalid configuration: HOST must be an IP address or a host name/);
    expect(refusal({ HOST: '999.1.1.1' })).toMatch(/^invalid configuration: HOST must be an IP address or a host name/);
  });

  it('refuses a PUBLIC_URL whose host ends with a dot, and a BOUNCE_DOMAIN that is no domain name, naming the variable', () => {
    expect(refusal({ ...SAFE, PUBLIC_URL: 'https://mail.example.org./' })).toMatch(/^invalid configuration: PUBLIC_URL must not end its host name with a dot/);
    for (const d of ['..example.org', '-.example.org', '1.2.3.4', 'example']) {
      expect(refusal({ ...SAFE, BOUNCE_DOMAIN: d })).toMatch(/^invalid configuration: BOUNCE_DOMAIN must be a domain name/);
    }
  });
});

describe('loadConfig: TLS settings', () => {
  const file = path.join(os.tmpdir(), `postgate-config-test-${process.pid}.pem`);
  writeFileSync(file, 'not checked here, only read at start\n');

  it('requires TLS to the relay unless SMTP_REQUIRE_TLS=false', () => {
    expect(loadConfig(SAFE).SMTP_REQUIRE_TLS).toBe(true);
    expect(loadConfig({ ...SAFE, SMTP_REQUIRE_TLS: 'false' }).SMTP_REQUIRE_TLS).toBe(false);
    expect(refusal({ ...SAFE, SMTP_REQUIRE_TLS: 'no' })).toMatch(/^invalid configuration: SMTP_REQUIRE_TLS /);
  });

  it('refuses a TLS file it cannot read, naming the variable', () => {
    expect(refusal({ ...SAFE, SMTP_TLS_CA: '/nonexistent/ca.pem' })).toBe('invalid configuration: SMTP_TLS_CA cannot be read (ENOENT: "/nonexistent/ca.pem")');
    expect(refusal({ INBOUND_TLS_CERT: file, INBOUND_TLS_KEY: '/nonexistent/key.pem' })).toMatch(/^invalid configuration: INBOUND_TLS_KEY cannot be read/);
    expect(loadConfig({ ...SAFE, SMTP_TLS_CA: file }).SMTP_TLS_CA).toBe(file);
  });

  it('takes the inbound certificate and key together only', () => {
    expect(refusal({ INBOUND_TLS_CERT: file })).toMatch(/^invalid configuration: INBOUND_TLS_KEY is required with INBOUND_TLS_CERT/);
    expect(refusal({ INBOUND_TLS_KEY: file })).toMatch(/^invalid configuration: INBOUND_TLS_CERT is required with INBOUND_TLS_KEY/);
    expect(refusal({ INBOUND_TLS_CERT: file, INBOUND_TLS_KEY: file })).toBeNull();
  });
});

// The operator's side of sending domains as processes (the real CLI, DATABASE_URL pointing at a
// fresh test database): `tenant create` vouches for its --from-email domain, `domain add --verified`
// vouches for another, `domain list` shows them, `dkim generate --activate` makes a key active at
// once and prints its split TXT record; without --activate the key is pending.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { runCli, type CliResult } from '../support/processes.js';

let database: TestDatabase;
let dataDir: string;

function cli(...args: string[]): Promise<CliResult> {
  return runCli([...args], { DATABASE_URL: database.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', PUBLIC_URL: 'https://postgate.test' });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-domains-cli-'));
});
afterAll(async () => {
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('postgate domain and dkim generate', () => {
  it('vouches as the operator, lists domains, and activates a DKIM key at once with --activate', async () => {
    const made = await cli('tenant', 'create', '--name', 'Cli', '--from-email', 'news@cli-one.org', '--from-name', 'Cli News', '--reply-to', 'help@cli-one.org', '--json');
    expect(made.status, made.stderr).toBe(0);
    const tenant = JSON.parse(made.stdout).tenantId as string;
    expect(made.stderr).toBe('');
    // A second tenant on the same From domain: the operator may share it, and is told so.
    const second = await cli('tenant', 'create', '--name', 'Cli 2', '--from-email', 'other@cli-one.org', '--from-name', 'Cli Two', '--reply-to', 'help@cli-one.org', '--json');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('cli-one.org is also verified for another tenant');
    // Independent commands run side by side (each CLI process migrates and connects: seconds apiece).
    const [list, pending, later, noKey] = await Promise.all([
      cli('domain', 'list', '--tenant', tenant, '--json'),
      cli('domain', 'add', '--tenant', tenant, '--domain', 'Cli-Two.ORG'), // without --verified: pending, with the records
      cli('dkim', 'generate', '--tenant', tenant, '--selector', 's2'), // the From domain (vouched), without --activate: pending
      cli('dkim', 'generate', '--tenant', tenant, '--selector', 's1', '--domain', 'cli-three.org'), // never vouched for
    ]);
    // tenant create vouched for the --from-email domain (the list may or may not show cli-two.org yet: it runs alongside).
    expect(list.stdout.trim().split('\n').map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ domain: 'cli-one.org', state: 'verified', verifiedBy: 'operator' }));
    expect(pending.status, pending.stderr).toBe(0);
    expect(pending.stdout).toMatch(/^cli-two\.org {2}pending\n/);
    expect(pending.stdout).toMatch(/_postgate\.cli-two\.org\. IN TXT "postgate-verification=[0-9a-f]{32}"/);
    expect(pending.stdout).toContain('_dmarc.cli-two.org. IN TXT "v=DMARC1; p=none"');
    expect(pending.stdout).toContain('bounces.cli-two.org. IN MX 10 postgate.test.');
    expect(later.status, later.stderr).toBe(0);
    expect(later.stdout).toMatch(/^s2\._domainkey\.cli-one\.org\. IN TXT /);
    expect(later.stdout).toContain('; pending');
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toContain('cli-three.org is not a verified domain');

    const vouched = await cli('domain', 'add', '--tenant', tenant, '--domain', 'cli-two.org', '--verified');
    expect(vouched.status, vouched.stderr).toBe(0);
    expect(vouched.stdout).toMatch(/^cli-two\.org {2}verified \(operator\)\n/);

    const active = await cli('dkim', 'generate', '--tenant', tenant, '--selector', 's1', '--domain', 'cli-two.org', '--activate');
    expect(active.status, active.stderr).toBe(0);
    const line = active.stdout.trim();
    expect(line).toMatch(/^s1\._domainkey\.cli-two\.org\. IN TXT "v=DKIM1; k=rsa; p=[^"]+"( "[^"]+")+$/);
    const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    expect(strings.every((s) => s.length <= 255)).toBe(true);
    const [row] = await ownerQuery<{ state: string; public_key: string; activated_at: Date | null }>(database.url,
      "SELECT state, public_key, activated_at FROM dkim_keys WHERE tenant_id = $1 AND domain = 'cli-two.org' AND selector = 's1'", [tenant]);
    expect(row.state).toBe('active');
    expect(row.activated_at).not.toBeNull();
    expect(strings.join('')).toBe(`v=DKIM1; k=rsa; p=${row.public_key}`);

    const [again, listed] = await Promise.all([
      cli('dkim', 'generate', '--tenant', tenant, '--selector', 's1', '--domain', 'cli-two.org', '--activate'),
      cli('domain', 'list', '--tenant', tenant),
    ]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('selector_exists');
    expect(listed.stdout).toContain('cli-two.org  verified (operator)');
    const states = await ownerQuery<{ domain: string; selector: string; state: string }>(database.url,
      'SELECT domain, selector, state FROM dkim_keys WHERE tenant_id = $1 ORDER BY selector', [tenant]);
    expect(states).toEqual([{ domain: 'cli-two.org', selector: 's1', state: 'active' }, { domain: 'cli-one.org', selector: 's2', state: 'pending' }]);
  }, 300_000); // nine CLI processes in five rounds, each migrating and connecting (seconds apiece on a loaded machine)
});

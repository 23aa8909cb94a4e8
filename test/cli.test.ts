// The README's first command, as a process: `postgate start` on embedded defaults prints the URL,
// the outbox and (first start only) the path of the 0600 file holding an admin API key (never the
// key itself); a second start reuses the data; the CLI works against the same data while the
// service runs; a bad setting stops it with one line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitFor } from './support/wait.js';

const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'postgate.js');
let dataDir: string;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

function envFor(port: number, inbound: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), INBOUND_SMTP_PORT: String(inbound), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL; delete env.SMTP_URL; delete env.TOKEN_KEYS; delete env.PUBLIC_URL;
  return env;
}

async function startService(): Promise<{ child: ChildProcess; output: () => string; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin, 'start'], { env: envFor(port, await freePort()), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor(() => {
    if (out.includes('Postgate is running') && !(out.includes('First start') && !out.includes('Admin API key'))) return true;
    if (child.exitCode !== null) throw new Error(`exited early: ${out}`);
    return false;
  }, { timeout: 60_000, interval: 100, message: () => `no start banner: ${out}` });
  await sleep(200);
  return { child, output: () => out, port };
}

async function stopService(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

beforeAll(async () => { dataDir = await mkdtemp(path.join(os.tmpdir(), 'postgate-cli-')); });
afterAll(async () => { await rm(dataDir, { recursive: true, force: true }); });

describe('postgate start on embedded defaults', () => {
  it('starts, writes the first admin key to a 0600 file (never to stdout), serves the API, reuses its data, and stops cleanly on SIGTERM', async () => {
    const first = await startService();
    // The key is in DATA_DIR/first-admin-key (0600), never on stdout: only the file's path is printed.
    const keyFile = path.join(dataDir, 'first-admin-key');
    expect(first.output()).toContain(`Admin API key written to ${keyFile}`);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = (await readFile(keyFile, 'utf8')).trim();
    expect(key).toMatch(/^pg_[A-Za-z0-9_-]{32}$/);
    expect(first.output()).not.toContain(key);
    expect(first.output()).not.toContain(key.slice(7));
    expect(first.output()).toContain(`http://localhost:${first.port}`);
    expect(first.output()).toContain('/outbox');
    const res = await fetch(`http://127.0.0.1:${first.port}/api/tenant`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);

    const made = spawnSync(process.execPath, [bin, 'tenant', 'create', '--name', 'Beta', '--from-email', 'news@beta.org',
      '--from-name', 'Beta', '--reply-to', 'help@beta.org', '--json'], { env: envFor(first.port, 0), encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const created = JSON.parse(made.stdout) as { tenantId: string; apiKey: string };
    const beta = await fetch(`http://127.0.0.1:${first.port}/api/tenant`, { headers: { authorization: `Bearer ${created.apiKey}` } });
    expect((await beta.json()).name).toBe('Beta');

    // A console account from the CLI (issue 19): without --password a one-time link; with it, sign in at once.
    expect(first.output()).toContain(`PUBLIC_URL=http://localhost:${first.port} npm run postgate -- user create --tenant 00000000-0000-4000-8000-000000000001`);
    const invited = spawnSync(process.execPath, [bin, 'user', 'create', '--tenant', created.tenantId, '--email', 'Boss@Beta.org', '--role', 'admin'],
      { env: envFor(first.port, 0), encoding: 'utf8' });
    expect(invited.status, invited.stderr).toBe(0);
    expect(invited.stdout).toMatch(/staff user [0-9a-f-]{36} boss@beta\.org \(admin\)\nset a password within 72 hours \(one-time link\): http:\/\/localhost:\d+\/console\/set-password#token=[A-Za-z0-9_-]{43}\n\(the link starts with PUBLIC_URL/);
    const withPassword = spawnSync(process.execPath, [bin, 'user', 'create', '--tenant', created.tenantId, '--email', 'ann@beta.org', '--role', 'viewer',
      '--password', 'a long enough password', '--json'], { env: envFor(first.port, 0), encoding: 'utf8' });
    expect(withPassword.status, withPassword.stderr).toBe(0);
    expect(JSON.parse(withPassword.stdout)).toMatchObject({ email: 'ann@beta.org', role: 'viewer', setPasswordUrl: null });
    const signIn = await fetch(`http://127.0.0.1:${first.port}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ann@beta.org', password: 'a long enough password' }) });
    expect(signIn.status).toBe(200);
    expect((await signIn.json()).tenant.name).toBe('Beta');
    const again2 = spawnSync(process.execPath, [bin, 'user', 'create', '--tenant', created.tenantId, '--email', 'ann@beta.org', '--role', 'admin'],
      { env: envFor(first.port, 0), encoding: 'utf8' });
    expect(again2.status).toBe(2);
    expect(again2.stderr).toBe('postgate: staff_email_taken (--email): a staff account with this address exists\n');
    expect(await stopService(first.child)).toBe(0);

    const second = await startService();
    expect(second.output()).not.toContain('Admin API key');
    expect(second.output()).not.toContain(key);
    const again = await fetch(`http://127.0.0.1:${second.port}/api/tenant`, { headers: { authorization: `Bearer ${key}` } });
    expect(again.status).toBe(200);
    expect(await stopService(second.child)).toBe(0);
  }, 240_000);

  it('refuses a bad configuration value with one line naming it', () => {
    const r = spawnSync(process.execPath, [bin, 'start'], { env: { ...envFor(1, 1), PORT: 'not-a-port' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^postgate: invalid configuration: PORT /);
  });

  it('refuses a reply-to that is not a real address', () => {
    const r = spawnSync(process.execPath, [bin, 'tenant', 'create', '--name', 'X', '--from-email', 'a@x.org', '--from-name', 'X',
      '--reply-to', 'noreply@x.org'], { env: envFor(1, 1), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--reply-to');
  });
});

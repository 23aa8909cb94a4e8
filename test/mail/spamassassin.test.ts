// Every kind of built-in mail, asked for through the API and taken from the real SMTP sink exactly as
// Postgate sent it, scores 0.0 on Debian's SpamAssassin with its local rules only (-L: no DNS, no
// network tests). Bayes is off (no trained database: nothing to learn, nothing written to $HOME).
// The tenant is fully branded (logo, accent colour, privacy link), and each kind is tried in English
// and in German. If spamassassin is missing the test FAILS, naming the fix.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { BUILTIN_KINDS, sendBuiltin } from './builtin-mails.js';

const SPAMASSASSIN = '/usr/bin/spamassassin';
const { app, t } = useApp();
let home = '';

beforeAll(async () => {
  if (!existsSync(SPAMASSASSIN)) throw new Error(`${SPAMASSASSIN} not found: apt-get install -y spamassassin (.ci/run installs it)`);
  home = mkdtempSync(path.join(tmpdir(), 'pg-sa-'));
  const r = await t.api('PATCH', '/api/tenant', { logoUrl: 'https://acme.org/logo.png', accentColor: '#0f766e', privacyUrl: 'https://acme.org/privacy' });
  expect(r.status).toBe(200);
});
afterAll(() => { if (home) rmSync(home, { recursive: true, force: true }); });

interface Verdict { score: number; tests: string[] }

/**
 * Runs ONE `spamassassin -L` over the raw messages (the rules load once) and reads each message's
 * X-Spam-Status back, by its X-Postgate-Message header.
 */
function spamAssassin(raws: readonly Buffer[]): Promise<Map<string, Verdict>> {
  const files = raws.map((raw, i) => { const f = path.join(home, `${i}.eml`); writeFileSync(f, raw); return f; });
  return new Promise((resolve, reject) => {
    const p = spawn(SPAMASSASSIN, ['-L', '--cf=use_bayes 0', '--cf=bayes_auto_learn 0', ...files], { env: { ...process.env, HOME: home } });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    p.stderr.resume();
    p.on('error', reject);
    p.on('close', () => {
      const verdicts = new Map<string, Verdict>();
      for (const chunk of out.split(/^(?=X-Spam-Checker-Version:)/m)) {
        const headers = chunk.slice(0, chunk.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, ' ');
        const status = /^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=(\S+)/m.exec(headers);
        const id = /^X-Postgate-Message: (\S+)/m.exec(headers);
        if (status && id) verdicts.set(id[1], { score: Number(status[1]), tests: status[2] === 'none' ? [] : status[2].split(',') });
      }
      resolve(verdicts);
    });
  });
}

// English for every kind; German for those whose language follows the contact or the request (the
// test address's follows the tenant's default: test/mail/builtin.test.ts has it in German).
const CASES = [
  ...BUILTIN_KINDS.map((kind) => ({ kind, language: 'en' })),
  ...BUILTIN_KINDS.filter((k) => k !== 'test-address').map((kind) => ({ kind, language: 'de' })),
];
const verdicts = new Map<string, Verdict | undefined>();

beforeAll(async () => {
  const mails = await Promise.all(CASES.map(({ kind, language }) => sendBuiltin(app, t, kind, `sa-${language}-${kind.replace(':', '-')}@example.com`,
    language === 'de' ? { contactLocale: 'de-DE' } : {})));
  const byId = await spamAssassin(mails.map((m) => m.raw));
  CASES.forEach((c, i) => verdicts.set(`${c.kind} ${c.language}`, byId.get(String(mails[i].parsed.headers.get('x-postgate-message')))));
}, 120_000);

describe('the built-in mails on SpamAssassin (local rules)', () => {
  it.each(CASES)('$kind ($language) scores 0.0', ({ kind, language }) => {
    const verdict = verdicts.get(`${kind} ${language}`);
    expect(verdict, 'spamassassin gave no verdict for this message').toBeDefined();
    // -0.0 is 0.0 (informational rules of -0.001); the rules are named when it is not.
    expect(verdict?.score === 0 ? 0 : verdict?.score, `rules hit: ${verdict?.tests.join(', ')}`).toBe(0);
    expect(verdict?.tests).not.toContain('HTML_FONT_LOW_CONTRAST');
  });
});

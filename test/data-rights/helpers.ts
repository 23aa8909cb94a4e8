// Helpers for the self-service data-rights tests: the link a data-rights mail carries, SpamAssassin's score.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import type { Received } from '../support/smtp-sink.js';

/** The data-rights link of a mail (from its text part), rebased from PUBLIC_URL onto the test server. */
export function rightsLink(app: TestApp, mail: Received): string {
  const m = /https:\/\/postgate\.test\/(?:data|erase)\/[A-Za-z0-9_.~-]+/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error(`no data-rights link in the mail: ${mail.parsed.text}`);
  return m[0].replace('https://postgate.test', app.url);
}

/** The length the mail's data-rights link would have with PUBLIC_URL https://news.example.com (issue 20: under 100). */
export function linkLengthAtNewsExample(mail: Received): number {
  const m = /https:\/\/postgate\.test(\/(?:data|erase)\/[A-Za-z0-9_.~-]+)/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error(`no data-rights link in the mail: ${mail.parsed.text}`);
  return 'https://news.example.com'.length + m[1].length;
}

/**
 * Scores raw messages with Debian's `spamassassin -L` (local rules, Bayes off, a throw-away HOME),
 * one run for all; the scores in the order given. Fails, naming the fix, when spamassassin is missing.
 */
export async function spamScores(raws: readonly Buffer[]): Promise<{ score: number; tests: string }[]> {
  const SA = '/usr/bin/spamassassin';
  if (!existsSync(SA)) throw new Error(`${SA} not found: apt-get install -y spamassassin`);
  const home = mkdtempSync(path.join(tmpdir(), 'pg-sa-rights-'));
  try {
    const files = raws.map((raw, i) => { const f = path.join(home, `${i}.eml`); writeFileSync(f, raw); return f; });
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(SA, ['-L', '--cf=use_bayes 0', '--cf=bayes_auto_learn 0', ...files], { env: { ...process.env, HOME: home } });
      let text = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => { text += d; });
      p.stderr.resume();
      p.on('error', reject);
      p.on('close', () => resolve(text));
    });
    return out.split(/^(?=X-Spam-Checker-Version:)/m).filter((chunk) => chunk.startsWith('X-Spam-Checker-Version:')).map((chunk) => {
      const headers = chunk.slice(0, chunk.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, ' ');
      const m = /^X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=(\S+)/m.exec(headers);
      return { score: m ? Number(m[1]) : NaN, tests: m ? m[2] : 'no verdict' };
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

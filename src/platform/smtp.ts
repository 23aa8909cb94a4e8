// Mail out: a pooled SMTP transport (SMTP_URL), or a capture outbox that writes every message as
// .eml under DATA_DIR/outbox for a newcomer to read. Both sign with DKIM when the message says so.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import { redactedPrefix } from '../policy/cards.js';

export type SendOutcome =
  | { kind: 'sent'; response: string }
  | { kind: 'temporary'; response: string }
  | { kind: 'permanent'; response: string; code: number };

export interface Mailer {
  readonly mode: 'smtp' | 'outbox';
  send(msg: SendMailOptions): Promise<SendOutcome>;
  close(): void;
}

interface SmtpErrorLike { responseCode?: number; response?: string; code?: string; message?: string }

/**
 * A relay's reply as Postgate keeps it (messages.smtp_response, message events, bounces, logs): a
 * third party's text, so card numbers are redacted (policy/cards), before and after the 1000-char cut.
 */
export function keptResponse(response: string): string {
  return redactedPrefix(response, 1000);
}

/** 5xx is permanent for that recipient; 4xx, dropped connections and timeouts are temporary. The reply is kept redacted (keptResponse). */
export function classifySmtpError(err: unknown): SendOutcome {
  const e = (err ?? {}) as SmtpErrorLike;
  const response = keptResponse(e.response ?? e.message ?? String(err));
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) {
    return { kind: 'permanent', response, code: e.responseCode };
  }
  return { kind: 'temporary', response };
}

function acceptedOutcome(info: { accepted?: unknown[]; rejected?: unknown[]; response?: string; rejectedErrors?: unknown[] }): SendOutcome {
  if ((info.accepted ?? []).length > 0) return { kind: 'sent', response: keptResponse(String(info.response ?? '250 OK')) };
  const first = info.rejectedErrors?.[0];
  return first ? classifySmtpError(first) : { kind: 'temporary', response: keptResponse(String(info.response ?? 'no recipient accepted')) };
}

export function createSmtpMailer(url: string, poolSize: number): Mailer {
  const u = new URL(url);
  const transport: Transporter = nodemailer.createTransport({
    pool: true, maxConnections: poolSize, maxMessages: 1000,
    host: u.hostname, port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 25)),
    secure: u.protocol === 'smtps:',
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    tls: { rejectUnauthorized: u.searchParams.get('tls_reject_unauthorized') !== 'false' },
    connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000,
  });
  return {
    mode: 'smtp',
    async send(msg) {
      try { return acceptedOutcome(await transport.sendMail(msg)); } catch (err) { return classifySmtpError(err); }
    },
    close: () => transport.close(),
  };
}

export function outboxDir(dataDir: string): string {
  return path.join(dataDir, 'outbox');
}

export function createOutboxMailer(dataDir: string): Mailer {
  const dir = outboxDir(dataDir);
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  let ready: Promise<unknown> | null = null;
  return {
    mode: 'outbox',
    async send(msg) {
      ready ??= mkdir(dir, { recursive: true });
      await ready;
      const info = await transport.sendMail(msg);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const id = String(msg.messageId ?? info.messageId).replace(/[^A-Za-z0-9@.-]/g, '');
      await writeFile(path.join(dir, `${stamp}_${id}.eml`), info.message as Buffer);
      return { kind: 'sent', response: `250 written to outbox` };
    },
    close: () => transport.close(),
  };
}

export interface OutboxEntry { file: string }

export async function listOutbox(dataDir: string, limit = 200): Promise<OutboxEntry[]> {
  const dir = outboxDir(dataDir);
  const files = await readdir(dir).catch(() => [] as string[]);
  const emls = files.filter((f) => f.endsWith('.eml')).sort().reverse().slice(0, limit);
  return emls.map((file) => ({ file }));
}

export async function readOutbox(dataDir: string, file: string): Promise<Buffer | null> {
  if (!/^[A-Za-z0-9@._-]+\.eml$/.test(file)) return null;
  return readFile(path.join(outboxDir(dataDir), file)).catch(() => null);
}

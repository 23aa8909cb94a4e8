// The capture outbox (no SMTP_URL): every message is written as one .eml file under DATA_DIR/outbox
// for a newcomer to read, instead of leaving the machine.
//
// - Files are named `<UTC time>_<ledger message id>.eml` (the id is the X-Postgate-Message header,
//   the left side of Message-ID, which messages.message_id_header records): the name is the map from a
//   file to its ledger row, so erasure finds a person's files by their message ids without opening any.
// - The directory is 0700 and each file 0600 (written to a hidden temporary name, then renamed, so a
//   listing never shows half a message). An older outbox whose files were 0644 is closed too: a 0700
//   directory cannot be traversed by other users.
// - Listing and erasure walk the directory with fs.opendir (entries come in small batches, so a very
//   large outbox never holds the event loop); the listing keeps only the newest `limit` names.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, opendir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { Mailer } from './smtp.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `<stamp>_<id>.eml`: the stamp has no underscore; the id is a ledger uuid (or, for mail that has none, a cleaned Message-ID). */
const OUTBOX_FILE = /^([0-9TZ-]+)_([A-Za-z0-9@.-]+)\.eml$/;
/** How long an erased message id is remembered, so that a send in flight while its person was erased is deleted once written. */
const FORGET_WINDOW_MS = 10 * 60_000;

export function outboxDir(dataDir: string): string {
  return path.join(dataDir, 'outbox');
}

/** The ledger message id a mail carries: X-Postgate-Message, else the left side of its Message-ID when that is a uuid; null otherwise. */
export function ledgerIdOf(msg: SendMailOptions): string | null {
  const headers = (msg.headers && !Array.isArray(msg.headers) ? msg.headers : {}) as Record<string, unknown>;
  const own = headers['X-Postgate-Message'];
  if (typeof own === 'string' && UUID.test(own)) return own.toLowerCase();
  const left = /^<?([^@>]+)@/.exec(String(msg.messageId ?? ''))?.[1] ?? '';
  return UUID.test(left) ? left.toLowerCase() : null;
}

/** The ledger message id (a uuid, lower-cased) an outbox file name carries, or null (not an outbox file, or mail without a ledger id). */
export function outboxFileId(file: string): string | null {
  const m = OUTBOX_FILE.exec(file);
  if (!m) return null;
  const uuid = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:@|$)/i.exec(m[2]); // `<uuid>@<domain>`: names written before ids alone
  return uuid ? uuid[1].toLowerCase() : null;
}

/** A mailer that writes every message into the outbox (see the file comment); `forget` is erasure's way in. */
export function createOutboxMailer(dataDir: string): Mailer {
  const dir = outboxDir(dataDir);
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const forgotten = new Map<string, number>(); // ledger id → until (epoch ms)
  let ready: Promise<void> | null = null;
  const prepare = async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700); // an outbox made before files were private, or with another umask
  };
  return {
    mode: 'outbox',
    async send(msg) {
      ready ??= prepare().catch((err: unknown) => { ready = null; throw err; });
      await ready;
      const info = await transport.sendMail(msg);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const id = ledgerIdOf(msg) ?? (String(msg.messageId ?? info.messageId).replace(/[^A-Za-z0-9@.-]/g, '') || randomUUID());
      const file = path.join(dir, `${stamp}_${id}.eml`);
      const temp = path.join(dir, `.${randomUUID()}.tmp`);
      await writeFile(temp, info.message as Buffer, { mode: 0o600, flag: 'wx' });
      await rename(temp, file);
      if ((forgotten.get(id) ?? 0) > Date.now()) await unlink(file).catch(() => undefined);
      return { kind: 'sent', response: `250 written to outbox` };
    },
    async forget(messageIds) {
      const until = Date.now() + FORGET_WINDOW_MS;
      for (const [id, t] of forgotten) if (t <= Date.now()) forgotten.delete(id);
      for (const id of messageIds) forgotten.set(id.toLowerCase(), until);
      return removeOutboxFiles(dataDir, messageIds);
    },
    close: () => transport.close(),
  };
}

/** Calls `fn` for each outbox file name, a batch of directory entries at a time (fs.opendir); nothing when there is no outbox. */
async function eachOutboxFile(dataDir: string, fn: (file: string) => void | Promise<void>): Promise<void> {
  let handle;
  try { handle = await opendir(outboxDir(dataDir), { bufferSize: 256 }); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for await (const entry of handle) if (entry.isFile() && OUTBOX_FILE.test(entry.name)) await fn(entry.name);
}

/**
 * Deletes the outbox files of these ledger messages (erasure). Walks the directory once, matching
 * names, never opening a file; returns how many were deleted. A missing outbox deletes nothing.
 */
export async function removeOutboxFiles(dataDir: string, messageIds: readonly string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  const ids = new Set(messageIds.map((id) => id.toLowerCase()));
  let removed = 0;
  await eachOutboxFile(dataDir, async (file) => {
    const id = outboxFileId(file);
    if (id === null || !ids.has(id)) return;
    try { await unlink(path.join(outboxDir(dataDir), file)); removed++; } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  });
  return removed;
}

export interface OutboxEntry { file: string; messageId: string | null }

/** The newest `limit` outbox files (by name, which starts with the UTC time), newest first. Keeps only `limit` names while it walks. */
export async function listOutbox(dataDir: string, limit = 200): Promise<OutboxEntry[]> {
  const newest: string[] = []; // ascending; newest[0] is the oldest kept
  await eachOutboxFile(dataDir, (file) => {
    if (newest.length >= limit && file <= newest[0]) return;
    let lo = 0;
    let hi = newest.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (newest[mid] < file) lo = mid + 1; else hi = mid; }
    newest.splice(lo, 0, file);
    if (newest.length > limit) newest.shift();
  });
  return newest.reverse().map((file) => ({ file, messageId: outboxFileId(file) }));
}

/** One outbox file's bytes, or null when the name is not an outbox file name or there is no such file. */
export async function readOutbox(dataDir: string, file: string): Promise<Buffer | null> {
  if (!OUTBOX_FILE.test(file)) return null;
  return readFile(path.join(outboxDir(dataDir), file)).catch(() => null);
}

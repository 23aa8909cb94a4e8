// The inbound SMTP listener for the bounce domain (its MX points at Postgate). It is the final
// destination of what it accepts and never relays: RCPT is accepted only for `bounces+<VERP token>`
// and `unsubscribe+<token>` local parts whose signature verifies (any domain: the signed local part
// is what matters, so a tenant's own bounce_domain works without configuration); everything else gets
// 550 5.1.1. AUTH is disabled. STARTTLS is offered only with a certificate of the operator's
// (INBOUND_TLS_CERT and INBOUND_TLS_KEY): without one it is neither offered nor accepted, never with
// smtp-server's built-in self-signed certificate, which would promise encryption no sender can verify.
// A processing failure answers 451 so that the sending MTA retries later.
//
// Quotas (issue 12), so that hostile mail cannot stall or fill anything:
// - Size: the first maxBytes (INBOUND_MAX_BYTES, 256 KiB) of a message are kept and the rest is
//   read and discarded; the message is accepted, never refused for its size (a report carries
//   headers, an explanation and perhaps the returned original: the part that matters comes first).
//   SIZE is not advertised, so no MTA refuses to send a large report.
// - Connections: at most maxClientsPerIp (10) per client address (421 beyond) and maxClients (500)
//   in all; a client idle for idleTimeoutMs (30 s) is disconnected; no reverse DNS lookups.
// - Reports per token: at most perTokenPerHour (20) messages per VERP token (and per unsubscribe
//   token) per hour, counted in PostgreSQL so that the limit holds across processes. Over the quota
//   the message is ACCEPTED AND DROPPED (250, not processed, nothing stored): the token's message
//   has already had 20 reports this hour, so the 21st adds nothing; a 4xx would make the sending MTA
//   retry for days (the load comes back), and a 5xx to a report with a non-null sender (auto-replies,
//   some feedback loops) would make its MTA send a new bounce (backscatter).
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Queryable } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { TokenKeys } from '../policy/tokens.js';
import { parseInboundRecipient } from './recipients.js';

export interface InboundSmtpOptions {
  port: number;
  /** The address to bind (HOST); all interfaces when absent. */
  host?: string;
  /** PEM certificate chain and private key: STARTTLS is offered with them (TLS 1.2 at least), and not at all without. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Bytes of a message kept (the rest is discarded; the message is still accepted). */
  maxBytes: number;
  maxClients?: number;
  maxClientsPerIp?: number;
  idleTimeoutMs?: number;
  tokens: TokenKeys;
  log: Logger;
  /** Takes one report from the hourly quota of a token key; false when the quota is used up. */
  takeQuota?(key: string): Promise<boolean>;
  /** Processes one accepted message; a throw becomes a 451 (the MTA retries). */
  handle(raw: Buffer, recipients: string[], info: { truncated: boolean; size: number }): Promise<void>;
}

export interface InboundSmtp { port: number; close(): Promise<void> }

const MAX_RECIPIENTS = 50;
export const INBOUND_DEFAULTS = { maxClients: 500, maxClientsPerIp: 10, idleTimeoutMs: 30_000 } as const;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Reads the DATA stream, keeping at most maxBytes (the rest is drained, not buffered). */
function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<{ raw: Buffer; size: number; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept >= maxBytes) return;
      const part = kept + chunk.length > maxBytes ? chunk.subarray(0, maxBytes - kept) : chunk;
      chunks.push(part);
      kept += part.length;
    });
    stream.once('error', reject);
    stream.once('end', () => resolve({ raw: Buffer.concat(chunks, kept), size, truncated: size > maxBytes }));
  });
}

/** The quota key of an inbound recipient: its message (VERP) or contact (unsubscribe), not the token text. */
function quotaKey(tokens: TokenKeys, address: string): string | null {
  const t = parseInboundRecipient(tokens, address);
  if (!t) return null;
  return t.kind === 'verp' ? `verp:${t.messageId}` : `unsub:${t.contactId}`;
}

/** One report against the hourly quota of `key` (migration 061); true while within `limit`. */
export async function takeInboundQuota(c: Queryable, key: string, limit: number): Promise<boolean> {
  const r = await c.query<{ ok: boolean }>('SELECT inbound_quota_take($1, $2) AS ok', [key, limit]);
  return r.rows[0]?.ok === true;
}

export async function startInboundSmtp(o: InboundSmtpOptions): Promise<InboundSmtp> {
  const perIp = o.maxClientsPerIp ?? INBOUND_DEFAULTS.maxClientsPerIp;
  const byIp = new Map<string, number>();
  const counted = new Map<string, string>(); // session id → client address, for connections counted in byIp
  const server = new SMTPServer({
    name: 'postgate-inbound', banner: 'Postgate bounce processor', logger: false,
    authOptional: true, disabledCommands: o.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'], disableReverseLookup: true,
    ...(o.tls ? { cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' as const } : {}),
    maxClients: o.maxClients ?? INBOUND_DEFAULTS.maxClients, maxRecipients: MAX_RECIPIENTS,
    socketTimeout: o.idleTimeoutMs ?? INBOUND_DEFAULTS.idleTimeoutMs, closeTimeout: 5_000,
    onConnect(session, cb) {
      const ip = session.remoteAddress || 'unknown';
      const n = byIp.get(ip) ?? 0;
      if (n >= perIp) return cb(smtpError(421, 'too many connections from your address, try again later'));
      byIp.set(ip, n + 1);
      counted.set(session.id, ip);
      cb();
    },
    onClose(session) {
      const ip = counted.get(session.id);
      if (ip === undefined) return;
      counted.delete(session.id);
      const n = (byIp.get(ip) ?? 1) - 1;
      if (n > 0) byIp.set(ip, n); else byIp.delete(ip);
    },
    onRcptTo(address, _session, cb) {
      if (!parseInboundRecipient(o.tokens, address.address)) return cb(smtpError(550, 'no such recipient here'));
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      readMessage(stream, o.maxBytes).then(async ({ raw, size, truncated }) => {
        const recipients = await withinQuota(session.envelope.rcptTo.map((r) => r.address));
        if (recipients.length === 0) {
          o.log.warn({ size }, 'inbound report over its token quota: accepted and dropped');
          return cb(null, 'OK: report received');
        }
        if (truncated) o.log.info({ size, kept: raw.length }, 'inbound report truncated to INBOUND_MAX_BYTES');
        await o.handle(raw, recipients, { truncated, size });
        cb(null, 'OK: report received');
      }).catch((err: unknown) => {
        o.log.error({ err: (err as Error).message }, 'inbound message processing failed');
        cb(smtpError(451, 'local error in processing, try again later'));
      });
    },
  });

  /** The recipients whose token still has quota this hour (each takes one report from it). */
  async function withinQuota(recipients: string[]): Promise<string[]> {
    if (!o.takeQuota) return recipients;
    const out: string[] = [];
    const allowed = new Map<string, boolean>();
    for (const r of recipients) {
      const key = quotaKey(o.tokens, r);
      if (!key) continue;
      if (!allowed.has(key)) allowed.set(key, await o.takeQuota(key));
      if (allowed.get(key)) out.push(r);
    }
    return out;
  }

  server.on('error', (err) => o.log.warn({ err: err.message }, 'inbound SMTP error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    const ready = () => { server.server.off('error', reject); resolve(); };
    if (o.host) server.listen(o.port, o.host, ready); else server.listen(o.port, ready);
  });
  const port = (server.server.address() as { port: number }).port;
  o.log.info({ port, host: o.host ?? null, starttls: Boolean(o.tls) }, 'inbound SMTP listening');
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// Mail out: a pooled SMTP transport (SMTP_URL), or a capture outbox that writes every message as
// .eml under DATA_DIR/outbox for a newcomer to read. Both sign with DKIM when the message says so.
import { Readable } from 'node:stream';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import MimeNode from 'nodemailer/lib/mime-node';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { redactedPrefix } from '../policy/cards.js';
import { crlfOnly, dotStuffed } from '../mail/mime.js';

export type SendOutcome =
  | { kind: 'sent'; response: string }
  | {
    kind: 'temporary'; response: string;
    /** The session with the relay failed (connect, greeting, TLS, AUTH): the relay took nothing, so another relay may take it at once (src/relays). */
    session?: boolean;
    /** Set by a throttle (src/relays): deferred for `seconds` under `reason`; `attempted: false`, the relay was never asked, so no attempt is counted. */
    backoff?: { seconds: number; reason: string; attempted: boolean };
  }
  | { kind: 'permanent'; response: string; code: number };

export interface Mailer {
  readonly mode: 'smtp' | 'outbox';
  send(msg: SendMailOptions): Promise<SendOutcome>;
  /** Erasure: deletes what this mailer kept of these ledger messages (the outbox's files); returns how many. Absent when it keeps nothing. */
  forget?(messageIds: readonly string[]): Promise<number>;
  close(): void;
  /**
   * Shutdown past its grace period: closes every connection, also those in the middle of a delivery;
   * each such send resolves as `temporary` (a dropped connection: deferred and retried, and sent twice
   * only if the relay had already taken the message). Absent where sends cannot hang (the outbox).
   */
  abort?(): void;
}

interface SmtpErrorLike { responseCode?: number; response?: string; code?: string; command?: string; message?: string }

/** Failures of the session with the relay (connecting, greeting, TLS, authenticating), not of a recipient: never permanent. */
const SESSION_COMMANDS = new Set(['CONN', 'EHLO', 'HELO', 'LHLO', 'STARTTLS']);

/**
 * A relay's reply as Postgate keeps it (messages.smtp_response, message events, bounces, logs): a
 * third party's text, so card numbers are redacted (policy/cards), before and after the 1000-char cut.
 */
export function keptResponse(response: string): string {
  return redactedPrefix(response, 1000);
}

/**
 * 5xx is permanent for that recipient; 4xx, dropped connections and timeouts are temporary, and so
 * is any failure of the session itself (TLS: ETLS; AUTH: EAUTH; a reply to CONN/EHLO/HELO/STARTTLS), whatever
 * its code, and a refusal of the sender (a reply to MAIL FROM: not the recipient's fault). The reply is kept redacted (keptResponse).
 */
export function classifySmtpError(err: unknown): SendOutcome {
  const e = (err ?? {}) as SmtpErrorLike;
  const response = keptResponse(e.response ?? e.message ?? String(err));
  // TLS required but not offered, a certificate not trusted, a refused EHLO: the relay's set-up, not
  // the recipient's address. Temporary (the message waits for the relay to be fixed), never a bounce.
  // A 535 to AUTH is a wrong relay password: the operator's to fix, never the recipient's bounce.
  const auth = e.code === 'EAUTH' || (e.command ?? '').toUpperCase().startsWith('AUTH');
  // A reply to MAIL FROM judges the sender (envelope domain, relay policy, quota), not the
  // recipient: whatever its code, never the recipient's bounce. Deferred and retried.
  const sender = (e.command ?? '').toUpperCase().startsWith('MAIL');
  // A 421 to a command of the transaction (RCPT, DATA) after a good greeting: nodemailer reports it as
  // CONN, but it is a reply about this message (a destination throttling), not a failed session.
  const closedAfterReply = e.code === 'ECONNECTION' && e.responseCode === 421 && (e.message ?? '').startsWith('Server closed the connection');
  if (!closedAfterReply && (e.code === 'ETLS' || auth || sender || (e.command !== undefined && SESSION_COMMANDS.has(e.command)))) {
    const what = e.code === 'ETLS' ? 'TLS to the relay failed' : auth ? 'authentication with the relay failed' : sender ? 'the relay refused the sender (MAIL FROM)' : 'relay session failed';
    const session = !sender || undefined; // a refused sender is the message's, not the relay's: no failover
    return { kind: 'temporary', response: keptResponse(`${what}: ${e.message ?? ''}${e.response && !e.message?.includes(e.response) ? ` (${e.response})` : ''}`), ...(session ? { session } : {}) };
  }
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

/** How mail to the relay is encrypted (SMTP_REQUIRE_TLS, SMTP_TLS_CA). */
export interface RelayTls {
  /** smtp://: STARTTLS is required (a relay that does not offer it, or fails it, fails the send as temporary); false sends in clear when it is not offered. */
  requireTls: boolean;
  /** PEM CA certificate(s) the relay's certificate must chain to, instead of Node's public CAs (a private relay, tests). */
  ca?: string | Buffer;
}

/** Pool settings beyond SMTP_URL's. */
export interface SmtpPoolOptions {
  /**
   * How often nodemailer's pool silently re-sends a message whose connection closed under it (its
   * default 5). The relay mailer (src/relays) sets 0: it sees every such failure and decides itself
   * (another relay, or the destination domain's back-off after a 421).
   */
  maxRequeues?: number;
}

/**
 * The pooled SMTP transport of SMTP_URL (smtp:// with STARTTLS, or smtps:// TLS from the start). The
 * relay's certificate is verified (Node's CAs, or `tls.ca`; TLS 1.2 at least) unless the URL says
 * `?tls_reject_unauthorized=false`; with `tls.requireTls` nothing is ever sent in clear.
 */
export function createSmtpMailer(url: string, poolSize: number, tls: RelayTls = { requireTls: true }, opts: SmtpPoolOptions = {}): Mailer {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const transport: Transporter = nodemailer.createTransport({
    pool: true, maxConnections: poolSize, maxMessages: 1000, ...(opts.maxRequeues === undefined ? {} : { maxRequeues: opts.maxRequeues }),
    host: u.hostname, port: Number(u.port || (secure ? 465 : 25)),
    secure, requireTLS: !secure && tls.requireTls,
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    tls: { rejectUnauthorized: u.searchParams.get('tls_reject_unauthorized') !== 'false', minVersion: 'TLSv1.2', ...(tls.ca ? { ca: tls.ca } : {}) },
    connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000,
  });
  const direct = directPool(transport);
  return {
    mode: 'smtp',
    async send(msg) {
      try {
        const prepared = direct ? preparedFor(msg) : null;
        return acceptedOutcome(await (prepared && direct ? direct(prepared) : transport.sendMail(msg)));
      } catch (err) { return classifySmtpError(err); }
    },
    close: () => transport.close(),
    // nodemailer's pool takes { force } (its typings do not say so): busy connections are closed too and their sends fail.
    abort: () => (transport.close as (this: Transporter, o: { force: boolean }) => void).call(transport, { force: true }),
  };
}

// ---- the direct hand-over of a finished message to the pool ----------------------------------------
// A message composeMessage built (mail/mime.ts: `raw` bytes, already DKIM-signed, an envelope) needs
// nothing of nodemailer's message machinery: sendMail would wrap it in a MailMessage, compile it
// through MailComposer into a MimeNode and stream it out through stream.pipeline stages (each one an
// AbortController, and a DOMException when it ends), then SMTPConnection pushes every byte through
// DataStream's per-byte loop (dot-stuffing, bare CR/LF repair). Here the bytes are made ready for
// the DATA phase once, on the string (RFC 5321 4.5.2 dot-stuffing, the final "." line), and handed
// to nodemailer's own pool (SMTPPool.send): its connections, requeueing, TLS, AUTH, rate limit and
// replies are unchanged, and so is the outcome classification above.

/** What nodemailer's pool reads of a message (SMTPPool.send, PoolResource.send): its data options, envelope, Message-ID and content stream. */
interface PoolMessage {
  data: Record<string, never>;
  message: { getEnvelope(): { from: string | false; to: string[] }; messageId(): string; getHeader(key: string): string | undefined; createReadStream(): Readable };
}
type SentInfo = Parameters<typeof acceptedOutcome>[0];
type PoolSend = (message: PoolMessage) => Promise<SentInfo>;

/** A message that can go to the pool directly: its SMTP DATA bytes (stuffed and terminated), the raw bytes, the envelope and Message-ID. */
interface Prepared { data: Buffer; raw: Buffer; envelope: { from: string; to: string }; messageId: string }

/**
 * `raw` as the DATA phase sends it (RFC 5321 4.5.2): a "." that starts a line doubled, the
 * terminating "." line appended. Null when the bytes are not CRLF-only (a bare CR or LF) or do not
 * end with CRLF: such bytes go through nodemailer's DataStream, which repairs them (a bare CR or
 * LF ends a line on some servers: left alone, "\r.\r" could end the data early, SMTP smuggling).
 */
export function smtpData(raw: Buffer): Buffer | null {
  const s = raw.toString('latin1'); // one byte per character, both ways: the bytes are kept as they are
  return s.endsWith('\r\n') && crlfOnly(s) ? dotStuffed(s) : null;
}

/** The direct form of `msg`, or null when it needs nodemailer's sendMail (no raw bytes, a DKIM option to apply, no plain envelope, bytes to repair). */
function preparedFor(msg: SendMailOptions): Prepared | null {
  const env = msg.envelope as { from?: unknown; to?: unknown } | undefined;
  if (!Buffer.isBuffer(msg.raw) || msg.dkim || !env || typeof env.from !== 'string' || typeof env.to !== 'string') return null;
  const data = composedData(msg) ?? smtpData(msg.raw);
  return data ? { data, raw: msg.raw, envelope: { from: env.from, to: env.to }, messageId: typeof msg.messageId === 'string' ? msg.messageId : '' } : null;
}

/** The DATA bytes composeMessage made beside `raw` (mail/compose.ts ComposedMail), when they belong to this very `raw` Buffer. */
function composedData(msg: SendMailOptions): Buffer | null {
  const made = (msg as { smtpData?: { raw?: unknown; data?: unknown } }).smtpData;
  return made && made.raw === msg.raw && Buffer.isBuffer(made.data) ? made.data : null;
}

/** A DataStream step that passes prepared bytes through as they are (no per-byte loop) and adds no final "." line: they carry one. */
function passPrepared(this: DataStream, chunk: Buffer, _encoding: BufferEncoding, done: (err: null, out: Buffer) => void): void {
  this.inByteCount += chunk.length;
  this.outByteCount += chunk.length;
  this.lastByte = chunk[chunk.length - 1];
  done(null, chunk);
}
function flushNothing(done: () => void): void { done(); }

/**
 * The content stream of a prepared message: one chunk. Piped into SMTPConnection's DataStream it
 * sends the prepared DATA bytes unchanged; piped anywhere else (a nodemailer that no longer uses
 * DataStream) it sends the raw bytes, for that stream to stuff and terminate.
 */
export class PreparedStream extends Readable {
  private chunk: Buffer;
  /** `raw`: the message; `data`: smtpData(raw). */
  constructor(raw: Buffer, private readonly data: Buffer) { super(); this.chunk = raw; }

  override pipe<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    if (dest instanceof DataStream) {
      Object.assign(dest, { _transform: passPrepared, _flush: flushNothing });
      this.chunk = this.data;
    }
    return super.pipe(dest, options);
  }

  override _read(): void { this.push(this.chunk); this.push(null); }
}

/** An address nodemailer's envelope conversion leaves as it is: a dot-atom of [A-Za-z0-9_+-] and a lowercase LDH domain (no A-label to check). */
const PLAIN_ADDRESS = /^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?!xn--)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.(?!xn--)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;
const envelopeNode = new MimeNode();

/**
 * The SMTP envelope of one message as sendMail makes it (nodemailer's MimeNode.setEnvelope: address
 * parsing, IDN domains to punycode, quoting): plain addresses (PLAIN_ADDRESS, which that conversion
 * returns unchanged) as they are, any other through one reused MimeNode.
 */
export function smtpEnvelope(from: string, to: string): { from: string | false; to: string[] } {
  if (PLAIN_ADDRESS.test(from) && PLAIN_ADDRESS.test(to)) return { from, to: [to] };
  return envelopeNode.setEnvelope({ from, to }).getEnvelope() as { from: string | false; to: string[] };
}

/**
 * Sends prepared messages through the transport's own SMTPPool (null when the transport is not one:
 * every message then goes through sendMail). The envelope is converted as sendMail converts it (smtpEnvelope).
 */
function directPool(transport: Transporter): ((p: Prepared) => Promise<SentInfo>) | null {
  const pool = (transport as unknown as { transporter?: { send?: unknown } }).transporter;
  if (!pool || typeof pool.send !== 'function') return null;
  const poolSend = pool.send.bind(pool) as (m: PoolMessage, cb: (err: Error | null, info?: SentInfo) => void) => boolean;
  const send: PoolSend = (message) => new Promise((resolve, reject) => {
    poolSend(message, (err, info) => (err ? reject(err) : resolve(info ?? {})));
  });
  return (p) => {
    const envelope = smtpEnvelope(p.envelope.from, p.envelope.to);
    return send({
      data: {},
      message: {
        getEnvelope: () => envelope, messageId: () => p.messageId,
        getHeader: (key) => (key.toLowerCase() === 'message-id' ? p.messageId : undefined),
        createReadStream: () => new PreparedStream(p.raw, p.data),
      },
    });
  };
}

// The capture outbox (no SMTP_URL) lives in outbox.ts.
export { createOutboxMailer, listOutbox, outboxDir, readOutbox, type OutboxEntry } from './outbox.js';

// The inbound SMTP listener for the bounce domain (its MX points at Postgate). It is the final
// destination of what it accepts and never relays: RCPT is accepted only for `bounces+<VERP token>`
// and `unsubscribe+<token>` local parts whose signature verifies (any domain: the signed local part
// is what matters, so a tenant's own bounce_domain works without configuration); everything else gets
// 550 5.1.1. Messages over INBOUND_MAX_BYTES get 552; AUTH is disabled. STARTTLS is not offered here
// (no certificate is configured): a production MX should sit behind a TLS-terminating relay or be
// given a certificate. A processing failure answers 451 so that the sending MTA retries later.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../platform/log.js';
import type { TokenKeys } from '../policy/tokens.js';
import { parseInboundRecipient } from './recipients.js';

export interface InboundSmtpOptions {
  port: number;
  host?: string;
  maxBytes: number;
  tokens: TokenKeys;
  log: Logger;
  /** Processes one accepted message; a throw becomes a 451 (the MTA retries). */
  handle(raw: Buffer, recipients: string[]): Promise<void>;
}

export interface InboundSmtp { port: number; close(): Promise<void> }

const MAX_RECIPIENTS = 50;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Reads the DATA stream, keeping at most maxBytes (the rest is drained, not buffered). */
function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<{ raw: Buffer; oversized: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    stream.once('error', reject);
    stream.once('end', () => resolve({ raw: Buffer.concat(chunks), oversized: stream.sizeExceeded || size > maxBytes }));
  });
}

export async function startInboundSmtp(o: InboundSmtpOptions): Promise<InboundSmtp> {
  const server = new SMTPServer({
    name: 'postgate-inbound', banner: 'Postgate bounce processor', logger: false,
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'],
    size: o.maxBytes, rejectOversized: true, maxClients: 200, maxRecipients: MAX_RECIPIENTS,
    socketTimeout: 60_000, closeTimeout: 5_000,
    onRcptTo(address, _session, cb) {
      if (!parseInboundRecipient(o.tokens, address.address)) return cb(smtpError(550, 'no such recipient here'));
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      readMessage(stream, o.maxBytes).then(async ({ raw, oversized }) => {
        if (oversized) return cb(smtpError(552, `message exceeds the maximum size of ${o.maxBytes} bytes`));
        await o.handle(raw, session.envelope.rcptTo.map((r) => r.address));
        cb(null, 'OK: report received');
      }).catch((err: unknown) => {
        o.log.error({ err: (err as Error).message }, 'inbound message processing failed');
        cb(smtpError(451, 'local error in processing, try again later'));
      });
    },
  });
  server.on('error', (err) => o.log.warn({ err: err.message }, 'inbound SMTP error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    const ready = () => { server.server.off('error', reject); resolve(); };
    if (o.host) server.listen(o.port, o.host, ready); else server.listen(o.port, ready);
  });
  const port = (server.server.address() as { port: number }).port;
  o.log.info({ port }, 'inbound SMTP listening');
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

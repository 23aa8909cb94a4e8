// A real SMTP server over TCP (smtp-server) that keeps what it receives, parsed with mailparser.
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface Received {
  envelopeFrom: string; envelopeTo: string[]; raw: Buffer; parsed: ParsedMail;
  /** The session was encrypted (STARTTLS) when the message came. */
  secure: boolean;
}

export interface SmtpSink {
  port: number; url: string; received: Received[];
  /** Resolves when at least n messages have arrived (or rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Called per recipient; return an SMTP error message+code to refuse it. */
  onRcpt?: (address: string) => { code: number; message: string } | null;
  /** Called after DATA; return a code+message to refuse the whole message. */
  onData?: (raw: Buffer) => { code: number; message: string } | null;
  parse?: boolean;
  /** A PEM certificate and key: the sink offers STARTTLS with them (without: it offers none). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export async function startSmtpSink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: (r: Received[]) => void }[] = [];
  const serverOpts: SMTPServerOptions = {
    authOptional: true, disabledCommands: opts.tls ? ['AUTH'] : ['STARTTLS', 'AUTH'], logger: false, size: 50 * 1024 * 1024,
    ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
    onRcptTo(address, _session, cb) {
      const refusal = opts.onRcpt?.(address.address);
      if (refusal) return cb(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const refusal = opts.onData?.(raw);
        if (refusal) return cb(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
        const parsed = opts.parse === false ? ({} as ParsedMail) : await simpleParser(raw);
        received.push({
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw, parsed, secure: session.secure,
        });
        for (const w of [...waiters]) if (received.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(received); }
        cb();
      });
    },
  };
  const server = new SMTPServer(serverOpts);
  server.on('error', () => undefined); // a client killed mid-session (crash tests) resets its socket
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port, url: `smtp://127.0.0.1:${port}`, received,
    waitFor(n, timeoutMs = 15_000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const w = { n, resolve };
        waiters.push(w);
        setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) { waiters.splice(i, 1); reject(new Error(`expected ${n} messages, got ${received.length}`)); } }, timeoutMs);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// A relay for the relay tests: a real SMTP server over TCP (smtp-server) that can be down (421 at
// the greeting, as a relay that is overloaded or restarting answers), throttle chosen destination
// domains (421 4.7.0 to their recipients), and records every message it accepted with its ledger id
// (the X-Postgate-Message header, else Message-ID), recipient and arrival time, without parsing.
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Accepted { key: string; rcpt: string; at: number }

export interface RelaySink {
  port: number; url: string;
  accepted: Accepted[];
  /** Sessions refused at the greeting while down. */
  refused: number;
  /** 421 replies given to recipients of throttled domains. */
  throttled: { rcpt: string; at: number }[];
  /** Down: every new connection gets "421 4.3.2 service not available" and is closed. */
  setDown(down: boolean): void;
  /** Recipients at these domains get "421 4.7.0 try again later" (per recipient, not the session). */
  setThrottled(domains: readonly string[]): void;
  /** Times each key was accepted, for keys accepted more than once. */
  duplicates(): string[];
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const HEADER_ID = /^(?:X-Postgate-Message|Message-ID):[ \t]*([^\r\n]+)/im;

export async function startRelaySink(o: { down?: boolean } = {}): Promise<RelaySink> {
  let down = o.down ?? false;
  let throttledDomains = new Set<string>();
  const accepted: Accepted[] = [];
  const throttled: { rcpt: string; at: number }[] = [];
  const state = { refused: 0 };
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, maxClients: 1000,
    onConnect(_session, cb) {
      if (!down) return cb();
      state.refused++;
      cb(Object.assign(new Error('4.3.2 service not available'), { responseCode: 421 }));
    },
    onRcptTo(address, _session, cb) {
      const rcpt = address.address.toLowerCase();
      if (!throttledDomains.has(rcpt.slice(rcpt.lastIndexOf('@') + 1))) return cb();
      throttled.push({ rcpt, at: Date.now() });
      cb(Object.assign(new Error('4.7.0 too many messages, try again later'), { responseCode: 421 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const head = Buffer.concat(chunks).toString('latin1', 0, 64 * 1024);
        accepted.push({ key: HEADER_ID.exec(head)?.[1].trim() ?? '(none)', rcpt: session.envelope.rcptTo[0]?.address.toLowerCase() ?? '', at: Date.now() });
        cb(null, 'OK: queued');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    port, url: `smtp://127.0.0.1:${port}`, accepted, throttled,
    get refused() { return state.refused; },
    setDown(d) { down = d; },
    setThrottled(domains) { throttledDomains = new Set(domains); },
    duplicates() {
      const seen = new Map<string, number>();
      for (const a of accepted) seen.set(a.key, (seen.get(a.key) ?? 0) + 1);
      return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    },
    async waitFor(n, timeoutMs = 20_000) {
      const t0 = Date.now();
      while (accepted.length < n) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`expected ${n} messages, got ${accepted.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const c of (server as unknown as { connections: Set<{ _socket: net.Socket }> }).connections) c._socket.destroy();
      server.close(() => resolve());
    }),
  };
}

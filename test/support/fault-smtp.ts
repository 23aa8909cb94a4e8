// A fault-injecting SMTP server for tests (smtp-server over real TCP): temporary 421/451 replies at a
// given rate, 5xx for chosen recipients, slow replies, connections dropped in the middle of DATA
// (the message is NOT accepted) and connections dropped right after the message was accepted but
// before the client could read the 250 (the message IS accepted: the client retries, an honest
// duplicate). Every decision is a deterministic function of (seed, fault, recipient, attempt number
// for that recipient), so a run is repeatable whatever the interleaving of connections.
// It counts what it accepted per message (key: the X-Postgate-Message header, else Message-ID +
// recipient) so tests can compare with the ledger and report duplicates.
import type net from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface FaultOptions {
  /** Seed of every decision; the same seed and traffic give the same faults. */
  seed?: number;
  /** Per attempt: a temporary failure (half at RCPT TO, half after the whole DATA was read). */
  tempFailRate?: number;
  /** Codes of temporary failures, picked per attempt (421 also closes the connection). */
  tempCodes?: number[];
  /** 550 5.1.1 at RCPT TO for these recipients (lower-cased addresses) or where the function says so. */
  permanentFor?: ReadonlySet<string> | ((rcpt: string) => boolean);
  /** Delay before every RCPT and end-of-DATA reply: a number, or [min, max] drawn per attempt. */
  slowMs?: number | [number, number];
  /** Per attempt: the connection is destroyed in the middle of DATA (nothing accepted). */
  dropRate?: number;
  /** Per attempt: the message is accepted and counted, then the connection is destroyed before the 250. */
  dropAfterAcceptRate?: number;
  /** Keep the raw messages (off by default: tests of volume only need counts). */
  keepRaw?: boolean;
}

export interface FaultStats {
  connections: number; rcpt: number; tempFailures: number; permanentFailures: number;
  droppedMidData: number; droppedAfterAccept: number; accepted: number;
}

export interface AcceptedMessage { key: string; rcpt: string[]; ledgerId: string | null; raw: Buffer | null; at: number }

export interface FaultSmtp {
  port: number; url: string; stats: FaultStats;
  /** Times each message key was accepted (counted at the end of DATA, dropped-after-accept included). */
  accepted: Map<string, number>;
  /** Times each message key was accepted and then had its connection dropped before the 250. */
  droppedAfterAccept: Map<string, number>;
  /** Every accepted message, in order. */
  messages: AcceptedMessage[];
  /** Per recipient, the fate of each attempt in order (e.g. 'rcpt 421', 'drop mid-DATA', 'data 451', 'accepted', 'accepted, dropped'). */
  fates: Map<string, string[]>;
  /** Keys accepted more than once, with how many times. */
  duplicates(): { key: string; count: number }[];
  /** Sum over keys of (times accepted − 1). */
  duplicateCount(): number;
  /** Changes the fault settings from now on (e.g. to heal the server). */
  setFaults(o: Partial<FaultOptions>): void;
  /** Resolves once `n` distinct keys were accepted. */
  waitForDistinct(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG; returns a generator of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic draw in [0, 1) for one (seed, fault, recipient, attempt). */
export function roll(seed: number, what: string, rcpt: string, attempt: number): number {
  return mulberry32(fnv1a(`${seed}|${what}|${rcpt}|${attempt}`))();
}

const HEADER_ID = /^X-Postgate-Message:[ \t]*([^\r\n]+)/im;
const MESSAGE_ID = /^Message-ID:[ \t]*([^\r\n]+)/im;

function keyOf(head: string, rcpt: string[]): { key: string; ledgerId: string | null } {
  const h = HEADER_ID.exec(head);
  if (h) return { key: h[1].trim(), ledgerId: h[1].trim() };
  const m = MESSAGE_ID.exec(head);
  return { key: `${m ? m[1].trim() : '(no id)'}|${rcpt.join(',')}`, ledgerId: null };
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

interface Connection { id: string; _socket: net.Socket }

export async function startFaultSmtp(initial: FaultOptions = {}): Promise<FaultSmtp> {
  let o: FaultOptions = { seed: 1, tempCodes: [421, 451], ...initial };
  const stats: FaultStats = { connections: 0, rcpt: 0, tempFailures: 0, permanentFailures: 0, droppedMidData: 0, droppedAfterAccept: 0, accepted: 0 };
  const accepted = new Map<string, number>();
  const droppedAfterAccept = new Map<string, number>();
  const messages: AcceptedMessage[] = [];
  const fates = new Map<string, string[]>();
  const fate = (rcpt: string, what: string) => { const f = fates.get(rcpt); if (f) f.push(what); else fates.set(rcpt, [what]); };
  const attempts = new Map<string, number>();
  const waiters = new Set<() => void>();
  /** Per session: the attempt number of its (single) recipient and where a temporary failure lands. */
  const plans = new WeakMap<SMTPServerSession, { rcpt: string; attempt: number; failAtData: number | null }>();

  const seed = () => o.seed ?? 1;
  const delay = (rcpt: string, attempt: number): number => {
    const s = o.slowMs;
    if (!s) return 0;
    if (typeof s === 'number') return s;
    return s[0] + Math.floor(roll(seed(), 'slow', rcpt, attempt) * (s[1] - s[0] + 1));
  };
  const later = (ms: number, fn: () => void) => (ms > 0 ? void setTimeout(fn, ms) : fn());
  const isPermanent = (rcpt: string) => {
    const p = o.permanentFor;
    if (!p) return false;
    return typeof p === 'function' ? p(rcpt) : p.has(rcpt);
  };
  const tempCode = (rcpt: string, attempt: number) => {
    const codes = o.tempCodes?.length ? o.tempCodes : [451];
    return codes[Math.floor(roll(seed(), 'code', rcpt, attempt) * codes.length)];
  };

  let server: SMTPServer;
  const socketOf = (session: SMTPServerSession): net.Socket | null => {
    const conns = (server as unknown as { connections: Set<Connection> }).connections;
    for (const c of conns) if (c.id === session.id) return c._socket;
    return null;
  };
  const notify = () => { for (const w of [...waiters]) w(); };

  server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, size: 50 * 1024 * 1024, maxClients: 1000,
    onConnect(_session, cb) { stats.connections++; cb(); },
    onRcptTo(address, session, cb) {
      stats.rcpt++;
      const rcpt = address.address.toLowerCase();
      const attempt = (attempts.get(rcpt) ?? 0) + 1;
      attempts.set(rcpt, attempt);
      const s = seed();
      let failAtData: number | null = null;
      let reply: Error | null = null;
      if (isPermanent(rcpt)) {
        stats.permanentFailures++;
        fate(rcpt, 'rcpt 550');
        reply = smtpError(550, '5.1.1 no such mailbox here');
      } else if (roll(s, 'temp', rcpt, attempt) < (o.tempFailRate ?? 0)) {
        stats.tempFailures++;
        const code = tempCode(rcpt, attempt);
        if (roll(s, 'temp-stage', rcpt, attempt) < 0.5) {
          fate(rcpt, `rcpt ${code}`);
          reply = smtpError(code, `${code === 421 ? '4.3.2 service busy, closing' : '4.7.1 try again later'}`);
        } else {
          failAtData = code;
        }
      }
      plans.set(session, { rcpt, attempt, failAtData });
      later(delay(rcpt, attempt), () => (reply ? cb(reply) : cb()));
    },
    onData(stream: SMTPServerDataStream, session, cb) {
      const plan = plans.get(session) ?? { rcpt: session.envelope.rcptTo[0]?.address.toLowerCase() ?? '', attempt: 1, failAtData: null };
      const s = seed();
      const dropMid = roll(s, 'drop', plan.rcpt, plan.attempt) < (o.dropRate ?? 0);
      const dropAfter = !dropMid && roll(s, 'drop-after', plan.rcpt, plan.attempt) < (o.dropAfterAcceptRate ?? 0);
      const chunks: Buffer[] = [];
      let dropped = false;
      stream.on('error', () => undefined); // the stream errors when its connection goes away mid-message
      stream.on('data', (c: Buffer) => {
        if (dropped) return;
        chunks.push(c);
        if (dropMid) {
          dropped = true;
          stats.droppedMidData++;
          fate(plan.rcpt, 'drop mid-DATA');
          socketOf(session)?.destroy();
        }
      });
      stream.on('end', () => {
        if (dropped) return;
        const raw = Buffer.concat(chunks);
        if (plan.failAtData !== null) {
          const code = plan.failAtData;
          fate(plan.rcpt, `data ${code}`);
          return later(delay(plan.rcpt, plan.attempt), () => cb(smtpError(code, code === 421 ? '4.3.2 service busy, closing' : '4.7.1 try again later')));
        }
        const rcpt = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const { key, ledgerId } = keyOf(raw.toString('latin1', 0, Math.min(raw.length, 64 * 1024)), rcpt);
        later(delay(plan.rcpt, plan.attempt), () => {
          accepted.set(key, (accepted.get(key) ?? 0) + 1);
          stats.accepted++;
          messages.push({ key, rcpt, ledgerId, raw: o.keepRaw ? raw : null, at: Date.now() });
          fate(plan.rcpt, dropAfter ? 'accepted, dropped' : 'accepted');
          if (dropAfter) {
            stats.droppedAfterAccept++;
            droppedAfterAccept.set(key, (droppedAfterAccept.get(key) ?? 0) + 1);
            socketOf(session)?.destroy(); // the client never reads the 250
          } else {
            cb(null, 'OK: queued');
          }
          notify();
        });
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;

  return {
    port, url: `smtp://127.0.0.1:${port}`, stats, accepted, droppedAfterAccept, messages, fates,
    duplicates: () => [...accepted].filter(([, n]) => n > 1).map(([key, count]) => ({ key, count })),
    duplicateCount: () => [...accepted.values()].reduce((a, n) => a + n - 1, 0),
    setFaults(next) { o = { ...o, ...next }; },
    waitForDistinct(n, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => { if (accepted.size >= n) { waiters.delete(check); clearTimeout(timer); resolve(); } };
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`expected ${n} distinct messages, got ${accepted.size}`)); }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => {
      for (const c of (server as unknown as { connections: Set<Connection> }).connections) c._socket.destroy();
      server.close(() => resolve());
    }),
  };
}

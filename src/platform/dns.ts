// DNS adapter: TXT and MX look-ups through node:dns's promise Resolver, on the servers of
// DNS_SERVERS (or the system's), with short timeouts. A name or record type that does not exist
// (NXDOMAIN, NODATA) is an answer, "missing", never an error; a server that does not answer is an
// error the caller reports as such.
import { Resolver } from 'node:dns/promises';

/** One look-up's answer: the records found, none (the name or type does not exist), or no answer. */
export type Lookup<T> = { kind: 'found'; records: T[] } | { kind: 'missing' } | { kind: 'error'; error: string };
export interface MxRecord { exchange: string; priority: number }

/** The look-ups Postgate needs; inject a fake only where no DNS server can be run. */
export interface DnsLookup {
  /** TXT records of `name`, each as its character-strings (RFC 1035 §3.3.14), in wire order. */
  txt(name: string): Promise<Lookup<string[]>>;
  /** MX records of `name`. */
  mx(name: string): Promise<Lookup<MxRecord>>;
}

export interface DnsOptions {
  /** Servers as ip, ip:port or [ipv6]:port; empty: the system's (/etc/resolv.conf). */
  servers?: string[];
  /** Per-try timeout in milliseconds (default 2000). */
  timeoutMs?: number;
  /** Tries per server (default 2). */
  tries?: number;
}

/**
 * A DNS answer's text as Postgate judges and stores it: C0 control characters and DEL (NUL above
 * all: PostgreSQL text and jsonb cannot hold it) become U+FFFD, visible in a check's `found`; tab,
 * CR and LF stay (whitespace a DKIM record may fold with). Anyone can publish any octets in a TXT.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

const MISSING = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/** Splits DNS_SERVERS ("127.0.0.1:5353, [::1]:53") into node:dns server strings; [] when unset. */
export function parseDnsServers(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A resolver on node:dns (c-ares): timeouts and tries bounded, so a verify request answers in seconds. */
export function createDnsLookup(opts: DnsOptions = {}): DnsLookup {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) resolver.setServers(opts.servers);
  async function lookup<T>(fn: () => Promise<T[]>): Promise<Lookup<T>> {
    try {
      const records = await fn();
      return records.length ? { kind: 'found', records } : { kind: 'missing' };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && MISSING.has(code)) return { kind: 'missing' };
      return { kind: 'error', error: printable(typeof code === 'string' ? code : String((err as Error)?.message ?? err)) };
    }
  }
  return {
    txt: (name) => lookup(async () => (await resolver.resolveTxt(name)).map((strings) => strings.map(printable))),
    mx: (name) => lookup(async () => (await resolver.resolveMx(name)).map((m) => ({ exchange: printable(m.exchange), priority: m.priority }))),
  };
}

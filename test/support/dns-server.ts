// A real DNS server on loopback (dns2, UDP and TCP on one port) serving records a test sets and
// changes at run time: Postgate's resolver (DNS_SERVERS) and mailauth's resolver query it over the
// wire like any authoritative server. An unknown name answers NXDOMAIN; a known name without the
// asked type answers NOERROR with no records (NODATA).
import type { AddressInfo } from 'node:net';
import { Resolver } from 'node:dns/promises';
import dns2 from 'dns2';

const { Packet } = dns2;

type Rr = { type: 'TXT'; strings: string[] } | { type: 'MX'; exchange: string; priority: number };

export interface TestDnsServer {
  /** "127.0.0.1:<port>": the value for DNS_SERVERS. */
  server: string;
  port: number;
  /** Replaces the TXT records of a name (each record: its character-strings; a string is one string). */
  txt(name: string, ...records: (string | string[])[]): void;
  /** Replaces the MX records of a name. */
  mx(name: string, ...records: { exchange: string; priority: number }[]): void;
  /** Removes a name (all types): it answers NXDOMAIN again. */
  remove(name: string): void;
  /** Questions received, as "TYPE name", in order. */
  queries: string[];
  /** A node:dns Resolver pointed at this server (for mailauth's `resolver` option and checks). */
  resolver(): Resolver;
  close(): Promise<void>;
}

const key = (name: string) => name.toLowerCase().replace(/\.$/, '');

export async function startDnsServer(): Promise<TestDnsServer> {
  const zone = new Map<string, Rr[]>();
  const queries: string[] = [];
  const handle = (request: InstanceType<typeof Packet>, send: (r: InstanceType<typeof Packet>) => Promise<Buffer>) => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const [q] = request.questions;
    const type = Object.entries(Packet.TYPE).find(([, v]) => v === q.type)?.[0] ?? String(q.type);
    queries.push(`${type} ${q.name}`);
    const records = zone.get(key(q.name));
    if (!records) {
      response.header.rcode = (Packet as unknown as { RCODE: { NXDOMAIN: number } }).RCODE.NXDOMAIN; // dns2 3.0.0's types omit RCODE
    } else {
      for (const r of records) {
        if (r.type === 'TXT' && q.type === Packet.TYPE.TXT) {
          response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data: r.strings } as never);
        } else if (r.type === 'MX' && q.type === Packet.TYPE.MX) {
          response.answers.push({ name: q.name, type: Packet.TYPE.MX, class: Packet.CLASS.IN, ttl: 1, exchange: r.exchange, priority: r.priority } as never);
        }
      }
    }
    void send(response);
  };
  // UDP picks a free port; TCP must then get the same one, which another process may hold for TCP
  // (EADDRINUSE): then both start again on another port, a few times.
  const bind = async (): Promise<{ udp: ReturnType<typeof dns2.createUDPServer>; tcp: ReturnType<typeof dns2.createTCPServer>; port: number }> => {
    const udp = dns2.createUDPServer(handle as never);
    await udp.listen(0, '127.0.0.1');
    const port = (udp as unknown as { address(): AddressInfo }).address().port;
    const tcp = dns2.createTCPServer(handle as never);
    try {
      await new Promise<void>((resolve, reject) => {
        (tcp as unknown as { once(e: string, f: (err?: Error) => void): void }).once('error', reject);
        (tcp as unknown as { listen(p: number, h: string, cb: () => void): void }).listen(port, '127.0.0.1', () => resolve());
      });
    } catch (err) {
      (udp as unknown as { close(): void }).close();
      throw err;
    }
    return { udp, tcp, port };
  };
  let bound: Awaited<ReturnType<typeof bind>> | null = null;
  for (let attempt = 1; !bound; attempt++) {
    try { bound = await bind(); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err; }
  }
  const { udp, tcp, port } = bound;
  const server = `127.0.0.1:${port}`;
  const set = (name: string, type: Rr['type'], rrs: Rr[]) => {
    const others = (zone.get(key(name)) ?? []).filter((r) => r.type !== type);
    zone.set(key(name), [...others, ...rrs]);
  };
  return {
    server, port, queries,
    txt: (name, ...records) => set(name, 'TXT', records.map((r) => ({ type: 'TXT', strings: Array.isArray(r) ? r : [r] }))),
    mx: (name, ...records) => set(name, 'MX', records.map((r) => ({ type: 'MX', ...r }))),
    remove: (name) => { zone.delete(key(name)); },
    resolver() {
      const r = new Resolver({ timeout: 2000, tries: 2 });
      r.setServers([server]);
      return r;
    },
    async close() {
      await new Promise<void>((resolve) => (udp as unknown as { close(cb: () => void): void }).close(() => resolve()));
      await new Promise<void>((resolve) => (tcp as unknown as { close(cb: () => void): void }).close(() => resolve()));
    },
  };
}

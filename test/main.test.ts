// Where Postgate listens (HOST): without SMTP_URL (the outbox, a newcomer's machine) HTTP and the
// inbound SMTP listener bind 127.0.0.1 only; a relaying install binds 0.0.0.0, since its MX and its
// public pages must be reachable. Checked over real sockets from this machine's non-loopback address
// when it has one (os.networkInterfaces()); the bound address is checked either way.
import net from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { startTestApp, useApp } from './support/app.js';
import { localUrl } from '../src/main.js';

function externalAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}
const external = externalAddress();

/** 'connected' or the error code of a TCP connection to host:port. */
function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(3000, () => { s.destroy(); resolve('timeout'); });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

const httpPort = (app: { pg: { httpServer: import('node:http').Server | null } }) => (app.pg.httpServer!.address() as net.AddressInfo);

describe('without SMTP_URL (outbox mode)', () => {
  const { app } = useApp({ smtp: false, tenant: false });

  it('binds HTTP to 127.0.0.1', () => {
    expect(app.pg.config.HOST).toBe('127.0.0.1');
    expect(httpPort(app).address).toBe('127.0.0.1');
  });

  it.skipIf(external === null)(`accepts no connection on this machine's other address (${external ?? 'none'}), HTTP or inbound SMTP`, async () => {
    expect(await connect(external!, httpPort(app).port)).toBe('ECONNREFUSED');
    expect(await connect(external!, app.pg.inboundPort!)).toBe('ECONNREFUSED');
    expect(await connect('127.0.0.1', httpPort(app).port)).toBe('connected');
    expect(await connect('127.0.0.1', app.pg.inboundPort!)).toBe('connected');
  });
});

describe('with SMTP_URL (relaying)', () => {
  const { app } = useApp({ tenant: false });

  it('binds all interfaces (0.0.0.0): the MX and the public pages must be reachable', async () => {
    expect(app.pg.config.HOST).toBe('0.0.0.0');
    expect(httpPort(app).address).toBe('0.0.0.0');
    if (external) {
      expect(await connect(external, httpPort(app).port)).toBe('connected');
      expect(await connect(external, app.pg.inboundPort!)).toBe('connected');
    }
  });
});

describe('HOST set', () => {
  const { app } = useApp({ smtp: false, tenant: false, config: { HOST: '::1' } });

  it('binds exactly that address, and the URL this machine uses follows it', async () => {
    expect(httpPort(app).address).toBe('::1');
    expect(app.url).toBe(`http://[::1]:${httpPort(app).port}`);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect(await connect('127.0.0.1', httpPort(app).port)).toBe('ECONNREFUSED');
  });

  it('maps a wildcard bind to loopback for local use', () => {
    expect(localUrl('0.0.0.0', 80)).toBe('http://127.0.0.1:80');
    expect(localUrl('::', 80)).toBe('http://127.0.0.1:80');
    expect(localUrl('10.0.0.5', 80)).toBe('http://10.0.0.5:80');
  });
});

describe('HOST that is no address of this machine', () => {
  it('fails the start in one line naming HOST, and stops what it had started', async () => {
    for (const [host, why] of [['no-such-host.invalid', /no such host/], ['192.0.2.77', /not an address of this machine/]] as const) {
      const err = await startTestApp({ smtp: false, config: { HOST: host } }).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(new RegExp(`^cannot listen on HOST ${host.replace(/\./g, '\\.')}: `));
      expect(err?.message).toMatch(why);
      expect(err?.message).not.toContain('\n');
    }
  });
});

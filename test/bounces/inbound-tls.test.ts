// STARTTLS on the inbound listener (src/bounces/inbound-smtp.ts), over real sockets: offered with the
// operator's certificate (INBOUND_TLS_CERT, INBOUND_TLS_KEY; made at test time, test/support/tls.ts)
// and verified by a client that trusts only the test CA; neither offered nor accepted without one
// (never smtp-server's built-in self-signed certificate).
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { makeTestCertificates } from '../support/tls.js';

const certs = makeTestCertificates();

/** A line-by-line SMTP client over a socket that can be upgraded: `reply()` reads one (multi-line) reply. */
function smtpClient(socket: net.Socket | tls.TLSSocket) {
  let buffer = '';
  let waiting: (() => void) | null = null;
  const onData = (d: Buffer) => { buffer += d.toString('latin1'); waiting?.(); };
  socket.on('data', onData);
  return {
    async reply(): Promise<string> {
      for (;;) {
        const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
        if (m) { const end = m.index + m[0].length; const r = buffer.slice(0, end); buffer = buffer.slice(end); return r; }
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no SMTP reply; got ${JSON.stringify(buffer)}`)), 5000);
          waiting = () => { clearTimeout(t); waiting = null; resolve(); };
        });
      }
    },
    async command(line: string): Promise<string> { socket.write(`${line}\r\n`); return this.reply(); },
    detach() { socket.off('data', onData); },
  };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  return s;
}

describe('with INBOUND_TLS_CERT and INBOUND_TLS_KEY', () => {
  const { app } = useApp({ tenant: false, config: { INBOUND_TLS_CERT: certs.certFile, INBOUND_TLS_KEY: certs.keyFile } });

  it('offers STARTTLS with that certificate, which a verifying client accepts', async () => {
    const plain = await connect(app.pg.inboundPort!);
    const c = smtpClient(plain);
    expect(await c.reply()).toMatch(/^220 /);
    expect(await c.command('EHLO client.example')).toMatch(/^250[ -]STARTTLS\r$/m);
    expect(await c.command('STARTTLS')).toMatch(/^220 /);
    c.detach();
    const secure = tls.connect({ socket: plain, ca: certs.caPem, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
    expect(secure.authorized).toBe(true);
    expect(secure.getPeerX509Certificate()?.fingerprint256).toBe(certs.fingerprint256);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    const s = smtpClient(secure);
    const ehlo = await s.command('EHLO client.example');
    expect(ehlo).toMatch(/^250 /m);
    expect(ehlo).not.toContain('STARTTLS');
    expect(await s.command('QUIT')).toMatch(/^221 /);
    secure.destroy();
  });
});

describe('without a certificate', () => {
  const { app } = useApp({ tenant: false });

  it('neither offers nor accepts STARTTLS', async () => {
    const plain = await connect(app.pg.inboundPort!);
    const c = smtpClient(plain);
    expect(await c.reply()).toMatch(/^220 /);
    expect(await c.command('EHLO client.example')).not.toContain('STARTTLS');
    expect(await c.command('STARTTLS')).toMatch(/^5\d\d /);
    expect(await c.command('QUIT')).toMatch(/^221 /);
    plain.destroy();
  });
});

// A real webhook receiver on loopback: records every request (headers, body, time) and answers with
// the status the test chooses (a function of the request's number, 1-based, and its webhook-id).
import http from 'node:http';

export interface Received { id: string; timestamp: string; signature: string; body: string; at: number; status: number; userAgent: string }

export interface Receiver {
  url: string; port: number; received: Received[];
  /** Sets the answer: a status for the n-th request (1-based, all ids together) of a webhook-id. */
  answer(fn: (n: number, id: string) => number | Promise<number>): void;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 (port 0: any free port, or the given one to come back on the same URL). */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  let answer: (n: number, id: string) => number | Promise<number> = () => 200;
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', async () => {
      n += 1;
      const id = String(req.headers['webhook-id'] ?? '');
      const status = await answer(n, id);
      received.push({ id, timestamp: String(req.headers['webhook-timestamp'] ?? ''), signature: String(req.headers['webhook-signature'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), status, userAgent: String(req.headers['user-agent'] ?? '') });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `nope ${'x'.repeat(3000)}`);
    });
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
  const p = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${p}/hook`, port: p, received,
    answer(fn) { answer = fn; },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

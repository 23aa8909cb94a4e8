// One signed webhook POST (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature, signed
// with the standardwebhooks library), through request-filtering-agent's agents: private, loopback and
// link-local targets are refused at connect time (after DNS) unless WEBHOOK_ALLOW_PRIVATE. Redirects
// are never followed (a 3xx is a failed attempt). At most RESPONSE_KEEP bytes of the answer are read.
import http from 'node:http';
import https from 'node:https';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { Webhook } from 'standardwebhooks';
import type { AttemptResult } from './store.js';

/** How much of a receiver's answer is kept in the attempt log, in bytes. */
export const RESPONSE_KEEP = 1024;

export interface WebhookEvent { id: string; type: string; at: string; data: Record<string, unknown> }

/** The JSON body of an event: {"type", "timestamp" (the event's time), "data": {...the event's data, "eventId"}}. */
export function payloadOf(e: WebhookEvent): string {
  return JSON.stringify({ type: e.type, timestamp: e.at, data: { ...e.data, eventId: e.id } });
}

/** The webhook-id of an event: the same on every retry and replay, so a receiver recognises duplicates. */
export function webhookId(eventId: string): string {
  return `evt_${eventId}`;
}

/** The outgoing side: the agents (kept alive, filtered) and the timeout. One per process. */
export class WebhookClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly inflight = new Set<http.ClientRequest>();

  constructor(private readonly opts: { allowPrivate: boolean; timeoutMs: number }) {
    const filter = { allowPrivateIPAddress: opts.allowPrivate, allowMetaIPAddress: false };
    this.httpAgent = new RequestFilteringHttpAgent({ keepAlive: true, maxSockets: 16, ...filter });
    this.httpsAgent = new RequestFilteringHttpsAgent({ keepAlive: true, maxSockets: 16, ...filter });
  }

  /**
   * POSTs `payload` to `url`, signed with `secret` for `msgId` (and with `previousSecret` too, when
   * given: Standard Webhooks' space-separated signatures, for a secret rotation), and reports the attempt: the status
   * code (null without an answer), the time to the answer in ms, an error (timeout, ssrf_refused,
   * redirect_not_followed, http_<status>, connection_error:<code>) and the answer's first bytes. Never throws.
   */
  async post(url: string, secret: string, msgId: string, payload: string, previousSecret: string | null = null): Promise<AttemptResult> {
    const t0 = performance.now();
    const now = new Date();
    let signature: string;
    try {
      signature = [secret, ...(previousSecret ? [previousSecret] : [])].map((s) => new Webhook(s).sign(msgId, now, payload)).join(' ');
    } catch (err) {
      return { statusCode: null, durationMs: 0, error: `signing_failed: ${(err as Error).message}`.slice(0, 300), response: null };
    }
    const headers = {
      'content-type': 'application/json', 'user-agent': 'Postgate', 'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature,
      'content-length': String(Buffer.byteLength(payload)),
    };
    const r = await this.request(url, headers, payload);
    const durationMs = Math.round(performance.now() - t0);
    if ('error' in r) return { statusCode: null, durationMs, error: r.error, response: null };
    const error = r.status >= 200 && r.status < 300 ? null : r.status >= 300 && r.status < 400 ? 'redirect_not_followed' : `http_${r.status}`;
    return { statusCode: r.status, durationMs, error, response: r.body };
  }

  private request(url: string, headers: Record<string, string>, payload: string): Promise<{ status: number; body: string } | { error: string }> {
    return new Promise((resolve) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const agent = u.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
      let settled = false;
      const done = (v: { status: number; body: string } | { error: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inflight.delete(req);
        resolve(v);
      };
      const req = mod.request(u, { method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (b: Buffer) => {
          if (kept < RESPONSE_KEEP) { chunks.push(b.subarray(0, RESPONSE_KEEP - kept)); kept += Math.min(b.length, RESPONSE_KEEP - kept); }
          if (kept >= RESPONSE_KEEP) res.destroy(); // the rest is not read
        });
        const finish = () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      const timer = setTimeout(() => { req.destroy(new Error('timeout')); }, this.opts.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => done({ error: errorCode(err) }));
      this.inflight.add(req);
      req.end(payload);
    });
  }

  /** Aborts every request in flight (their attempts record 'aborted') and closes idle connections. */
  abort(): void {
    for (const req of this.inflight) req.destroy(new Error('aborted'));
  }

  close(): void {
    this.abort();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** An outgoing request's failure as a short code. */
function errorCode(err: NodeJS.ErrnoException): string {
  if (/is not allowed\. Because/.test(err.message)) return 'ssrf_refused';
  if (err.message === 'timeout') return 'timeout';
  if (err.message === 'aborted') return 'aborted';
  return `connection_error:${err.code ?? err.message.slice(0, 100)}`;
}

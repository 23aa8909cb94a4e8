// Operational endpoints: liveness, readiness, metrics, OpenAPI and the capture outbox pages.
import type { Request, Router } from 'express';
import express from 'express';
import { databaseReady, type Db } from './db.js';
import { requireScope, type Api, type AuthContext } from './http.js';
import { DomainError } from '../domain-error.js';
import { escapeHtml } from '../html.js';
import type { Metrics } from './metrics.js';
import { listOutbox, outboxFileId, readOutbox } from './outbox.js';

export interface OpsDeps {
  db: Db; metrics: Metrics; api: Api; publicUrl: string; dataDir: string; outbox: boolean;
  /** API-key authentication (Bearer): a client not on this machine sees the outbox only with an admin-scope key. */
  authenticate?: (req: Request) => Promise<AuthContext>;
  /** Of these ledger message ids, those of the tenant (an admin key sees its own tenant's outbox files only). */
  tenantMessages?: (tenantId: string, ids: string[]) => Promise<Set<string>>;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/**
 * A request made on this machine: the TCP peer is a loopback address and nothing says it was
 * forwarded (a reverse proxy on this machine passes remote clients on from 127.0.0.1, so a request
 * with Forwarded, X-Forwarded-For or X-Real-IP is never local, whatever they say). Forwarding
 * headers are not trusted to make a request local.
 */
export function isLocalRequest(req: Request): boolean {
  return isLoopbackAddress(req.socket.remoteAddress) && FORWARDING_HEADERS.every((h) => req.headers[h] === undefined);
}

/** Newest outbox files looked at for a tenant's view (which shows up to OUTBOX_SHOWN of them). */
const OUTBOX_SCANNED_FOR_TENANT = 1000;
const OUTBOX_SHOWN = 200;

type OutboxViewer = { kind: 'operator' } | { kind: 'tenant'; tenantId: string };

/** Who may see the outbox: a local request sees all of it; anyone else needs an admin-scope key (401 without one, 403 with another scope) and sees its tenant's files. */
async function outboxViewer(d: OpsDeps, req: Request): Promise<OutboxViewer> {
  if (isLocalRequest(req)) return { kind: 'operator' };
  if (!d.authenticate) throw new DomainError('forbidden', 'the outbox is shown on this machine only');
  const auth = await requireScope(d.authenticate, req, 'admin', "the outbox needs an 'admin' key from a client that is not on this machine");
  return { kind: 'tenant', tenantId: auth.tenantId };
}

async function ready(db: Db): Promise<boolean> {
  try {
    await databaseReady(db);
    return true;
  } catch {
    return false;
  }
}

export function opsRouter(d: OpsDeps): Router {
  const r = express.Router();
  r.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  r.get('/readyz', async (_req, res) => {
    const ok = await Promise.race([ready(d.db), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000))]);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', database: ok });
  });
  r.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', d.metrics.registry.contentType);
    res.send(await d.metrics.registry.metrics());
  });
  r.get('/openapi.json', (_req, res) => { res.json(d.api.openapi(d.publicUrl)); });
  if (d.outbox) {
    r.get('/outbox', async (req, res) => {
      const viewer = await outboxViewer(d, req);
      let items = await listOutbox(d.dataDir, viewer.kind === 'operator' ? OUTBOX_SHOWN : OUTBOX_SCANNED_FOR_TENANT);
      if (viewer.kind === 'tenant') {
        const own = await (d.tenantMessages?.(viewer.tenantId, items.flatMap((i) => (i.messageId ? [i.messageId] : []))) ?? new Set<string>());
        items = items.filter((i) => i.messageId !== null && own.has(i.messageId)).slice(0, OUTBOX_SHOWN);
      }
      res.setHeader('Cache-Control', 'no-store');
      const rows = items.map((i) => `<li><a href="/outbox/${encodeURIComponent(i.file)}">${escapeHtml(i.file)}</a></li>`).join('');
      res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Postgate outbox</title></head>
<body><h1>Captured mail (no SMTP_URL set)</h1><p>${items.length} most recent messages, newest first.</p><ul>${rows}</ul></body></html>`);
    });
    r.get('/outbox/:file', async (req, res) => {
      const viewer = await outboxViewer(d, req);
      const id = outboxFileId(req.params.file);
      const visible = viewer.kind === 'operator' || (id !== null && (await d.tenantMessages?.(viewer.tenantId, [id]))?.has(id) === true);
      const buf = visible ? await readOutbox(d.dataDir, req.params.file) : null;
      res.setHeader('Cache-Control', 'no-store');
      if (!buf) { res.status(404).type('text').send('not found'); return; }
      res.type('text/plain; charset=utf-8').send(buf);
    });
  }
  return r;
}

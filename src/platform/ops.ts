// Operational endpoints: liveness, readiness, metrics, OpenAPI and the capture outbox pages.
import type { Router } from 'express';
import express from 'express';
import { databaseReady, type Db } from './db.js';
import type { Api } from './http.js';
import { escapeHtml } from '../html.js';
import type { Metrics } from './metrics.js';
import { listOutbox, readOutbox } from './smtp.js';

export interface OpsDeps { db: Db; metrics: Metrics; api: Api; publicUrl: string; dataDir: string; outbox: boolean }

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
    r.get('/outbox', async (_req, res) => {
      const items = await listOutbox(d.dataDir);
      const rows = items.map((i) => `<li><a href="/outbox/${encodeURIComponent(i.file)}">${escapeHtml(i.file)}</a></li>`).join('');
      res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Postgate outbox</title></head>
<body><h1>Captured mail (no SMTP_URL set)</h1><p>${items.length} most recent messages, newest first.</p><ul>${rows}</ul></body></html>`);
    });
    r.get('/outbox/:file', async (req, res) => {
      const buf = await readOutbox(d.dataDir, req.params.file);
      if (!buf) { res.status(404).type('text').send('not found'); return; }
      res.type('text/plain; charset=utf-8').send(buf);
    });
  }
  return r;
}

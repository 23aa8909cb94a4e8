// Serves the staff console (a Preact SPA built by `npm run build:console` into console/dist) under
// /console: the hashed assets under /console/assets/ (cached for a year, immutable) and index.html for
// every other GET under /console (never cached, so a new build is picked up at once). The console holds
// no business logic: its pages call the JSON API under /api.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';

/** The console's Content-Security-Policy: nothing from another origin (the product works offline). */
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: https:",
  "frame-src 'self'", "connect-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
].join('; ');

const MISSING = 'The staff console is not built: run `npm run build:console`.\n';

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * The /console routes over a built console directory (console/dist: index.html and assets/).
 * GET/HEAD /console/assets/<file> → the file, `Cache-Control: public, max-age=31536000, immutable`
 * (404 text when absent); GET/HEAD /console and /console/<anything else> → index.html, `no-store`.
 * Every answer carries the CSP, X-Frame-Options DENY, nosniff and Referrer-Policy no-referrer. When
 * `distDir` has no index.html, every GET answers 503 with a one-line text naming the build command.
 * index.html is read on each request (a few hundred bytes), so a rebuild needs no restart.
 */
export function consoleRouter(distDir: string): Router {
  const r = express.Router();
  const indexFile = path.join(distDir, 'index.html');
  const built = async (): Promise<boolean> => stat(indexFile).then((s) => s.isFile(), () => false);
  const missing = (res: Response): void => {
    res.status(503).setHeader('Cache-Control', 'no-store');
    res.type('text/plain').send(MISSING);
  };

  r.use('/console', (_req, res, next) => { securityHeaders(res); next(); });
  r.use('/console/assets', express.static(path.join(distDir, 'assets'), {
    index: false, redirect: false, fallthrough: true, immutable: true, maxAge: 365 * 24 * 3600 * 1000, dotfiles: 'ignore',
  }));
  r.use('/console/assets', async (req: Request, res: Response, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { next(); return; }
    if (!await built()) { missing(res); return; }
    res.status(404).setHeader('Cache-Control', 'no-store');
    res.type('text/plain').send('Not found\n');
  });
  r.get('/console{/*rest}', async (_req: Request, res: Response) => {
    let html: string;
    try {
      html = await readFile(indexFile, 'utf8');
    } catch {
      missing(res);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  });
  return r;
}

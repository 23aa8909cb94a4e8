// src/console/static.ts over a real express server: the SPA's index.html for every GET under /console,
// hashed assets cached for good, the security headers, and a 503 naming the build command when the
// console is not built. The real console/dist (built by the global set-up) is served the same way.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, consoleRouter } from '../../src/console/static.js';
import { CONSOLE_DIST } from '../../scripts/console-build.js';

const INDEX = '<!doctype html><html lang="en"><head><title>t</title><script type="module" src="/console/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>';

async function serve(distDir: string): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(consoleRouter(distDir));
  app.use((_req, res) => { res.status(404).type('text/plain').send('outside'); });
  const server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function expectSecurityHeaders(h: Headers): void {
  expect(h.get('content-security-policy')).toBe(CONSOLE_CSP);
  expect(h.get('x-frame-options')).toBe('DENY');
  expect(h.get('x-content-type-options')).toBe('nosniff');
  expect(h.get('referrer-policy')).toBe('no-referrer');
}

let tmp: string;
let built: { url: string; server: Server };
let missing: { url: string; server: Server };
let real: { url: string; server: Server };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'postgate-console-'));
  const dist = path.join(tmp, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await writeFile(path.join(dist, 'index.html'), INDEX);
  await writeFile(path.join(dist, 'assets', 'index-abc123.js'), 'console.log("console");\n');
  await writeFile(path.join(dist, 'assets', 'index-abc123.css'), 'body{margin:0}\n');
  built = await serve(dist);
  missing = await serve(path.join(tmp, 'nowhere'));
  real = await serve(CONSOLE_DIST);
});
afterAll(async () => {
  for (const s of [built, missing, real]) await new Promise((r) => s?.server.close(r));
  await rm(tmp, { recursive: true, force: true });
});

describe('a built console', () => {
  it.each(['/console', '/console/', '/console/login', '/console/contacts/7f0c-12', '/console/login?next=%2Fconsole%2Flists'])('answers index.html at %s, never cached', async (p) => {
    const res = await fetch(built.url + p);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expectSecurityHeaders(res.headers);
    expect(await res.text()).toBe(INDEX);
  });

  it('serves hashed assets with an immutable year-long cache and the right types', async () => {
    const js = await fetch(`${built.url}/console/assets/index-abc123.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expectSecurityHeaders(js.headers);
    expect(await js.text()).toContain('console.log');
    const css = await fetch(`${built.url}/console/assets/index-abc123.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers 404 (not index.html) for a missing asset, and does not leave the assets folder', async () => {
    for (const p of ['/console/assets/nope.js', '/console/assets/..%2Findex.html', '/console/assets/%2e%2e/%2e%2e/package.json']) {
      const res = await fetch(built.url + p);
      expect(res.status, p).toBe(404);
      expect(await res.text(), p).not.toContain('<div id="app">');
    }
  });

  it('leaves other paths and non-GET requests to the rest of the app', async () => {
    expect(await (await fetch(`${built.url}/consoles`)).text()).toBe('outside');
    expect(await (await fetch(`${built.url}/`)).text()).toBe('outside');
    expect(await (await fetch(`${built.url}/console/login`, { method: 'POST' })).text()).toBe('outside');
  });
});

describe('a console that is not built', () => {
  it.each(['/console/', '/console/lists', '/console/assets/index-abc123.js'])('answers 503 naming the build command at %s', async (p) => {
    const res = await fetch(missing.url + p);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('npm run build:console');
    expect(text.trim().split('\n')).toHaveLength(1);
  });
});

describe('the real console/dist', () => {
  it('is an index.html whose script and stylesheet are hashed files under /console/assets/, with no external URL', async () => {
    const res = await fetch(`${real.url}/console/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    // (The favicon is the empty data: URL, so the browser asks for nothing.)
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => r !== 'data:,');
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      expect(ref).toMatch(/^\/console\/assets\/[\w.-]+-[\w-]{8}\.(js|css)$/);
      const asset = await fetch(real.url + ref);
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      // Only XML namespace names and a link in preact-iso's error text: nothing the page would fetch.
      const text = await asset.text();
      const urls = text.match(/https?:\/\/[\w.-]+[^\s"'`)]*/g) ?? [];
      expect(urls.filter((u) => !/^http:\/\/www\.w3\.org\/|^https:\/\/github\.com\/preactjs\//.test(u)), ref).toEqual([]);
      expect(text, 'a production build (no JSX dev info)').not.toContain('/console/src/');
    }
  });
});

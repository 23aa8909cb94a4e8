// Public consent pages: plain server-rendered HTML, tenant-branded, accessible, no JavaScript.
// Every value is escaped; the only form posts back to the same URL with a real button.
import type { Response } from 'express';
import { escapeHtml, sendHtmlPage } from '../platform/http.js';

export interface PageInput { tenantName: string | null; title: string; paragraphs: string[]; items?: string[]; form?: { action: string; button: string } }

const STYLE = `body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;background:#f4f4f5;color:#18181b;margin:0;padding:2rem 1rem;line-height:1.5}
main{max-width:34rem;margin:0 auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}
h1{font-size:1.4rem;margin-top:0}.brand{font-weight:bold;color:#52525b;margin:0 0 1rem}
button{font:inherit;font-size:1.05rem;padding:.7rem 1.4rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
button:focus{outline:3px solid #f59e0b;outline-offset:2px}`;

export function renderPage(p: PageInput): string {
  const brand = p.tenantName ? `<p class="brand">${escapeHtml(p.tenantName)}</p>` : '';
  const paras = p.paragraphs.map((t) => `<p>${escapeHtml(t)}</p>`).join('\n');
  const items = p.items && p.items.length > 0 ? `<ul>${p.items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : '';
  const form = p.form ? `<form method="post" action="${escapeHtml(p.form.action)}"><button type="submit">${escapeHtml(p.form.button)}</button></form>` : '';
  const title = p.tenantName ? `${p.title} – ${p.tenantName}` : p.title;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${brand}<h1>${escapeHtml(p.title)}</h1>
${paras}
${items}
${form}
</main>
</body>
</html>
`;
}

/** Sends a page with headers that keep the token out of referrers, caches and frames. */
export function sendPage(res: Response, status: number, p: PageInput): void {
  sendHtmlPage(res, status, renderPage(p));
}

// The public engagement links on the `pages` router (no login: the signature is the authority).
//   GET  /c/:token   a valid click link: recorded (store.ts), then 302 to the signed target and
//                    only to it; a malformed, tampered or unknown-key link: 400 page, no redirect
//   HEAD /c/:token   the same 302, recorded as a scanner hit ('head')
//   GET  /o/:token   the open pixel: a 1×1 transparent GIF (no-store), recorded as an open
//   HEAD /o/:token   the same headers, recorded as a scanner hit
// A hit whose recording fails (database down) still redirects: the person reaches the target.
import type { Request, Response, Router } from 'express';
import type { AppDeps } from '../deps.js';
import { html } from '../html.js';
import { sendPage } from '../platform/http.js';
import { pageLanguage, pageTranslator } from '../i18n/pages.js';
import { verifyLink, type LinkPurpose } from './links.js';
import { recordHit } from './store.js';

/** A transparent 1×1 GIF (42 bytes). */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** The page of a link that does not verify, in the browser's language (nothing else is known). */
function invalidLink(req: Request, res: Response): void {
  const t = pageTranslator(req, res);
  sendPage(res, 400, { title: t.t('page.link.invalid.title'), brand: null, ...pageLanguage(t), body: html`
<p>${t.t('page.link.invalid.text')}</p>` });
}

const NO_STORE = { 'Cache-Control': 'no-store, private', 'Referrer-Policy': 'no-referrer', 'X-Robots-Tag': 'noindex, nofollow' };

/** Records the hit; a failure is logged, never shown (the redirect or pixel is answered anyway). */
async function record(deps: AppDeps, req: Request, kind: LinkPurpose, messageId: string, url: string | null): Promise<void> {
  try {
    await recordHit(deps.db, { kind, messageId, url, method: req.method, userAgent: req.get('user-agent'), now: Date.now() },
      deps.config.ENGAGEMENT_SCANNER_SECONDS);
  } catch (err) {
    deps.log.warn({ err: (err as Error).message, kind }, 'engagement hit not recorded');
  }
}

/** Mounts /c/:token and /o/:token (GET and HEAD). */
export function engagementPages(deps: AppDeps, pages: Router): void {
  const click = async (req: Request, res: Response): Promise<void> => {
    const v = verifyLink(deps.tokens, 'click', req.params.token);
    if (!v.ok || v.url === null) return invalidLink(req, res);
    await record(deps, req, 'click', v.messageId, v.url);
    res.status(302).set({ ...NO_STORE, Location: v.url }).end();
  };
  const open = async (req: Request, res: Response): Promise<void> => {
    const v = verifyLink(deps.tokens, 'open', req.params.token);
    if (!v.ok) return invalidLink(req, res);
    await record(deps, req, 'open', v.messageId, null);
    res.status(200).set({ ...NO_STORE, 'Content-Type': 'image/gif', 'Content-Length': String(PIXEL_GIF.length) });
    if (req.method === 'HEAD') res.end(); else res.end(PIXEL_GIF);
  };
  pages.head('/c/:token', click);
  pages.get('/c/:token', click);
  pages.head('/o/:token', open);
  pages.get('/o/:token', open);
}

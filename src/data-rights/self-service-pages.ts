// Self-service data rights, the public pages (issue 20; the flow and its rules: self-service.ts). No
// login and no script: the signed token in the path is the capability, forms POST to the same origin.
//   POST /u/:token/my-data     from the preference page's "Your data" section (request=export|erasure):
//                              rate-limited, recorded, mails the link; "check your inbox" (429 over the limit)
//   GET  /data/:token          the export link: a readable summary with a download button
//   GET  /data/:token/json     the same document as GET /api/contacts/:id/export, as a JSON file
//   GET  /erase/:token         the erasure link: what will be deleted and kept, and a button (changes nothing)
//   POST /erase/:token         erases (single use) and shows what was kept, and why
// An expired, tampered or used link gets a clear page (400/410) and changes nothing. Pages speak the
// contact's locale, else the browser's (Accept-Language), else the tenant's default, and carry its brand.
import express, { type Request, type Response, type Router } from 'express';
import type { AppDeps } from '../deps.js';
import type { PoolClient, Queryable } from '../platform/db.js';
import { html, type Brand, type Html } from '../html.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { isUuid } from '../policy/ids.js';
import type { StringOverrides, Translator } from '../i18n/translate.js';
import { pageLanguage, pageTranslator } from '../i18n/pages.js';
import type { PageTenant } from '../tenants/store.js';
import { tenantBrand } from '../tenants/brand.js';
import type { Requester } from '../consent/confirm.js';
import { readUnsubscribeToken } from '../unsubscribe/links.js';
import { loadLink } from '../unsubscribe/targets.js';
import { maskAddress } from '../unsubscribe/wording.js';
import { afterErasure } from './api.js';
import { eraseByLink, erasureLinkState, exportByLink, LinkGone, loadRightsLink, readRightsToken, requestRights,
  type LinkError, type RightsKind, type RightsLink, type SelfServiceSettings } from './self-service.js';
import { exportSummary } from './self-service-summary.js';

interface Ctx { deps: AppDeps; base: string; settings: SelfServiceSettings }

const who = (req: Request): Requester => ({ ip: req.ip ?? null, userAgent: keptHeaderValue(req.get('user-agent'), 500) });

/** A page in the translator's language, with the tenant's brand (none before the tenant is known). */
function page(res: Response, status: number, t: Translator, brand: Brand | null, title: string, body: Html): void {
  sendPage(res, status, { title, brand, body, ...pageLanguage(t, brand?.name) });
}

/** The translator of a page about a known person: their locale, the browser's, the tenant's default (with its overrides). */
const speak = (req: Request, res: Response, tenant: PageTenant, contactLocale: string | null): Translator =>
  pageTranslator(req, res, { contactLocale, tenant: { defaultLocale: tenant.defaultLocale, stringOverrides: tenant.stringOverrides as StringOverrides | undefined } });

const FAILURE_STATUS: Record<LinkError, number> = { invalid: 400, expired: 410, used: 410, gone: 410 };

function failure(res: Response, t: Translator, brand: Brand | null, reason: LinkError): void {
  page(res, FAILURE_STATUS[reason], t, brand, t.t(`rights.${reason}.title`), html`<p>${t.t(`rights.${reason}.text`)}</p>
<p>${t.t('rights.nothingChanged')}</p>`);
}

function serverError(ctx: Ctx, req: Request, res: Response, err: unknown): void {
  ctx.deps.log.error({ err: (err as Error).message, path: req.route?.path }, 'data-rights page failed');
  const t = pageTranslator(req, res);
  page(res, 500, t, null, t.t('rights.error.title'), html`<p>${t.t('rights.error.text')}</p>`);
}

type Reply = () => void | Promise<void>;

/** Runs fn in a transaction and sends its reply after the commit; renders a 500 page on an unexpected error. */
async function answer(ctx: Ctx, req: Request, res: Response, run: () => Promise<Reply>): Promise<void> {
  let reply: Reply;
  try {
    reply = await run();
  } catch (err) {
    if (err instanceof LinkGone) return failure(res, pageTranslator(req, res), null, 'gone');
    return serverError(ctx, req, res, err);
  }
  await reply();
}

// ---- the preference page's section and its POST ------------------------------------------------

/** The "Your data" section of the preference page: two buttons posting to `action` (/u/:token/my-data). */
export function dataRightsSection(action: string, t: Translator, tenantName: string): Html {
  return html`
<section aria-labelledby="your-data">
<h2 id="your-data">${t.t('rights.section.title')}</h2>
<p>${t.t('rights.section.intro', { tenant: tenantName })}</p>
<form method="post" action="${action}">
<button type="submit" name="request" value="export" class="secondary">${t.t('rights.section.export')}</button>
<button type="submit" name="request" value="erasure" class="secondary">${t.t('rights.section.erase')}</button>
</form>
</section>`;
}

/** Over the request limit: 429 with Retry-After, nothing recorded or sent. */
function limited(res: Response, t: Translator, brand: Brand, o: { retryAfter: number; perDay: number; backLink: Html }): void {
  const hours = Math.max(1, Math.ceil(o.retryAfter / 3600));
  res.set('Retry-After', String(o.retryAfter));
  page(res, 429, t, brand, t.t('rights.limited.title'), html`<p class="error" role="alert">${t.t('rights.limited.text', { max: o.perDay, hours })}</p>
<p>${t.t('rights.nothingChanged')}</p>${o.backLink}`);
}

async function requestPage(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const token = String(req.params.token);
  const subject = readUnsubscribeToken(ctx.deps.tokens, token);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const kind: RightsKind | null = body.request === 'export' ? 'export' : body.request === 'erasure' ? 'erasure' : null;
  if (!subject || !isUuid(subject.tenantId)) return failure(res, pageTranslator(req, res), null, 'invalid');
  if (!kind) { // the link is fine; the form was not the page's own (no or another `request`)
    const t = pageTranslator(req, res);
    return page(res, 400, t, null, t.t('rights.badForm.title'), html`<p>${t.t('rights.badForm.text')}</p>
<p><a href="${`${ctx.base}/u/${token}/preferences`}">${t.t('rights.back')}</a></p>`);
  }
  const back = `${ctx.base}/u/${token}/preferences`;
  await answer(ctx, req, res, () => ctx.deps.db.withTenant(subject.tenantId, async (c) => {
    const link = await loadLink(c, subject, true); // the contact's row lock serialises this person's requests
    if (!link) return () => failure(res, pageTranslator(req, res), null, 'gone');
    const t = speak(req, res, link.tenant, link.contact.locale);
    const brand = tenantBrand(link.tenant);
    const out = await requestRights(c, { tenantId: link.tenant.id, contactId: link.contact.id, email: link.contact.email, status: link.contact.status }, kind,
      { ...who(req), locale: t.locale }, ctx.settings);
    const backLink = html`<p><a href="${back}">${t.t('rights.back')}</a></p>`;
    if (!out.ok && out.why === 'unmailable') {
      const text = t.t('rights.unmailable.text', { email: maskAddress(link.contact.email), tenant: link.tenant.name, replyTo: link.tenant.replyTo });
      return () => page(res, 409, t, brand, t.t('rights.unmailable.title'), html`<p class="error" role="alert">${text}</p>${backLink}`);
    }
    if (!out.ok) return () => limited(res, t, brand, { retryAfter: out.retryAfter, perDay: ctx.settings.perDay, backLink });
    const email = maskAddress(link.contact.email);
    const text = kind === 'export' ? t.t('rights.requested.export', { email, hours: ctx.settings.linkHours }) : t.t('rights.requested.erasure', { email });
    return () => page(res, 200, t, brand, t.t('rights.requested.title'), html`<p class="status" role="status">${text}</p>${backLink}`);
  }));
}

// ---- the mailed links ---------------------------------------------------------------------------

type Loaded = { link: RightsLink; t: Translator; brand: Brand };

/**
 * Verifies a mailed link's token, opens its tenant's transaction and loads what it names; runs fn
 * with it (or renders the failure page). The reply is sent after the commit.
 */
async function withRightsLink(ctx: Ctx, kind: RightsKind, req: Request, res: Response, fn: (l: Loaded, c: PoolClient) => Promise<Reply>): Promise<void> {
  const r = readRightsToken(ctx.deps.tokens, kind, req.params.token);
  if (!r.ok) return failure(res, pageTranslator(req, res), null, r.error);
  await answer(ctx, req, res, () => ctx.deps.db.withTenant(r.claim.tenantId, async (c) => {
    const link = await loadRightsLink(c, kind, r.claim);
    if (!link) return () => failure(res, pageTranslator(req, res), null, 'invalid');
    const t = speak(req, res, link.tenant, link.contactLocale);
    return fn({ link, t, brand: tenantBrand(link.tenant) }, c);
  }));
}

const tokenOf = (req: Request): string => String(req.params.token);

async function showExport(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withRightsLink(ctx, 'export', req, res, async ({ link, t, brand }, c) => {
    const doc = await exportByLink(c, link, false, who(req));
    if (!doc) return () => failure(res, t, brand, 'gone');
    const download = `${ctx.base}/data/${tokenOf(req)}/json`;
    return () => page(res, 200, t, brand, t.t('rights.export.title', { tenant: link.tenant.name }), exportSummary(t, doc, download, link.tenant.name, link.expiresAt));
  });
}

async function downloadExport(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withRightsLink(ctx, 'export', req, res, async ({ link, t, brand }, c) => {
    const doc = await exportByLink(c, link, true, who(req));
    if (!doc) return () => failure(res, t, brand, 'gone');
    return () => {
      res.status(200).set({
        'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer',
        'X-Content-Type-Options': 'nosniff', 'Content-Disposition': `attachment; filename="my-data-${link.claim.contactId}.json"`,
      }).send(JSON.stringify(doc, null, 2));
    };
  });
}

function erasePreview(ctx: Ctx, token: string, l: Loaded, email: string): Html {
  const { t } = l;
  return html`<p>${t.t('rights.erase.intro', { tenant: l.link.tenant.name, email })}</p>
<p>${t.t('rights.erase.deleted')}</p>
<p>${t.t('rights.erase.kept')}</p>
<p><strong>${t.t('rights.erase.final')}</strong></p>
<form method="post" action="${ctx.base}/erase/${token}"><button type="submit">${t.t('rights.erase.button')}</button></form>`;
}

async function showErase(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withRightsLink(ctx, 'erasure', req, res, async (l, c) => {
    const problem = await erasureLinkState(c, l.link);
    if (problem || !l.link.contact) return () => failure(res, l.t, l.brand, problem ?? 'gone');
    const body = erasePreview(ctx, tokenOf(req), l, l.link.contact.email);
    return () => page(res, 200, l.t, l.brand, l.t.t('rights.erase.title'), body);
  });
}

function erasedPage(t: Translator, tenantName: string): Html {
  return html`<p class="status" role="status">${t.t('rights.erased.intro', { tenant: tenantName })}</p>
<h2>${t.t('rights.erased.keptTitle')}</h2>
<ul>
<li>${t.t('rights.erased.suppression', { tenant: tenantName })}</li>
<li>${t.t('rights.erased.records', { tenant: tenantName })}</li>
</ul>
<p>${t.t('rights.erased.again')}</p>`;
}

async function erase(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withRightsLink(ctx, 'erasure', req, res, async (l, c) => {
    const out = await eraseByLink(c, l.link);
    if (!out.ok) return () => failure(res, l.t, l.brand, out.error);
    return async () => {
      await afterErasure(ctx.deps, l.link.tenant.id, out.erased, 'self_service').catch((err: unknown) =>
        ctx.deps.log.error({ err: (err as Error).message }, 'outbox copies of an erased contact not removed'));
      page(res, 200, l.t, l.brand, l.t.t('rights.erased.title'), erasedPage(l.t, l.link.tenant.name));
    };
  });
}

/** Registers the pages on the public router; `base` is PUBLIC_URL's path (usually empty). */
export function selfServicePages(deps: AppDeps, pages: Router): void {
  const ctx: Ctx = { deps, base: new URL(deps.config.PUBLIC_URL).pathname.replace(/\/+$/, ''),
    settings: { linkHours: deps.config.DATA_RIGHTS_LINK_HOURS, perDay: deps.config.DATA_RIGHTS_REQUESTS_PER_DAY } };
  const r = express.Router();
  r.post('/u/:token/my-data', (req, res) => requestPage(ctx, req, res));
  r.get('/data/:token', (req, res) => showExport(ctx, req, res));
  r.get('/data/:token/json', (req, res) => downloadExport(ctx, req, res));
  r.get('/erase/:token', (req, res) => showErase(ctx, req, res));
  r.post('/erase/:token', (req, res) => erase(ctx, req, res));
  pages.use(r);
}

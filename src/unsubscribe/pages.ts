// Public unsubscribe and preference pages on the `pages` router (no login: the signed token is the
// capability, so no separate CSRF token is needed — a forged form would have to carry the token,
// and whoever holds the token may unsubscribe anyway).
//   GET  /u/:token               page with a button; changes nothing (mail scanners prefetch links)
//   POST /u/:token               RFC 8058 one-click (body List-Unsubscribe=One-Click): unsubscribes,
//                                200 text/plain, no redirect; any other POST (the page's form):
//                                unsubscribes and shows a done page offering to resubscribe
//   POST /u/:token/resubscribe   opt in again through the confirmation flow
//   GET  /u/:token/preferences   the tenant's lists with this contact's choices
//   POST /u/:token/preferences   save (303 back to the GET) or "unsubscribe from all"
// Every request runs inside the token's tenant transaction: a token of tenant A only ever sees A.
import express, { type Request, type Response, type Router } from 'express';
import type { AppDeps } from '../deps.js';
import type { PoolClient } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { DomainError } from '../domain-error.js';
import type { ActivationSettings } from '../consent/activation.js';
import { readUnsubscribeToken, type UnsubscribeLink, type UnsubscribeSubject } from './links.js';
import { html, type Brand, type Html } from '../html.js';
import { tenantBrand } from '../tenants/brand.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { isOneClick } from './one-click.js';
import type { Requester } from '../consent/confirm.js';
import { requestOptIn, savePreferences, tickedIds } from './preferences.js';
import { linkTarget, listChoices, loadLink, resubscribeTarget, type LinkContext, type ListChoice } from './targets.js';
import { unsubscribeContact } from '../consent/unsubscribe.js';
import { listNames, maskAddress, preferencesWording, resubscribeWording } from './wording.js';
import { pageLanguage, pageTranslator, tHtml } from '../i18n/pages.js';
import type { Translator } from '../i18n/translate.js';
import { dataRightsSection } from '../data-rights/self-service-pages.js';

type Ctx = { deps: AppDeps; base: string; settings: ActivationSettings };

const brandOf = (link: LinkContext): Brand => tenantBrand(link.tenant);
/** The requester as kept: the User-Agent read as UTF-8, controls blanked, card numbers redacted (platform/header-value). */
const who = (req: Request): Requester => ({ ip: req.ip ?? null, userAgent: keptHeaderValue(req.get('user-agent'), 500) });
const linkPath = (ctx: Ctx, token: string, rest = '') => `${ctx.base}/u/${token}${rest}`;
/** The page's translator: the link's contact's locale, then the browser's, then the tenant's default (and its overrides). */
const speak = (req: Request, res: Response, link: LinkContext | null = null): Translator =>
  pageTranslator(req, res, link ? { contactLocale: link.contact.locale, tenant: link.tenant } : {});
/** A page of this link (brand, language) with a title and body. */
const pageOf = (t: Translator, link: LinkContext | null, title: string, body: Html) =>
  ({ title, brand: link ? brandOf(link) : null, ...pageLanguage(t, link?.tenant.name), body });

function invalidLink(req: Request, res: Response): void {
  const t = speak(req, res);
  sendPage(res, 400, pageOf(t, null, t.t('page.link.invalid.title'), html`
<p>${t.t('page.link.invalid.text')}</p>
<p>${t.t('page.common.nothingChanged')}</p>`));
}

function inactiveLink(req: Request, res: Response): void {
  const t = speak(req, res);
  sendPage(res, 404, pageOf(t, null, t.t('page.unsubscribe.inactive.title'), html`
<p>${t.t('page.unsubscribe.inactive.text')}</p>`));
}

function failure(req: Request, res: Response, message: string, status = 409, link: LinkContext | null = null): void {
  const t = speak(req, res, link);
  sendPage(res, status, pageOf(t, null, t.t('page.common.failure.title'), html`<p class="error" role="alert">${t.t(message)}</p><p>${t.t('page.common.nothingChanged')}</p>`));
}

/** Explains a domain error from the consent flow (e.g. the activation cap) to a person, not a program: a message id. */
function optInProblem(err: DomainError): string {
  if (err.code === 'rate_limited') return 'page.unsubscribe.optIn.rateLimited';
  if (err.code === 'contact_not_eligible') return 'page.unsubscribe.optIn.notEligible';
  return 'page.unsubscribe.optIn.failed';
}

/** The link's subject when its token verifies (signature, purpose) and names a well-formed tenant. */
function verified(ctx: Ctx, req: Request): UnsubscribeLink | null {
  const subject = readUnsubscribeToken(ctx.deps.tokens, req.params.token);
  return subject && isUuid(subject.tenantId) ? subject : null;
}

type Reply = () => void;

/**
 * Verifies the token, opens the tenant's transaction, loads the link and runs fn, which returns the
 * reply; the reply is sent only after the transaction committed. Renders the error pages itself.
 */
async function withLink(ctx: Ctx, req: Request, res: Response, fn: (link: LinkContext, subject: UnsubscribeSubject, c: PoolClient) => Promise<Reply>): Promise<void> {
  const subject = verified(ctx, req);
  if (!subject) return invalidLink(req, res);
  let reply: Reply;
  let known: LinkContext | null = null; // the error pages speak the contact's language too
  try {
    reply = await ctx.deps.db.withTenant(subject.tenantId, async (c) => {
      const link = known = await loadLink(c, subject, req.method === 'POST');
      return link ? fn(link, link.subject, c) : () => inactiveLink(req, res);
    });
  } catch (err) {
    if (err instanceof DomainError) return failure(req, res, optInProblem(err), err.code === 'rate_limited' ? 429 : 409, known);
    ctx.deps.log.error({ err: (err as Error).message, path: req.path }, 'unsubscribe page failed');
    const t = speak(req, res, known);
    return sendPage(res, 500, pageOf(t, null, t.t('page.common.error.title'), html`<p>${t.t('page.common.error.text')}</p>`));
  }
  reply();
}

function confirmPage(ctx: Ctx, t: Translator, token: string, link: LinkContext, lists: ListChoice[], all: boolean): Html {
  const what = all ? t.t('page.unsubscribe.allFrom', { tenant: link.tenant.name }) : listNames(lists.map((l) => l.name), t);
  return html`
<p>${tHtml(t, 'page.unsubscribe.question', { what: html`<strong>${what}</strong>`, address: maskAddress(link.contact.email) })}</p>
<form method="post" action="${linkPath(ctx, token)}">
<button type="submit" name="scope" value="link">${t.t('page.unsubscribe.button')}</button>
${all ? '' : html`<button type="submit" name="scope" value="all" class="secondary">${t.t('page.unsubscribe.allButton', { tenant: link.tenant.name })}</button>`}
</form>
<p><a href="${linkPath(ctx, token, '/preferences')}">${t.t('page.unsubscribe.instead')}</a></p>`;
}

function donePage(ctx: Ctx, t: Translator, token: string, link: LinkContext, left: string, again: ListChoice[]): Html {
  const wording = resubscribeWording(link.tenant.name, again.map((l) => l.name), t);
  // Nothing to offer (the campaign's lists are private or archived): no resubscribe form.
  const form = again.length === 0 ? '' : html`<form method="post" action="${linkPath(ctx, token, '/resubscribe')}">
<p>${wording}</p>
<button type="submit" class="secondary">${t.t('page.unsubscribe.resubscribe.button')}</button>
</form>`;
  return html`
<p class="status" role="status">${t.t('page.unsubscribe.done.text', { address: maskAddress(link.contact.email), what: left })}</p>
${form}
<p><a href="${linkPath(ctx, token, '/preferences')}">${t.t('page.unsubscribe.manage')}</a></p>`;
}

async function showConfirm(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const target = await linkTarget(c, link);
    const t = speak(req, res, link);
    return () => sendPage(res, 200, pageOf(t, link, t.t('page.unsubscribe.title'), confirmPage(ctx, t, req.params.token as string, link, target.lists, target.listIds === 'all')));
  });
}

async function unsubscribe(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const oneClick = await isOneClick(req);
  if (oneClick) return oneClickUnsubscribe(ctx, req, res);
  await withLink(ctx, req, res, async (link, subject, c) => {
    const t = await linkTarget(c, link);
    const all = t.listIds === 'all' || (req.body as Record<string, unknown> | undefined)?.scope === 'all';
    await unsubscribeContact(c, { tenantId: link.tenant.id, contactId: link.contact.id, listIds: all ? 'all' : t.listIds,
      source: 'page', campaignId: subject.campaignId, ...who(req) });
    const tr = speak(req, res, link);
    const left = all ? tr.t('page.unsubscribe.done.all') : listNames(t.lists.map((l) => l.name), tr);
    const again = await resubscribeTarget(c, link);
    return () => sendPage(res, 200, pageOf(tr, link, tr.t('page.unsubscribe.done.title'), donePage(ctx, tr, req.params.token as string, link, left, again)));
  });
}

/**
 * RFC 8058: unsubscribe at once, answer 200 text/plain; no redirect, no login, no page. The short
 * answer is in the contact's language (then the client's, then the tenant's) for a person who sees it.
 */
async function oneClickUnsubscribe(ctx: Ctx, req: Request, res: Response): Promise<void> {
  let known: LinkContext | null = null;
  const text = (status: number, id: string) => {
    const t = speak(req, res, known);
    res.status(status).set({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Language': t.language }).send(`${t.t(id)}\n`);
  };
  const subject = verified(ctx, req);
  if (!subject) return text(400, 'page.unsubscribe.oneClick.invalid');
  try {
    await ctx.deps.db.withTenant(subject.tenantId, async (c) => {
      const link = known = await loadLink(c, subject, true);
      if (!link) return;
      const t = await linkTarget(c, link);
      await unsubscribeContact(c, { tenantId: link.tenant.id, contactId: link.contact.id, listIds: t.listIds,
        source: 'one_click', campaignId: link.subject.campaignId, ...who(req) });
    });
  } catch (err) {
    ctx.deps.log.error({ err: (err as Error).message }, 'one-click unsubscribe failed');
    return text(500, 'page.unsubscribe.oneClick.retry');
  }
  text(200, 'page.unsubscribe.oneClick.done');
}

async function resubscribe(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const again = await resubscribeTarget(c, link);
    const t = speak(req, res, link);
    const wording = resubscribeWording(link.tenant.name, again.map((l) => l.name), t);
    const sent = await requestOptIn(c, link, again.map((l) => l.id), wording, 'unsubscribe_page', who(req), ctx.settings);
    const args = { address: maskAddress(link.contact.email), lists: listNames(again.map((l) => l.name), t) };
    return () => sendPage(res, 200, pageOf(t, link, t.t(sent ? 'page.common.checkInbox.title' : 'page.unsubscribe.resubscribe.subscribed.title'), sent
      ? html`<p class="status" role="status">${t.t('page.unsubscribe.resubscribe.sent', args)}</p>
<p>${t.t('page.unsubscribe.resubscribe.until')}</p>`
      : html`<p class="status" role="status">${t.t('page.unsubscribe.resubscribe.already', args)}</p>`));
  });
}

function statusHint(t: Translator, l: ListChoice): string {
  if (l.status === 'subscribed') return t.t('page.preferences.status.subscribed');
  if (l.status === 'unconfirmed') return t.t('page.preferences.status.unconfirmed');
  return t.t('page.preferences.status.none');
}

function preferencesForm(ctx: Ctx, t: Translator, token: string, link: LinkContext, lists: ListChoice[], notice: Html | ''): Html {
  const options = lists.map((l) => html`
<div class="option">
<input type="checkbox" id="list-${l.id}" name="list" value="${l.id}"${l.status === 'subscribed' || l.status === 'unconfirmed' ? html` checked` : ''}>
<label for="list-${l.id}">${l.name}${l.description ? html`<span class="hint">${l.description}</span>` : ''}<span class="hint">${statusHint(t, l)}</span></label>
</div>`);
  return html`${notice}
<p>${t.t('page.preferences.for', { address: maskAddress(link.contact.email) })}</p>
<form method="post" action="${linkPath(ctx, token, '/preferences')}">
<fieldset>
<legend>${t.t('page.preferences.legend', { tenant: link.tenant.name })}</legend>
${options}
</fieldset>
<p>${preferencesWording(link.tenant.name, t)}</p>
<button type="submit" name="action" value="save">${t.t('page.preferences.save')}</button>
<button type="submit" name="action" value="unsubscribe_all" class="secondary">${t.t('page.preferences.unsubscribeAll')}</button>
</form>`;
}

function savedNotice(t: Translator, q: Record<string, unknown>): Html | '' {
  if (q.saved === 'all') return html`<p class="status" role="status">${t.t('page.preferences.saved.all')}</p>`;
  if (q.saved !== '1') return '';
  return html`<p class="status" role="status">${t.t(q.confirm === '1' ? 'page.preferences.saved.confirm' : 'page.preferences.saved')}</p>`;
}

async function showPreferences(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const lists = await listChoices(c, link.contact.id);
    const t = speak(req, res, link);
    const form = preferencesForm(ctx, t, req.params.token as string, link, lists, savedNotice(t, req.query as Record<string, unknown>));
    // Self-service data rights (issue 20, part E): its section goes after the form, in the same language (t).
    const yourData = dataRightsSection(linkPath(ctx, req.params.token as string, '/my-data'), t, link.tenant.name);
    return () => sendPage(res, 200, pageOf(t, link, t.t('page.preferences.title'), html`${form}${yourData}`));
  });
}

async function savePreferencesPage(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const token = req.params.token as string;
  await withLink(ctx, req, res, async (link, subject, c) => {
    if (body.action === 'unsubscribe_all') {
      await unsubscribeContact(c, { tenantId: link.tenant.id, contactId: link.contact.id, listIds: 'all', source: 'preferences',
        campaignId: subject.campaignId, ...who(req) });
      return () => res.redirect(303, linkPath(ctx, token, '/preferences?saved=all'));
    }
    const lists = await listChoices(c, link.contact.id);
    // The wording recorded is the one the page showed, in its language.
    const wording = preferencesWording(link.tenant.name, speak(req, res, link));
    const out = await savePreferences(c, link, lists, tickedIds(body.list, lists), wording, who(req), ctx.settings);
    return () => res.redirect(303, linkPath(ctx, token, `/preferences?saved=1${out.confirmationSent ? '&confirm=1' : ''}`));
  });
}

/** Registers the pages; `base` is PUBLIC_URL's path (usually empty), so links work behind a prefix. */
export function unsubscribePages(deps: AppDeps, pages: Router): void {
  const ctx: Ctx = { deps, base: new URL(deps.config.PUBLIC_URL).pathname.replace(/\/+$/, ''),
    settings: { capPerDay: deps.config.ACTIVATION_CAP_PER_DAY, ttlDays: deps.config.ACTIVATION_TTL_DAYS, tenantPerHour: deps.config.ACTIVATION_TENANT_PER_HOUR } };
  const r = express.Router();
  r.get('/u/:token', (req, res) => showConfirm(ctx, req, res));
  r.post('/u/:token', (req, res) => unsubscribe(ctx, req, res));
  r.post('/u/:token/resubscribe', (req, res) => resubscribe(ctx, req, res));
  r.get('/u/:token/preferences', (req, res) => showPreferences(ctx, req, res));
  r.post('/u/:token/preferences', (req, res) => savePreferencesPage(ctx, req, res));
  pages.use(r);
}

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
import { readUnsubscribeToken, type UnsubscribeSubject } from './links.js';
import { html, type Brand, type Html } from '../html.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { isOneClick } from './one-click.js';
import type { Requester } from '../consent/confirm.js';
import { requestOptIn, savePreferences, tickedIds } from './preferences.js';
import { linkTarget, listChoices, loadLink, resubscribeTarget, type LinkContext, type ListChoice } from './targets.js';
import { unsubscribeContact } from '../consent/unsubscribe.js';
import { listNames, maskAddress, preferencesWording, resubscribeWording } from './wording.js';

type Ctx = { deps: AppDeps; base: string; settings: ActivationSettings };

const brandOf = (link: LinkContext): Brand => ({ name: link.tenant.name, postalAddress: link.tenant.postalAddress });
/** The requester as kept: the User-Agent read as UTF-8, controls blanked, card numbers redacted (platform/header-value). */
const who = (req: Request): Requester => ({ ip: req.ip ?? null, userAgent: keptHeaderValue(req.get('user-agent'), 500) });
const linkPath = (ctx: Ctx, token: string, rest = '') => `${ctx.base}/u/${token}${rest}`;

function invalidLink(res: Response): void {
  sendPage(res, 400, { title: 'This link is not valid', brand: null, body: html`
<p>The link you followed is incomplete or has been changed. Please use the link exactly as it appears in the email.</p>
<p>Nothing was changed.</p>` });
}

function inactiveLink(res: Response): void {
  sendPage(res, 404, { title: 'Nothing to manage here', brand: null, body: html`
<p>This link no longer belongs to any subscription. No newsletters are sent through it.</p>` });
}

function failure(res: Response, brand: Brand | null, message: string, status = 409): void {
  sendPage(res, status, { title: 'That did not work', brand, body: html`<p class="error" role="alert">${message}</p><p>Nothing was changed.</p>` });
}

/** Explains a domain error from the consent flow (e.g. the activation cap) to a person, not a program. */
function optInProblem(err: DomainError): string {
  if (err.code === 'rate_limited') return 'We already sent several confirmation emails to this address today. Please try again tomorrow.';
  if (err.code === 'contact_not_eligible') return 'This address cannot be subscribed again from here: mail to it is blocked (for example after a delivery failure).';
  return 'We could not process this request.';
}

/** The link's subject when its token verifies (signature, purpose) and names a well-formed tenant. */
function verified(ctx: Ctx, req: Request): UnsubscribeSubject | null {
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
  if (!subject) return invalidLink(res);
  let reply: Reply;
  try {
    reply = await ctx.deps.db.withTenant(subject.tenantId, async (c) => {
      const link = await loadLink(c, subject, req.method === 'POST');
      return link ? fn(link, subject, c) : () => inactiveLink(res);
    });
  } catch (err) {
    if (err instanceof DomainError) return failure(res, null, optInProblem(err), err.code === 'rate_limited' ? 429 : 409);
    ctx.deps.log.error({ err: (err as Error).message, path: req.path }, 'unsubscribe page failed');
    return sendPage(res, 500, { title: 'Something went wrong', brand: null, body: html`<p>Please try again in a moment. Nothing was changed.</p>` });
  }
  reply();
}

function confirmPage(ctx: Ctx, token: string, link: LinkContext, lists: ListChoice[], all: boolean): Html {
  const what = all ? `all newsletters from ${link.tenant.name}` : listNames(lists.map((l) => l.name));
  return html`
<p>Do you want to stop receiving <strong>${what}</strong> at ${maskAddress(link.contact.email)}?</p>
<form method="post" action="${linkPath(ctx, token)}">
<button type="submit" name="scope" value="link">Unsubscribe</button>
${all ? '' : html`<button type="submit" name="scope" value="all" class="secondary">Unsubscribe from all newsletters of ${link.tenant.name}</button>`}
</form>
<p><a href="${linkPath(ctx, token, '/preferences')}">Choose which emails you receive instead</a></p>`;
}

function donePage(ctx: Ctx, token: string, link: LinkContext, left: string, again: ListChoice[]): Html {
  const wording = resubscribeWording(link.tenant.name, again.map((l) => l.name));
  // Nothing to offer (the campaign's lists are private or archived): no resubscribe form.
  const form = again.length === 0 ? '' : html`<form method="post" action="${linkPath(ctx, token, '/resubscribe')}">
<p>${wording}</p>
<button type="submit" class="secondary">Resubscribe</button>
</form>`;
  return html`
<p class="status" role="status">${maskAddress(link.contact.email)} is unsubscribed from ${left}. You will not receive them any more; messages about your account or orders may still reach you.</p>
${form}
<p><a href="${linkPath(ctx, token, '/preferences')}">Manage all your email preferences</a></p>`;
}

async function showConfirm(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const t = await linkTarget(c, link);
    return () => sendPage(res, 200, { title: 'Unsubscribe', brand: brandOf(link), body: confirmPage(ctx, req.params.token as string, link, t.lists, t.listIds === 'all') });
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
    const left = all ? 'all newsletters' : listNames(t.lists.map((l) => l.name));
    const again = await resubscribeTarget(c, link);
    return () => sendPage(res, 200, { title: 'You are unsubscribed', brand: brandOf(link), body: donePage(ctx, req.params.token as string, link, left, again) });
  });
}

/** RFC 8058: unsubscribe at once, answer 200 text/plain; no redirect, no login, no page. */
async function oneClickUnsubscribe(ctx: Ctx, req: Request, res: Response): Promise<void> {
  const text = (status: number, body: string) => { res.status(status).set({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).send(body); };
  const subject = verified(ctx, req);
  if (!subject) return text(400, 'This unsubscribe link is not valid. Nothing was changed.\n');
  try {
    await ctx.deps.db.withTenant(subject.tenantId, async (c) => {
      const link = await loadLink(c, subject, true);
      if (!link) return;
      const t = await linkTarget(c, link);
      await unsubscribeContact(c, { tenantId: link.tenant.id, contactId: link.contact.id, listIds: t.listIds,
        source: 'one_click', campaignId: subject.campaignId, ...who(req) });
    });
  } catch (err) {
    ctx.deps.log.error({ err: (err as Error).message }, 'one-click unsubscribe failed');
    return text(500, 'Please try again later.\n');
  }
  text(200, 'You have been unsubscribed.\n');
}

async function resubscribe(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const again = await resubscribeTarget(c, link);
    const wording = resubscribeWording(link.tenant.name, again.map((l) => l.name));
    const sent = await requestOptIn(c, link, again.map((l) => l.id), wording, 'unsubscribe_page', who(req), ctx.settings);
    return () => sendPage(res, 200, { title: sent ? 'Check your inbox' : 'You are subscribed', brand: brandOf(link), body: sent
      ? html`<p class="status" role="status">We sent an email to ${maskAddress(link.contact.email)}. Click the link in it to confirm ${listNames(again.map((l) => l.name))}.</p>
<p>Until you confirm, you will not receive these emails.</p>`
      : html`<p class="status" role="status">${maskAddress(link.contact.email)} already receives ${listNames(again.map((l) => l.name))}, or a confirmation is already on its way.</p>`,
    });
  });
}

function statusHint(l: ListChoice): string {
  if (l.status === 'subscribed') return 'You receive this.';
  if (l.status === 'unconfirmed') return 'Waiting for you to confirm: see the email we sent.';
  return 'You do not receive this.';
}

function preferencesForm(ctx: Ctx, token: string, link: LinkContext, lists: ListChoice[], notice: Html | ''): Html {
  const options = lists.map((l) => html`
<div class="option">
<input type="checkbox" id="list-${l.id}" name="list" value="${l.id}"${l.status === 'subscribed' || l.status === 'unconfirmed' ? html` checked` : ''}>
<label for="list-${l.id}">${l.name}${l.description ? html`<span class="hint">${l.description}</span>` : ''}<span class="hint">${statusHint(l)}</span></label>
</div>`);
  return html`${notice}
<p>Preferences for ${maskAddress(link.contact.email)}.</p>
<form method="post" action="${linkPath(ctx, token, '/preferences')}">
<fieldset>
<legend>Emails from ${link.tenant.name}</legend>
${options}
</fieldset>
<p>${preferencesWording(link.tenant.name)}</p>
<button type="submit" name="action" value="save">Save preferences</button>
<button type="submit" name="action" value="unsubscribe_all" class="secondary">Unsubscribe from all</button>
</form>`;
}

function savedNotice(q: Record<string, unknown>): Html | '' {
  if (q.saved === 'all') return html`<p class="status" role="status">You are unsubscribed from all newsletters.</p>`;
  if (q.saved !== '1') return '';
  return html`<p class="status" role="status">Your preferences are saved.${q.confirm === '1' ? ' We sent you an email to confirm the emails you added.' : ''}</p>`;
}

async function showPreferences(ctx: Ctx, req: Request, res: Response): Promise<void> {
  await withLink(ctx, req, res, async (link, _s, c) => {
    const lists = await listChoices(c, link.contact.id);
    return () => sendPage(res, 200, { title: 'Email preferences', brand: brandOf(link),
      body: preferencesForm(ctx, req.params.token as string, link, lists, savedNotice(req.query as Record<string, unknown>)) });
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
    const out = await savePreferences(c, link, lists, tickedIds(body.list, lists), preferencesWording(link.tenant.name), who(req), ctx.settings);
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

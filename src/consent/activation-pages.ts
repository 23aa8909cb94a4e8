// GET/POST /a/:token. GET never changes state (mail scanners follow links): it shows what the click
// will do and a button. POST uses the token. Expired, used or tampered links get a clear page with
// 410 or 400, and change nothing.
import type { Request, Response, Router } from 'express';
import type { Db } from '../platform/db.js';
import type { TokenKeys } from '../policy/tokens.js';
import { activationContactId, readActivationToken, type ActivationClaim } from './activation.js';
import { findContact } from './contacts.js';
import { getPageTenant, type PageTenant } from '../tenants/store.js';
import { confirm, confirmationWording, planConfirmation, type Plan, type PlanResult } from './confirm.js';
import { html, type PageSpec } from '../html.js';
import { tenantBrand, type BrandSource } from '../tenants/brand.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { pageLanguage, pageTranslator } from '../i18n/pages.js';
import type { Translator } from '../i18n/translate.js';

const MAX_UA = 500;

/** `tenant`, when known, brands the page (logo, accent colour, privacy link, postal address); else `tenantName` alone. */
export interface ActivationPage {
  tenantName: string | null; tenant?: BrandSource | null; title: string; paragraphs: string[]; items?: string[]; form?: { action: string; button: string };
  /** The page's language (lang, dir, footer labels); English when absent. */
  t?: Translator;
}

/** An activation page in the shared page shell: paragraphs, an optional list and an optional one-button form. */
export function activationPage(p: ActivationPage): PageSpec {
  const items = p.items && p.items.length > 0 ? html`<ul>${p.items.map((i) => html`<li>${i}</li>`)}</ul>\n` : '';
  const form = p.form ? html`<form method="post" action="${p.form.action}"><button type="submit">${p.form.button}</button></form>\n` : '';
  const brand = p.tenant ? tenantBrand(p.tenant) : p.tenantName ? { name: p.tenantName, postalAddress: null } : null;
  return {
    title: p.title, brand, ...(p.t ? pageLanguage(p.t, brand?.name) : {}),
    body: html`${p.paragraphs.map((t) => html`<p>${t}</p>\n`)}${items}${form}`,
  };
}

/** A failure's status and message ids (the title is the link's, the text the activation's own where it differs). */
const FAILURES = {
  invalid: { status: 400, title: 'page.link.invalid.title', text: 'page.activation.invalid.text' },
  expired: { status: 410, title: 'page.link.expired.title', text: 'page.activation.expired.text' },
  used: { status: 410, title: 'page.link.used.title', text: 'page.link.used.text' },
  gone: { status: 410, title: 'page.link.gone.title', text: 'page.link.gone.text' },
} as const;

/** Who a link that can no longer be used was for: its tenant (brand, default locale) and the contact's locale. */
interface FailureAudience { tenant: PageTenant | null; contactLocale: string | null }

/**
 * The page of a link that cannot be used: in the contact's language and the tenant's brand when the
 * link was genuine (used, gone), else in the browser's language, unbranded (the token told nothing).
 */
function sendFailure(req: Request, res: Response, reason: 'invalid' | 'expired' | 'used' | 'gone', who: FailureAudience = { tenant: null, contactLocale: null }): void {
  const t = pageTranslator(req, res, { contactLocale: who.contactLocale, tenant: who.tenant ?? undefined });
  const f = FAILURES[reason];
  sendPage(res, f.status, activationPage({
    tenantName: who.tenant?.name ?? null, tenant: who.tenant, t, title: t.t(f.title), paragraphs: [t.t(f.text), t.t('page.common.nothingHasChanged')],
  }));
}

/** The audience of a genuine link's failure page, read in its tenant's transaction (only on that path). */
function failureAudience(db: Db, claim: ActivationClaim): Promise<FailureAudience> {
  return db.withTenant(claim.tenantId, async (c) => {
    const tenant = await getPageTenant(c, claim.tenantId);
    const contactId = tenant ? await activationContactId(c, claim) : null;
    const contact = contactId ? await findContact(c, { id: contactId }) : null;
    return { tenant, contactLocale: contact && contact.status !== 'erased' ? contact.locale ?? null : null };
  });
}

function verified(keys: TokenKeys, req: Request, res: Response): ActivationClaim | null {
  const r = readActivationToken(keys, req.params.token);
  if (r.ok) return r.claim;
  sendFailure(req, res, r.error);
  return null;
}

/** The translator of a page about this plan's contact: their stored locale, the browser's, the tenant's default. */
const planTranslator = (req: Request, res: Response, plan: Plan): Translator =>
  pageTranslator(req, res, { contactLocale: plan.contact.locale, tenant: plan.tenant });

function previewPage(req: Request, res: Response, token: string, plan: Plan): void {
  const t = planTranslator(req, res, plan);
  const title = t.t(plan.verify ? 'page.activation.verify.title' : 'page.activation.subscribe.title');
  sendPage(res, 200, activationPage({
    tenantName: plan.tenant.name, tenant: plan.tenant, t, title, paragraphs: [confirmationWording(plan, t)],
    items: plan.lists.map((l) => l.name), form: { action: `/a/${token}`, button: t.t('page.common.confirm.button') },
  }));
}

function donePage(req: Request, res: Response, plan: Plan): void {
  const t = planTranslator(req, res, plan);
  const paragraphs = [t.t(plan.verify ? 'page.activation.done.verified' : 'page.activation.done.already', { email: plan.contact.email })];
  if (plan.lists.length > 0) paragraphs.push(t.t('page.activation.done.lists'));
  sendPage(res, 200, activationPage({ tenantName: plan.tenant.name, tenant: plan.tenant, t, title: t.t('page.common.confirmed.title'), paragraphs, items: plan.lists.map((l) => l.name) }));
}

async function answer(db: Db, claim: ActivationClaim, req: Request, res: Response, r: PlanResult, ok: (plan: Plan) => void): Promise<void> {
  if (r.ok) return ok(r.plan);
  sendFailure(req, res, r.reason, await failureAudience(db, claim).catch(() => undefined));
}

export function activationPages(pages: Router, db: Db, keys: TokenKeys): void {
  pages.get('/a/:token', async (req, res) => {
    const claim = verified(keys, req, res);
    if (!claim) return;
    const r = await db.withTenant(claim.tenantId, (c) => planConfirmation(c, claim));
    await answer(db, claim, req, res, r, (plan) => previewPage(req, res, String(req.params.token), plan));
  });
  pages.post('/a/:token', async (req, res) => {
    const claim = verified(keys, req, res);
    if (!claim) return;
    // The User-Agent's bytes read as UTF-8, controls blanked, card numbers redacted (platform/header-value).
    const who = { ip: req.ip ?? null, userAgent: keptHeaderValue(req.get('user-agent'), MAX_UA) };
    // The wording stored as the proof is the one the preview showed: in the same language.
    const wording = (plan: Plan): string => confirmationWording(plan, planTranslator(req, res, plan));
    const r = await db.withTenant(claim.tenantId, (c) => confirm(c, claim, who, wording));
    await answer(db, claim, req, res, r, (plan) => donePage(req, res, plan));
  });
}

// The hosted subscription form of a public list, on the `pages` router (public, no login):
//   GET  /subscribe/:listId   the form: email, optional name, the consent wording, a honeypot
//   POST /subscribe/:listId   (urlencoded; from this page or the tenant's embedded snippet, any origin)
//                             → double opt-in (registerContact, channel 'form') → "Check your inbox"
// No cookies, no script, the page shell and headers of every public page (platform/http sendPage).
// Cross-origin posts are accepted on purpose (the snippet lives on the tenant's site): no CSRF token;
// double opt-in protects the address, and the caps below protect the mailbox and the tenant.
// A list that is unknown, private, archived or deleted gets a 404 page. A filled honeypot gets the
// same "Check your inbox" page and nothing is sent or recorded. Over a cap: a 429 page with
// Retry-After (per client IP: FORM_PER_IP_PER_HOUR/DAY; per mailbox: ACTIVATION_CAP_PER_DAY; per
// tenant: ACTIVATION_TENANT_PER_HOUR). A bad address or name: the form again, 422, naming the field.
import type { Request, Response, Router } from 'express';
import type { AppDeps } from '../deps.js';
import type { PoolClient } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { html, type Brand, type Html } from '../html.js';
import { tenantBrand } from '../tenants/brand.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { displayName } from '../platform/schemas.js';
import { parseAddress } from '../policy/addresses.js';
import { containsCardNumber } from '../policy/cards.js';
import { getPageTenant } from '../tenants/store.js';
import { pageLanguage, pageTranslator, tHtml } from '../i18n/pages.js';
import { translatorFor } from '../i18n/catalogues.js';
import { LANGUAGES, type StringOverrides, type Translator } from '../i18n/translate.js';
import type { ActivationSettings } from './activation.js';
import { findContact } from './contacts.js';
import { HONEYPOT_FIELD, hostedForm, wordingHash, type FormView } from './form-html.js';
import { formOrigin, formTenant, ipHash, isFormWording, takeFormSlot, type FormLimits } from './forms.js';
import { publicList } from './lists.js';
import { consentText, storeConsentText } from './records.js';
import { registerContact } from './register.js';

interface Ctx { deps: AppDeps; settings: ActivationSettings; limits: FormLimits; hostedOrigin: string }

/**
 * What a form shows: the tenant's brand, the list's name and the wording, in the page's language (t:
 * the browser's, then the tenant's default; a new contact keeps it as its locale).
 */
interface FormSubject { tenantId: string; brand: Brand; listId: string; listName: string; wording: string; t: Translator; overrides: StringOverrides }

/** A submission as read from the urlencoded body (a repeated field counts as absent). */
interface Submission { email: string; name: string; honeypot: string; wording: string; hosted: boolean }

type Reply = () => void;

const field = (body: unknown, name: string): string => {
  const v = (body && typeof body === 'object') ? (body as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : '';
};

function readSubmission(body: unknown): Submission {
  return { email: field(body, 'email').slice(0, 400), name: field(body, 'name').slice(0, 400), honeypot: field(body, HONEYPOT_FIELD), wording: field(body, 'wording').slice(0, 64),
    hosted: field(body, 'via') === 'hosted' };
}

function notAvailable(req: Request, res: Response): void {
  const t = pageTranslator(req, res);
  sendPage(res, 404, { title: t.t('page.form.unavailable.title'), brand: null, ...pageLanguage(t), body: html`
<p>${t.t('page.form.unavailable.text')}</p>` });
}

/** The public list's tenant, brand and wording, in the tenant's transaction; null when it is not open to sign-ups. */
async function subjectOf(c: PoolClient, req: Request, res: Response, tenantId: string, listId: string): Promise<FormSubject | null> {
  const [list, tenant] = [await publicList(c, listId), await getPageTenant(c, tenantId)];
  if (!list || !tenant) return null;
  const t = pageTranslator(req, res, { tenant });
  return { tenantId, listId, listName: list.name, brand: tenantBrand(tenant), t, overrides: tenant.stringOverrides ?? {},
    wording: t.t('page.form.wording', { list: list.name, tenant: tenant.name }) };
}

/** A page of this form's tenant in the form's language. */
function send(res: Response, status: number, s: FormSubject, title: string, body: Html): void {
  sendPage(res, status, { title, brand: s.brand, ...pageLanguage(s.t, s.brand.name), body });
}

function formPage(res: Response, status: number, s: FormSubject, view: Omit<FormView, 'action' | 'wording'> = {}): void {
  const { t } = s;
  const labels = { email: t.t('page.form.email'), name: t.t('page.form.name'), honeypot: t.t('page.form.honeypot'), submit: t.t('page.form.submit') };
  const body = html`<p>${tHtml(t, 'page.form.intro', { list: html`<strong>${s.listName}</strong>` })}</p>
${hostedForm({ action: `/subscribe/${s.listId}`, wording: s.wording, labels, ...view })}`;
  send(res, status, s, t.t('page.form.title', { list: s.listName }), body);
}

function checkInbox(res: Response, s: FormSubject, email: string): void {
  const { t } = s;
  send(res, 200, s, t.t('page.common.checkInbox.title'), html`<p class="status" role="status">${t.t('page.form.sent', { email, list: s.listName })}</p>
<p>${t.t('page.form.sent.next')}</p>`);
}

function tooMany(res: Response, s: FormSubject, retryAfter: number, text: string): void {
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  send(res, 429, s, s.t.t('page.common.tooMany.title'), html`<p class="error" role="alert">${s.t.t(text)}</p><p>${s.t.t('page.common.nothingChanged')}</p>`);
}

function failed(res: Response, s: FormSubject, text: string): void {
  send(res, 409, s, s.t.t('page.common.failure.title'), html`<p class="error" role="alert">${s.t.t(text)}</p><p>${s.t.t('page.common.nothingChanged')}</p>`);
}

/** Why the address or name cannot be taken (the form shows it next to the field, in the page's language), or null. */
function invalidField(t: Translator, sub: Submission): FormView['error'] | null {
  const address = parseAddress(sub.email);
  if (!address.ok || containsCardNumber(sub.email)) return { field: 'email', message: t.t(sub.email.trim() === '' ? 'page.form.error.emailMissing' : 'page.form.error.emailInvalid') };
  if (sub.name.trim() !== '' && (!displayName(200).safeParse(sub.name.trim()).success || containsCardNumber(sub.name))) {
    return { field: 'name', message: t.t('page.form.error.name') };
  }
  return null;
}

/**
 * Where the consent was given (descriptive, as the person's browser tells it): 'hosted' (this page,
 * whose own posts carry no Origin: its Referrer-Policy is no-referrer), else 'embedded' and the web
 * origin of the page that embedded the snippet when the browser sent a well-formed one (formOrigin:
 * scheme://host[:port], normalised); any other Origin is not recorded.
 */
function originOf(ctx: Ctx, req: Request, sub: Submission): string {
  const origin = formOrigin(req.get('origin'));
  if (sub.hosted || origin === ctx.hostedOrigin) return 'hosted';
  return origin ? `embedded ${origin}` : 'embedded';
}

/**
 * The wording the person saw: the posted hash when this tenant stored that wording and it is a form's
 * (an older version, shown before a rename), else today's. A hash of another stored text (a wording
 * the app sent through the API) is not believed.
 */
async function shownWording(c: PoolClient, s: FormSubject, postedHash: string): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(postedHash) || postedHash === wordingHash(s.wording)) return s.wording;
  const older = await consentText(c, postedHash);
  return older !== null && (isFormWording(older, s.brand.name) || isLocalFormWording(older, s)) ? older : s.wording;
}

/** Whether `text` is this tenant's form wording in any language Postgate speaks (its overrides too), for some list name. */
function isLocalFormWording(text: string, s: FormSubject): boolean {
  return LANGUAGES.some((lang) => {
    const [head, tail] = translatorFor(lang, s.overrides).t('page.form.wording', { list: '\u0000', tenant: s.brand.name }).split('\u0000');
    return tail !== undefined && text.length > head.length + tail.length && text.startsWith(head) && text.endsWith(tail);
  });
}

function explain(res: Response, s: FormSubject, err: DomainError): void {
  const retry = Number(err.details.retryAfterSeconds ?? 60);
  if (err.code === 'rate_limited' && err.field === 'email') return tooMany(res, s, retry, 'page.form.rateLimited.mailbox');
  if (err.code === 'rate_limited') return tooMany(res, s, retry, 'page.form.rateLimited.tenant');
  failed(res, s, 'page.form.failed');
}

/** One accepted submission in the tenant's transaction: the IP slot, then double opt-in. Returns the reply. */
async function subscribe(ctx: Ctx, req: Request, res: Response, c: PoolClient, s: FormSubject, sub: Submission): Promise<Reply> {
  const slot = await takeFormSlot(c, s.tenantId, ipHash(ctx.deps.tokens, req.ip ?? 'unknown'), ctx.limits);
  if (!slot.ok) return () => tooMany(res, s, slot.retryAfter, 'page.form.rateLimited.network');
  const email = (parseAddress(sub.email) as { ok: true; value: { address: string } }).value.address;
  const known = await findContact(c, { email });
  const consent = { text: await shownWording(c, s, sub.wording), source: originOf(ctx, req, sub), ip: req.ip, userAgent: keptHeaderValue(req.get('user-agent'), 500) ?? undefined };
  // A known contact's name is never changed from a public form.
  const name = known || sub.name.trim() === '' ? undefined : sub.name.trim();
  // A new contact keeps the page's locale (a known one keeps its own): its mail speaks the language of the form.
  await registerContact(c, s.tenantId, { email, name, newsletter: [s.listId], consent, locale: s.t.locale }, ctx.settings, 'form');
  return () => checkInbox(res, s, email);
}

/** Runs fn in the list's tenant transaction with its form subject; the 404 page when the list is not open to sign-ups. */
async function withSubject(ctx: Ctx, req: Request, res: Response, fn: (c: PoolClient, s: FormSubject) => Promise<Reply>): Promise<void> {
  const listId = String(req.params.listId).toLowerCase();
  const tenantId = await ctx.deps.db.withSystem((c) => formTenant(c, listId));
  if (!tenantId) return notAvailable(req, res);
  const held: { subject: FormSubject | null } = { subject: null };
  try {
    const reply = await ctx.deps.db.withTenant(tenantId, async (c) => {
      const subject = held.subject = await subjectOf(c, req, res, tenantId, listId);
      return subject ? fn(c, subject) : () => notAvailable(req, res);
    });
    reply();
  } catch (err) {
    if (!(err instanceof DomainError) || !held.subject) throw err;
    explain(res, held.subject, err);
  }
}

/** Registers GET and POST /subscribe/:listId on the public pages router. */
export function formPages(pages: Router, deps: AppDeps): void {
  const ctx: Ctx = {
    deps, hostedOrigin: new URL(deps.config.PUBLIC_URL).origin,
    settings: { capPerDay: deps.config.ACTIVATION_CAP_PER_DAY, ttlDays: deps.config.ACTIVATION_TTL_DAYS, tenantPerHour: deps.config.ACTIVATION_TENANT_PER_HOUR },
    limits: { perHour: deps.config.FORM_PER_IP_PER_HOUR, perDay: deps.config.FORM_PER_IP_PER_DAY },
  };
  pages.get('/subscribe/:listId', (req, res) => withSubject(ctx, req, res, async (c, s) => {
    await storeConsentText(c, s.tenantId, s.wording); // so a later post of this version's hash finds it
    return () => formPage(res, 200, s);
  }));
  pages.post('/subscribe/:listId', (req, res) => withSubject(ctx, req, res, async (c, s) => {
    const sub = readSubmission(req.body);
    if (sub.honeypot !== '') return () => checkInbox(res, s, sub.email.trim());
    const error = invalidField(s.t, sub);
    if (error) return () => formPage(res, 422, s, { error, values: { email: sub.email, name: sub.name } });
    return subscribe(ctx, req, res, c, s, sub);
  }));
}


// Necessary notices (account, technical, legal, support) from the built-in templates in
// templates/notices/. Ledger purpose notice:<idempotencyKey> (notice:<random uuid> without a key).
// Template data convention: `subject` overrides the template's default subject (its <mj-title>),
// `body` is plain text (blank lines make paragraphs), `actionUrl` + `actionLabel` make a button,
// `preview` is the inbox preview line; any other key is available to the template as {{key}}.
// `template` may also be the id of a tenant's stored template (the campaigns module's versioned
// templates): the notice is pinned to its current version (ledger template notice:stored:<id>,
// template_version), so a later edit does not change what a queued or retried notice says.
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import type { LedgerMessage } from '../mail/ledger.js';
import { renderMessage } from '../mail/render.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { SUBJECT_INJECTION, subjectBoundInjection, type NoticeInput } from './requests.js';
import { refusalError } from './submit.js';
import type { SubmissionBatcher } from './batch.js';
import { compiledStored, compiledTemplate, STORED_PREFIX, storedTemplate } from './templates.js';
import { brandView, commonWords, mailTranslator, words } from '../mail/builtin.js';
import type { Translator } from '../i18n/translate.js';

/** What a notice row keeps in its ledger `data`; the sender reads `replyTo` from there; `locale`: the request's. */
export interface NoticeData { vars: Record<string, unknown>; replyTo?: string; locale?: string }

/** Queues a notice (group commit with concurrent requests: transactional/batch.ts); 202 created, 200 replayed; 409/422 as DomainError. */
export async function createNotice(batcher: SubmissionBatcher, tenantId: string, n: NoticeInput): Promise<{ status: 200 | 202; message: LedgerMessage }> {
  const purpose = `notice:${n.idempotencyKey ?? randomUUID()}`;
  const data: NoticeData = { vars: n.data, ...(n.replyTo ? { replyTo: n.replyTo } : {}), ...(n.locale ? { locale: n.locale } : {}) };
  const r = await batcher.submit({
    tenantId, purpose, kind: n.kind, template: n.stored ? `${STORED_PREFIX}${n.template}` : `notice:${n.template}`, contact: n.contact,
    request: n, data: { ...data }, keyField: 'idempotencyKey', prepare: n.stored ? (tx) => pinStored(tx, n) : undefined,
  });
  if (r.outcome === 'refused') throw refusalError(r.message);
  return { status: r.outcome === 'created' ? 202 : 200, message: r.message };
}

/** A stored template's current version, after the checks a built-in one gets from the schema. */
async function pinStored(c: Queryable, n: NoticeInput): Promise<{ templateVersion: number }> {
  const t = await storedTemplate(c, n.template);
  if (!t) throw new DomainError('invalid', 'template: no stored template with this id', 'template');
  const bad = subjectBoundInjection(t.source.subject, n.data);
  if (bad) throw new DomainError('invalid', `data.${bad}: ${SUBJECT_INJECTION}`, `data.${bad}`);
  return { templateVersion: t.version };
}

function paragraphs(body: unknown): string[] {
  if (typeof body !== 'string') return [];
  return body.split(/\r?\n\s*\r?\n/).map((p) => p.trim()).filter((p) => p.length > 0);
}

export function noticeView(vars: Record<string, unknown>, ctx: Pick<RenderContext, 'tenant' | 'contact'>): Record<string, unknown> {
  return {
    ...vars,
    paragraphs: paragraphs(vars.body),
    tenantName: ctx.tenant.name, fromName: ctx.tenant.fromName, postalAddress: ctx.tenant.postalAddress,
    contactName: ctx.contact?.name ?? null, email: ctx.contact?.email ?? null,
    // The names stored (campaign) templates use for the recipient.
    name: ctx.contact?.name ?? '', contact: { name: ctx.contact?.name ?? '', email: ctx.contact?.email ?? null },
  };
}

/**
 * The view of a built-in notice (templates/notices/): noticeView plus the brand and every fixed word
 * in `tr`'s language (`i18n`); the default subject is the kind's, with the support ticket's number.
 */
export function builtinNoticeView(name: string, vars: Record<string, unknown>, ctx: Pick<RenderContext, 'tenant' | 'contact'>, tr: Translator): Record<string, unknown> {
  const tenant = ctx.tenant.name;
  const ticket = typeof vars.ticketId === 'string' || typeof vars.ticketId === 'number' ? String(vars.ticketId) : null;
  const i18n = {
    ...commonWords(tr, ctx.contact?.name),
    ...words(tr, {
      subject: [`mail.notice.${name}.subject`, { tenant }],
      intro: ticket !== null && name === 'support' ? ['mail.notice.support.introTicket', { ticket }] : [`mail.notice.${name}.intro`, { tenant }],
      footer: [`mail.notice.${name}.footer`],
    }),
  };
  return { ...noticeView(vars, ctx), ...brandView(ctx.tenant, tr), i18n };
}

/** The 'notice' renderer: a stored template as written; a built-in one in the request's locale, else the contact's, else the tenant's default. */
export async function renderNotice(ctx: RenderContext): Promise<RenderOutput> {
  const m = ctx.message;
  const vars = m.data.vars;
  if (!vars || typeof vars !== 'object') throw new Error('notice data is gone (erased?)');
  if (m.template.startsWith(STORED_PREFIX)) {
    const template = await compiledStored(ctx.db, m.template.slice(STORED_PREFIX.length), m.templateVersion);
    return { rendered: renderMessage(template, noticeView(vars as Record<string, unknown>, ctx)) };
  }
  const requested = typeof m.data.locale === 'string' ? m.data.locale : null;
  const tr = await mailTranslator(ctx, requested, ctx.contact?.locale, ctx.tenant.defaultLocale);
  const template = await compiledTemplate(m.template);
  return { rendered: renderMessage(template, builtinNoticeView(m.template.slice('notice:'.length), vars as Record<string, unknown>, ctx, tr)) };
}

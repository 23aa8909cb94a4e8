// HTTP API for templates (scope campaigns): create, list, read, new version, preview (of a saved
// version, or of unsaved content: the console editor's live preview), the variables a template may
// use, and a test send of a version to verified test addresses. Saving and previewing validate MJML
// and Handlebars and answer 422 with the line and message of every error.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { isUuid } from '../policy/ids.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { DomainError } from '../domain-error.js';
import { bodyText, email, pagination, subjectText } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { TEMPLATE_VARIABLES } from '../mail/template-variables.js';
import { TEMPLATE_LIMITS, TemplateError, usesPlaceholder, type RenderedMessage, type TemplateIssue, type TemplateSource } from '../mail/render.js';
import { compileTemplate, previewTemplate, validateTemplate } from '../mail/template-pool.js';
import { getTenant, type Tenant } from '../tenants/store.js';
import { campaignTemplates, sampleData, unsubscribeVisibility, withCompliantFooter } from './content.js';
import { sendTemplateTest } from './test-send.js';
import { addTemplateVersion, getTemplate, insertTemplate, listTemplates, type TemplateRow } from './templates-store.js';

/** 256 KiB (characters) of MJML: TEMPLATE_LIMITS.mjmlChars, refused with 422 (field mjml) over it. */
export const MAX_MJML = TEMPLATE_LIMITS.mjmlChars;
const content = {
  mjml: bodyText(MAX_MJML).min(1),
  subject: subjectText(998).min(1),
  text: bodyText(256 * 1024).nullish(),
};
const createBody = z.strictObject({ name: bodyText(200).min(1), ...content });
const updateBody = z.strictObject({ name: bodyText(200).min(1).optional(), ...content });
const previewData = z.record(z.string().max(100), z.unknown()).refine((v) => JSON.stringify(v).length <= 65_536, 'data is limited to 64 KiB')
  .describe('Merge data over the sample person (Jane Doe)').optional();
const previewBody = z.strictObject({ data: previewData, version: z.number().int().min(1).optional() });
/** Unsaved content (the editor's buffer): validated as a save would be, rendered as a preview, never stored. */
const draftPreviewBody = z.strictObject({ ...content, data: previewData });
const testBody = z.strictObject({
  emails: z.array(email).min(1).max(10),
  version: z.number().int().min(1).max(2_147_483_647).describe('The version to send (default: the current one)').optional(),
});
const listQuery = z.strictObject(pagination);
const versionQuery = z.strictObject({ version: z.coerce.number().int().min(1).optional() });

const templateItem = z.object({ id, name: z.string(), version: z.number().int(), createdAt: timestamp, updatedAt: timestamp });
const templateResponse = z.object({
  id, name: z.string(), version: z.number().int(), currentVersion: z.number().int(), subject: z.string(), mjml: z.string(), text: z.string().nullable(),
  usesUnsubscribeLink: z.boolean(), usesPostalAddress: z.boolean(), createdAt: timestamp, updatedAt: timestamp,
});
/** In /openapi.json: what a template can use (variables, helpers, rules, limits), on the operations that save one. */
const templateDocs = {
  description: 'The variables, helpers and rules a template can use are in x-template-variables (the README lists them too).',
  extensions: { 'x-template-variables': TEMPLATE_VARIABLES },
};
const previewResponse = z.looseObject({ templateId: id, version: z.number().int(), subject: z.string(), html: z.string(), text: z.string() });
const draftPreviewResponse = z.object({ subject: z.string(), html: z.string(), text: z.string() });
const variablesResponse = z.looseObject({
  campaign: z.array(z.looseObject({ name: z.string(), type: z.string(), description: z.string() })),
  notice: z.array(z.looseObject({ name: z.string(), type: z.string(), description: z.string() })),
  helpers: z.array(z.looseObject({ name: z.string(), usage: z.string(), description: z.string(), example: z.string(), output: z.string() })),
  rules: z.array(z.string()),
  limits: z.record(z.string(), z.number()),
});
const testSendView = z.object({ messages: z.array(z.object({ id, recipient: z.string().nullable(), status: z.string() })) });

/**
 * 422 invalid_template, naming every issue (part, line, message); field is the first issue's part.
 * A payment-card number in the template's own text is card_data_rejected instead (field: its part).
 */
export function templateError(issues: TemplateIssue[]): ApiError | DomainError {
  const card = issues.find((i) => i.code === 'card_data');
  if (card) return new DomainError('card_data_rejected', `payment-card numbers are never accepted or stored: ${card.message}`, card.part);
  const first = issues[0];
  const where = `${first.part}${first.line === null ? '' : ` line ${first.line}`}`;
  return new ApiError(422, 'invalid_template', `${where}: ${first.message.split('\n')[0]}`, first.part, { issues });
}

async function validated(src: TemplateSource): Promise<void> {
  const issues = await validateTemplate(src);
  if (issues.length) throw templateError(issues);
}

export function templateView(t: TemplateRow) {
  const src = { mjml: t.mjml, subject: t.subject, text: t.text };
  return {
    id: t.id, name: t.name, version: t.version, currentVersion: t.currentVersion, subject: t.subject, mjml: t.mjml, text: t.text,
    usesUnsubscribeLink: usesPlaceholder(src, 'unsubscribeUrl'), usesPostalAddress: usesPlaceholder(src, 'postalAddress'),
    createdAt: t.createdAt, updatedAt: t.updatedAt,
  };
}

function templateId(params: Record<string, string>): string {
  if (!isUuid(params.id)) throw notFound('template');
  return params.id;
}

/** A template's JSON body: 256 KiB of MJML and 256 KiB of text, JSON-escaped, fit in 1 MiB. */
const TEMPLATE_BODY_BYTES = 1024 * 1024;

/**
 * Renders `src` for a preview with the sample person (fields of `data` win), with the footer Postgate
 * adds at send time (when the template's own unsubscribe link is missing, hidden or conditional).
 * Compiled and rendered in the template pool's worker: a hostile template never holds the event loop.
 * Throws 422 invalid_template (issues with lines) or render_failed (field data).
 */
async function renderPreview(publicUrl: string, tenant: Tenant, src: TemplateSource, data: Record<string, unknown>): Promise<RenderedMessage> {
  try {
    const shown = unsubscribeVisibility(await compileTemplate(withCompliantFooter(src))) === true;
    return await previewTemplate(withCompliantFooter(src, { unsubscribe: !shown }), sampleData(publicUrl, tenant, data));
  } catch (err) {
    if (err instanceof TemplateError) throw templateError(err.issues);
    throw new ApiError(422, 'render_failed', `the template could not be rendered with this data: ${(err as Error).message.split('\n')[0]}`, 'data');
  }
}

export function templateRoutes(api: Api, deps: AppDeps): void {
  api.route({ method: 'post', path: '/api/templates', scope: 'campaigns', summary: 'Create a template (MJML + Handlebars)', body: createBody, maxBodyBytes: TEMPLATE_BODY_BYTES, response: templateResponse, success: [201], ...templateDocs },
    async ({ tenantId, body }) => {
      const c = { mjml: body.mjml, subject: body.subject, text: body.text ?? null };
      await validated(c);
      const t = await deps.db.withTenant(tenantId, (db) => insertTemplate(db, tenantId, body.name, c));
      return { status: 201, body: templateView(t) };
    });

  api.route({ method: 'get', path: '/api/templates', scope: 'campaigns', summary: 'List templates', query: listQuery, response: page(templateItem) },
    async ({ tenantId, query }) => {
      const after = query.cursor && isUuid(query.cursor) ? query.cursor : null;
      const rows = await deps.db.withTenant(tenantId, (db) => listTemplates(db, query.limit, after));
      return { body: { items: rows, nextCursor: rows.length === query.limit ? rows[rows.length - 1].id : null } };
    });

  api.route({ method: 'get', path: '/api/templates/:id', scope: 'campaigns', summary: 'A template (current version, or ?version=n)', query: versionQuery, response: templateResponse },
    async ({ tenantId, params, query }) => {
      const t = await deps.db.withTenant(tenantId, (db) => getTemplate(db, templateId(params), query.version));
      if (!t) throw notFound('template');
      return { body: templateView(t) };
    });

  api.route({ method: 'put', path: '/api/templates/:id', scope: 'campaigns', summary: 'Save a new version of a template', body: updateBody, maxBodyBytes: TEMPLATE_BODY_BYTES, response: templateResponse, ...templateDocs },
    async ({ tenantId, params, body }) => {
      const id = templateId(params);
      const c = { mjml: body.mjml, subject: body.subject, text: body.text ?? null };
      await validated(c);
      const t = await deps.db.withTenant(tenantId, (db) => addTemplateVersion(db, tenantId, id, body.name, c));
      if (!t) throw notFound('template');
      return { body: templateView(t) };
    });

  api.route({ method: 'post', path: '/api/templates/:id/preview', scope: 'campaigns', readOnly: true, summary: 'Render a template with sample or given data', body: previewBody, response: previewResponse },
    async ({ tenantId, params, body }) => {
      const id = templateId(params);
      const { t, tenant } = await deps.db.withTenant(tenantId, async (db) => ({ t: await getTemplate(db, id, body.version), tenant: await getTenant(db, tenantId) }));
      if (!t || !tenant) throw notFound('template');
      const rendered = await renderPreview(deps.config.PUBLIC_URL, tenant, { mjml: t.mjml, subject: t.subject, text: t.text }, body.data ?? {});
      return { body: { templateId: t.id, version: t.version, ...rendered } };
    });

  api.route({ method: 'post', path: '/api/templates/preview', scope: 'campaigns', readOnly: true, summary: 'Render unsaved template content (an editor\'s live preview); nothing is stored',
    description: `Validated as saving would be: 422 invalid_template with error.issues (part, line, message) for every MJML and Handlebars error. ${templateDocs.description}`,
    extensions: templateDocs.extensions, body: draftPreviewBody, maxBodyBytes: TEMPLATE_BODY_BYTES, response: draftPreviewResponse },
  async ({ tenantId, body }) => {
    const src = { mjml: body.mjml, subject: body.subject, text: body.text ?? null };
    await validated(src); // the author's limits and line numbers, exactly as a save judges them
    const tenant = await deps.db.withTenant(tenantId, (db) => getTenant(db, tenantId));
    if (!tenant) throw notFound('tenant');
    return { body: await renderPreview(deps.config.PUBLIC_URL, tenant, src, body.data ?? {}) };
  });

  api.route({ method: 'get', path: '/api/template-variables', scope: 'campaigns', summary: 'What a template can use: variables per kind of message, helpers, rules and limits',
    response: variablesResponse },
  async () => ({ body: TEMPLATE_VARIABLES }));

  api.route({ method: 'post', path: '/api/templates/:id/test', scope: 'campaigns', summary: "Send a template version (default: current) to some of the tenant's verified test addresses",
    description: 'Rendered as a campaign message with the test address\'s data (its contact\'s, or the sample person\'s), subject prefixed [TEST]. '
      + 'Each address must be a verified test address (POST /api/test-addresses) that no suppression names: else 422 not_test_address, '
      + 'test_address_unverified or address_suppressed, field emails[i]; 422 not_compliant when the tenant could not send it compliantly. '
      + 'Counts towards TEST_SENDS_PER_HOUR per tenant (429 rate_limited, Retry-After).',
    body: testBody, response: testSendView, success: [202], errors: [429] },
  async ({ tenantId, params, body }) => {
    const id = templateId(params);
    const messages = await deps.db.withTenant(tenantId, async (db) => {
      const t = await getTemplate(db, id, body.version);
      const tenant = await getTenant(db, tenantId);
      if (!tenant) throw notFound('tenant');
      if (!t) {
        if (body.version !== undefined && await getTemplate(db, id)) throw new DomainError('invalid', `the template has no version ${body.version}`, 'version');
        throw notFound('template');
      }
      return sendTemplateTest(db, tenant, t, body.emails, { perHour: deps.config.TEST_SENDS_PER_HOUR, cache: campaignTemplates });
    });
    return { status: 202, body: { messages: messages.map((m) => ({ id: m.id, recipient: m.recipient, status: m.status })) } };
  });
}

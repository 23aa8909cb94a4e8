// HTTP API for templates (scope campaigns): create, list, read, new version, preview. Saving
// validates MJML and Handlebars and answers 422 with the line and message of every error.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { isUuid } from '../policy/ids.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { DomainError } from '../domain-error.js';
import { bodyText, pagination, subjectText } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { TEMPLATE_VARIABLES } from '../mail/template-variables.js';
import { TEMPLATE_LIMITS, TemplateError, usesPlaceholder, type TemplateIssue, type TemplateSource } from '../mail/render.js';
import { compileTemplate, previewTemplate, validateTemplate } from '../mail/template-pool.js';
import { getTenant } from '../tenants/store.js';
import { sampleData, unsubscribeVisibility, withCompliantFooter } from './content.js';
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
const previewBody = z.strictObject({
  data: z.record(z.string().max(100), z.unknown()).refine((v) => JSON.stringify(v).length <= 65_536, 'data is limited to 64 KiB').optional(),
  version: z.number().int().min(1).optional(),
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

  api.route({ method: 'post', path: '/api/templates/:id/preview', scope: 'campaigns', summary: 'Render a template with sample or given data', body: previewBody, response: previewResponse },
    async ({ tenantId, params, body }) => {
      const id = templateId(params);
      const { t, tenant } = await deps.db.withTenant(tenantId, async (db) => ({ t: await getTemplate(db, id, body.version), tenant: await getTenant(db, tenantId) }));
      if (!t || !tenant) throw notFound('template');
      try {
        // Compiled and rendered in the template pool's worker: a hostile template never holds the event loop.
        // The footer link is added as at send time: when the template's own link is missing, hidden or conditional.
        const src = { mjml: t.mjml, subject: t.subject, text: t.text };
        const shown = unsubscribeVisibility(await compileTemplate(withCompliantFooter(src))) === true;
        const rendered = await previewTemplate(withCompliantFooter(src, { unsubscribe: !shown }), sampleData(deps.config.PUBLIC_URL, tenant, body.data ?? {}));
        return { body: { templateId: t.id, version: t.version, ...rendered } };
      } catch (err) {
        if (err instanceof TemplateError) throw templateError(err.issues);
        throw new ApiError(422, 'render_failed', `the template could not be rendered with this data: ${(err as Error).message.split('\n')[0]}`, 'data');
      }
    });
}

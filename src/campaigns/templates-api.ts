// HTTP API for templates (scope campaigns): create, list, read, new version, preview. Saving
// validates MJML and Handlebars and answers 422 with the line and message of every error.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { isUuid } from '../policy/ids.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { bodyText, headerText, pagination } from '../platform/schemas.js';
import { compileTemplate, renderMessage, TemplateError, usesPlaceholder, validateTemplate, type TemplateIssue, type TemplateSource } from '../mail/render.js';
import { getTenant } from '../tenants/store.js';
import { sampleData, withCompliantFooter } from './content.js';
import { addTemplateVersion, getTemplate, insertTemplate, listTemplates, type TemplateRow } from './templates-store.js';

export const MAX_MJML = 512 * 1024;
const content = {
  mjml: bodyText(MAX_MJML).min(1),
  subject: headerText(998).min(1),
  text: bodyText(256 * 1024).nullish(),
};
const createBody = z.object({ name: bodyText(200).min(1), ...content });
const updateBody = z.object({ name: bodyText(200).min(1).optional(), ...content });
const previewBody = z.object({
  data: z.record(z.string().max(100), z.unknown()).refine((v) => JSON.stringify(v).length <= 65_536, 'data is limited to 64 KiB').optional(),
  version: z.number().int().min(1).optional(),
});
const listQuery = z.object(pagination);
const versionQuery = z.object({ version: z.coerce.number().int().min(1).optional() });

/** 422 invalid_template, naming every issue (part, line, message); field is the first issue's part. */
export function templateError(issues: TemplateIssue[]): ApiError {
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

export function templateRoutes(api: Api, deps: AppDeps): void {
  api.route({ method: 'post', path: '/api/templates', scope: 'campaigns', summary: 'Create a template (MJML + Handlebars)', body: createBody },
    async ({ tenantId, body }) => {
      const c = { mjml: body.mjml, subject: body.subject, text: body.text ?? null };
      await validated(c);
      const t = await deps.db.withTenant(tenantId, (db) => insertTemplate(db, tenantId, body.name, c));
      return { status: 201, body: templateView(t) };
    });

  api.route({ method: 'get', path: '/api/templates', scope: 'campaigns', summary: 'List templates', query: listQuery },
    async ({ tenantId, query }) => {
      const after = query.cursor && isUuid(query.cursor) ? query.cursor : null;
      const rows = await deps.db.withTenant(tenantId, (db) => listTemplates(db, query.limit, after));
      return { body: { templates: rows, nextCursor: rows.length === query.limit ? rows[rows.length - 1].id : null } };
    });

  api.route({ method: 'get', path: '/api/templates/:id', scope: 'campaigns', summary: 'A template (current version, or ?version=n)', query: versionQuery },
    async ({ tenantId, params, query }) => {
      const t = await deps.db.withTenant(tenantId, (db) => getTemplate(db, templateId(params), query.version));
      if (!t) throw notFound('template');
      return { body: templateView(t) };
    });

  api.route({ method: 'put', path: '/api/templates/:id', scope: 'campaigns', summary: 'Save a new version of a template', body: updateBody },
    async ({ tenantId, params, body }) => {
      const id = templateId(params);
      const c = { mjml: body.mjml, subject: body.subject, text: body.text ?? null };
      await validated(c);
      const t = await deps.db.withTenant(tenantId, (db) => addTemplateVersion(db, tenantId, id, body.name, c));
      if (!t) throw notFound('template');
      return { body: templateView(t) };
    });

  api.route({ method: 'post', path: '/api/templates/:id/preview', scope: 'campaigns', summary: 'Render a template with sample or given data', body: previewBody },
    async ({ tenantId, params, body }) => {
      const id = templateId(params);
      const { t, tenant } = await deps.db.withTenant(tenantId, async (db) => ({ t: await getTemplate(db, id, body.version), tenant: await getTenant(db, tenantId) }));
      if (!t || !tenant) throw notFound('template');
      try {
        const compiled = await compileTemplate(withCompliantFooter({ mjml: t.mjml, subject: t.subject, text: t.text }));
        const rendered = renderMessage(compiled, sampleData(deps.config.PUBLIC_URL, tenant, body.data ?? {}));
        return { body: { templateId: t.id, version: t.version, ...rendered } };
      } catch (err) {
        if (err instanceof TemplateError) throw templateError(err.issues);
        throw new ApiError(422, 'render_failed', `the template could not be rendered with this data: ${(err as Error).message.split('\n')[0]}`, 'data');
      }
    });
}

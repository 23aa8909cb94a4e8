// The 'data-export' and 'data-erasure' renderers: the mails of the self-service data rights
// (templates/data-export.mjml, data-erasure.mjml and their .txt, compiled once per process), in the
// language the person used when asking (the row's data.locale; words from locales/<lang>/rights.json,
// with the tenant's overrides), branded (logo, accent colour, postal address, privacy link), with the
// signed link named as a capability link (the body Postgate keeps holds a placeholder instead).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { renderMessage, type CompiledTemplate } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import type { RenderContext, RenderOutput, RendererRegistry } from '../mail/renderers.js';
import type { Translator } from '../i18n/translate.js';
import { brandView, mailTranslator } from '../mail/builtin.js';
import { readRightsData, RIGHTS_TEMPLATE, rightsToken, rightsUrl, type RightsKind } from './self-service.js';

const compiled = new TemplateCache(2);

/** The compiled template of a kind (MJML runs once per process, off the event loop). */
function template(kind: RightsKind): Promise<CompiledTemplate> {
  const name = RIGHTS_TEMPLATE[kind];
  return compiled.get(name, async () => {
    const dir = path.join(projectRoot, 'templates');
    const [mjml, text] = await Promise.all([readFile(path.join(dir, `${name}.mjml`), 'utf8'), readFile(path.join(dir, `${name}.txt`), 'utf8')]);
    return { mjml, subject: '{{subject}}', text };
  });
}

/** The words of a kind's mail, in the translator's language. */
function words(t: Translator, kind: RightsKind, v: { tenant: string; email: string; name: string | null; hours: number }): Record<string, string> {
  const k = `rights.mail.${kind}`;
  return {
    subject: t.t(`${k}.subject`, { tenant: v.tenant }),
    hello: v.name ? t.t('rights.mail.helloName', { name: v.name }) : t.t('rights.mail.hello'),
    intro: t.t(`${k}.intro`, { tenant: v.tenant, email: v.email }),
    button: t.t(`${k}.button`),
    expiry: t.t(`${k}.expiry`, { hours: v.hours, tenant: v.tenant }),
    ignore: t.t(`${k}.ignore`),
    fallback: t.t('rights.mail.fallback'),
    why: t.t('rights.mail.why', { tenant: v.tenant }),
    reply: t.t('rights.mail.reply'),
    privacyLabel: t.t('rights.privacy'),
    colon: t.t('rights.colon'), // ': ', or ' : ' in French
  };
}

/** Renders one data-rights mail; throws (render_error) when the row lacks its data. */
async function renderRights(kind: RightsKind, ctx: RenderContext): Promise<RenderOutput> {
  const data = readRightsData(ctx.message.data);
  const email = ctx.message.recipient;
  if (!data || !email) throw new Error(`data-rights message ${ctx.message.id} lacks its data`);
  const url = rightsUrl(ctx.publicUrl, kind, rightsToken(ctx.tokens, kind, ctx.message, data.expiresAt));
  const hours = Math.max(1, Math.round((Date.parse(data.expiresAt) - new Date(ctx.message.createdAt).getTime()) / 3_600_000));
  // The language of the page that asked (stored in the row), else the contact's, else the tenant's.
  const t = await mailTranslator(ctx, data.locale, ctx.contact?.locale, ctx.tenant.defaultLocale);
  const vars = {
    ...brandView(ctx.tenant, t), linkUrl: url,
    ...words(t, kind, { tenant: ctx.tenant.name, email, name: ctx.contact?.name ?? null, hours }),
  };
  const name = kind === 'export' ? 'data link' : 'erasure link';
  return { rendered: renderMessage(await template(kind), vars), capabilityLinks: [{ url, name }] };
}

/** Registers the two renderers (by ledger template name). */
export function registerRightsRenderers(registry: RendererRegistry): void {
  registry.register(RIGHTS_TEMPLATE.export, (ctx) => renderRights('export', ctx));
  registry.register(RIGHTS_TEMPLATE.erasure, (ctx) => renderRights('erasure', ctx));
}

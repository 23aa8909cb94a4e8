// The 'activation' renderer: templates/activation.mjml, compiled once per process, rendered per
// message with the tenant's branding, the lists to confirm and the signed activation link, in the
// contact's language (contacts.locale), else the tenant's default (mail/builtin.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { renderMessage, type CompiledTemplate } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import { brandView, commonWords, mailTranslator, words } from '../mail/builtin.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { activationToken, activationUrl, readActivationData } from './activation.js';
import { listsByIds } from './lists.js';
import type { Translator } from '../i18n/translate.js';

// The subject is formatted in the recipient's language (activationWords) before the render.
const SUBJECT = '{{subject}}';

const compiled = new TemplateCache(1);

/** The compiled activation template (MJML runs once per process). */
export function activationTemplate(): Promise<CompiledTemplate> {
  return compiled.get('activation', async () => ({ mjml: await readFile(path.join(projectRoot, 'templates', 'activation.mjml'), 'utf8'), subject: SUBJECT }));
}

/** The 'activation' renderer: the mail with the signed link, named as a capability link (kept bodies hold a placeholder). */
export async function renderActivation(ctx: RenderContext): Promise<RenderOutput> {
  const data = readActivationData(ctx.message.data);
  const contact = ctx.contact;
  if (!data || !contact?.email) throw new Error(`activation message ${ctx.message.id} lacks its data`);
  const lists = await listsByIds(ctx.db, data.listIds);
  const token = activationToken(ctx.tokens, ctx.message, data.expiresAt);
  const url = activationUrl(ctx.publicUrl, token);
  const days = Math.max(1, Math.round((Date.parse(data.expiresAt) - new Date(ctx.message.createdAt).getTime()) / 86_400_000));
  const tr = await mailTranslator(ctx, contact.locale, ctx.tenant.defaultLocale);
  const i18n = activationWords(tr, { tenant: ctx.tenant.name, name: contact.name, email: contact.email, verifyAddress: data.verifyAddress, lists: lists.length, days });
  const vars = {
    ...brandView(ctx.tenant, tr), i18n, subject: i18n.subject, preview: i18n.preview,
    contactName: contact.name, email: contact.email, lists: lists.map((l) => l.name), activationUrl: url, expiresDays: days,
  };
  // The link confirms for whoever holds it: it goes to the mailbox only, never into the kept body.
  return { rendered: renderMessage(await activationTemplate(), vars), capabilityLinks: [{ url, name: 'confirmation link' }] };
}

interface ActivationFacts { tenant: string; name: string | null; email: string; verifyAddress: boolean; lists: number; days: number }

/** Every word of an activation mail in `tr`'s language: the subject, the preview line, the body and the footer. */
export function activationWords(tr: Translator, f: ActivationFacts): Record<string, string> {
  const kind = f.verifyAddress ? 'address' : 'subscription';
  const intro = !f.verifyAddress ? 'subscription' : f.lists > 0 ? 'addressLists' : 'address';
  return {
    ...commonWords(tr, f.name),
    ...words(tr, {
      subject: [`mail.activation.subject.${kind}`, { tenant: f.tenant }], preview: [`mail.activation.preview.${kind}`],
      intro: [`mail.activation.intro.${intro}`, { email: f.email }], button: ['mail.activation.button'],
      once: ['mail.link.once', { days: f.days }], ignore: ['mail.activation.ignore'], footer: ['mail.footer.reply'],
    }),
  };
}

// The 'test-address' renderer: the mail that asks a would-be test address to confirm
// (templates/test-address.mjml, compiled once per process). Necessary mail with no marketing
// content: the tenant's name and branding, what the address is asked to agree to, and the signed
// single-use link, named as a capability link (the body Postgate keeps holds a placeholder). In the
// tenant's default language (the address is not a contact: it has no locale of its own).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { renderMessage, type CompiledTemplate } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import { brandView, commonWords, mailTranslator, words } from '../mail/builtin.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { readVerificationData, verificationToken, verificationUrl } from './test-addresses.js';

// The subject is formatted in the tenant's language before the render.
const SUBJECT = '{{subject}}';

const compiled = new TemplateCache(1);

/** The compiled verification template (MJML runs once per process, off the event loop). */
export function verificationTemplate(): Promise<CompiledTemplate> {
  return compiled.get('test-address', async () => ({ mjml: await readFile(path.join(projectRoot, 'templates', 'test-address.mjml'), 'utf8'), subject: SUBJECT }));
}

/** Renders one verification mail; throws (render_error) when the row lacks its data. */
export async function renderTestAddressVerification(ctx: RenderContext): Promise<RenderOutput> {
  const data = readVerificationData(ctx.message.data);
  const email = ctx.message.recipient;
  if (!data || !email) throw new Error(`verification message ${ctx.message.id} lacks its data`);
  const url = verificationUrl(ctx.publicUrl, verificationToken(ctx.tokens, ctx.message, data));
  const days = Math.max(1, Math.round((Date.parse(data.expiresAt) - new Date(ctx.message.createdAt).getTime()) / 86_400_000));
  const template = await verificationTemplate();
  const tr = await mailTranslator(ctx, ctx.tenant.defaultLocale);
  const i18n = {
    ...commonWords(tr, null),
    ...words(tr, {
      subject: ['mail.testAddress.subject', { tenant: ctx.tenant.name }], preview: ['mail.testAddress.preview'],
      intro: ['mail.testAddress.intro', { tenant: ctx.tenant.name, email }], button: ['mail.testAddress.button'],
      once: ['mail.link.once', { days }], ignore: ['mail.testAddress.ignore'], footer: ['mail.footer.reply'],
    }),
  };
  const vars = { ...brandView(ctx.tenant, tr), i18n, subject: i18n.subject, preview: i18n.preview, email, verificationUrl: url, expiresDays: days };
  return { rendered: renderMessage(template, vars), capabilityLinks: [{ url, name: 'confirmation link' }] };
}

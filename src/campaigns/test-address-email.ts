// The 'test-address' renderer: the mail that asks a would-be test address to confirm
// (templates/test-address.mjml, compiled once per process). Necessary mail with no marketing
// content: the tenant's name and branding, what the address is asked to agree to, and the signed
// single-use link, named as a capability link (the body Postgate keeps holds a placeholder).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { renderMessage, type CompiledTemplate } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { readVerificationData, verificationToken, verificationUrl } from './test-addresses.js';

const SUBJECT = 'Confirm test copies from {{tenantName}}';

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
  const vars = {
    tenantName: ctx.tenant.name, fromName: ctx.tenant.fromName, postalAddress: ctx.tenant.postalAddress, email,
    verificationUrl: url, expiresDays: days, subject: '', preview: 'One click to receive test copies of campaigns',
  };
  vars.subject = template.subject(vars);
  return { rendered: renderMessage(template, vars), capabilityLinks: [{ url, name: 'confirmation link' }] };
}

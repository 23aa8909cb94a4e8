// The 'activation' renderer: templates/activation.mjml, compiled once per process, rendered per
// message with the tenant's branding, the lists to confirm and the signed activation link.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { renderMessage, type CompiledTemplate } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import type { RenderContext, RenderOutput } from '../mail/renderers.js';
import { activationToken, activationUrl, readActivationData } from './activation.js';
import { listsByIds } from './lists.js';

const SUBJECT = '{{#if verifyAddress}}Confirm your email address for {{tenantName}}{{else}}Confirm your subscription to {{tenantName}}{{/if}}';

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
  const vars = {
    tenantName: ctx.tenant.name, fromName: ctx.tenant.fromName, postalAddress: ctx.tenant.postalAddress,
    contactName: contact.name, email: contact.email, verifyAddress: data.verifyAddress,
    lists: lists.map((l) => l.name), activationUrl: url, expiresDays: days,
    subject: '', preview: data.verifyAddress ? 'One click to confirm your email address' : 'One click to confirm your subscription',
  };
  vars.subject = (await activationTemplate()).subject(vars);
  // The link confirms for whoever holds it: it goes to the mailbox only, never into the kept body.
  return { rendered: renderMessage(await activationTemplate(), vars), capabilityLinks: [{ url, name: 'confirmation link' }] };
}

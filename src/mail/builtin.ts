// Postgate's built-in mails (activation, invoice, notices, test-address verification) in the
// recipient's language and the sender's brand (issue 20). Every fixed word comes from the catalogues
// (locales/<language>/mail.json, "mail.*" ids, with the tenant's string overrides) and is handed to the
// template as data (`{{i18n.greeting}}`), formatted here per message: so each template still compiles
// ONCE per process whatever the language (no per-locale MJML). Dates, numbers and money are formatted
// by Intl in the translator's locale, the same one as the words: a locale without a catalogue is
// never mixed with English words.
//
// The brand: `lang`/`dir` on <html>, the logo (https) or the tenant's name in the header, the accent
// colour on buttons and links (default DEFAULT_ACCENT), the privacy-policy link and postal address in
// the footer. The templates write the preheader as a plain hidden <div> instead of MJML's
// <mj-preview>, whose white text scores HTML_FONT_LOW_CONTRAST in SpamAssassin.
import { drawableBrand } from '../html.js';
import { translatorFor } from '../i18n/catalogues.js';
import { firstSpokenLocale, type MessageArgs, type StringOverrides, type Translator } from '../i18n/translate.js';
import { getStringOverrides, type Tenant } from '../tenants/store.js';
import type { RenderContext } from './renderers.js';

/** The accent colour of buttons and links when the tenant has none. */
export const DEFAULT_ACCENT = '#1d4ed8';

/** The first candidate locale whose language has a catalogue (canonical BCP 47, region kept), else 'en'. */
export function mailLocale(...candidates: readonly (string | null | undefined)[]): string {
  return firstSpokenLocale(candidates);
}

// One read of the tenant's overrides per sending batch: the sender loads the Tenant once per batch,
// so the object is the batch's (and is forgotten with it).
const overridesOf = new WeakMap<Tenant, Promise<StringOverrides>>();

/** The tenant's string overrides (tenants.string_overrides), read once per Tenant object. */
export function tenantOverrides(ctx: Pick<RenderContext, 'tenant' | 'db'>): Promise<StringOverrides> {
  let p = overridesOf.get(ctx.tenant);
  if (!p) {
    p = getStringOverrides(ctx.db, ctx.tenant.id) as Promise<StringOverrides>;
    p.catch(() => overridesOf.delete(ctx.tenant));
    overridesOf.set(ctx.tenant, p);
  }
  return p;
}

/** A translator for the first usable candidate locale (see mailLocale), with the tenant's overrides. */
export async function mailTranslator(ctx: Pick<RenderContext, 'tenant' | 'db'>, ...candidates: readonly (string | null | undefined)[]): Promise<Translator> {
  return translatorFor(mailLocale(...candidates), await tenantOverrides(ctx));
}

/** What every built-in template prints besides its own words: language, direction and brand. */
export interface BrandView {
  lang: string; dir: 'ltr' | 'rtl';
  tenantName: string; fromName: string; postalAddress: string | null;
  logoUrl: string | null; accentColor: string; privacyUrl: string | null;
}

/** The brand of `tenant` for a mail in `tr`'s language (logo and privacy link only when http(s) as stored). */
export function brandView(tenant: Tenant, tr: Translator): BrandView {
  const drawn = drawableBrand(tenant); // the same checks as the pages' (src/html.ts)
  return {
    lang: tr.locale, dir: tr.dir,
    tenantName: tenant.name, fromName: tenant.fromName, postalAddress: tenant.postalAddress,
    ...drawn, accentColor: drawn.accentColor ?? DEFAULT_ACCENT,
  };
}

/** The words every built-in mail has: the greeting (with the contact's name when known), the privacy link, the link fallback. */
export function commonWords(tr: Translator, contactName: string | null | undefined): Record<string, string> {
  return {
    greeting: contactName ? tr.t('mail.greeting.named', { name: contactName }) : tr.t('mail.greeting'),
    privacy: tr.t('mail.privacy'),
    linkFallback: tr.t('mail.link.fallback'),
    open: tr.t('mail.action.open'),
  };
}

/** Formats several messages at once: key → [message id, arguments]. */
export function words(tr: Translator, ids: Readonly<Record<string, readonly [string, MessageArgs?]>>): Record<string, string> {
  return Object.fromEntries(Object.entries(ids).map(([key, [id, args]]) => [key, tr.t(id, args)]));
}

// The language of a public page (issue 20). Each page asks for a translator with what it knows about
// the person: the contact's stored locale when the page is about a known contact (a token's), the
// request's Accept-Language, and the tenant's default locale and string overrides (read with the
// tenant in the query the page already runs). Every answer that may depend on Accept-Language says
// so (Vary). Words come from locales/<language>/pages.json ("page.*" ids).
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { escapeHtml, Html, type PageSpec } from '../html.js';
import { chooseLocale, type StringOverrides, type Translator, type MessageArgs } from './translate.js';
import { translatorFor } from './catalogues.js';

/** What a page knows about whom it speaks to; all optional (an invalid link knows nothing but the browser). */
export interface PageAudience {
  contactLocale?: string | null;
  tenant?: { defaultLocale?: string | null; stringOverrides?: StringOverrides | null } | null;
}

/** The translator of a page request: contact locale, then Accept-Language, then the tenant's default. Sets Vary: Accept-Language. */
export function pageTranslator(req: Request, res: Response, who: PageAudience = {}): Translator {
  res.vary('Accept-Language');
  return translatorFor(pageLocale(req, who), who.tenant?.stringOverrides ?? {});
}

/** The locale tag a page request would speak (the hosted form stores it on a new contact). */
export function pageLocale(req: Request, who: PageAudience = {}): string {
  return chooseLocale({ contactLocale: who.contactLocale, acceptLanguage: req.get('accept-language'), tenantDefault: who.tenant?.defaultLocale });
}

/** A page's `lang` (the catalogue's language), `dir` and the shell's labels, for renderPage. */
export function pageLanguage(t: Translator, brandName = ''): Required<Pick<PageSpec, 'lang' | 'dir' | 'labels'>> {
  return { lang: t.language, dir: t.dir, labels: { privacy: t.t('page.footer.privacy'), logo: t.t('page.header.logo', { name: brandName }) } };
}

/** Plain arguments and Html fragments (inserted as markup) of tHtml. */
export type HtmlArgs = Readonly<Record<string, string | number | Html | null | undefined>>;

/**
 * A message as Html: the text is escaped, and each Html argument (e.g. <strong>…</strong>) is put in
 * as markup. The markup stays out of the catalogue, so a translator only moves the placeholder.
 */
export function tHtml(t: Translator, id: string, args: HtmlArgs = {}): Html {
  const fragments: Html[] = [];
  const plain: Record<string, string | number | null | undefined> = {};
  // A marker no argument can forge (a fresh random nonce per call) stands for each fragment.
  const nonce = randomBytes(8).toString('hex');
  for (const [k, v] of Object.entries(args)) {
    if (v instanceof Html) { plain[k] = `[${nonce}:${fragments.length}]`; fragments.push(v); } else plain[k] = v;
  }
  const text = escapeHtml(t.t(id, plain as MessageArgs));
  return new Html(text.replace(new RegExp(`\\[${nonce}:(\\d+)\\]`, 'g'), (_m, i: string) => fragments[Number(i)]?.value ?? ''));
}

/** "A", "A and B", "A, B and C" in the translator's language (page.list.and). */
export function listNames(t: Translator, names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return t.t('page.list.and', { head: names.slice(0, -1).join(', '), last: names[names.length - 1] });
}

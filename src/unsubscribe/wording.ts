// The sentences the pages show, and how they show an address. Where the person gives consent, the
// same string is shown on the page and stored (by hash, in consent_texts) with the opt-in it leads
// to, so the record proves the wording: in the page's language (locales/<lang>/pages.json).
import { translatorFor } from '../i18n/catalogues.js';
import { listNames as namesIn } from '../i18n/pages.js';
import type { Translator } from '../i18n/translate.js';

const english = (): Translator => translatorFor('en');

/** "A", "A and B", "A, B and C" in the page's language (English by default). */
export function listNames(names: readonly string[], t: Translator = english()): string {
  return namesIn(t, names);
}

/** Shown next to the resubscribe button on the "you are unsubscribed" page. */
export function resubscribeWording(tenantName: string, lists: readonly string[], t: Translator = english()): string {
  return t.t('page.unsubscribe.resubscribe.wording', { lists: listNames(lists, t), tenant: tenantName });
}

/** Shown above the save button on the preference page. */
export function preferencesWording(tenantName: string, t: Translator = english()): string {
  return t.t('page.preferences.wording', { tenant: tenantName });
}

/** a.b@example.org → a•••@example.org: enough to recognise one's address, little to a bystander. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '•••';
  const local = address.slice(0, at);
  const shown = local.length <= 2 ? local.slice(0, 1) : local.slice(0, 2);
  return `${shown}•••${address.slice(at)}`;
}

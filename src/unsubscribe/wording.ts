// The sentences the pages show, and how they show an address. Where the person gives consent, the
// same string is shown on the page and stored (by hash, in consent_texts) with the opt-in it leads
// to, so the record proves the wording.

export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Shown next to the resubscribe button on the "you are unsubscribed" page. */
export function resubscribeWording(tenantName: string, lists: readonly string[]): string {
  return `Changed your mind? Resubscribe to ${listNames(lists)} from ${tenantName}. We will send you an email to confirm, and you can unsubscribe at any time.`;
}

/** Shown above the save button on the preference page. */
export function preferencesWording(tenantName: string): string {
  return `Tick the emails you want to receive from ${tenantName}. For each one you add, we send you an email to confirm it first. You can change these choices at any time.`;
}

/** a.b@example.org → a•••@example.org: enough to recognise one's address, little to a bystander. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '•••';
  const local = address.slice(0, at);
  const shown = local.length <= 2 ? local.slice(0, 1) : local.slice(0, 2);
  return `${shown}•••${address.slice(at)}`;
}

// The markup of a public subscription form (PURE): the hosted page's form (styled by the page shell of
// html.ts) and the embeddable snippet a tenant pastes into its own website (no class names of ours,
// so the honeypot is hidden by an inline style). Both post the same fields to /subscribe/<list id>:
//   email     the address (required)
//   name      optional display name
//   website   the honeypot: hidden from people, filled by bots; a filled one makes the post a no-op
//   wording   the sha-256 of the consent wording shown, so the wording recorded is the one the person saw
//   via       'hosted' on the hosted page (recorded as where consent was given; the snippet's posts carry their Origin)
// No script, no external resource: the snippet works on any page and under any CSP that allows forms.
import { createHash } from 'node:crypto';
import { html, type Html } from '../html.js';

/** The honeypot field's name. */
export const HONEYPOT_FIELD = 'website';

export interface FormView {
  /** Where the form posts: a path on the hosted page, an absolute URL in the snippet. */
  action: string;
  wording: string;
  /** Values to show again after an error. */
  values?: { email?: string; name?: string };
  /** A field in error and its message (shown next to it, announced). */
  error?: { field: 'email' | 'name'; message: string };
  /** The hosted page's words in its language (issue 20); English when absent. */
  labels?: FormLabels;
}

/** The form's own words: field labels, the honeypot's label and the button. */
export interface FormLabels { email: string; name: string; honeypot: string; submit: string }
const ENGLISH: FormLabels = { email: 'Email address', name: 'Name (optional)', honeypot: 'Leave this field empty', submit: 'Subscribe' };

/** The sha-256 (hex) of a wording, as consent_texts keys it. */
export function wordingHash(wording: string): string {
  return createHash('sha256').update(wording, 'utf8').digest('hex');
}

function errorFor(v: FormView, field: 'email' | 'name'): Html | string {
  return v.error?.field === field ? html`<p class="error" role="alert" id="${field}-error">${v.error.message}</p>` : '';
}

function described(v: FormView, field: 'email' | 'name'): Html | string {
  return v.error?.field === field ? html` aria-invalid="true" aria-describedby="${field}-error"` : '';
}

/** The hosted page's form (labelled controls, the wording, the honeypot hidden by the .hp class). */
export function hostedForm(v: FormView): Html {
  const l = v.labels ?? ENGLISH;
  return html`<form method="post" action="${v.action}">
<div class="option-field"><label for="email">${l.email}</label>${errorFor(v, 'email')}
<input id="email" name="email" type="email" required maxlength="254" autocomplete="email" value="${v.values?.email ?? ''}"${described(v, 'email')}></div>
<div class="option-field"><label for="name">${l.name}</label>${errorFor(v, 'name')}
<input id="name" name="name" type="text" maxlength="200" autocomplete="name" value="${v.values?.name ?? ''}"${described(v, 'name')}></div>
<p class="hint" id="wording">${v.wording}</p>
<div class="hp" aria-hidden="true"><label for="${HONEYPOT_FIELD}">${l.honeypot}</label><input id="${HONEYPOT_FIELD}" name="${HONEYPOT_FIELD}" type="text" tabindex="-1" autocomplete="off"></div>
<input type="hidden" name="wording" value="${wordingHash(v.wording)}"><input type="hidden" name="via" value="hosted">
<button type="submit" aria-describedby="wording">${l.submit}</button>
</form>
`;
}

/** The embeddable snippet: the same fields, posting to the absolute URL, with the honeypot hidden inline. */
export function snippetForm(v: FormView): string {
  return html`<form method="post" action="${v.action}" accept-charset="utf-8">
  <p><label>Email address <input name="email" type="email" required maxlength="254" autocomplete="email"></label></p>
  <p><label>Name (optional) <input name="name" type="text" maxlength="200" autocomplete="name"></label></p>
  <p>${v.wording}</p>
  <div style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" aria-hidden="true"><label>Leave this field empty <input name="${HONEYPOT_FIELD}" type="text" tabindex="-1" autocomplete="off"></label></div>
  <input type="hidden" name="wording" value="${wordingHash(v.wording)}">
  <button type="submit">Subscribe</button>
</form>
`.value;
}

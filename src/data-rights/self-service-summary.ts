// The readable summary of a person's export (the page of the mailed export link): who they are to the
// tenant, their subscriptions, how many records of each kind are held, and the latest emails, with a
// button to download the whole document. PURE: it reads the export document (export.ts), nothing else.
import { html, type Html } from '../html.js';
import type { Translator } from '../i18n/translate.js';

const LATEST_MESSAGES = 20;

type Row = Record<string, unknown>;
const rows = (v: unknown): Row[] => (Array.isArray(v) ? v.filter((x): x is Row => !!x && typeof x === 'object') : []);
const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** A date (a Date or an ISO string) in the translator's locale, or null. */
function when(t: Translator, v: unknown): string | null {
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
  return d && !Number.isNaN(d.getTime()) ? t.date(d, 'long') : null;
}

/** The time of day (UTC) in the translator's locale. */
const timeOf = (t: Translator, d: Date): string => `${new Intl.DateTimeFormat(t.locale, { timeStyle: 'short', timeZone: 'UTC' }).format(d)} UTC`;

/** A word for a status when the catalogue has one (rights.<group>.<status>), else the status itself. */
function statusWord(t: Translator, group: 'contact' | 'status', status: unknown): string {
  const s = String(status);
  return ['active', 'pending', 'suppressed', 'subscribed', 'unsubscribed', 'unconfirmed'].includes(s) ? t.t(`rights.${group}.${s}`) : s;
}

function profile(t: Translator, contact: Row): Html {
  const none = t.t('rights.field.none');
  const fields: [string, string][] = [
    [t.t('rights.field.email'), text(contact.email) ?? none],
    [t.t('rights.field.name'), text(contact.name) ?? none],
    [t.t('rights.field.status'), statusWord(t, 'contact', contact.status)],
    [t.t('rights.field.created'), when(t, contact.createdAt) ?? none],
    [t.t('rights.field.verified'), when(t, contact.verifiedAt) ?? none],
  ];
  const attrs = contact.attributes && typeof contact.attributes === 'object' ? Object.entries(contact.attributes as Row) : [];
  const other = attrs.length === 0 ? '' : html`<h3>${t.t('rights.export.attributes')}</h3>
<dl>${attrs.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>`;
  return html`<h2>${t.t('rights.export.profile')}</h2>
<dl>${fields.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
${other}`;
}

function subscriptions(t: Translator, subs: Row[]): Html {
  const items = subs.length === 0 ? html`<p>${t.t('rights.export.noSubscriptions')}</p>`
    : html`<ul>${subs.map((s) => html`<li>${text(s.listName) ?? ''}${t.t('rights.colon')}${statusWord(t, 'status', s.status)}</li>`)}</ul>`;
  return html`<h2>${t.t('rights.export.subscriptions')}</h2>\n${items}`;
}

function counts(t: Translator, doc: Row): Html {
  const n = (k: string) => rows(doc[k]).length;
  const items = [
    t.t('rights.count.consent', { n: n('consentRecords') }), t.t('rights.count.messages', { n: n('messages') }),
    t.t('rights.count.bounces', { n: n('bounces') }), t.t('rights.count.complaints', { n: n('complaints') }),
    t.t('rights.count.engagements', { n: n('engagements') }),
  ];
  const suppressed = doc.suppression && typeof doc.suppression === 'object' && Object.values(doc.suppression as Row).some(Boolean);
  if (suppressed) items.push(t.t('rights.count.suppressed'));
  return html`<h2>${t.t('rights.export.held')}</h2>\n<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`;
}

function latestMessages(t: Translator, messages: Row[]): Html | '' {
  if (messages.length === 0) return '';
  const latest = messages.slice(-LATEST_MESSAGES).reverse();
  const more = messages.length - latest.length;
  return html`<h2>${t.t('rights.export.messages')}</h2>
<ul>${latest.map((m) => html`<li>${when(t, m.createdAt) ?? ''}${t.t('rights.colon')}${text(m.subject) ?? t.t('rights.export.noSubject')}</li>`)}</ul>
${more > 0 ? html`<p>${t.t('rights.export.moreMessages', { n: more })}</p>` : ''}`;
}

/** The page body: intro, the download button (a GET form: no script needed), then the summary. */
export function exportSummary(t: Translator, doc: Record<string, unknown>, downloadPath: string, tenantName: string, until: Date | null): Html {
  const contact = (doc.contact && typeof doc.contact === 'object' ? doc.contact : {}) as Row;
  return html`<p>${t.t('rights.export.intro', { tenant: tenantName })}</p>
<form method="get" action="${downloadPath}"><button type="submit">${t.t('rights.export.download')}</button></form>
${until ? html`<p class="hint">${t.t('rights.export.until', { date: `${t.date(until, 'long')} ${timeOf(t, until)}` })}</p>` : ''}
${profile(t, contact)}
${subscriptions(t, rows(doc.subscriptions))}
${counts(t, doc)}
${latestMessages(t, rows(doc.messages))}`;
}

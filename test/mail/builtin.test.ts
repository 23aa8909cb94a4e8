// The built-in mails in the recipient's language and the sender's brand (src/mail/builtin.ts), end to
// end: asked for through the API, sent through the real gate and sender, read from the real SMTP sink
// and parsed with mailparser. Each kind in German and in French: their words, no English left over,
// <html lang>, the logo, accent colour, privacy link and postal address; which locale wins (request,
// contact, tenant default); a tenant's override of a message.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import type { Received } from '../support/smtp-sink.js';
import { mailLocale } from '../../src/mail/builtin.js';
import { BUILTIN_KINDS, sendBuiltin, type BuiltinKind } from './builtin-mails.js';

const { app } = useApp({ tenant: false });

/** English words a German or French built-in mail must not show (case-sensitive, whole words). */
const ENGLISH = ['Hello', 'Confirm', 'Invoice', 'issued', 'Total', 'Subtotal', 'Description', 'Thank', 'Please', 'Open', 'Reply', 'reply',
  'Privacy', 'expires', 'button', 'Qty', 'Amount', 'price', 'account', 'request', 'notice', 'receive', 'purchase', 'copies'];
const ENGLISH_WORD = new RegExp(`\\b(?:${ENGLISH.join('|')})\\b`, 'g');

/** What a reader sees: the subject, the text part, and the HTML's text (no head, tags, entities or URLs). */
function visible(mail: Received): string {
  const html = String(mail.parsed.html || '').replace(/<head[\s\S]*?<\/head>/i, '').replace(/<!--[\s\S]*?-->/g, '').replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ').replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, '&');
  return [mail.parsed.subject ?? '', mail.parsed.text ?? '', html].join('\n').replace(/https?:\/\/\S+/g, ' ');
}

function htmlLang(mail: Received): string | null {
  return /<html[^>]*\slang="([^"]+)"/.exec(String(mail.parsed.html))?.[1] ?? null;
}

const WORDS: Record<'de' | 'fr', Record<BuiltinKind, RegExp[]>> = {
  de: {
    activation: [/^Bestätigen Sie Ihre E-Mail-Adresse für Acme$/, /Guten Tag Ada Lovelace,/, /Bestätigen/, /läuft in 7 Tagen ab/],
    invoice: [/^Rechnung T-\S+ von Acme$/, /ausgestellt am 30\. November 2026/, /Zwischensumme/, /Gesamtbetrag \(EUR\): 1\.469,06\s€/, /Einzelpreis/],
    'notice:account': [/^Zu Ihrem Konto bei Acme$/, /Diese Nachricht betrifft Ihr Konto bei Acme\./, /Öffnen/],
    'notice:legal': [/^Wichtige Informationen von Acme$/, /Wir sind verpflichtet/, /Öffnen/],
    'notice:support': [/^\[#4711\] Ihre Supportanfrage bei Acme$/, /Ihre Supportanfrage #4711\./],
    'notice:technical': [/^Servicehinweis von Acme$/, /Servicehinweis zu Acme/],
    'test-address': [/^Testexemplare von Acme bestätigen$/, /Guten Tag,/, /Testexemplare bestätigen/],
  },
  fr: {
    activation: [/^Confirmez votre adresse e-mail pour Acme$/, /Bonjour Ada Lovelace,/, /Confirmer/, /expire dans 7 jours/],
    invoice: [/^Facture T-\S+ – Acme$/, /émise le 30 novembre 2026/, /Sous-total/, /Montant total \(EUR\) : 1\s469,06\s€/, /Prix unitaire/],
    'notice:account': [/^À propos de votre compte Acme$/, /Ce message concerne votre compte chez Acme\./, /Ouvrir/],
    'notice:legal': [/^Information importante de la part de Acme$/, /Nous sommes tenus/, /Ouvrir/],
    'notice:support': [/^\[#4711\] Votre demande d’assistance – Acme$/, /demande d’assistance n° 4711\./],
    'notice:technical': [/^Avis de service – Acme$/, /avis de service concernant Acme/],
    'test-address': [/^Confirmez les envois de test de la part de Acme$/, /Bonjour,/, /Confirmer les envois de test/],
  },
};

async function brandedTenant(defaultLocale: string, name: string): Promise<TestTenant> {
  const t = await app.tenant({ name: 'Acme' });
  const r = await t.api('PATCH', '/api/tenant', {
    defaultLocale, logoUrl: `https://acme.org/${name}/logo.png`, accentColor: '#0f766e', privacyUrl: `https://acme.org/${name}/privacy`,
  });
  expect(r.status).toBe(200);
  return t;
}

describe.each(['de', 'fr'] as const)('each built-in mail in %s', (language) => {
  const mails = new Map<BuiltinKind, Received>();
  const locale = language === 'de' ? 'de-DE' : 'fr-FR';
  beforeAll(async () => {
    // The tenant speaks the language by default: the test address's mail follows it, the others too
    // (no contact or request locale).
    const t = await brandedTenant(locale, language);
    const got = await Promise.all(BUILTIN_KINDS.map((k) => sendBuiltin(app, t, k, `${language}-${k.replace(':', '-')}@example.com`)));
    BUILTIN_KINDS.forEach((k, i) => mails.set(k, got[i]));
  }, 120_000);

  it.each(BUILTIN_KINDS)('%s: its words, <html lang>, and no English', (kind) => {
    const mail = mails.get(kind) as Received;
    const text = visible(mail);
    for (const w of WORDS[language][kind]) expect(w.source.startsWith('^') ? mail.parsed.subject : text, w.source).toMatch(w);
    expect(text.match(ENGLISH_WORD) ?? [], 'English words').toEqual([]);
    expect(htmlLang(mail)).toBe(locale);
  });

  it.each(BUILTIN_KINDS)('%s: the brand (logo, accent colour, privacy link, postal address)', (kind) => {
    const mail = mails.get(kind) as Received;
    const html = String(mail.parsed.html);
    expect(html).toContain(`<img src="https://acme.org/${language}/logo.png" alt="Acme"`);
    expect(html).toMatch(kind === 'invoice' ? /style="color:#0f766e;"/ : /bgcolor="#0f766e" style="background:#0f766e;/); // buttons; the invoice has links only
    expect(html).not.toContain('#1d4ed8');
    expect(html).toMatch(new RegExp(`<a href="https://acme.org/${language}/privacy"[^>]*>${language === 'de' ? 'Datenschutzerklärung' : 'Politique de confidentialité'}</a>`));
    expect(html).toContain('1 Main Street, Springfield');
    expect(mail.parsed.text).toContain('1 Main Street, Springfield');
  });
});

describe('which language a built-in mail speaks', () => {
  let t: TestTenant;
  beforeAll(async () => { t = await brandedTenant('de-DE', 'choice'); }, 60_000);

  it('activation: the contact\'s locale over the tenant\'s default', async () => {
    const mail = await sendBuiltin(app, t, 'activation', 'choice-act@example.com', { contactLocale: 'fr-CA' });
    expect(mail.parsed.subject).toBe('Confirmez votre adresse e-mail pour Acme');
    expect(htmlLang(mail)).toBe('fr-CA');
  });

  it('invoice: the request\'s locale over the contact\'s, the contact\'s over the tenant\'s, dates and money in it', async () => {
    const es = await sendBuiltin(app, t, 'invoice', 'choice-inv-es@example.com', { contactLocale: 'fr', locale: 'es-ES' });
    expect(es.parsed.text).toContain('emitida el 30 de noviembre de 2026');
    expect(es.parsed.text).toMatch(/Importe total \(EUR\): 1469,06\s€/);
    const fr = await sendBuiltin(app, t, 'invoice', 'choice-inv-fr@example.com', { contactLocale: 'fr' });
    expect(fr.parsed.text).toContain('émise le 30 novembre 2026');
    const de = await sendBuiltin(app, t, 'invoice', 'choice-inv-de@example.com');
    expect(de.parsed.text).toContain('ausgestellt am 30. November 2026');
    // A locale without a catalogue is passed over: the words and the date stay in one language.
    const ja = await sendBuiltin(app, t, 'invoice', 'choice-inv-ja@example.com', { locale: 'ja-JP' });
    expect(ja.parsed.text).toContain('ausgestellt am 30. November 2026');
    expect(htmlLang(ja)).toBe('de-DE');
  });

  it('notice: the request\'s locale, else the contact\'s', async () => {
    const en = await sendBuiltin(app, t, 'notice:legal', 'choice-legal-en@example.com', { contactLocale: 'fr', locale: 'en' });
    expect(en.parsed.subject).toBe('Important information from Acme');
    expect(en.parsed.text).toContain('Hello Ada Lovelace,');
    const fr = await sendBuiltin(app, t, 'notice:legal', 'choice-legal-fr@example.com', { contactLocale: 'fr' });
    expect(fr.parsed.subject).toBe('Information importante de la part de Acme');
  });

  it('a tenant\'s override of a message replaces the catalogue\'s, in its language only', async () => {
    await ownerQuery(app.db.url, 'UPDATE tenants SET string_overrides = $2 WHERE id = $1',
      [t.id, JSON.stringify({ de: { 'mail.invoice.keep': 'Danke, {name}!', 'mail.greeting.named': 'Moin {name},' } })]);
    const de = await sendBuiltin(app, t, 'invoice', 'choice-override-de@example.com');
    expect(de.parsed.text).toContain('Moin Ada Lovelace,');
    // An override whose argument the message does not give falls back to the catalogue's text.
    expect(de.parsed.text).toContain('Bitte bewahren Sie diese E-Mail');
    const fr = await sendBuiltin(app, t, 'invoice', 'choice-override-fr@example.com', { locale: 'fr' });
    expect(fr.parsed.text).toContain('Bonjour Ada Lovelace,');
  });
});

describe('mailLocale', () => {
  it('takes the first candidate Postgate has a catalogue for, canonicalised, else English', () => {
    expect(mailLocale('ja-JP', null, 'DE-at')).toBe('de-AT');
    expect(mailLocale(undefined, 'fr')).toBe('fr');
    expect(mailLocale('not a tag', 'xx')).toBe('en');
  });
});

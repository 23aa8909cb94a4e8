// The public pages in the recipient's language, in a real browser (Debian's chromium through
// playwright-core; JavaScript off). A browser context's `locale` sets its Accept-Language header, so
// each context below is a person whose browser asks for a language: German, English, Japanese.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { setStringOverrides } from '../../src/tenants/store.js';
import { activationLink, consent, mailsTo, subscriptionStates, unsubscribePath, waitForMail } from '../unsubscribe/helpers.js';

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateI18nTest/1.0' }); // after useApp: closes before the app stops
const contexts: Record<string, BrowserContext> = {};

/** A browser whose Accept-Language follows `locale` (playwright: newContext({ locale })). */
async function person(locale: string): Promise<BrowserContext> {
  const b = browser.context().browser();
  if (!b) throw new Error('no browser');
  contexts[locale] ??= await b.newContext({ locale, javaScriptEnabled: false, userAgent: 'PostgateI18nTest/1.0' });
  return contexts[locale];
}

async function open(locale: string, path: string): Promise<{ page: Page; status: number | undefined; vary: string | undefined }> {
  const page = await (await person(locale)).newPage();
  const res = await page.goto(app.url + path);
  return { page, status: res?.status(), vary: res?.headers().vary };
}

const lang = (page: Page) => page.getAttribute('html', 'lang');
const h1 = (page: Page) => page.locator('h1').textContent();

/** Registers a contact through the API (optionally with a locale) and returns its id and the activation link. */
async function registered(email: string, locale?: string): Promise<{ id: string; link: string }> {
  const before = mailsTo(app, email).length;
  const r = await t.api('POST', '/api/contacts', { email, newsletter: true, consent, ...(locale ? { locale } : {}) });
  expect(r.status).toBe(201);
  return { id: r.body.id as string, link: activationLink(app, await waitForMail(app, email, before + 1, 30_000)) };
}

let listId: string;
beforeAll(async () => {
  listId = await given(app, t).list('Wochenpost');
}, 60_000);
afterAll(async () => {
  for (const c of Object.values(contexts)) await c.close();
});

describe('a German browser (de-DE)', () => {
  it('gets the unsubscribe page and its done page in German, lang="de", with Vary: Accept-Language', async () => {
    const id = (await given(app, t).subscribedContact('de-unsub@example.com')).id;
    const { page, status, vary } = await open('de-DE', unsubscribePath(app, t.id, id));
    expect(status).toBe(200);
    expect(vary).toMatch(/accept-language/i);
    expect(await lang(page)).toBe('de');
    expect(await page.getAttribute('html', 'dir')).toBe('ltr');
    expect(await page.title()).toBe('Abmelden – Acme');
    expect(await page.locator('main > p:not(.brand)').first().textContent()).toContain('Möchten Sie alle Newsletter von Acme unter de•••@example.com nicht mehr erhalten?');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Abmelden', exact: true }).click()]);
    expect(await h1(page)).toBe('Sie sind abgemeldet');
    expect(await lang(page)).toBe('de');
    expect(await page.getByRole('status').textContent()).toContain('ist von allen Newslettern abgemeldet');
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'unsubscribed' });
    await page.close();
  });

  it('gets the preference page in German, and saving it answers in German', async () => {
    const id = (await given(app, t).subscribedContact('de-prefs@example.com', { lists: ['default', listId] })).id;
    const { page } = await open('de-DE', `${unsubscribePath(app, t.id, id)}/preferences`);
    expect(await lang(page)).toBe('de');
    expect(await h1(page)).toBe('E-Mail-Einstellungen');
    expect(await page.locator('legend').textContent()).toBe('E-Mails von Acme');
    await page.getByLabel(/^Wochenpost/).uncheck();
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Einstellungen speichern' }).click()]);
    expect(await page.getByRole('status').textContent()).toBe('Ihre Einstellungen sind gespeichert.');
    expect(await subscriptionStates(app, id)).toEqual({ Newsletter: 'subscribed', Wochenpost: 'unsubscribed' });
    await page.close();
  });

  it('gets the activation page in German; the wording kept as the proof is the German one it showed', async () => {
    const { id, link } = await registered('de-activate@example.com');
    const page = await (await person('de-DE')).newPage();
    await page.goto(link);
    expect(await lang(page)).toBe('de');
    expect(await h1(page)).toBe('Bestätigen Sie Ihre E-Mail-Adresse');
    const shown = await page.locator('main > p:not(.brand)').first().textContent();
    expect(shown).toContain('Mit Ihrer Bestätigung versichern Sie, dass de-activate@example.com Ihre E-Mail-Adresse für Acme ist.');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Bestätigen' }).click()]);
    expect(await h1(page)).toBe('Bestätigt');
    expect(await page.locator('main > p:not(.brand)').first().textContent()).toBe('Vielen Dank: de-activate@example.com ist bestätigt.');
    const proof = await ownerQuery<{ text: string }>(app.db.url, `SELECT t.text FROM consent_events e JOIN consent_texts t ON t.hash = e.text_hash
      WHERE e.contact_id = $1 AND e.action = 'confirm' AND e.list_id IS NULL`, [id]);
    expect(proof.map((r) => r.text)).toEqual([shown]);
    await page.close();
  });

  it('gets the hosted form in German; a new contact keeps de-DE as its locale', async () => {
    const { page } = await open('de-DE', `/subscribe/${listId}`);
    expect(await lang(page)).toBe('de');
    expect(await h1(page)).toBe('Wochenpost abonnieren');
    await page.getByLabel('E-Mail-Adresse').fill('de-form@example.com');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Abonnieren' }).click()]);
    expect(await h1(page)).toBe('Bitte prüfen Sie Ihr Postfach');
    const [row] = await ownerQuery<{ locale: string }>(app.db.url, "SELECT locale FROM contacts WHERE email = 'de-form@example.com'");
    expect(row.locale).toBe('de-DE');
    const wording = await ownerQuery<{ text: string }>(app.db.url, `SELECT t.text FROM consent_events e JOIN consent_texts t ON t.hash = e.text_hash
      JOIN contacts c ON c.id = e.contact_id WHERE c.email = 'de-form@example.com' AND e.action = 'register'`);
    expect(wording.map((r) => r.text)).toEqual(['Ja, senden Sie mir Wochenpost von Acme. Ich kann mich jederzeit abmelden.']);
    await page.close();
  });

  it('gets the invalid-link and not-found pages in German too', async () => {
    const bad = await open('de-DE', '/u/not-a-token');
    expect([bad.status, await lang(bad.page), await h1(bad.page)]).toEqual([400, 'de', 'Dieser Link ist ungültig']);
    const none = await open('de-DE', '/nowhere-at-all');
    expect([none.status, await lang(none.page), await h1(none.page)]).toEqual([404, 'de', 'Seite nicht gefunden']);
    await bad.page.close();
    await none.page.close();
  });
});

describe('the RFC 8058 one-click answer', () => {
  it('is in the client’s language, or the contact’s stored one, and says which (Content-Language)', async () => {
    const oneClick = async (id: string, acceptLanguage: string) => {
      const res = await fetch(app.url + unsubscribePath(app, t.id, id), { method: 'POST', body: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': acceptLanguage } });
      return [res.status, res.headers.get('content-language'), await res.text()];
    };
    const de = (await given(app, t).subscribedContact('oneclick-de@example.com')).id;
    expect(await oneClick(de, 'de-DE,de;q=0.9')).toEqual([200, 'de', 'Sie wurden abgemeldet.\n']);
    const es = (await given(app, t).subscribedContact('oneclick-es@example.com')).id;
    expect((await t.api('PATCH', `/api/contacts/${es}`, { locale: 'es-MX' })).status).toBe(200);
    expect(await oneClick(es, 'de-DE')).toEqual([200, 'es', 'Se ha dado de baja.\n']);
    expect(await subscriptionStates(app, es)).toEqual({ Newsletter: 'unsubscribed' });
  });
});

describe('a contact whose stored locale is fr', () => {
  it('gets French pages even from an English browser', async () => {
    const id = (await given(app, t).subscribedContact('fr-stored@example.com')).id;
    const patched = await t.api('PATCH', `/api/contacts/${id}`, { locale: 'fr' });
    expect([patched.status, patched.body.locale]).toEqual([200, 'fr']);
    const refused = await t.api('PATCH', `/api/contacts/${id}`, { locale: 'ja' }); // no Japanese catalogue
    expect([refused.status, refused.body.error?.code]).toEqual([422, 'invalid']);
    expect((await t.api('GET', `/api/contacts/${id}/export`)).body.contact.locale).toBe('fr');
    const { page } = await open('en-US', unsubscribePath(app, t.id, id));
    expect(await lang(page)).toBe('fr');
    expect(await h1(page)).toBe('Se désabonner');
    await page.goto(`${app.url}${unsubscribePath(app, t.id, id)}/preferences`);
    expect(await lang(page)).toBe('fr');
    expect(await h1(page)).toBe('Préférences d’e-mail');
    await page.close();
  });

  it('registered with locale fr, gets the French activation page from an English browser', async () => {
    const { id, link } = await registered('fr-register@example.com', 'fr');
    expect((await t.api('GET', `/api/contacts/${id}`)).body.locale).toBe('fr');
    const page = await (await person('en-US')).newPage();
    await page.goto(link);
    expect(await lang(page)).toBe('fr');
    expect(await h1(page)).toBe('Confirmez votre adresse e-mail');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Confirmer' }).click()]);
    expect(await h1(page)).toBe('Confirmé');
    // Used: the link was genuine, so its 410 page still speaks the contact's language, under the tenant's brand.
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    expect(await lang(page)).toBe('fr');
    expect(await page.title()).toContain('Acme');
    await page.close();
  });
});

describe('the tenant’s default locale es', () => {
  it('applies when the browser asks only for a language without a catalogue (ja); English browsers keep English', async () => {
    expect((await t.api('PATCH', '/api/tenant', { defaultLocale: 'es' })).status).toBe(200);
    try {
      const id = (await given(app, t).subscribedContact('es-default@example.com')).id;
      const ja = await open('ja-JP', unsubscribePath(app, t.id, id));
      expect(await lang(ja.page)).toBe('es');
      expect(await h1(ja.page)).toBe('Darse de baja');
      await ja.page.goto(`${app.url}/subscribe/${listId}`);
      expect(await lang(ja.page)).toBe('es');
      expect(await h1(ja.page)).toBe('Suscribirse a Wochenpost');
      const en = await open('en-US', unsubscribePath(app, t.id, id));
      expect([await lang(en.page), await h1(en.page)]).toEqual(['en', 'Unsubscribe']);
      await ja.page.close();
      await en.page.close();
    } finally {
      await t.api('PATCH', '/api/tenant', { defaultLocale: 'en' });
    }
  });
});

describe('the tenant’s own words', () => {
  it('an override replaces a shipped text in its language only; a broken one falls back to the shipped text', async () => {
    await app.pg.deps.db.withTenant(t.id, (c) => setStringOverrides(c, t.id, {
      de: { 'page.unsubscribe.title': 'Newsletter abbestellen', 'page.unsubscribe.button': 'Jetzt {oops, plural, one {x}' },
    }));
    try {
      const id = (await given(app, t).subscribedContact('override@example.com')).id;
      const de = await open('de-DE', unsubscribePath(app, t.id, id));
      expect(await h1(de.page)).toBe('Newsletter abbestellen');
      expect(await de.page.getByRole('button', { name: 'Abmelden', exact: true }).isVisible()).toBe(true);
      const fr = await open('fr-FR', unsubscribePath(app, t.id, id));
      expect(await h1(fr.page)).toBe('Se désabonner');
      await de.page.close();
      await fr.page.close();
    } finally {
      await app.pg.deps.db.withTenant(t.id, (c) => setStringOverrides(c, t.id, {}));
    }
  });
});

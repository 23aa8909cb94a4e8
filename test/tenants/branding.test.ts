// A tenant's brand (issue 20): PATCH /api/tenant validates logo URL (https only), accent colour
// (contrast against white), privacy URL and default locale; every public page, served over real
// HTTP, shows the logo with its alt text, the accent colour, the privacy link and the postal address.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { consent, unsubscribePath, waitForMail } from '../unsubscribe/helpers.js';
import type { Received } from '../support/smtp-sink.js';
import { confirmLink, testAddressLink } from '../support/test-addresses.js';

const LOGO = 'https://cdn.acme.example/logo.png';
const PRIVACY = 'https://acme.example/privacy';
const ACCENT = '#0f766e'; // teal: 5.5:1 against white

const { app, t } = useApp();
beforeAll(async () => {
  const r = await t.api('PATCH', '/api/tenant', { logoUrl: LOGO, accentColor: ACCENT, privacyUrl: PRIVACY, postalAddress: '1 Main Street, Springfield' });
  expect(r.status).toBe(200);
}, 60_000);

/** The /a/ link of an activation mail, rebased onto the test server (either token format). */
function activationLink(mail: Received): string {
  const m = /https:\/\/postgate\.test\/a\/[A-Za-z0-9_.-]+/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error('no activation link in the mail');
  return m[0].replace('https://postgate.test', app.url);
}

const page = async (path: string): Promise<{ status: number; text: string; csp: string | null }> => {
  const res = await fetch(app.url + path);
  return { status: res.status, text: await res.text(), csp: res.headers.get('content-security-policy') };
};

/** The brand as renderPage draws it: logo with alt, accent colour on buttons and links, privacy link, address. */
function expectBranded(html: string): void {
  expect(html).toContain(`<img class="logo" src="${LOGO}" alt="Acme"`);
  expect(html).toContain(`button{border-color:${ACCENT};background:${ACCENT}}`);
  expect(html).toMatch(new RegExp(`<a href="${PRIVACY}">[^<]+</a>`));
  expect(html).toContain('Acme · 1 Main Street, Springfield');
}

describe('PATCH /api/tenant: the brand', () => {
  it('refuses a logo URL that is not https, naming the field', async () => {
    for (const logoUrl of ['http://cdn.acme.example/logo.png', 'javascript:alert(1)', 'data:image/png;base64,AAAA', 'not a url', 'https://user:pw@cdn.acme.example/logo.png']) {
      const r = await t.api('PATCH', '/api/tenant', { logoUrl });
      expect(r.status, logoUrl).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'logoUrl' });
    }
  });

  it('takes an https URL in any letter case, stored in its normal form', async () => {
    const other = await app.tenant({ name: 'Case' });
    const r = await other.api('PATCH', '/api/tenant', { logoUrl: 'HTTPS://CDN.Acme.example/Logo.png' });
    expect(r.status).toBe(200);
    expect(r.body.logoUrl).toBe('https://cdn.acme.example/Logo.png');
  });

  it('refuses an accent colour white text is unreadable on, saying why', async () => {
    const r = await t.api('PATCH', '/api/tenant', { accentColor: '#ffff00' });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('accentColor');
    expect(r.body.error.message).toMatch(/contrast 1\.07:1 against white is below 4\.5:1/);
    expect((await t.api('PATCH', '/api/tenant', { accentColor: 'teal' })).body.error).toMatchObject({ field: 'accentColor', message: expect.stringContaining('#rrggbb') });
  });

  it('refuses a privacy URL that is not https and a locale Postgate does not speak', async () => {
    expect((await t.api('PATCH', '/api/tenant', { privacyUrl: 'ftp://acme.example/privacy' })).body.error).toMatchObject({ field: 'privacyUrl' });
    const r = await t.api('PATCH', '/api/tenant', { defaultLocale: 'xx' });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'defaultLocale' });
  });

  it('stores and shows the brand (colour lower-cased, locale canonical), and clears a part with null', async () => {
    const r = await t.api('PATCH', '/api/tenant', { accentColor: '#0F766E', defaultLocale: 'DE-de' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ logoUrl: LOGO, accentColor: ACCENT, privacyUrl: PRIVACY, defaultLocale: 'de-DE' });
    expect((await t.api('PATCH', '/api/tenant', { defaultLocale: 'en' })).body.defaultLocale).toBe('en');
    const other = await app.tenant({ name: 'Plain' });
    await other.api('PATCH', '/api/tenant', { logoUrl: LOGO });
    expect((await other.api('PATCH', '/api/tenant', { logoUrl: null })).body.logoUrl).toBeNull();
  });
});

describe('the public pages show the brand', () => {
  it('unsubscribe and preferences pages: logo, accent colour, privacy link, postal address; the CSP lets an https logo load', async () => {
    const id = (await given(app, t).subscribedContact('brand-reader@example.com')).id;
    const path = unsubscribePath(app, t.id, id);
    for (const p of [path, `${path}/preferences`]) {
      const r = await page(p);
      expect(r.status, p).toBe(200);
      expectBranded(r.text);
      expect(r.csp).toContain('img-src https:');
    }
  });

  it('the activation page (before and after confirming) and the hosted subscription form', async () => {
    const email = 'brand-activation@example.com';
    expect((await t.api('POST', '/api/contacts', { email, newsletter: true, consent })).status).toBe(201);
    const link = activationLink(await waitForMail(app, email, 1, 30_000));
    const preview = await fetch(link);
    expect(preview.status).toBe(200);
    expectBranded(await preview.text());
    const done = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(done.status).toBe(200);
    expectBranded(await done.text());
    const listId = (await t.api('POST', '/api/lists', { name: 'Branded weekly' })).body.id as string;
    const form = await page(`/subscribe/${listId}`);
    expect(form.status).toBe(200);
    expectBranded(form.text);
  });

  it('the test address confirmation page (before and after confirming)', async () => {
    const address = 'brand-tester@example.com';
    expect((await t.api('POST', '/api/test-addresses', { email: address })).status).toBe(202);
    const link = testAddressLink(app, await waitForMail(app, address, 1, 30_000));
    const preview = await page(link.replace(app.url, ''));
    expect(preview.status).toBe(200);
    expectBranded(preview.text);
    const done = await confirmLink(link);
    expect(done.status).toBe(200);
    expectBranded(done.html);
  });

  it('a tenant without a brand shows its name and no logo, privacy link or accent style', async () => {
    const plain = await app.tenant({ name: 'Plainco', postalAddress: null });
    const contact = await given(app, plain).subscribedContact('plain-reader@example.com');
    const r = await page(unsubscribePath(app, plain.id, contact.id));
    expect(r.status).toBe(200);
    expect(r.text).toContain('<p class="brand">Plainco</p>');
    expect(r.text).not.toContain('<img');
    expect(r.text).not.toContain('<footer>');
    expect(r.text).not.toContain('border-color:#');
  });
});

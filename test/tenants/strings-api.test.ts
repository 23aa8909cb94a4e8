// The tenant's own strings (issue 20): GET/PUT /api/tenant/strings over real HTTP. PUT replaces the
// overrides after validating every entry (language, id, ICU syntax, arguments, sizes) with a 422
// naming the field; a stored override shows on a real public page.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { unsubscribePath } from '../unsubscribe/helpers.js';
import { catalogues } from '../../src/i18n/catalogues.js';
import { MAX_OVERRIDE_CHARS, MAX_OVERRIDES } from '../../src/policy/string-overrides.js';
import { measureLoop } from '../support/loop-hold.js';

const { app, t } = useApp();

const put = (body: unknown) => t.api('PUT', '/api/tenant/strings', body);
const get = () => t.api('GET', '/api/tenant/strings');

describe('GET /api/tenant/strings', () => {
  it('lists every English message with its text and arguments, and no overrides at first', async () => {
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.body.overrides).toEqual({});
    const english = catalogues().en;
    expect(r.body.messages.map((m: { id: string }) => m.id)).toEqual(Object.keys(english).sort());
    expect(r.body.messages).toContainEqual({ id: 'page.activation.wording.verify', text: english['page.activation.wording.verify'], arguments: ['email', 'tenant'] });
    expect(r.body.messages).toContainEqual({ id: 'page.notFound.title', text: 'Page not found', arguments: [] });
  });

  it('needs the admin scope', async () => {
    const other = await app.tenant({ name: 'Scoped', scopes: ['subscribers'] });
    expect((await other.api('GET', '/api/tenant/strings')).status).toBe(403);
    expect((await other.api('PUT', '/api/tenant/strings', {})).status).toBe(403);
  });
});

describe('PUT /api/tenant/strings', () => {
  it('stores the overrides, GET returns them, and {} clears them', async () => {
    const overrides = {
      de: { 'page.activation.wording.verify': 'Mit der Bestätigung erklären Sie, dass {email} Ihre Adresse bei {tenant} ist.' },
      en: { 'page.notFound.title': 'Nothing here', 'page.activation.wording.verify': 'Confirm {email}, please.' },
    };
    const r = await put({ ...overrides, fr: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ overrides }); // an empty language is dropped
    expect((await get()).body.overrides).toEqual(overrides);
    expect((await put({})).body).toEqual({ overrides: {} });
    expect((await get()).body.overrides).toEqual({});
  });

  it.each([
    ['a language without a catalogue', { xx: { 'page.notFound.title': 'x' } }, 'xx', /not a language Postgate speaks/],
    ['an unknown message id', { de: { 'page.no.such.message': 'x' } }, 'de.page.no.such.message', /no such message id/],
    ['an ICU syntax error', { fr: { 'page.activation.wording.verify': 'Adresse {email' } }, 'fr.page.activation.wording.verify', /not valid ICU MessageFormat/],
    ['an argument English lacks', { es: { 'page.activation.wording.verify': '{email} {password}' } }, 'es.page.activation.wording.verify', /\{password\}/],
    ['an argument inside a plural English lacks', { de: { 'page.notFound.title': '{n, plural, one {# {secret}} other {#}}' } }, 'de.page.notFound.title', /\{n\}, \{secret\}/],
    ['a tag English lacks', { de: { 'page.notFound.title': '<b>Nichts</b> hier' } }, 'de.page.notFound.title', /tag <b>/],
    ['a text over 4000 characters', { de: { 'page.notFound.title': 'x'.repeat(4001) } }, 'de.page.notFound.title', /4000/],
    ['a NUL character', { de: { 'page.notFound.title': 'Nichts\u0000hier' } }, 'de.page.notFound.title', /NUL/],
    ['a lone surrogate', { de: { 'page.notFound.title': 'Nichts \ud800 hier' } }, 'de.page.notFound.title', /surrogate/],
    ['a text that is not a string', { de: { 'page.notFound.title': 42 } }, 'de.page.notFound.title', /string/],
    ['a blank text (a mail would lose its subject)', { en: { 'mail.invoice.subject': '   ' } }, 'en.mail.invoice.subject', /blank/],
  ])('refuses %s with a 422 naming the field, and changes nothing', async (_, body, field, message) => {
    const before = { de: { 'page.notFound.title': 'Hier ist nichts' } };
    expect((await put(before)).status).toBe(200);
    const r = await put({ en: { 'page.notFound.title': 'Fine' }, ...body });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field });
    expect(r.body.error.message).toMatch(message);
    expect((await get()).body.overrides).toEqual(before);
  });

  it('refuses a "__proto__" key (which zod would silently drop, wiping every override) with a 422 naming it', async () => {
    const before = { de: { 'page.notFound.title': 'Hier ist nichts' } };
    expect((await put(before)).status).toBe(200);
    for (const [body, field] of [['{"__proto__":{"page.notFound.title":"x"}}', '__proto__'], ['{"de":{"page.notFound.title":"y","\\u005f_proto__":"z"}}', 'de.__proto__']]) {
      const r = await t.api('PUT', '/api/tenant/strings', body);
      expect(r.status, body).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'reserved_key', field });
    }
    expect((await get()).body.overrides).toEqual(before);
  });

  it(`refuses more than ${MAX_OVERRIDES} overrides in all languages together`, async () => {
    const ids = Object.keys(catalogues().en);
    const many: Record<string, Record<string, string>> = {};
    for (let i = 0; i <= MAX_OVERRIDES; i++) {
      const lang = ['en', 'de', 'fr', 'es'][i % 4];
      (many[lang] ??= {})[`${ids[Math.floor(i / 4) % ids.length]}${i >= ids.length * 4 ? `.x${i}` : ''}`] = 'x';
    }
    const r = await put(many);
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/at most 500/);
  });
});

describe('a large PUT', () => {
  it('checks a megabyte of long, valid texts without holding the event loop over 50 ms', async () => {
    const english = catalogues().en;
    const big: Record<string, Record<string, string>> = {};
    let bytes = 0;
    for (const id of Object.keys(english).filter((i) => english[i].includes('{'))) {
      for (const lang of ['en', 'de', 'fr', 'es']) {
        const text = `${english[id]} `.repeat(Math.floor(MAX_OVERRIDE_CHARS / (english[id].length + 1)));
        if (bytes + text.length > 950_000) break;
        (big[lang] ??= {})[id] = text;
        bytes += text.length;
      }
    }
    const { result, loop } = await measureLoop(() => put(big));
    expect(result.status).toBe(200);
    expect(bytes).toBeGreaterThan(900_000);
    expect(loop.holdMaxMs).toBeLessThan(50);
    expect((await put({})).status).toBe(200);
  });
});

describe('an override on a real page', () => {
  it('the unsubscribe page shows the tenant\'s own title in English and in German', async () => {
    expect((await put({ en: { 'page.unsubscribe.title': 'Leave the Acme list' }, de: { 'page.unsubscribe.title': 'Acme-Liste verlassen' } })).status).toBe(200);
    const id = (await given(app, t).subscribedContact('override-reader@example.com')).id;
    const url = app.url + unsubscribePath(app, t.id, id);
    const en = await (await fetch(url)).text();
    expect(en).toContain('<h1>Leave the Acme list</h1>');
    const de = await (await fetch(url, { headers: { 'accept-language': 'de-DE,de;q=0.9' } })).text();
    expect(de).toContain('<h1>Acme-Liste verlassen</h1>');
    expect(de).toMatch(/<html lang="de(-DE)?"/);
  });
});

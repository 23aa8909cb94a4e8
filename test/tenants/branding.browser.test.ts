// A branded tenant's unsubscribe and preference pages in headless Chromium (issue 20): the logo
// element with its https src and alt text, the accent colour as the button's computed background,
// and a visible privacy link. (The logo itself is not fetched: it would need a trusted https server.)
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { given } from '../support/given.js';
import { unsubscribePath } from '../unsubscribe/helpers.js';

const LOGO = 'https://cdn.acme.example/logo.png';
const PRIVACY = 'https://acme.example/privacy';
const ACCENT = '#7c2d12'; // rgb(124, 45, 18): 9.6:1 against white

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateBrandingTest/1.0' }); // after useApp: closes before the app stops
let path: string;
beforeAll(async () => {
  expect((await t.api('PATCH', '/api/tenant', { logoUrl: LOGO, accentColor: ACCENT, privacyUrl: PRIVACY })).status).toBe(200);
  const id = (await given(app, t).subscribedContact('branded-browser@example.com')).id;
  path = unsubscribePath(app, t.id, id);
}, 60_000);

describe('a branded tenant in headless Chromium', () => {
  it.each([
    ['unsubscribe', '', 'Unsubscribe'],
    ['preferences', '/preferences', 'Save preferences'],
  ])('the %s page shows the logo, the accent colour on its button and the privacy link', async (_, rest, button) => {
    const page = await browser.context().newPage();
    const res = await page.goto(app.url + path + rest);
    expect(res?.status()).toBe(200);
    const logo = page.getByRole('img', { name: 'Acme' });
    expect(await logo.count()).toBe(1);
    expect(await logo.getAttribute('src')).toBe(LOGO);
    const b = page.getByRole('button', { name: button, exact: true });
    expect(await b.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(124, 45, 18)');
    const privacy = page.getByRole('link', { name: 'Privacy policy' });
    expect(await privacy.isVisible()).toBe(true);
    expect(await privacy.getAttribute('href')).toBe(PRIVACY);
    expect(await page.locator('footer').textContent()).toContain('1 Main Street, Springfield');
    await page.close();
  });
});

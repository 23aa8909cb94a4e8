// The invoice as a reader sees it, in Debian's chromium: the HTML part of a real invoice mail (asked
// for through the API, taken from the real SMTP sink) in each locale Postgate speaks. The words around
// the issued date are in the date's own language (issue 20: a de-DE invoice read "issued on
// 30. November 2026"). If chromium is missing the test FAILS, naming the fix.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { useBrowser } from '../support/browser.js';
import { sendBuiltin } from '../mail/builtin-mails.js';
import type { Received } from '../support/smtp-sink.js';

const { app, t } = useApp();
const browser = useBrowser({ userAgent: 'PostgateInvoiceTest/1.0' }); // after useApp: closes before the app stops

const CASES = [
  { locale: 'en-US', intro: 'issued on November 30, 2026', total: /^Total \(EUR\)$/, foreign: false },
  { locale: 'de-DE', intro: 'ausgestellt am 30. November 2026', total: /^Gesamtbetrag \(EUR\)$/, foreign: true },
  { locale: 'fr-FR', intro: 'émise le 30 novembre 2026', total: /^Montant total \(EUR\)$/, foreign: true },
  { locale: 'es-ES', intro: 'emitida el 30 de noviembre de 2026', total: /^Importe total \(EUR\)$/, foreign: true },
];
const mails = new Map<string, Received>();

beforeAll(async () => {
  const got = await Promise.all(CASES.map((c) => sendBuiltin(app, t, 'invoice', `browser-${c.locale}@example.com`, { locale: c.locale })));
  CASES.forEach((c, i) => mails.set(c.locale, got[i]));
}, 120_000);

describe('the invoice in chromium, in each locale', () => {
  it.each(CASES)('$locale: the issued date in words of its own language', async ({ locale, intro, total, foreign }) => {
    const page = await browser.context().newPage();
    try {
      await page.setContent(String(mails.get(locale)?.parsed.html));
      expect(await page.getAttribute('html', 'lang')).toBe(locale);
      const sentence = (await page.locator('.invoice-intro').innerText()).replace(/\s+/g, ' ');
      expect(sentence).toContain(`${intro}.`);
      if (foreign) expect(sentence).not.toMatch(/\b(?:issued|on|Thank|Here|invoice)\b/);
      expect(await page.getByText(total).count()).toBe(1);
    } finally {
      await page.close();
    }
  });
});

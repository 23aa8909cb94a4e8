// Screenshots of the public pages in English and German (issue 20), for docs/pages/:
//   npx tsx scripts/page-screenshots.ts   (npm run screenshots)
// Starts Postgate on its embedded PostgreSQL in a throw-away DATA_DIR, with the test SMTP sink as its
// relay; makes a branded tenant (logo, accent colour, privacy link, postal address), registers a
// contact (double opt-in: the activation mail arrives in the sink) and photographs, with Debian's
// chromium in a de-DE and an en-US browser, the activation page (before confirming), then the
// unsubscribe and preference pages. No network: the logo's https URL is answered by the browser
// itself (a Playwright route with an inline SVG), and nothing else leaves the machine.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { unsubscribeToken } from '../src/unsubscribe/links.js';
import { launchChromium, PUBLIC_URL, startShowcase, stopShowcase, type Showcase } from './showcase.js';

const OUT = path.resolve(import.meta.dirname, '../docs/pages');
const LOGO_URL = 'https://northwind-coffee.com/logo.svg';
const EMAIL = 'reader@example.com';
const LANGUAGES = [{ tag: 'en', locale: 'en-US' }, { tag: 'de', locale: 'de-DE' }] as const;
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="260" height="48" viewBox="0 0 260 48">
<circle cx="24" cy="24" r="20" fill="#0f766e"/><path d="M14 30 L24 12 L34 30 Z" fill="#fff"/>
<text x="54" y="31" font-family="DejaVu Sans, sans-serif" font-size="19" font-weight="700" fill="#134e4a">Northwind Coffee</text></svg>`;

type Session = Showcase;

const start = () => startShowcase({ scopes: ['subscribers', 'admin'] });

async function api(s: Session, method: string, p: string, body?: unknown): Promise<{ id?: string; items?: { id: string; isDefault: boolean }[] }> {
  const res = await fetch(s.url + p, { method, headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${await res.text()}`);
  return res.json() as Promise<{ id?: string }>;
}

/** Brands the tenant and registers a contact to two lists; returns its id and the activation link. */
async function prepare(s: Session): Promise<{ contactId: string; activation: string }> {
  await api(s, 'PATCH', '/api/tenant', { logoUrl: LOGO_URL, accentColor: '#0f766e', privacyUrl: 'https://northwind-coffee.com/privacy' });
  const lists = (await api(s, 'GET', '/api/lists')).items ?? [];
  const beans = (await api(s, 'POST', '/api/lists', { name: 'Bean of the month', description: 'One new coffee each month, with tasting notes' })).id as string;
  const newsletter = lists.find((l) => l.isDefault)?.id as string;
  const contactId = (await api(s, 'POST', '/api/contacts', { email: EMAIL, name: 'Alex Reader', newsletter: [newsletter, beans],
    consent: { text: 'Yes, send me news from Northwind Coffee. I can unsubscribe at any time.', source: 'screenshots', ip: '203.0.113.7', userAgent: 'page-screenshots' } })).id as string;
  return { contactId, activation: await activationLink(s) };
}

async function activationLink(s: Session): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const mail = s.sink.received.find((r) => r.envelopeTo.includes(EMAIL));
    const m = mail && /https:\/\/postgate\.test\/a\/[A-Za-z0-9_.-]+/.exec(mail.parsed.text ?? '');
    if (m) return m[0].replace(PUBLIC_URL, s.url);
    await new Promise((r) => setTimeout(r, 100));
  }
  const rows = await s.pg.deps.db.withTenant(s.tenantId, async (c) => (await c.query('SELECT kind, status, reason FROM messages')).rows);
  throw new Error(`no activation mail arrived in 30 s; messages: ${JSON.stringify(rows)}`);
}

/** Photographs `url` once per language, as docs/pages/<name>.<language>.png. */
async function shoot(browser: Browser, name: string, url: string): Promise<void> {
  for (const l of LANGUAGES) {
    const context = await browser.newContext({ locale: l.locale, javaScriptEnabled: false, viewport: { width: 720, height: 640 }, deviceScaleFactor: 1 });
    await context.route(LOGO_URL, (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO_SVG }));
    const page = await context.newPage();
    const res = await page.goto(url);
    if (res?.status() !== 200) throw new Error(`${name} (${l.tag}) answered ${res?.status()}`);
    const file = path.join(OUT, `${name}.${l.tag}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`wrote ${path.relative(process.cwd(), file)} (lang="${await page.getAttribute('html', 'lang')}")`);
    await context.close();
  }
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const s = await start();
  const browser = await launchChromium();
  try {
    const { contactId, activation } = await prepare(s);
    await shoot(browser, 'activation', activation);
    const confirmed = await fetch(activation, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    if (confirmed.status !== 200) throw new Error(`confirming answered ${confirmed.status}`);
    const unsubscribe = `${s.url}/u/${unsubscribeToken(s.pg.deps.tokens, { tenantId: s.tenantId, contactId, campaignId: null })}`;
    await shoot(browser, 'unsubscribe', unsubscribe);
    await shoot(browser, 'preferences', `${unsubscribe}/preferences`);
  } finally {
    await stopShowcase(s, browser);
  }
}

await main();

// Screenshots of the staff console (issue 19), for docs/console/ and the README:
//   npx tsx scripts/console-screenshots.ts   (npm run screenshots:console)
// Starts Postgate on its embedded PostgreSQL in a throw-away DATA_DIR, with the test SMTP sink as its
// relay (it refuses one mailbox, for a real hard bounce), and fills a believable tenant through the
// API: three lists, two CSV imports (about 50 contacts with consent), a template, a verified test
// address, a segment, a finished campaign with figures (opens, clicks, a bounce, a complaint, an
// unsubscribe), a scheduled one and a few suppressions. Then a staff member signs in through the login
// page in Debian's chromium and the script writes 1280x800 PNGs to docs/console/: dashboard, campaign,
// template, segments, contact and import. Nothing leaves the machine.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createStaffUser } from '../src/staff/users.js';
import type { Received } from '../test/support/smtp-sink.js';
import { launchChromium, PUBLIC_URL, startShowcase, stopShowcase, type Showcase } from './showcase.js';

const OUT = path.resolve(import.meta.dirname, '../docs/console');
const STAFF = { email: 'maria@northwind-coffee.com', password: 'screenshots only passphrase' };
const BOUNCING = 'old.mailbox@example.net';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

const FIRST = ['Ada', 'Ben', 'Cleo', 'Dan', 'Eva', 'Finn', 'Greta', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Lars', 'Mila', 'Nils', 'Olga', 'Paul',
  'Quinn', 'Rosa', 'Sami', 'Tara', 'Uwe', 'Vera', 'Wim', 'Xenia', 'Yusuf', 'Zoe', 'Anton', 'Bea', 'Carl', 'Dora', 'Emil', 'Frida', 'Gus',
  'Hanna', 'Ivo', 'Jana', 'Karl', 'Lena', 'Moritz', 'Nora', 'Oskar', 'Pia', 'Rudi', 'Sofia', 'Theo'];
const LAST = ['Berg', 'Kurz', 'Lang', 'Meyer', 'Novak', 'Olsen', 'Peters', 'Quast', 'Roth', 'Schulz'];
const CITIES = ['Hamburg', 'Berlin', 'Vienna', 'Zurich', 'Copenhagen', 'Amsterdam', 'Lyon'];
const TEMPLATE = `<mjml>
  <mj-head>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /></mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f1ea">
    <mj-section background-color="#0f766e">
      <mj-column><mj-text color="#ffffff" font-size="22px" font-weight="700">Northwind Coffee</mj-text></mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="18px">Hello {{name}},</mj-text>
        <mj-text>Our winter roast is in: a dark, chocolatey blend from Huila, Colombia,
          roasted in small batches in {{attributes.city}} this week.</mj-text>
        <mj-button background-color="#0f766e" href="https://northwind-coffee.com/winter-roast">Order the winter roast</mj-button>
        <mj-text>Brewing tips: <a href="https://northwind-coffee.com/brewing">our guide</a>.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section>
      <mj-column>
        <mj-text font-size="12px" color="#555555">{{tenantName}} · <a href="{{unsubscribeUrl}}">Unsubscribe</a> ·
          <a href="{{preferencesUrl}}">Preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

type Session = Showcase;
/** An API answer, read loosely: the few fields this script uses. */
interface Json { [field: string]: unknown; id?: string; status?: string; isDefault?: boolean; items?: Json[] }

async function start(): Promise<Session> {
  const s = await startShowcase({ scopes: ['subscribers', 'transactional', 'campaigns', 'admin'], config: { ENGAGEMENT_SCANNER_SECONDS: 0 },
    sink: { onRcpt: (a) => (a === BOUNCING ? { code: 550, message: '5.1.1 <old.mailbox@example.net>: user unknown' } : null) } });
  await createStaffUser(s.pg.deps.db, { tenantId: s.tenantId, email: STAFF.email, role: 'admin', password: STAFF.password });
  return s;
}

async function api(s: Session, method: string, p: string, body?: unknown, contentType = 'application/json'): Promise<Json> {
  const isForm = body instanceof FormData;
  const res = await fetch(s.url + p, {
    method, headers: { authorization: `Bearer ${s.key}`, ...(isForm || body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : isForm || typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) as Json : {};
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const rebase = (u: string) => u.replace(PUBLIC_URL, '');
const mailTo = (s: Session, address: string): Received | undefined => s.sink.received.find((m) => m.envelopeTo.includes(address));

/** Imports a CSV through the API (multipart, as the console does) and waits for it to finish. */
async function importCsv(s: Session, csv: string, lists: string[], source: string): Promise<Json> {
  const form = new FormData();
  form.append('options', JSON.stringify({ lists, consent: { source, text: 'Yes, send me news and offers from Northwind Coffee.', date: '2026-09-15' } }));
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'contacts.csv');
  const started = await api(s, 'POST', '/api/imports', form);
  return until('the import', async () => {
    const v = await api(s, 'GET', `/api/imports/${started.id}`);
    return v.status === 'completed' || v.status === 'failed' ? v : null;
  });
}

/** An RFC 3464 hard bounce (DSN) for a delivered message, as the recipient's MTA sends it later. */
function hardBounce(mail: Received): string {
  const recipient = mail.envelopeTo[0];
  return `From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: ${mail.envelopeFrom}
Subject: Undelivered Mail Returned to Sender
Date: ${new Date().toUTCString()}
Message-ID: <dsn-${randomUUID()}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"

--dsn
Content-Type: text/plain; charset=us-ascii

<${recipient}>: host mail.example.com said: 550 5.1.1 User unknown

--dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ${recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address rejected: User unknown in virtual mailbox table

--dsn
Content-Type: text/rfc822-headers

From: Northwind Coffee <news@northwind-coffee.com>
To: ${recipient}
Subject: ${mail.parsed.subject ?? ''}
Message-ID: ${mail.parsed.messageId ?? ''}

--dsn--
`.replace(/\r?\n/g, '\r\n');
}

/** An RFC 5965 complaint (ARF) about a delivered message, as a mailbox provider's feedback loop sends it. */
function complaint(mail: Received): string {
  const recipient = mail.envelopeTo[0];
  return `From: Feedback Loop <fbl@isp.example.net>
To: ${mail.envelopeFrom}
Subject: FW: ${mail.parsed.subject ?? ''}
Date: ${new Date().toUTCString()}
Message-ID: <arf-${randomUUID()}@isp.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain; charset=us-ascii

This is an email abuse report.

--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: <${recipient}>

--arf
Content-Type: text/rfc822-headers

From: Northwind Coffee <news@northwind-coffee.com>
To: ${recipient}
Subject: ${mail.parsed.subject ?? ''}
Message-ID: ${mail.parsed.messageId ?? ''}

--arf--
`.replace(/\r?\n/g, '\r\n');
}

/** Fills the tenant; returns the ids the screenshots open. */
async function prepare(s: Session): Promise<{ finished: string; template: string; contact: string }> {
  await api(s, 'PATCH', '/api/tenant', { accentColor: '#0f766e', privacyUrl: 'https://northwind-coffee.com/privacy' });
  const newsletter = ((await api(s, 'GET', '/api/lists')).items as Json[]).find((l) => l.isDefault)?.id as string;
  const beans = (await api(s, 'POST', '/api/lists', { name: 'Bean of the month', description: 'One new coffee each month, with tasting notes' })).id as string;
  const cafes = (await api(s, 'POST', '/api/lists', { name: 'Café owners', description: 'Wholesale offers for cafés and restaurants' })).id as string;

  const rows = FIRST.map((f, i) => `${f.toLowerCase()}.${LAST[i % LAST.length].toLowerCase()}@example.com;${f} ${LAST[i % LAST.length]};${i % 3 === 0 ? 'pro' : 'free'};${CITIES[i % CITIES.length]};${(i * 7) % 40 + 1}`);
  const csv = ['email;name;plan;city;orders', ...rows, `${BOUNCING};Old Mailbox;free;Berlin;1`, 'not-an-address;Typo;free;Berlin;0', ''].join('\n');
  await importCsv(s, csv, [newsletter, beans], 'Checkout opt-in box on shop.northwind-coffee.com (shop export)');
  await importCsv(s, ['email;name;city', 'team@cafe-hafen.example;Café Hafen;Hamburg', 'order@bistro-lyon.example;Bistro Lyon;Lyon',
    'hello@kaffeehaus.example;Kaffeehaus Wien;Vienna', ''].join('\n'), [cafes], 'Trade fair sign-up sheet, Coffee Expo Hamburg 2026');

  const template = (await api(s, 'POST', '/api/templates', { name: 'Winter roast', subject: 'The winter roast is here, {{name}}', mjml: TEMPLATE })).id as string;
  await api(s, 'POST', '/api/templates', { name: 'Bean of the month', subject: 'Your bean of the month: {{attributes.city}} edition', mjml: TEMPLATE });
  await api(s, 'POST', '/api/test-addresses', { email: 'qa@northwind-coffee.com' });
  const verification = await until('the test address mail', async () => mailTo(s, 'qa@northwind-coffee.com'));
  const link = /https:\/\/postgate\.test\/t\/[A-Za-z0-9_.-]+/.exec(verification.parsed.text ?? '')?.[0];
  if (!link) throw new Error('no verification link in the test address mail');
  await fetch(s.url + rebase(link), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });

  await api(s, 'POST', '/api/segments', { name: 'Pro customers who get the bean of the month',
    filter: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }, { list: beans }] } });

  // The finished campaign, and what its readers did: opens, clicks, a complaint, a bounce, two unsubscribes.
  const finished = (await api(s, 'POST', '/api/campaigns', { name: 'Winter roast launch', templateId: template, listIds: [newsletter], trackOpens: true, trackClicks: true })).id as string;
  await api(s, 'POST', `/api/campaigns/${finished}/start`);
  await until('the campaign to complete', async () => (await api(s, 'GET', `/api/campaigns/${finished}`)).status === 'completed', 120_000);
  const sent = s.sink.received.filter((m) => /winter roast is here/.test(m.parsed.subject ?? ''));
  for (const [i, m] of sent.entries()) {
    const html = typeof m.parsed.html === 'string' ? m.parsed.html : '';
    const open = /https:\/\/postgate\.test\/o\/[A-Za-z0-9_.-]+/.exec(html)?.[0];
    if (open && i % 2 === 0) await fetch(s.url + rebase(open), { headers: { 'user-agent': BROWSER_UA } });
    const click = /https:\/\/postgate\.test\/c\/[A-Za-z0-9_.-]+/.exec(html)?.[0];
    if (click && i % 4 === 0) await fetch(s.url + rebase(click), { headers: { 'user-agent': BROWSER_UA }, redirect: 'manual' });
  }
  await api(s, 'POST', '/api/inbound', complaint(sent[3]), 'message/rfc822');
  await api(s, 'POST', '/api/inbound', hardBounce(sent[7]), 'message/rfc822');
  for (const m of [sent[4], sent[9]]) {
    const headers = m.raw.toString('utf8').split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
    const unsubscribe = /^List-Unsubscribe:.*?<(https:\/\/postgate\.test\/u\/[^>]+)>/im.exec(headers)?.[1];
    if (!unsubscribe) throw new Error('no List-Unsubscribe URL in the campaign mail');
    const r = await fetch(s.url + rebase(unsubscribe), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': BROWSER_UA }, body: 'List-Unsubscribe=One-Click' });
    if (!r.ok) throw new Error(`the one-click unsubscribe answered ${r.status}`);
  }

  // A scheduled campaign, and suppressions added by hand.
  const scheduled = (await api(s, 'POST', '/api/campaigns', { name: 'Bean of the month: January', templateId: template, listIds: [beans] })).id as string;
  await api(s, 'POST', `/api/campaigns/${scheduled}/schedule`, { sendAt: new Date(Date.now() + 6 * 86_400_000).toISOString().slice(0, 13) + ':00:00.000Z' });
  await api(s, 'POST', '/api/suppressions', { address: 'no-marketing@example.org', scope: 'marketing', reason: 'legal_request', note: 'Asked by phone, ticket 1182' });
  await api(s, 'POST', '/api/suppressions', { address: 'former.employee@northwind-coffee.com', reason: 'manual', note: 'Left the company' });

  // The contact photographed: opened, clicked, then unsubscribed from the newsletter.
  const contact = ((await api(s, 'GET', `/api/contacts?q=${encodeURIComponent(sent[4].envelopeTo[0])}`)).items as Json[])[0].id as string;
  return { finished, template, contact };
}

/** Writes docs/console/<name>.png of the viewport, scrolled (when `from` is given) so that heading is near its top. */
async function shot(page: Page, name: string, from?: string): Promise<void> {
  if (from) {
    await page.getByRole('heading', { name: from, exact: true }).first().evaluate((el) => {
      window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 24);
    });
  }
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  if (process.env.FULL_PAGE) await page.screenshot({ path: path.join(os.tmpdir(), `console-${name}-full.png`), fullPage: true });
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

async function open(page: Page, s: Session, p: string): Promise<void> {
  await page.goto(s.url + p);
  await page.locator('main h1').first().waitFor();
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const s = await start();
  const browser = await launchChromium();
  try {
    const ids = await prepare(s);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${s.url}/console/login`);
    await page.getByLabel('Email').fill(STAFF.email);
    await page.getByLabel('Password', { exact: true }).fill(STAFF.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

    await page.locator('.uplot').first().waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'dashboard', 'Campaign mail over time');

    await open(page, s, `/console/campaigns/${ids.finished}`);
    await page.getByTestId('figure-sent').waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'campaign', 'Figures');

    await open(page, s, `/console/templates/${ids.template}`);
    await page.frameLocator('iframe.preview-frame').getByText('Order the winter roast').waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'template');

    await open(page, s, '/console/segments');
    await page.getByRole('button', { name: /^Edit Pro customers/ }).click();
    await page.locator('.live-count').getByText(/match(es)? now/).waitFor();
    await shot(page, 'segments', 'Edit “Pro customers who get the bean of the month”');

    await open(page, s, `/console/contacts/${ids.contact}`);
    await page.getByRole('heading', { level: 2, name: 'Timeline' }).waitFor();
    await page.waitForLoadState('networkidle');
    await shot(page, 'contact', 'Timeline');

    await open(page, s, '/console/imports');
    await page.getByLabel('CSV file').setInputFiles({ name: 'fair-signups.csv', mimeType: 'text/csv',
      buffer: Buffer.from('E-Mail;Vorname;Nachname;Stadt;Kundennummer\nlea.kraus@example.de;Lea;Kraus;Bremen;10442\ntim.vogel@example.de;Tim;Vogel;Kiel;10443\n') });
    await page.getByRole('heading', { level: 2, name: '2. Map the columns' }).waitFor();
    await page.getByLabel('Import “Vorname” as').selectOption('name');
    await page.getByLabel('Import “Nachname” as').selectOption('name');
    await page.getByLabel('Import “Kundennummer” as').selectOption('attr:number');
    await page.getByLabel('Bean of the month', { exact: true }).check();
    await page.getByLabel('These people gave consent: they arrive subscribed').check();
    await page.getByLabel('Where and how consent was given').fill('Sign-up sheet at the Bremen coffee fair, October 2026');
    await shot(page, 'import', '2. Map the columns');
    await context.close();
  } finally {
    await stopShowcase(s, browser);
  }
}

await main();

// The whole job in the staff console, end to end in Debian's chromium (issue 19), as a new staff member
// does it, through the UI only: set a password from the one-time link and sign in; import a CSV with
// consent (upload, mapping, dry run, run, progress to the end); build a segment (the live count
// follows the condition) and save it; write an MJML template and preview it; add a test address,
// confirm it from the mail it gets, and send a test to it; create a campaign on the imported list and
// the segment, schedule it, start it, watch it complete and read its figures (the SMTP sink got the
// segment's recipients, each once, and no one else); remove a wrong suppression with a reason; revoke
// an API key; log out (the console then asks to sign in). axe on every page the walk visits.
// The only API calls are the set-up (a list, a wrong suppression, a key to revoke) and reading the sink.
import { beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import { testAddressLink } from '../support/test-addresses.js';
import { expectAccessible, useConsole } from '../support/console.js';

const { app, t } = useApp({ tenant: { name: 'Walkthrough Coffee' } });
const ui = useConsole(app);

const PASSWORD = 'my own long passphrase 2026';
const WRONGLY_SUPPRESSED = 'wrongly.suppressed@example.net';
const KEY_NAME = 'Old shop plugin';
const TEST_ADDRESS = 'qa.walk@acme.org';
const PROS = ['ada@walk.example', 'cleo@walk.example', 'eve@walk.example'];
const CSV = [
  'Email;Name;plan;City',
  'ada@walk.example;Ada Lovelace;pro;London',
  'ben@walk.example;Ben Franklin;free;Boston',
  'cleo@walk.example;Cleo Patra;pro;Alexandria',
  'dan@walk.example;Dan Brown;free;Exeter',
  'eve@walk.example;Eve Online;pro;Reykjavik',
  '',
].join('\n');
const MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{name}}, the winter roast is in.</mj-text>
        <mj-button href="https://acme.org/winter">Order now</mj-button>
        <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a> · <a href="{{preferencesUrl}}">Preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

let setPasswordToken: string;
let email: string;

beforeAll(async () => {
  const g = given(app, t);
  const staff = await g.staffUser({ role: 'admin', password: null });
  email = staff.email;
  setPasswordToken = staff.setPasswordToken as string;
  await g.list('Shop customers');
  const s = await t.api('POST', '/api/suppressions', { address: WRONGLY_SUPPRESSED, reason: 'manual', note: 'typed in by mistake' });
  expect(s.status, JSON.stringify(s.body)).toBe(201);
  const k = await t.api('POST', '/api/keys', { name: KEY_NAME, scopes: ['subscribers'] });
  expect(k.status, JSON.stringify(k.body)).toBe(201);
});

/** expectAccessible for a page showing the email preview: its sandboxed frame (the tenant's email, no scripts) is left out. */
const expectAccessibleWithPreview = (page: Page, what: string) => expectAccessible(page, what, { exclude: ['iframe.preview-frame'] });

/** Follows a link of the console's nav, as a person does, and waits for the page's h1. */
async function go(page: Page, link: string, h1: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: h1 }).waitFor();
}

const tomorrowUtc = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

it('walks the whole job: password, sign-in, import, segment, template, test send, campaign, suppression, key, log out', async () => {
  // 1. The one-time link: choose a password.
  const setup = await ui.newPage();
  await setup.goto(`${app.url}/console/set-password#token=${setPasswordToken}`);
  await setup.getByRole('heading', { level: 1, name: 'Set your password' }).waitFor();
  await expectAccessible(setup, 'the set-password page');
  await setup.getByLabel('New password').fill(PASSWORD);
  await setup.getByLabel('Repeat the password').fill(PASSWORD);
  await setup.getByRole('button', { name: 'Set password' }).click();
  await setup.getByText('Your password is set.').or(setup.getByRole('button', { name: 'Log out', exact: true })).first().waitFor();

  // 2. Sign in through the login page (a fresh browser: no session yet).
  const page = await ui.newPage();
  await page.goto(`${app.url}/console/`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await expectAccessible(page, 'the login page');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  expect(await page.getByRole('banner').first().textContent()).toContain(email);
  await expectAccessible(page, 'the dashboard');

  // 3. Import a CSV with consent: upload, mapping, dry run, run, progress to the end.
  await go(page, 'Imports', 'Imports');
  await expectAccessible(page, 'the imports page');
  await page.getByLabel('CSV file').setInputFiles({ name: 'shop-customers.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await expect.poll(() => page.getByLabel('Import “Email” as').inputValue()).toBe('email');
  await page.getByLabel('Import “Name” as').selectOption('name');
  await page.getByLabel('Import “plan” as').selectOption('attr:string');
  await page.getByLabel('Import “City” as').selectOption('ignore');
  await page.getByLabel('Shop customers', { exact: true }).check();
  await page.getByLabel('These people gave consent: they arrive subscribed').check();
  await page.getByLabel('Where and how consent was given').fill('Checkout opt-in box on shop.acme.org (shop export)');
  await page.getByLabel('The wording people agreed to').fill('Yes, send me news and offers from Walkthrough Coffee.');
  await page.getByLabel('Date consent was given').fill('2026-10-01');
  await expectAccessible(page, 'the imports page with the mapping');
  await page.getByRole('button', { name: 'Dry run' }).click();
  await page.getByText('Dry run complete').waitFor({ timeout: 30_000 });
  const would = page.getByRole('table', { name: 'What the import would do' });
  expect(await would.getByRole('row', { name: /New contacts would be created/ }).getByRole('cell').textContent()).toBe('5');
  expect(await would.getByRole('row', { name: /Rows with errors/ }).getByRole('cell').textContent()).toBe('0');
  await expectAccessible(page, 'the imports page with the dry run report');
  await page.getByRole('button', { name: 'Start import' }).click();
  await page.getByText('Import complete').waitFor({ timeout: 30_000 });
  const did = page.getByRole('table', { name: 'What the import did' });
  expect(await did.getByRole('row', { name: /New contacts created/ }).getByRole('cell').textContent()).toBe('5');
  expect(await did.getByRole('row', { name: /Subscribed/ }).getByRole('cell').textContent()).toBe('5');
  expect(await page.locator('.import-progress').count()).toBe(0); // the progress bar is gone: it finished
  await expect.poll(() => page.getByRole('table', { name: 'Past imports' }).getByRole('row').count()).toBe(3); // header, import, dry run
  await expectAccessible(page, 'the imports page with the finished import');

  // 4. A segment: one condition, the live count follows it, then save.
  await go(page, 'Segments', 'Segments');
  const liveCount = page.locator('.live-count');
  await expect.poll(() => liveCount.textContent()).toMatch(/^\d+ contacts? match(es)? now\.$/);
  const everyone = Number((await liveCount.textContent())?.match(/^\d+/)?.[0]);
  expect(everyone).toBeGreaterThanOrEqual(5);
  await expectAccessible(page, 'the segments page');
  await page.getByRole('button', { name: 'Add a condition' }).click();
  const condition = page.getByRole('group', { name: 'Condition 1' });
  await condition.getByLabel('Attribute', { exact: true }).fill('plan');
  await condition.getByLabel('Value', { exact: true }).fill('pro');
  await expect.poll(() => liveCount.textContent()).toBe('3 contacts match now.');
  await page.getByLabel('Name', { exact: true }).fill('Pro customers');
  await expectAccessible(page, 'the segment builder with a condition');
  await page.getByRole('button', { name: 'Save segment' }).click();
  await page.getByText('Segment “Pro customers” saved.').waitFor();
  await page.getByRole('table', { name: 'Saved segments' }).getByRole('row', { name: /Pro customers/ }).waitFor();

  // 5. A template in MJML, previewed at both widths, saved.
  await go(page, 'Templates', 'Templates');
  await expectAccessible(page, 'the templates list');
  await page.getByRole('link', { name: 'New template' }).click();
  await page.getByRole('heading', { level: 1, name: 'New template' }).waitFor();
  const form = page.getByRole('form', { name: 'Template' });
  await form.getByLabel('Name').fill('Winter roast');
  await form.getByLabel('Subject').fill('The winter roast, {{name}}');
  await form.getByLabel('MJML').fill(MJML);
  const frameText = () => page.frameLocator('iframe.preview-frame').locator('body').innerText();
  await expect.poll(frameText, { timeout: 15_000 }).toContain('Hello Jane Doe, the winter roast is in.');
  expect(await frameText()).toContain('Order now');
  await page.getByLabel('Mobile (375 px)').check();
  await expect.poll(async () => (await page.locator('iframe.preview-frame').boundingBox())?.width ?? 0).toBeCloseTo(375, -1);
  await page.getByLabel('Desktop (640 px)').check();
  await expectAccessibleWithPreview(page, 'the template editor with its preview');
  await form.getByRole('button', { name: 'Create template' }).click();
  await page.getByRole('heading', { level: 1, name: 'Template: Winter roast' }).waitFor();
  await page.getByText('Saved as version 1.').waitFor();

  // 6. A test address: added here, confirmed from the mail it gets, then a test sent to it.
  const add = page.getByRole('form', { name: 'Add a test address' });
  await add.getByLabel('New test address').fill(TEST_ADDRESS);
  await add.getByRole('button', { name: 'Add test address' }).click();
  await page.getByText(`We mailed a confirmation link to ${TEST_ADDRESS}.`, { exact: false }).waitFor();
  const verification = await waitForMail(app, TEST_ADDRESS, 1, 30_000);
  const inbox = await ui.newPage(); // the tester's own browser
  await inbox.goto(testAddressLink(app, verification));
  await inbox.getByRole('button').click();
  await inbox.getByText(TEST_ADDRESS).first().waitFor();
  expect(await inbox.locator('form').count()).toBe(0); // the confirmation page, not the form again
  await page.getByRole('button', { name: 'Refresh the test addresses' }).click();
  await page.getByRole('row', { name: new RegExp(`${TEST_ADDRESS.replace(/\./g, '\\.')}.*Verified`) }).waitFor();
  const test = page.getByRole('form', { name: 'Send a test' });
  await expect.poll(() => test.getByLabel('Send to').inputValue()).toBe(TEST_ADDRESS);
  await expectAccessibleWithPreview(page, 'the template page with a verified test address');
  await test.getByRole('button', { name: 'Send test of version 1' }).click();
  await page.getByText(`A test of version 1 is on its way to ${TEST_ADDRESS}.`).waitFor();
  const testMail = await waitForMail(app, TEST_ADDRESS, 2, 30_000);
  expect(testMail.parsed.subject).toBe('[TEST] The winter roast, Jane Doe');
  expect(testMail.parsed.html).toContain('Hello Jane Doe, the winter roast is in.');

  // 7. A campaign on the imported list and the segment: schedule, start, watch it complete, read its figures.
  await go(page, 'Campaigns', 'Campaigns');
  await expectAccessible(page, 'the campaigns list');
  await page.getByRole('link', { name: 'New campaign' }).click();
  await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
  await page.getByRole('textbox', { name: 'Name' }).fill('Winter roast for pros');
  await page.getByLabel('Template').selectOption({ label: 'Winter roast (version 1)' });
  await page.getByLabel('Segment').selectOption({ label: 'Pro customers' });
  await page.getByRole('checkbox', { name: 'Shop customers' }).check();
  await expectAccessible(page, 'the new campaign form');
  await page.getByRole('button', { name: 'Create draft' }).click();
  await page.getByRole('heading', { level: 1, name: 'Winter roast for pros' }).waitFor();
  const status = (text: string, timeout = 10_000) => page.getByTestId('campaign-status').filter({ hasText: new RegExp(`^${text}$`) }).waitFor({ timeout });
  await status('Draft');
  await page.getByText('Ready to send: the compliance check finds no problem.').waitFor();
  const day = tomorrowUtc();
  await page.getByLabel('Time zone').selectOption('UTC');
  await page.getByLabel('Send at').fill(`${day}T08:00`);
  await expect.poll(() => page.getByTestId('send-at-utc').textContent()).toBe(`${day} 08:00 UTC`);
  await expectAccessible(page, 'the draft campaign with its schedule form');
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await status('Scheduled');
  expect(await page.getByTestId('scheduled-utc').textContent()).toBe(`${day} 08:00 UTC`);
  await page.getByRole('button', { name: 'Start sending now' }).click();
  const dialog = page.getByRole('dialog', { name: 'Start sending now?' });
  await dialog.waitFor();
  await expectAccessible(page, 'the start confirmation');
  await dialog.getByRole('button', { name: 'Start sending now' }).click();
  await status('Completed', 60_000);
  const bar = page.getByRole('progressbar', { name: 'Sending progress' });
  await expect.poll(() => bar.getAttribute('value')).toBe('3');
  expect(await bar.getAttribute('max')).toBe('3');
  await expect.poll(() => page.getByTestId('progress-text').textContent()).toMatch(/^3 of 3 recipients processed \(100%\)/);
  await page.getByRole('table', { name: 'Figures' }).waitFor();
  await expect.poll(() => page.getByTestId('figure-sent').textContent()).toBe('3');
  expect(await page.getByTestId('figure-bounced').textContent()).toBe('0');
  await expectAccessible(page, 'the completed campaign with its figures');
  // The sink got the segment's recipients, each once, and none of the other imported contacts.
  const campaignMail = app.sink.received.filter((m) => m.envelopeTo.some((a) => a.endsWith('@walk.example')));
  expect(campaignMail.flatMap((m) => m.envelopeTo).sort()).toEqual(PROS);
  expect(campaignMail.find((m) => m.envelopeTo.includes('ada@walk.example'))?.parsed.subject).toBe('The winter roast, Ada Lovelace');

  // 8. Remove a wrong suppression, with a reason.
  await go(page, 'Bounces & suppressions', /Bounces/);
  await expectAccessible(page, 'the bounces and suppressions page');
  const filters = page.getByRole('search', { name: 'Filter suppressions' });
  await filters.getByLabel('Address').fill(WRONGLY_SUPPRESSED);
  await filters.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('button', { name: `Remove the suppression of ${WRONGLY_SUPPRESSED} (All mail)` }).click();
  const removal = page.getByRole('dialog');
  await removal.getByLabel('Reason for the removal').fill('Typed in by mistake (ticket 812)');
  await expectAccessible(page, 'the suppression removal dialog');
  await removal.getByRole('button', { name: 'Remove suppression' }).click();
  await page.getByText(new RegExp(`Removed 1 suppression of ${WRONGLY_SUPPRESSED.replace(/\./g, '\\.')}`)).waitFor();
  await page.getByText('No suppression matches.').waitFor();

  // 9. Revoke an API key.
  await go(page, 'API keys & webhooks', /API keys/);
  const keyRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: KEY_NAME, exact: true }) });
  await keyRow.waitFor();
  expect(await keyRow.textContent()).toContain('active');
  await expectAccessible(page, 'the API keys page');
  await keyRow.getByRole('button', { name: new RegExp(`^Revoke key ${KEY_NAME}`) }).click();
  const revoke = page.getByRole('dialog');
  await revoke.waitFor();
  await expectAccessible(page, 'the revoke dialog');
  await revoke.getByRole('button', { name: 'Revoke key' }).click();
  await page.getByText(/is revoked\./).waitFor();
  await expect.poll(() => keyRow.textContent()).toContain('revoked');
  expect(await keyRow.getByRole('button').count()).toBe(0);

  // 10. Log out: the console is closed, a page load asks to sign in.
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByText('You are signed out.').waitFor();
  await page.goto(`${app.url}/console/campaigns`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/console/login');
  await expectAccessible(page, 'the login page after logging out');
  expect(mailsTo(app, WRONGLY_SUPPRESSED)).toEqual([]);
}, 300_000);

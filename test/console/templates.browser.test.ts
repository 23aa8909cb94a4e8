// The console's templates page in Chromium (issue 19): write a template in the MJML editor, watch the
// live preview (a sandboxed iframe) at desktop and mobile widths, insert a variable, see an MJML error
// marked on its line, save it, send a test to a verified test address (the SMTP sink gets it) and add
// a test address (it gets its confirmation mail). A viewer reads but cannot change or send. Every
// page state passes axe (no serious or critical violation).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import { verifiedTestAddress } from '../support/test-addresses.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { createStaffUser } from '../../src/staff/users.js';

const { app, t } = useApp();
const ui = useConsole(app);

const MARKETER = { email: 'mia.marketing@acme.org', password: 'a long marketing passphrase 3' };
const VIEWER = { email: 'vic.viewer@acme.org', password: 'a long viewer passphrase 4' };

const mjml = (line6: string): string => [
  '<mjml>',
  '  <mj-body>',
  '    <mj-section>',
  '      <mj-column>',
  '        <mj-text>Hello {{name}}, spring is here.</mj-text>',
  `        ${line6}`,
  '      </mj-column>',
  '    </mj-section>',
  '  </mj-body>',
  '</mjml>',
].join('\n');
const GOOD = mjml('<mj-button href="https://acme.org/spring">See the offers</mj-button>');
const BAD = mjml('<mj-bogus>oops</mj-bogus>');

beforeAll(async () => {
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: MARKETER.email, role: 'marketing', password: MARKETER.password });
  await createStaffUser(app.pg.deps.db, { tenantId: t.id, email: VIEWER.email, role: 'viewer', password: VIEWER.password });
  await verifiedTestAddress(app, t, 'qa@acme.org');
});

async function as(who: { email: string; password: string }, width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, who);
  return page;
}

/**
 * expectAccessible for a page showing the preview: the same rules and threshold, with the preview
 * iframe's content (the tenant's email, not the console) left out — axe cannot run inside a frame with
 * sandbox="" (no scripts) and waits on it for tens of seconds. The iframe element itself must still
 * have a title.
 */
async function expectAccessibleWithPreview(page: Page, what: string): Promise<void> {
  const frames = page.locator('iframe.preview-frame');
  for (const f of await frames.all()) expect(await f.getAttribute('title')).toMatch(/^Email preview/);
  await expectAccessible(page, what, { exclude: ['iframe.preview-frame'] });
}

const frameText = (page: Page) => page.frameLocator('iframe.preview-frame').locator('body').innerText();
const frameWidth = async (page: Page) => (await page.locator('iframe.preview-frame').boundingBox())?.width ?? 0;

let templateId: string;

describe('templates page', () => {
  it('writes a template with a live preview at both widths, inserts a variable, marks an MJML error on its line, and saves it', async () => {
    const page = await as(MARKETER);
    await ui.open(page, '/console/templates');
    await page.getByText('No templates yet').waitFor();
    await expectAccessible(page, 'templates list (empty)');
    await page.getByRole('link', { name: 'New template' }).click();
    await page.getByRole('heading', { level: 1, name: 'New template' }).waitFor();

    const form = page.getByRole('form', { name: 'Template' });
    await form.getByLabel('Name').fill('Spring news');
    await form.getByLabel('Subject').fill('Spring for {{name}} from ');
    await form.getByLabel('Subject').press('End');
    await page.getByRole('button', { name: 'Insert {{tenantName}}' }).click();
    expect(await form.getByLabel('Subject').inputValue()).toBe('Spring for {{name}} from {{tenantName}}');
    await form.getByLabel('MJML').fill(GOOD);

    // The live preview: the sample person, the subject rendered, the button, in a frame with no scripts.
    await expect.poll(() => frameText(page), { timeout: 10_000 }).toContain('Hello Jane Doe, spring is here.');
    await expect.poll(() => page.locator('.preview-subject').innerText()).toContain('Spring for Jane Doe from Acme');
    expect(await frameText(page)).toContain('See the offers');
    expect(await page.locator('iframe.preview-frame').getAttribute('sandbox')).toBe('');
    expect(await frameWidth(page)).toBeCloseTo(640, -1);
    await page.getByLabel('Mobile (375 px)').check();
    await expect.poll(() => frameWidth(page)).toBeCloseTo(375, -1);
    await page.getByLabel('Desktop (640 px)').check();
    await expect.poll(() => frameWidth(page)).toBeCloseTo(640, -1);
    await expectAccessibleWithPreview(page, 'template editor with a preview');

    // An MJML error: listed under the editor with its line, the line marked in the gutter.
    const editor = form.getByLabel('MJML');
    await editor.fill(BAD);
    const issues = form.locator('.issue-list');
    await expect.poll(() => issues.innerText(), { timeout: 10_000 }).toMatch(/Line 6: .*mj-bogus/);
    expect(await editor.getAttribute('aria-invalid')).toBe('true');
    expect(await form.locator('.code-line--error').allInnerTexts()).toEqual(['6']);
    expect(await page.locator('.preview-status').innerText()).toBe('Showing the last version without errors');
    await expectAccessibleWithPreview(page, 'template editor with an MJML error');
    await issues.getByRole('button', { name: 'Go to line 6' }).click();
    const caret = await editor.evaluate((el: HTMLTextAreaElement) => ({ focused: document.activeElement === el, line: el.value.slice(0, el.selectionStart).split('\n').length }));
    expect(caret).toEqual({ focused: true, line: 6 });

    // Fixed, it previews again; saving creates version 1 and moves to the template's own page.
    await editor.fill(GOOD);
    await expect.poll(() => issues.count()).toBe(0);
    await expect.poll(() => page.locator('.preview-status').innerText()).toBe('Up to date');
    await form.getByRole('button', { name: 'Create template' }).click();
    await page.getByRole('heading', { level: 1, name: 'Template: Spring news' }).waitFor();
    await page.getByText('Saved as version 1.').waitFor();
    templateId = new URL(page.url()).pathname.split('/').pop() as string;
    const stored = await t.api('GET', `/api/templates/${templateId}`);
    expect(stored.body).toMatchObject({ name: 'Spring news', version: 1, subject: 'Spring for {{name}} from {{tenantName}}', mjml: GOOD });

    // A save the server refuses shows its errors on the fields too.
    await page.getByRole('form', { name: 'Template' }).getByLabel('Subject').fill('Spring {{#if}}');
    await page.getByRole('button', { name: 'Save new version' }).click();
    await expect.poll(() => page.getByRole('form', { name: 'Template' }).getByLabel('Subject').getAttribute('aria-invalid')).toBe('true');
    expect((await t.api('GET', `/api/templates/${templateId}`)).body.version).toBe(1);
    await page.getByRole('button', { name: 'Discard changes' }).click();

    await ui.open(page, '/console/templates');
    await page.getByRole('link', { name: 'Spring news' }).waitFor();
    await expectAccessible(page, 'templates list');
  }, 120_000);

  it('sends a test to a verified address (the SMTP sink gets it) and adds a test address, which is mailed its link', async () => {
    const page = await as(MARKETER);
    await ui.open(page, `/console/templates/${templateId}`);
    const test = page.getByRole('form', { name: 'Send a test' });
    await test.getByLabel('Send to').waitFor();
    // Filled with the first verified test address once the list of test addresses has loaded.
    await expect.poll(() => test.getByLabel('Send to').inputValue()).toBe('qa@acme.org');
    const before = mailsTo(app, 'qa@acme.org').length;
    await test.getByRole('button', { name: 'Send test of version 1' }).click();
    await page.getByText('A test of version 1 is on its way to qa@acme.org.').waitFor();
    const mail = await waitForMail(app, 'qa@acme.org', before + 1);
    expect(mail.parsed.subject).toBe('[TEST] Spring for Jane Doe from Acme');
    expect(mail.parsed.html).toContain('Hello Jane Doe, spring is here.');

    // Adding a test address: the server's error next to the field, then the confirmation mail.
    const add = page.getByRole('form', { name: 'Add a test address' });
    await add.getByLabel('New test address').fill('not an address');
    await add.getByRole('button', { name: 'Add test address' }).click();
    await expect.poll(() => add.getByLabel('New test address').getAttribute('aria-invalid')).toBe('true');
    expect(await add.locator('.field-error').innerText()).toMatch(/invalid email address/);
    await expectAccessibleWithPreview(page, 'template page with a test-address error');
    await add.getByLabel('New test address').fill('new.tester@acme.org');
    await add.getByRole('button', { name: 'Add test address' }).click();
    await page.getByText('We mailed a confirmation link to new.tester@acme.org.', { exact: false }).waitFor();
    await page.getByRole('row', { name: /new\.tester@acme\.org.*Waiting for confirmation/ }).waitFor();
    await waitForMail(app, 'new.tester@acme.org', 1);
    // Only verified addresses are offered.
    expect(await test.getByLabel('Send to').locator('option').allInnerTexts()).toEqual(['qa@acme.org']);
    await expectAccessibleWithPreview(page, 'template page after a test send');
  }, 60_000);

  it('is usable at 360 px: nothing overflows the page, the preview scrolls in its own region', async () => {
    const page = await as(MARKETER, 360);
    await ui.open(page, `/console/templates/${templateId}`);
    await expect.poll(() => frameText(page), { timeout: 10_000 }).toContain('Hello Jane Doe');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(await page.getByLabel('Mobile (375 px)').isChecked()).toBe(true); // a narrow screen starts at the mobile width
    await expectAccessibleWithPreview(page, 'template editor at 360 px');
  });

  it('lets a viewer read and preview a template but not change it or send a test', async () => {
    const page = await as(VIEWER);
    await ui.open(page, '/console/templates');
    await page.getByRole('link', { name: 'Spring news' }).click();
    await page.getByRole('heading', { level: 1, name: 'Template: Spring news' }).waitFor();
    expect(await page.getByRole('link', { name: 'New template' }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Template' }).getByLabel('MJML').getAttribute('readonly')).not.toBeNull();
    expect(await page.getByRole('button', { name: /Save|Create/ }).count()).toBe(0);
    expect(await page.getByRole('form', { name: 'Send a test' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Insert/ }).count()).toBe(0);
    // Previews change nothing: a viewer sees them (the API marks them read-only).
    await expect.poll(() => frameText(page), { timeout: 10_000 }).toContain('Hello Jane Doe, spring is here.');
    await expectAccessibleWithPreview(page, 'template page for a viewer');
  });
});

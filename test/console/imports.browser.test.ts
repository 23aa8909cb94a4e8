// The console's imports page in Chromium (issue 19): import a CSV with consent end to end (choose the
// file, map its columns from the server's suggestion, pick a list, state the consent basis, a dry run
// that writes nothing and reports the refused row, the real run with its progress, then the contacts);
// the server's errors next to the field they name; keyboard and narrow screens; a viewer cannot import.
// Every page state passes axe (no serious or critical violation).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';

const { app, t } = useApp();
const ui = useConsole(app);

let admin: { email: string; password: string };
let viewer: { email: string; password: string };
let vip: string;

beforeAll(async () => {
  const g = given(app, t);
  const a = await g.staffUser({ role: 'admin', password: 'a long admin passphrase 1' });
  const v = await g.staffUser({ role: 'viewer', password: 'a long viewer passphrase 2' });
  admin = { email: a.email, password: 'a long admin passphrase 1' };
  viewer = { email: v.email, password: 'a long viewer passphrase 2' };
  vip = await g.list('VIP');
});

async function signedIn(who: { email: string; password: string }, width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, who);
  await ui.open(page, '/console/imports');
  return page;
}

const csvFile = (text: string, name = 'contacts.csv') => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
const contactsLike = async (q: string) => (await t.api('GET', `/api/contacts?q=${encodeURIComponent(q)}`)).body.items as { email: string; name: string | null; status: string; attributes: Record<string, unknown> }[];

describe('imports page', () => {
  it('import a CSV with consent: upload, map, dry run, run, see the contacts', async () => {
    const page = await signedIn(admin);
    await expectAccessible(page, 'imports page');
    const csv = 'Mail;Vorname;Nachname;Punkte;Stadt\nanna@import.example;Anna;Berg;12;Bern\nben@import.example;Ben;Kurz;7;Genf\nnot-an-address;X;Y;1;Z\n';
    await page.getByLabel('CSV file').setInputFiles(csvFile(csv));

    // The server's suggestion: Mail is the address, the other columns text attributes.
    const mailAs = page.getByLabel('Import “Mail” as');
    await expect.poll(() => mailAs.inputValue()).toBe('email');
    expect(await page.getByLabel('Import “Vorname” as').inputValue()).toBe('attr:string');
    await page.getByText('e.g. anna@import.example · ben@import.example').waitFor();
    await page.getByLabel('Import “Vorname” as').selectOption('name');
    await page.getByLabel('Import “Nachname” as').selectOption('name');
    await page.getByLabel('Import “Punkte” as').selectOption('attr:number');
    await page.getByLabel('Import “Stadt” as').selectOption('ignore');
    await page.getByLabel('VIP', { exact: true }).check();
    await expectAccessible(page, 'imports page with the column mapping');

    // The consent basis is not chosen for the importer: a run without a choice asks for one.
    const gave = page.getByLabel('These people gave consent: they arrive subscribed');
    expect(await gave.isChecked()).toBe(false);
    expect(await page.getByLabel('No consent on record: they arrive unconfirmed').isChecked()).toBe(false);
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.locator('.fieldset .field-error').filter({ hasText: 'Choose the consent basis' }).waitFor();
    await gave.check();

    // Consent without its source: the server's 422 shows at the source field, in words (not the validator's).
    await page.getByRole('button', { name: 'Dry run' }).click();
    const source = page.getByLabel('Where and how consent was given');
    await expect.poll(() => source.getAttribute('aria-invalid')).toBe('true');
    const sourceError = page.locator('.field-error').filter({ hasText: 'Say where and how these people gave consent' });
    await sourceError.waitFor();
    expect(await page.locator('.field-error').allTextContents()).not.toContainEqual(expect.stringMatching(/Too small|options\./));
    await expectAccessible(page, 'imports page with a consent error');
    await source.fill('Signup form on acme.org (old newsletter tool export)');

    // A source but no date, and no column mapped as the consent date: nobody would be subscribed, so the server refuses it at the date.
    await page.getByRole('button', { name: 'Dry run' }).click();
    const date = page.getByLabel('Date consent was given');
    await expect.poll(() => date.getAttribute('aria-invalid')).toBe('true');
    await page.locator('.field-error').filter({ hasText: 'nobody would arrive subscribed' }).waitFor();
    expect(await source.getAttribute('aria-invalid')).toBeNull();
    await date.fill('2024-03-01');

    // The dry run: what would happen, the refused row with its reason, and nothing written.
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText('Dry run complete').waitFor({ timeout: 30_000 });
    expect(await source.getAttribute('aria-invalid')).toBeNull();
    const figures = page.getByRole('table', { name: 'What the import would do' });
    expect(await figures.getByRole('row', { name: /New contacts would be created/ }).getByRole('cell').textContent()).toBe('2');
    expect(await figures.getByRole('row', { name: /Subscribed/ }).getByRole('cell').textContent()).toBe('2');
    expect(await figures.getByRole('row', { name: /Rows with errors/ }).getByRole('cell').textContent()).toBe('1');
    const refused = page.getByRole('table', { name: /Rows refused or skipped/ });
    expect(await refused.getByRole('row', { name: /invalid[_ ]email/ }).count()).toBe(1);
    expect(await contactsLike('import.example')).toEqual([]);
    await expectAccessible(page, 'imports page with a dry run report');

    // The real run, followed to its end; then the contacts, subscribed to VIP with consent.
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.getByText('Import complete').waitFor({ timeout: 30_000 });
    expect(await page.getByRole('table', { name: 'What the import did' }).getByRole('row', { name: /New contacts created/ }).getByRole('cell').textContent()).toBe('2');
    await expectAccessible(page, 'imports page with a finished import');
    const history = page.getByRole('table', { name: 'Past imports' });
    await expect.poll(() => history.getByRole('row').count()).toBe(3); // the header, the import and the dry run
    await page.getByRole('link', { name: 'See the contacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    await page.getByRole('link', { name: 'anna@import.example' }).waitFor();
    await page.getByRole('link', { name: 'ben@import.example' }).waitFor();
    expect(page.url()).toContain(`listId=${vip}`);

    const anna = (await contactsLike('anna@import.example'))[0];
    expect(anna).toMatchObject({ name: 'Anna Berg', status: 'active', attributes: { Punkte: 12 } });
    expect(anna.attributes).not.toHaveProperty('Stadt');
  }, 120_000);

  it('keyboard and a narrow screen: the file field is reached by Tab; a mapping without an address shows the server\'s error', async () => {
    const page = await signedIn(admin, 360);
    let onFile = false;
    for (let i = 0; i < 40 && !onFile; i++) {
      await page.keyboard.press('Tab');
      onFile = await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.type === 'file');
    }
    expect(onFile).toBe(true);
    // Nothing but a table's own scrolling region is wider than the screen.
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => `${e.tagName}.${e.className}`));
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])).toEqual([360, 360]);

    // Not CSV: the preview's error at the file field.
    await page.getByLabel('CSV file').setInputFiles({ name: 'export.zip', mimeType: 'application/zip', buffer: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0x0a]) });
    const fileField = page.getByLabel('CSV file');
    await expect.poll(() => fileField.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-error').first().textContent()).toMatch(/not CSV/);
    await expectAccessible(page, 'imports page with a file error, 360px wide');

    // No address column: the server asks for mapping.email, shown above the columns.
    await fileField.setInputFiles(csvFile('Kontakt,Stadt\nx@import.example,Bern\n'));
    await page.getByLabel('Import “Kontakt” as').waitFor();
    await page.getByLabel('No consent on record: they arrive unconfirmed').check();
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('.mapping .field-error').filter({ hasText: /required without a preset/ }).waitFor();
    await expectAccessible(page, 'imports page with a mapping error, 360px wide');
    // Choosing the address column with the keyboard fixes it.
    await page.getByLabel('Import “Kontakt” as').focus();
    await page.getByLabel('Import “Kontakt” as').selectOption('email');
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.getByText('Import complete').waitFor({ timeout: 30_000 });
    // No consent and no confirmation email: the report says plainly that nobody was subscribed or mailed.
    await page.getByText('Nobody was subscribed and no confirmation email was queued').waitFor();
    await expectAccessible(page, 'imports page with a nobody-subscribed report, 360px wide');
    expect((await contactsLike('x@import.example'))[0]).toMatchObject({ status: 'pending', attributes: { Stadt: 'Bern' } });
  }, 90_000);

  it('a viewer sees the past imports but no form', async () => {
    const page = await signedIn(viewer);
    await page.getByRole('table', { name: 'Past imports' }).waitFor();
    expect(await page.getByLabel('CSV file').count()).toBe(0);
    await expectAccessible(page, 'imports page for a viewer');
  });
});

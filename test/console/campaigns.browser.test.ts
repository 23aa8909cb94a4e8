// The console's campaign pages in Chromium (issue 19): create a draft (the server's field errors shown
// on the field), see the compliance check, schedule it in the staff member's time zone (the UTC instant
// shown beside it), start it after a confirmation, watch the live progress (a progress bar, the gate's
// refusals by reason) until it completes and the SMTP sink has the mail, read its figures; pause,
// resume and cancel a slow campaign; a viewer reads but cannot send. Every state passes axe.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { addSuppression } from '../../src/consent/suppressions.js';
import { createStaffUser } from '../../src/staff/users.js';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { perRecipient, setTenant } from '../campaigns/helpers.js';

const { app, t, tenant } = useApp();
const slow = tenant({ name: 'Slowmail' });
const ui = useConsole(app);

const MARKETER = { email: 'mia.marketing@acme.org', password: 'a long marketing passphrase 1' };
const VIEWER = { email: 'val.viewer@acme.org', password: 'a long viewer passphrase 22' };
const SLOW_MARKETER = { email: 'sam.marketing@slowmail.org', password: 'a long marketing passphrase 3' };
const READERS = ['ada@readers.example', 'bob@readers.example'];
const BLOCKED = 'blocked@readers.example';
let readers: string;
let slowList: string;
let slowTemplate: string;

beforeAll(async () => {
  const db = app.pg.deps.db;
  await createStaffUser(db, { tenantId: t.id, email: MARKETER.email, role: 'marketing', password: MARKETER.password });
  await createStaffUser(db, { tenantId: t.id, email: VIEWER.email, role: 'viewer', password: VIEWER.password });
  await createStaffUser(db, { tenantId: slow.id, email: SLOW_MARKETER.email, role: 'marketing', password: SLOW_MARKETER.password });
  const g = given(app, t);
  readers = await g.list('Readers');
  for (const e of READERS) await g.subscribedContact(e, { lists: [readers], name: e.split('@')[0] });
  await g.subscribedContact(BLOCKED, { lists: [readers] });
  await db.withTenant(t.id, (c) => addSuppression(c, t.id, BLOCKED, 'marketing', 'complaint'));
  await g.template({ name: 'Monthly' });

  const s = given(app, slow);
  slowList = await s.list('Many');
  await s.contacts({ prefix: 'reader', n: 30, listId: slowList, domain: 'slow.example' });
  slowTemplate = await s.template({ name: 'Slow news' });
  await setTenant(app, slow.id, 'send_rate_per_second = 1'); // 30 recipients take 30 s: time to pause
}, 60_000);

async function as(who: { email: string; password: string }, o: { timezoneId?: string; width?: number } = {}): Promise<Page> {
  const page = await ui.newPage(o);
  await signIn(page, app, who);
  await ui.open(page, '/console/campaigns');
  return page;
}

const statusIs = (page: Page, text: string, timeout = 10_000) =>
  page.getByTestId('campaign-status').filter({ hasText: new RegExp(`^${text}$`) }).waitFor({ timeout });

/** Tomorrow's date (YYYY-MM-DD) in `timeZone`. */
const tomorrowIn = (timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
  .format(new Date(Date.now() + 86_400_000));

describe('campaign pages', () => {
  it('create a draft, schedule it in the staff member\'s zone, start it, watch it complete and read its figures', async () => {
    const page = await as(MARKETER, { timezoneId: 'America/New_York' });
    await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
    await expectAccessible(page, 'campaigns list (empty)');

    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { level: 1, name: 'New campaign' }).waitFor();
    await page.getByLabel('Template').selectOption({ label: 'Monthly (version 1)' });
    await page.getByRole('checkbox', { name: 'Readers' }).check();
    // No name: the server's error appears on the Name field.
    await page.getByRole('button', { name: 'Create draft' }).click();
    const name = page.getByRole('textbox', { name: 'Name' });
    await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
    const nameError = await name.getAttribute('aria-describedby');
    // zod's raw text ("Too small: expected string…") in plain words.
    expect(await page.locator(`[id="${nameError?.split(' ').pop()}"]`).textContent()).toBe('Required');
    await expectAccessible(page, 'new campaign with a field error');

    await name.fill('December news');
    await page.getByLabel('Subject').fill('December news for {{name}}');
    await page.getByRole('button', { name: 'Create draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'December news' }).waitFor();
    const id = new URL(page.url()).pathname.split('/').pop() as string;
    await statusIs(page, 'Draft');
    await page.getByText('Ready to send: the compliance check finds no problem.').waitFor();
    await expect.poll(() => page.getByText('Acme News <news@acme.org>').count()).toBe(1); // the tenant's From, read-only
    // A draft is deleted, not cancelled.
    expect(await page.getByRole('button', { name: 'Delete draft' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Cancel campaign' }).count()).toBe(0);

    // Schedule: the zone defaults to the browser's; pick Tokyo (UTC+9, no DST) and see the UTC instant.
    expect(await page.getByLabel('Time zone').inputValue()).toBe('America/New_York');
    await page.getByLabel('Time zone').selectOption('Asia/Tokyo');
    const day = tomorrowIn('Asia/Tokyo');
    await page.getByLabel('Send at').fill(`${day}T09:30`);
    await expect.poll(() => page.getByTestId('send-at-utc').textContent()).toBe(`${day} 00:30 UTC`);
    await expectAccessible(page, 'draft with its schedule form');
    await page.getByRole('button', { name: 'Schedule', exact: true }).click();
    await statusIs(page, 'Scheduled');
    expect(await page.getByTestId('scheduled-utc').textContent()).toBe(`${day} 00:30 UTC`);
    // Said once: the confirmation, and the schedule with its time.
    await page.getByText('The campaign is scheduled.').waitFor();
    expect(await page.getByText(/Scheduled for/).count()).toBe(1);
    expect(await page.getByText('The campaign is scheduled.').count()).toBe(1);
    expect((await t.api('GET', `/api/campaigns/${id}`)).body.sendAt).toBe(`${day}T00:30:00.000Z`);

    // Start now, after a confirmation; the page polls until it completes.
    await page.getByRole('button', { name: 'Start sending now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start sending now?' });
    await dialog.waitFor();
    await expectAccessible(page, 'start confirmation');
    await dialog.getByRole('button', { name: 'Start sending now' }).click();
    await statusIs(page, 'Completed', 20_000);
    expect(await page.getByText('Sending has started.').count()).toBe(1);
    expect(await page.getByText(/: done\./).count()).toBe(0);
    const bar = page.getByRole('progressbar', { name: 'Sending progress' });
    await expect.poll(() => bar.getAttribute('value')).toBe('3');
    expect(await bar.getAttribute('max')).toBe('3');
    await expect.poll(() => page.getByTestId('progress-text').textContent()).toMatch(/^3 of 3 recipients processed \(100%\)/);
    expect(await page.getByTestId('count-sent').textContent()).toBe('2');
    expect(await page.getByTestId('count-refused-by-the-gate').textContent()).toBe('1');
    const refusals = page.getByRole('table', { name: 'Refused by the gate, by reason' });
    await expect.poll(() => refusals.getByRole('row', { name: /Complained/ }).count()).toBe(1);
    // One readable label per reason (not the label and the code side by side).
    expect(await refusals.getByRole('row', { name: /Complained/ }).getByRole('rowheader').textContent()).toBe('Complained (marked as spam)');
    for (const e of READERS) expect(perRecipient(app).get(e), e).toBe(1);
    expect(perRecipient(app).get(BLOCKED)).toBeUndefined();
    expect(app.sink.received.some((m) => m.envelopeTo.includes('ada@readers.example') && /December news for ada/.test(m.parsed.subject ?? ''))).toBe(true);

    // Figures.
    const figures = page.getByRole('table', { name: 'Figures' });
    await figures.waitFor();
    await expect.poll(() => page.getByTestId('figure-sent').textContent()).toBe('2');
    expect(await page.getByTestId('figure-bounced').textContent()).toBe('0');
    expect(await figures.getByRole('row', { name: /^Sent/ }).textContent()).toContain('Handed to the mail server');
    expect(await page.getByText(/relay/).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Start sending now' }).count()).toBe(0);
    expect(await page.getByRole('textbox', { name: 'Name' }).isDisabled()).toBe(true); // started: content is read-only
    await expectAccessible(page, 'completed campaign with progress and figures');

    // Clone: a new draft with the same content, opened at once.
    await page.getByRole('button', { name: 'Clone', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'December news (copy)' }).waitFor();
    await statusIs(page, 'Draft');
    const copyId = new URL(page.url()).pathname.split('/').pop() as string;
    expect(copyId).not.toBe(id);
    expect((await t.api('GET', `/api/campaigns/${copyId}`)).body).toMatchObject({ status: 'draft', subject: 'December news for {{name}}' });
    expect(await page.getByRole('textbox', { name: 'Name' }).isDisabled()).toBe(false);

    // The list, filtered by status.
    await ui.open(page, '/console/campaigns');
    await page.getByLabel('Status').selectOption('completed');
    await page.getByRole('link', { name: 'December news', exact: true }).waitFor();
    await page.getByLabel('Status').selectOption('draft');
    await page.getByRole('link', { name: 'December news (copy)', exact: true }).waitFor();
    // The filtered list replaces the unfiltered one when its answer arrives: wait for the started campaign to go.
    await expect.poll(() => page.getByRole('link', { name: 'December news', exact: true }).count()).toBe(0);
    expect(page.url()).toContain('status=draft');
    await expectAccessible(page, 'campaigns list filtered');
  }, 90_000);

  it('pause, resume and cancel a sending campaign, each confirmed', async () => {
    const created = await slow.api('POST', '/api/campaigns', { name: 'Slow send', templateId: slowTemplate, listIds: [slowList] });
    expect(created.status).toBe(201);
    const page = await as(SLOW_MARKETER);
    await ui.open(page, `/console/campaigns/${created.body.id}`);
    await statusIs(page, 'Draft');
    await page.getByRole('button', { name: 'Start sending now' }).click();
    await page.getByRole('dialog', { name: 'Start sending now?' }).getByRole('button', { name: 'Start sending now' }).click();
    await statusIs(page, 'Sending');
    await expect.poll(async () => Number(await page.getByTestId('count-sent').textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
    await expectAccessible(page, 'campaign while sending');

    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const pause = page.getByRole('dialog', { name: 'Pause sending?' });
    await pause.getByRole('button', { name: 'Pause', exact: true }).click();
    await statusIs(page, 'Paused');
    await page.getByText('Paused by a staff member or an API call.').waitFor();
    expect((await slow.api('GET', `/api/campaigns/${created.body.id}`)).body.status).toBe('paused');
    await expectAccessible(page, 'paused campaign');

    // Keep as is: nothing changes.
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog', { name: 'Resume sending?' }).getByRole('button', { name: 'Keep as is' }).click();
    expect((await slow.api('GET', `/api/campaigns/${created.body.id}`)).body.status).toBe('paused');

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog', { name: 'Resume sending?' }).getByRole('button', { name: 'Resume' }).click();
    await statusIs(page, 'Sending');
    expect((await slow.api('GET', `/api/campaigns/${created.body.id}`)).body.status).toBe('running');

    await page.getByRole('button', { name: 'Cancel campaign' }).click();
    await page.getByRole('dialog', { name: 'Cancel this campaign?' }).getByRole('button', { name: 'Cancel campaign' }).click();
    await statusIs(page, 'Cancelled');
    const after = (await slow.api('GET', `/api/campaigns/${created.body.id}`)).body;
    expect(after.status).toBe('cancelled');
    expect(after.progress.cancelled).toBeGreaterThan(0);
    await expect.poll(async () => Number(await page.getByTestId('count-cancelled').textContent())).toBeGreaterThan(0);
  }, 90_000);

  it('shows a viewer the campaigns without any button that sends, also on a narrow screen', async () => {
    const draft = await given(app, t).campaign(await given(app, t).template({ name: 'Viewer check' }), [readers], { name: 'Viewer sees this' });
    const page = await as(VIEWER, { width: 360 });
    await ui.open(page, `/console/campaigns/${draft.id}`);
    await statusIs(page, 'Draft');
    expect(await page.getByRole('button', { name: 'Start sending now' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Schedule', exact: true }).count()).toBe(0);
    expect(await page.getByRole('textbox', { name: 'Name' }).isDisabled()).toBe(true);
    await expectAccessible(page, 'campaign for a viewer at 360 px');
    await ui.open(page, '/console/campaigns');
    expect(await page.getByRole('link', { name: 'New campaign' }).count()).toBe(0);
  }, 60_000);
});

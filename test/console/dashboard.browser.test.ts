// The console's dashboard in Chromium (issue 19): a campaign run through the SMTP sink and a complaint
// show as figures, charts (uPlot canvases with a text summary and a data table), the complaint-rate
// warning and the recent campaigns; a pending domain is warned about with a link to the Domains page;
// the period is changed from the keyboard; a viewer reads it too; it fits a 360 px screen. axe on each.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { arf } from '../bounces/helpers.js';
import { waitForCampaign } from '../campaigns/helpers.js';
import { localDate } from '../../src/dashboard/days.js';

const { app, t } = useApp();
const ui = useConsole(app);
let admin: { email: string; password: string };
let viewer: { email: string; password: string };
const TZ = 'Pacific/Kiritimati'; // UTC+14: its calendar day is often not UTC's

beforeAll(async () => {
  const g = given(app, t);
  const a = await g.staffUser({ role: 'admin' });
  const v = await g.staffUser({ role: 'viewer' });
  admin = { email: a.email, password: a.password as string };
  viewer = { email: v.email, password: v.password as string };
  const list = await g.list('Dashboard readers');
  await g.contacts({ prefix: 'dashui', n: 5, listId: list });
  const c = await g.campaign(await g.template(), [list], { name: 'Winter letter' });
  expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
  await waitForCampaign(t, c.id, (x) => x.status === 'completed' && x.progress.sent === 5);
  const [row] = await ownerQuery<{ recipient: string; message_id_header: string }>(app.db.url,
    'SELECT recipient, message_id_header FROM messages WHERE campaign_id = $1 ORDER BY recipient LIMIT 1', [c.id]);
  const mail = app.sink.received.find((m) => m.envelopeTo.includes(row.recipient));
  const r = await t.api('POST', '/api/inbound', arf({ to: mail?.envelopeFrom ?? '', recipient: row.recipient, messageId: row.message_id_header }),
    { 'content-type': 'message/rfc822' });
  expect(r.status).toBe(202);
  expect((await t.api('POST', '/api/domains', { domain: 'pending-ui.example' })).status).toBe(201);
});

async function signedIn(who: { email: string; password: string }, o: { width?: number } = {}): Promise<Page> {
  const page = await ui.newPage({ width: o.width, timezoneId: TZ });
  await signIn(page, app, who);
  return page;
}

describe('dashboard page', () => {
  it('shows warnings, queue health, charts with their text alternative and recent campaigns', async () => {
    const page = await signedIn(admin);
    await ui.open(page, '/console');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByText(`Campaign mail by day in ${TZ}.`).waitFor();

    const warnings = page.locator('#warnings-h').locator('xpath=ancestor::section[1]');
    await warnings.getByText('Complaint rate is high').waitFor();
    expect(await warnings.textContent()).toContain('Complaint rate 20.00% over the last 30 days (1 of 5 sent)');
    expect(await warnings.getByText('Domains waiting for verification').count()).toBe(1);
    expect(await warnings.getByRole('link', { name: /Domains page/ }).getAttribute('href')).toBe('/console/domains');

    const queue = page.locator('#queue-h').locator('xpath=ancestor::section[1]');
    expect(await queue.locator('dd').first().textContent()).toBe('0');
    expect(await queue.textContent()).toContain('Oldest queuedNone');

    // Two uPlot charts, drawn, each with a summary and the figures as a table.
    await expect.poll(() => page.locator('.chart-canvas canvas').count()).toBe(2);
    const sending = page.getByRole('figure', { name: 'Sent and delivered per day' });
    expect(await sending.locator('.chart-summary').textContent()).toMatch(/Over 14 days: Sent 5, Delivered \d/);
    await sending.getByText('the figures as a table').click();
    const today = localDate(new Date(), TZ);
    const todayRow = sending.getByRole('row', { name: new RegExp(today) });
    expect(await todayRow.getByRole('cell').first().textContent()).toBe('5');
    const problems = page.getByRole('figure', { name: 'Bounces, complaints and unsubscribes per day' });
    expect(await problems.locator('.chart-summary').textContent()).toContain('Complaints 1');

    const recent = page.locator('#recent-h').locator('xpath=ancestor::section[1]');
    const row = recent.getByRole('row', { name: /Winter letter/ });
    expect(await row.getByRole('link', { name: 'Winter letter' }).getAttribute('href')).toMatch(/^\/console\/campaigns\/[0-9a-f-]{36}$/);
    expect(await row.textContent()).toContain('completed');
    await expectAccessible(page, 'dashboard with warnings and figures');
  });

  it('changes the period from the keyboard', async () => {
    const page = await signedIn(admin);
    await ui.open(page, '/console');
    await page.locator('.chart-canvas canvas').first().waitFor();
    const period = page.getByLabel('Period');
    await period.focus();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(await period.getAttribute('id'));
    await page.keyboard.press('ArrowUp'); // 14 → 7 days
    await expect.poll(() => page.getByRole('figure', { name: 'Sent and delivered per day' }).locator('.chart-summary').textContent()).toMatch(/^Over 7 days/);
    await page.getByText('Sent and delivered per day: the figures as a table').focus();
    await page.keyboard.press('Enter');
    expect(await page.getByRole('figure', { name: 'Sent and delivered per day' }).getByRole('row').count()).toBe(8); // header + 7 days
  });

  it('is readable by a viewer and fits a narrow screen', async () => {
    const page = await signedIn(viewer, { width: 360 });
    await ui.open(page, '/console');
    await page.locator('.chart-canvas canvas').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await expectAccessible(page, 'dashboard at 360 px (viewer)');
  });
});

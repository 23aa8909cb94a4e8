// The console's segments page in Chromium (issue 19): build a segment from condition rows (AND/OR,
// attribute operators typed from the attribute's values, a list subscription) while the live count
// follows each change ("Counting…", then the figure), the server's faults shown at the condition and
// control they name, then save (the name error next to its field), edit and delete; keyboard and a
// narrow screen; a viewer counts but cannot save. Every page state passes axe.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';

const { app, t } = useApp();
const ui = useConsole(app);

let admin: { email: string; password: string };
let viewer: { email: string; password: string };

beforeAll(async () => {
  const g = given(app, t);
  const a = await g.staffUser({ role: 'marketing', password: 'a long marketing passphrase 1' });
  const v = await g.staffUser({ role: 'viewer', password: 'a long viewer passphrase 2' });
  admin = { email: a.email, password: 'a long marketing passphrase 1' };
  viewer = { email: v.email, password: 'a long viewer passphrase 2' };
  const vip = await g.list('VIP');
  await g.subscribedContact('ann@seg.example', { lists: [vip], attributes: { plan: 'pro', age: 30 } });
  await g.subscribedContact('bob@seg.example', { attributes: { plan: 'pro', age: 17 } });
  await g.subscribedContact('cay@seg.example', { lists: [vip], attributes: { plan: 'free', age: 45 } });
  await g.pendingContact('dee@seg.example', { attributes: { plan: 'pro' } });
});

async function open(who: { email: string; password: string }, width?: number): Promise<Page> {
  const page = await ui.newPage({ width });
  await signIn(page, app, who);
  await ui.open(page, '/console/segments');
  return page;
}

const liveCount = (page: Page) => page.locator('.live-count');
const expectCount = async (page: Page, text: string) => { await expect.poll(() => liveCount(page).textContent(), { timeout: 10_000 }).toBe(text); };
const condition = (page: Page, n: number) => page.getByRole('group', { name: `Condition ${n}` });
const invalid = (page: Page, n: number, label: string) => condition(page, n).getByLabel(label, { exact: true }).getAttribute('aria-invalid');

describe('segments page', () => {
  it('build a segment: the live count follows each condition, faults show at the condition, then save, edit and delete', async () => {
    const page = await open(admin);
    await expectCount(page, '4 contacts match now.'); // no condition: everyone
    await expectAccessible(page, 'segments page');

    // A new row has no attribute yet: nothing is counted (no request the server would refuse) until it is complete.
    const refused: string[] = [];
    page.on('response', (r) => { if (r.url().includes('/api/segments/count') && r.status() === 422) refused.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') refused.push(m.text()); });
    await page.getByRole('button', { name: 'Add a condition' }).click();
    await expectCount(page, 'Complete every condition to see the count.');
    expect(await invalid(page, 1, 'Attribute')).toBeNull();


    await condition(page, 1).getByLabel('Attribute', { exact: true }).fill('plan');
    await condition(page, 1).getByLabel('Value', { exact: true }).fill('pro');
    await liveCount(page).getByText('Counting…').waitFor();
    await expectCount(page, '3 contacts match now.');
    expect(await invalid(page, 1, 'Attribute')).toBeNull();

    // A second row, AND: age (its values are numbers, so the value type follows) between 18 and …
    await page.getByRole('button', { name: 'Add a condition' }).click();
    await condition(page, 2).getByLabel('Attribute', { exact: true }).fill('age');
    expect(await condition(page, 2).getByLabel('Value type').inputValue()).toBe('number');
    await condition(page, 2).getByLabel('Operator').selectOption('between');
    await condition(page, 2).getByLabel('From', { exact: true }).fill('40');
    await expectCount(page, 'Complete every condition to see the count.'); // [40, …]: not asked for until "To" is filled in
    // A complete condition the server refuses (40 > 18): its fault lands on that row's field.
    await condition(page, 2).getByLabel('To', { exact: true }).fill('18');
    await expect.poll(() => invalid(page, 2, 'From')).toBe('true'); // the server names filter.all[1].value
    expect(await liveCount(page).textContent()).toBe('No count until the condition marked is fixed.');
    expect(await condition(page, 2).locator('.field-error').textContent()).toMatch(/low must not be above high/);
    await expectAccessible(page, 'segments page with a condition fault');
    refused.length = 0;
    await condition(page, 2).getByLabel('From', { exact: true }).fill('18');
    await condition(page, 2).getByLabel('To', { exact: true }).fill('40');
    await expectCount(page, '1 contact matches now.');
    await page.getByLabel('Contacts must match').selectOption('any'); // the pros, or aged 18–40: not cay (45, free)
    await expectCount(page, '3 contacts match now.');
    await page.getByLabel('Contacts must match').selectOption('all');
    await expectCount(page, '1 contact matches now.');

    // A list condition: the server asks for the list, then counts its subscribers.
    await page.getByRole('button', { name: 'Add a condition' }).click();
    await condition(page, 3).getByLabel('Match on').selectOption('list');
    await expectCount(page, 'Complete every condition to see the count.');
    expect(await invalid(page, 3, 'List')).toBeNull();
    await condition(page, 3).getByLabel('List', { exact: true }).selectOption({ label: 'VIP' });
    await condition(page, 3).getByLabel('Exclude the contacts this matches (not)').check();
    await expectCount(page, '0 contacts match now.'); // ann is the one adult pro, and she is in VIP
    await condition(page, 3).getByLabel('Exclude the contacts this matches (not)').uncheck();
    await expectCount(page, '1 contact matches now.');
    await expectAccessible(page, 'segments page with three conditions');
    expect(refused).toEqual([]); // no count refused, no error logged, while the rows were filled in

    // Save: the name is required (the server's error next to the field), then saved and listed.
    await page.getByRole('button', { name: 'Save segment' }).click();
    const name = page.getByLabel('Name', { exact: true });
    await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
    await name.fill('Adult pros in VIP');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByText('Segment “Adult pros in VIP” saved.').waitFor();
    const saved = page.getByRole('table', { name: 'Saved segments' }).getByRole('row', { name: /Adult pros in VIP/ });
    await saved.waitFor();
    expect(await saved.textContent()).toContain('plan is pro and age is between 18 and 40 and subscribed to VIP');
    const stored = (await t.api('GET', '/api/segments')).body.items[0];
    expect(stored.filter.all).toHaveLength(3);
    expect((await t.api('POST', `/api/segments/${stored.id}/count`)).body).toEqual({ count: 1 });

    // Edit: a fresh page loads the saved rows; drop the list condition and rename.
    const again = await open(admin);
    await again.getByRole('button', { name: 'Edit Adult pros in VIP' }).click();
    expect(await condition(again, 2).getByLabel('To', { exact: true }).inputValue()).toBe('40');
    await expectCount(again, '1 contact matches now.');
    await again.getByRole('button', { name: 'Remove condition 3' }).click();
    await again.getByLabel('Name', { exact: true }).fill('Adult pros');
    await again.getByRole('button', { name: 'Save changes' }).click();
    await again.getByText('Segment “Adult pros” saved.').waitFor();
    expect((await t.api('GET', `/api/segments/${stored.id}`)).body).toMatchObject({ name: 'Adult pros', filter: { all: [{ attribute: 'plan' }, { attribute: 'age' }] } });

    // Delete, after a confirmation.
    await again.getByRole('button', { name: 'Delete Adult pros' }).click();
    await expectAccessible(again, 'segments page with the delete dialog');
    await again.getByRole('button', { name: 'Delete segment' }).click();
    await again.getByText('Segment “Adult pros” deleted.').waitFor();
    expect((await t.api('GET', `/api/segments/${stored.id}`)).status).toBe(404);
  }, 120_000);

  it('keyboard and a narrow screen: conditions are added and filled without a mouse, nothing overflows', async () => {
    const page = await open(admin, 360);
    await expectCount(page, '4 contacts match now.');
    await page.getByRole('button', { name: 'Add a condition' }).focus();
    await page.keyboard.press('Enter');
    await condition(page, 1).getByLabel('Match on').waitFor();
    await condition(page, 1).getByLabel('Match on').focus();
    await page.keyboard.press('Tab'); // to the attribute
    await page.keyboard.type('plan');
    await page.keyboard.press('Tab'); // the operator
    await page.keyboard.press('Tab'); // the value type
    await page.keyboard.press('Tab'); // the value
    await page.keyboard.type('free');
    await expectCount(page, '1 contact matches now.');
    const focused = await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(focused).not.toBe('none');
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => `${e.tagName}.${e.className}`));
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(360);
    await expectAccessible(page, 'segments page, 360px wide');
  }, 60_000);

  it('a viewer counts with the builder but has nothing to save or delete', async () => {
    await t.api('POST', '/api/segments', { name: 'Everyone', filter: { all: [] } });
    const page = await open(viewer);
    await expectCount(page, '4 contacts match now.');
    await page.getByRole('button', { name: 'Open Everyone' }).waitFor();
    expect(await page.getByRole('button', { name: /Save|Delete/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'Add a condition' }).click();
    await condition(page, 1).getByLabel('Match on').selectOption('status');
    await condition(page, 1).getByLabel('Status is').selectOption('pending');
    await expectCount(page, '1 contact matches now.');
    await condition(page, 1).getByLabel('Match on').selectOption('createdAt');
    await condition(page, 1).getByLabel('When').selectOption('before');
    await condition(page, 1).getByLabel('Date (UTC)').fill('2000-01-01');
    await expectCount(page, '0 contacts match now.');
    await condition(page, 1).getByLabel('When').selectOption('after');
    await expectCount(page, '4 contacts match now.');
    await expectAccessible(page, 'segments page for a viewer');
  }, 60_000);

  it('a segment with nested groups opens as JSON, and counts from it', async () => {
    await t.api('POST', '/api/segments', { name: 'Nested', filter: { any: [{ all: [{ status: 'active' }, { attribute: 'age', op: 'gt', value: 18 }] }, { status: 'pending' }] } });
    const page = await open(admin);
    await page.getByRole('button', { name: 'Edit Nested' }).click();
    const json = page.getByLabel('Filter (JSON)');
    await json.waitFor();
    await expectCount(page, '3 contacts match now.'); // ann and cay (active, over 18), dee (pending)
    await json.fill('{"any": [{"status": "pending"}, {"attribute": "age", "op": "gt"}]}');
    await expect.poll(() => json.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-error').first().textContent()).toContain('filter.any[1].value');
    await json.fill('{"any": [{"status": "pending"}]}');
    await expectCount(page, '1 contact matches now.');
    await page.getByRole('button', { name: 'Back to the condition rows' }).click();
    expect(await condition(page, 1).getByLabel('Status is').inputValue()).toBe('pending');
    await expectAccessible(page, 'segments page with a JSON filter');
  }, 60_000);
});

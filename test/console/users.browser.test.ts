// The staff and audit log page in Debian's chromium: invite (the one-time link shown once, and it
// works), a taken address refused at the field, change a role, disable (their sessions end), a new
// password link, remove with confirmation; the audit log records it, filters by person and pages. A
// viewer sees no controls. axe on each state.
import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';

const { app, t } = useApp();
const ui = useConsole(app);

async function signedIn(role: 'admin' | 'viewer' = 'admin'): Promise<{ page: Page; email: string; id: string }> {
  const u = await given(app, t).staffUser({ role });
  const page = await ui.newPage();
  await signIn(page, app, { email: u.email, password: u.password as string, next: '/console/users' });
  await page.getByRole('heading', { level: 2, name: 'Staff' }).waitFor();
  return { page, email: u.email, id: u.id };
}
const row = (page: Page, email: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${email.replace(/[.+]/g, '\\$&')}`) }) });
const staffList = async () => (await t.api('GET', '/api/staff-users')).body.items as { id: string; email: string; role: string; disabledAt: string | null; hasPassword: boolean }[];

it('invites a staff member with a one-time link that sets their password, and refuses a taken address at the field', async () => {
  const { page, email } = await signedIn();
  await row(page, email).waitFor();
  expect(await row(page, email).textContent()).toContain('(you)');
  expect(await row(page, email).getByRole('button').count()).toBe(0);
  await expectAccessible(page, 'the staff page');

  await page.getByRole('button', { name: 'Invite' }).click();
  await page.getByLabel('Email').fill('new.person@acme.org');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Invite' }).last().click();
  const link = page.locator('[data-secret="set-password link"]');
  await link.waitFor();
  const url = (await link.textContent()) ?? '';
  expect(url).toMatch(/^https:\/\/postgate\.test\/console\/set-password#token=[\w-]{20,}$/);
  expect(await page.getByRole('button', { name: 'Copy set-password link' }).count()).toBe(1);
  await expect.poll(async () => row(page, 'new.person@acme.org').textContent()).toContain('invited');
  await expectAccessible(page, 'the staff page showing an invitation link');

  // The link works in the invitee's own browser.
  const invitee = await ui.newPage();
  await invitee.goto(app.url + new URL(url).pathname + new URL(url).hash);
  await invitee.getByLabel('New password').fill('a brand new passphrase');
  await invitee.getByLabel('Repeat the password').fill('a brand new passphrase');
  await invitee.getByRole('button', { name: 'Set password' }).click();
  await invitee.getByText('Your password is set.').or(invitee.getByRole('button', { name: 'Log out', exact: true })).first().waitFor();
  await signIn(invitee, app, { email: 'new.person@acme.org', password: 'a brand new passphrase' });
  expect(await invitee.getByRole('banner').first().textContent()).toContain('viewer');

  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('button', { name: 'Invite' }).click();
  await page.getByLabel('Email').fill('new.person@acme.org');
  await page.getByRole('button', { name: 'Invite' }).last().click();
  const field = page.getByLabel('Email');
  await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
  const errId = ((await field.getAttribute('aria-describedby')) ?? '').split(' ').pop();
  expect(await page.locator(`[id="${errId}"]`).textContent()).toMatch(/exists/);
  await expectAccessible(page, 'the invite form with an error');
});

it('changes a role, disables (ending their sessions) and enables, makes a new link, and removes after confirmation', async () => {
  const { page } = await signedIn();
  const other = await given(app, t).staffUser({ role: 'marketing', email: 'mark@acme.org' });
  const otherPage = await ui.newPage();
  await signIn(otherPage, app, { email: other.email, password: other.password as string });
  await page.reload();
  const r = row(page, 'mark@acme.org');
  await r.waitFor();

  await page.getByLabel('Role of mark@acme.org').selectOption('viewer');
  await page.getByText('mark@acme.org is now viewer.').waitFor();
  expect((await staffList()).find((u) => u.email === 'mark@acme.org')?.role).toBe('viewer');

  await r.getByRole('button', { name: 'Disable mark@acme.org' }).click();
  await page.getByText(/mark@acme\.org is disabled/).waitFor();
  await expect.poll(async () => r.textContent()).toContain('disabled');
  expect(await otherPage.evaluate(async () => (await fetch('/api/session')).status)).toBe(401);
  await r.getByRole('button', { name: 'Enable mark@acme.org' }).click();
  await expect.poll(async () => r.textContent()).toContain('active');

  await r.getByRole('button', { name: 'New set-password link for mark@acme.org' }).click();
  expect(await page.locator('[data-secret="set-password link"]').textContent()).toMatch(/#token=/);
  await page.getByRole('button', { name: 'Done' }).click();

  await r.getByRole('button', { name: 'Remove mark@acme.org' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await expectAccessible(page, 'the remove dialog');
  await dialog.getByRole('button', { name: 'Remove account' }).click();
  await page.getByText('mark@acme.org is removed.').waitFor();
  await expect.poll(() => row(page, 'mark@acme.org').count()).toBe(0);
  expect((await staffList()).some((u) => u.email === 'mark@acme.org')).toBe(false);
});

it('shows the audit log: sign-ins and changes, filtered by person, paged', async () => {
  const { page, email, id } = await signedIn();
  const target = await given(app, t).staffUser({ role: 'marketing' });
  // 30 changes through the API with this browser's session (each one audited).
  const status = await page.evaluate(async ({ uid }) => {
    const s = await (await fetch('/api/session')).json() as { csrfToken: string };
    let last = 0;
    for (let i = 0; i < 30; i++) {
      const r = await fetch(`/api/staff-users/${uid}`, { method: 'PATCH', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ role: i % 2 ? 'marketing' : 'viewer' }) });
      last = r.status;
    }
    return last;
  }, { uid: target.id });
  expect(status).toBe(200);
  await page.getByRole('button', { name: 'Refresh' }).click();
  const log = page.getByRole('table', { name: /Audit log/ });
  await expect.poll(async () => log.locator('tbody tr').count()).toBe(25);
  expect(await log.locator('tbody tr').first().textContent()).toContain(`PATCH /api/staff-users/${target.id}`);
  expect(await log.locator('tbody tr').first().textContent()).toContain('200');
  await expectAccessible(page, 'the audit log');

  const patches = async () => (await log.locator('tbody tr').allTextContents()).filter((x) => x.includes(`PATCH /api/staff-users/${target.id}`)).length;
  expect(await patches()).toBe(25);
  await page.getByRole('button', { name: 'Next page' }).click();
  // Page 2 holds the 5 older changes, then what came before.
  await expect.poll(patches).toBe(5);
  expect(await log.locator('tbody tr').nth(4).textContent()).toContain(`PATCH /api/staff-users/${target.id}`);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await expect.poll(patches).toBe(25);

  // Sign-ins are recorded too.
  await page.getByLabel('Who').selectOption(id);
  await expect.poll(async () => (await log.locator('tbody tr').allTextContents()).every((x) => x.includes(email))).toBe(true);
  await page.getByRole('button', { name: 'Next page' }).click();
  await expect.poll(async () => (await log.locator('tbody tr').allTextContents()).some((x) => x.includes('login'))).toBe(true);
  expect((await log.locator('tbody tr').allTextContents()).every((x) => x.includes(email))).toBe(true);
});

it('shows a viewer the accounts and the log with no controls', async () => {
  const { page } = await signedIn('viewer');
  expect(await page.getByText('Read only').count()).toBe(1);
  await page.getByRole('table', { name: /Audit log/ }).waitFor();
  expect(await page.getByRole('button', { name: 'Invite' }).count()).toBe(0);
  expect(await page.getByRole('combobox', { name: /^Role of/ }).count()).toBe(0);
  expect(await page.getByRole('button', { name: /^(Disable|Remove|New set-password)/ }).count()).toBe(0);
  await expectAccessible(page, 'the staff page for a viewer');
});

it('fits a 360 px screen', async () => {
  const u = await given(app, t).staffUser({ role: 'admin' });
  const page = await ui.newPage({ width: 360, height: 740 });
  await signIn(page, app, { email: u.email, password: u.password as string, next: '/console/users' });
  await page.getByRole('table', { name: /Audit log/ }).waitFor();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectAccessible(page, 'the staff page at 360 px');
});

it('unlocks an account locked by wrong passwords; the role list shows "marketing" in full', async () => {
  const { page } = await signedIn();
  const locked = await given(app, t).staffUser({ role: 'marketing', email: 'locked.out@acme.org' });
  // Wrong passwords from another client address until the account locks (423).
  let status = 0;
  for (let i = 0; i < 30 && status !== 423; i++) {
    const r = await fetch(`${app.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.77.0.1' },
      body: JSON.stringify({ email: locked.email, password: 'not the password' }) });
    status = r.status;
  }
  expect(status).toBe(423);
  await page.reload();
  const r = row(page, 'locked.out@acme.org');
  await expect.poll(async () => r.locator('.badge').textContent()).toBe('locked');
  const select = page.getByLabel('Role of locked.out@acme.org');
  expect(await select.inputValue()).toBe('marketing');
  // The chosen option is not cut short: the control is at least as wide as its text needs.
  expect(await select.evaluate((el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().width >= 120)).toBe(true);
  await expectAccessible(page, 'the staff page with a locked account');

  await r.getByRole('button', { name: 'Unlock locked.out@acme.org' }).click();
  await page.getByText('locked.out@acme.org is unlocked and may sign in again.').waitFor();
  await expect.poll(async () => r.locator('.badge').textContent()).toBe('active');
  expect(await r.getByRole('button', { name: /^Unlock/ }).count()).toBe(0);
  // The audit log names the change in words, with the request as secondary text.
  const log = page.getByRole('table', { name: /Audit log/ });
  await page.getByRole('button', { name: 'Refresh' }).click();
  const entry = log.locator('tbody tr').filter({ hasText: `PATCH /api/staff-users/${locked.id}` });
  await expect.poll(() => entry.count()).toBe(1);
  expect(await entry.locator('.audit-action').textContent()).toBe('Changed a staff account');
  expect(await entry.locator('.audit-request').textContent()).toBe(`PATCH /api/staff-users/${locked.id}`);

  const again = await fetch(`${app.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.77.0.2' },
    body: JSON.stringify({ email: locked.email, password: locked.password }) });
  expect(again.status).toBe(200);
});

it('tells a marketer who types in an admin page\'s address that only admins can use it, with no action buttons', async () => {
  const u = await given(app, t).staffUser({ role: 'marketing' });
  const page = await ui.newPage();
  await signIn(page, app, { email: u.email, password: u.password as string });
  const nav = page.getByRole('navigation', { name: 'Console' });
  expect(await nav.getByRole('link', { name: 'Staff & audit log' }).count()).toBe(0);
  expect(await nav.getByRole('link', { name: 'Webhooks' }).count()).toBe(1);
  for (const [path, h1, words, buttons] of [
    ['/console/users', 'Staff and audit log', 'Only admins can manage staff accounts', /^(Invite|Refresh)$/],
    ['/console/domains', 'Domains', 'Only admins can add sending domains', /^(Add domain|Check DNS records)$/],
    ['/console/settings', 'Settings', 'Only admins can see and change the account settings', /^Save settings$/],
  ] as const) {
    await ui.open(page, path);
    await page.getByRole('heading', { level: 1, name: h1 }).waitFor();
    await page.getByText(words).waitFor();
    expect(await page.getByText(/your role \(marketing\) cannot do this/).count()).toBe(0);
    expect(await page.locator('main').getByRole('button', { name: buttons }).count()).toBe(0);
    expect(await page.locator('main button:not([disabled])').count()).toBe(0);
    await expectAccessible(page, `${path} for a marketer`);
  }
});

// The console's sign-in, in Debian's chromium with JavaScript on: a signed-out visitor is sent to the
// login page and back afterwards, a wrong password is refused next to the password field, a locked
// account says for how long, the header shows who is signed in, the nav hides what the role cannot use,
// log out ends the session on the server, and the set-password link works. axe on each page state.
import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useApp } from '../support/app.js';
import { expectAccessible, signIn, useConsole } from '../support/console.js';
import { createStaffUser } from '../../src/staff/users.js';

const { app, t } = useApp({ tenant: { name: 'Acme Newsletters' }, config: { STAFF_LOGIN_MAX_FAILURES: 3, STAFF_LOGINS_PER_CLIENT: 1000 } });
const ui = useConsole(app);

const PASSWORD = 'correct horse battery staple';
async function staff(email: string, role: 'admin' | 'marketing' | 'viewer', password: string | null = PASSWORD) {
  return createStaffUser(app.pg.deps.db, { tenantId: t.id, email, role, password: password ?? undefined });
}
const sessionStatus = async (page: Page): Promise<number> => page.evaluate(async () => (await fetch('/api/session')).status);
const navLinks = async (page: Page): Promise<string[]> => page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();

it('sends a signed-out visitor to the login page, refuses a wrong password at the field, then returns to the page asked for', async () => {
  await staff('ann@acme.org', 'admin');
  const page = await ui.newPage();
  await page.goto(`${app.url}/console/lists?archived=1`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/console/login');
  expect(new URL(page.url()).searchParams.get('next')).toBe('/console/lists?archived=1');
  expect(await page.title()).toBe('Sign in · Postgate');
  await expectAccessible(page, 'the login page');

  await page.getByLabel('Email').fill('ann@acme.org');
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const password = page.getByLabel('Password', { exact: true });
  await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');
  const describedBy = (await password.getAttribute('aria-describedby')) ?? '';
  expect(await page.locator(`[id="${describedBy.split(' ').pop()}"]`).textContent()).toContain('The email or password is not right.');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('login-password');
  expect(await sessionStatus(page)).toBe(401);
  await expectAccessible(page, 'the login page with a refused password');

  await password.fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Lists' }).waitFor();
  expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/console/lists?archived=1');
  const header = page.getByRole('banner').first();
  expect(await header.textContent()).toContain('Acme Newsletters');
  expect(await header.textContent()).toContain('ann@acme.org');
  expect(await header.textContent()).toContain('admin');
  expect(await sessionStatus(page)).toBe(200);
});

it('shows the dashboard with a skip link, the current page marked in the nav, and every admin page listed', async () => {
  await staff('bob@acme.org', 'admin');
  const page = await ui.newPage();
  await signIn(page, app, { email: 'bob@acme.org', password: PASSWORD });
  expect(new URL(page.url()).pathname).toBe('/console/');
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  expect(await page.title()).toBe('Dashboard · Postgate');
  expect(await page.getByRole('navigation', { name: 'Console' }).locator('[aria-current="page"]').textContent()).toBe('Dashboard');
  expect(await navLinks(page)).toEqual(['Dashboard', 'Lists', 'Contacts', 'Imports', 'Segments', 'Templates', 'Campaigns',
    'Bounces & suppressions', 'Domains', 'API keys & webhooks', 'Settings', 'Staff & audit log']);
  await expectAccessible(page, 'the dashboard');

  // Keyboard: the first Tab reaches the skip link, which moves focus to <main>.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
  await page.keyboard.press('Enter');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  expect(await page.getByRole('navigation', { name: 'Console' }).locator('[aria-current="page"]').textContent()).toBe('Settings');
  expect(await page.title()).toBe('Settings · Postgate');
});

it('hides the admin pages from marketing, and the import page from a (read-only) viewer', async () => {
  await staff('mia@acme.org', 'marketing');
  await staff('vic@acme.org', 'viewer');
  const marketing = await ui.newPage();
  await signIn(marketing, app, { email: 'mia@acme.org', password: PASSWORD });
  expect(await navLinks(marketing)).toEqual(['Dashboard', 'Lists', 'Contacts', 'Imports', 'Segments', 'Templates', 'Campaigns', 'Bounces & suppressions', 'Webhooks']);
  const viewer = await ui.newPage();
  await signIn(viewer, app, { email: 'vic@acme.org', password: PASSWORD });
  // A viewer reads everything (the server refuses its changes) but has nothing to do on the import page.
  expect(await navLinks(viewer)).toEqual(['Dashboard', 'Lists', 'Contacts', 'Segments', 'Templates', 'Campaigns',
    'Bounces & suppressions', 'Domains', 'API keys & webhooks', 'Settings', 'Staff & audit log']);
  expect(await viewer.getByRole('banner').first().textContent()).toContain('viewer');
});

it('works at 360 px: the nav opens from the Menu button and nothing scrolls sideways', async () => {
  await staff('nat@acme.org', 'admin');
  const page = await ui.newPage({ width: 360, height: 740 });
  await signIn(page, app, { email: 'nat@acme.org', password: PASSWORD });
  const menu = page.getByRole('button', { name: 'Menu' });
  expect(await menu.getAttribute('aria-expanded')).toBe('false');
  expect(await page.getByRole('link', { name: 'Contacts' }).isVisible()).toBe(false);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await menu.click();
  expect(await menu.getAttribute('aria-expanded')).toBe('true');
  await page.getByRole('link', { name: 'Contacts' }).click();
  await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
  expect(await page.getByRole('link', { name: 'Contacts' }).isVisible()).toBe(false);
  await expectAccessible(page, 'a page at 360 px');
});

it('logs out: the server session ends and the console asks to sign in again', async () => {
  await staff('olga@acme.org', 'admin');
  const page = await ui.newPage();
  await signIn(page, app, { email: 'olga@acme.org', password: PASSWORD, next: '/console/segments' });
  await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  expect(await page.getByRole('status').filter({ hasText: 'You are signed out.' }).count()).toBe(1);
  expect(new URL(page.url()).pathname).toBe('/console/login');
  expect(new URL(page.url()).search).toBe('');
  expect(await sessionStatus(page)).toBe(401);
  await page.goto(`${app.url}/console/segments`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
});

it('logs out everywhere: another browser signed in as the same user is sent to the login page on its next call', async () => {
  await staff('pia@acme.org', 'admin');
  const first = await ui.newPage();
  const second = await ui.newPage();
  await signIn(first, app, { email: 'pia@acme.org', password: PASSWORD });
  await signIn(second, app, { email: 'pia@acme.org', password: PASSWORD });
  await first.getByRole('button', { name: 'Log out everywhere' }).click();
  await first.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  expect(await sessionStatus(second)).toBe(401);
  await second.reload();
  await second.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
});

it('sets a password from the one-time link (fragment token), checks the repeat and shows the server\'s verdict at the field', async () => {
  const { setPasswordToken } = await staff('quinn@acme.org', 'marketing', null);
  expect(setPasswordToken).toBeTruthy();
  const page = await ui.newPage();
  await page.goto(`${app.url}/console/set-password#token=${setPasswordToken}`);
  await page.getByRole('heading', { level: 1, name: 'Set your password' }).waitFor();
  expect(await page.getByText('At least 12 characters').count()).toBe(1);
  await expectAccessible(page, 'the set-password page');

  const pw = page.getByLabel('New password');
  const again = page.getByLabel('Repeat the password');
  await pw.fill('a new password here');
  await again.fill('a different one');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect.poll(() => again.getAttribute('aria-invalid')).toBe('true');
  expect(await page.getByText('The two passwords differ.').count()).toBe(1);

  await pw.fill('short');
  await again.fill('short');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect.poll(() => pw.getAttribute('aria-invalid')).toBe('true');
  await expectAccessible(page, 'the set-password page with an error');

  await pw.fill('a long enough passphrase');
  await again.fill('a long enough passphrase');
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Your password is set.').or(page.getByRole('button', { name: 'Log out', exact: true })).first().waitFor();
  expect(page.url()).not.toContain(setPasswordToken as string);
  const fresh = await ui.newPage();
  await signIn(fresh, app, { email: 'quinn@acme.org', password: 'a long enough passphrase' });

  // The link is spent.
  const again2 = await ui.newPage();
  await again2.goto(`${app.url}/console/set-password#token=${setPasswordToken}`);
  await again2.getByLabel('New password').fill('another long passphrase');
  await again2.getByLabel('Repeat the password').fill('another long passphrase');
  await again2.getByRole('button', { name: 'Set password' }).click();
  await again2.getByRole('alert').waitFor();
});

it('says an account is locked, and for how many minutes, after too many wrong passwords', async () => {
  await staff('rex@acme.org', 'admin');
  const page = await ui.newPage();
  await page.goto(`${app.url}/console/login`);
  for (let i = 0; i < 3; i++) {
    await page.getByLabel('Email').fill('rex@acme.org');
    await page.getByLabel('Password', { exact: true }).fill(`wrong ${i}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Sign in' }).and(page.locator(':not([disabled])')).waitFor();
  }
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  expect(await alert.textContent()).toMatch(/locked .*Try again in 15 minutes\./);
  expect(await sessionStatus(page)).toBe(401);
  await expectAccessible(page, 'the login page of a locked account');
});

it('returns only to a console page after signing in: a next that resolves outside /console/ lands on the dashboard', async () => {
  await staff('nina@acme.org', 'admin');
  const page = await ui.newPage();
  for (const next of ['/console/../../evil', '/console/%2e%2e/%2E%2E/evil', '/console/./../evil', '//evil.example/console/', '/console/../api/session', '/console/../console-x']) {
    await page.context().clearCookies();
    await page.goto(`${app.url}/console/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Email').fill('nina@acme.org');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
    await expect.poll(() => { const at = new URL(page.url()); return `${at.origin}${at.pathname}`; }, { message: next }).toBe(`${app.url}/console/`);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }
  // A real console page is still where sign-in returns to (query kept).
  await page.context().clearCookies();
  await page.goto(`${app.url}/console/login?next=${encodeURIComponent('/console/campaigns?status=draft')}`);
  await page.getByLabel('Email').fill('nina@acme.org');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
  expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/console/campaigns?status=draft');
});

// The API behind the console's template editor (issue 19): a preview of unsaved content (with the line
// of every error, nothing stored), the variables a template may use, and a test send of a template
// version on its own to the tenant's verified test addresses.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given, NEWSLETTER_MJML, STAFF_PASSWORD } from '../support/given.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import { verifiedTestAddress } from '../support/test-addresses.js';
import { waitFor } from '../support/wait.js';
import { rawHeader } from './helpers.js';

const { app, t, tenant } = useApp();
const noAddress = tenant({ name: 'Nowhere', postalAddress: null });
let templateId: string;

beforeAll(async () => {
  templateId = await given(app, t).template({ name: 'Editor', subject: 'News for {{name}}' });
  await verifiedTestAddress(app, t, 'qa@acme.org');
});

describe('POST /api/templates/preview (unsaved content)', () => {
  it('renders subject, HTML and text with the sample person, the footer Postgate adds, and stores nothing', async () => {
    const before = (await t.api('GET', '/api/templates?limit=100')).body.items.length;
    const r = await t.api('POST', '/api/templates/preview', { mjml: NEWSLETTER_MJML, subject: 'Hi {{name}}', text: 'Plain {{name}} in {{attributes.city}}', data: { attributes: { city: 'Lyon' } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.subject).toBe('Hi Jane Doe');
    expect(r.body.html).toContain('Hello Jane Doe');
    expect(r.body.html).toContain('1 Main Street, Springfield'); // the postal footer, as at send time
    expect(r.body.text).toContain('Plain Jane Doe in Lyon');
    expect(r.body.text).toContain('https://postgate.test/u/preview'); // the unsubscribe line added to the text part
    expect((await t.api('GET', '/api/templates?limit=100')).body.items.length).toBe(before);
  });

  it('answers 422 invalid_template with every issue and its line, as a save would', async () => {
    const mjml = '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-text>Hello</mj-text>\n<mj-bogus>?</mj-bogus>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>';
    const r = await t.api('POST', '/api/templates/preview', { mjml, subject: 'Hi {{name' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_template');
    const issues: { part: string; line: number | null }[] = r.body.error.issues;
    expect(issues).toEqual(expect.arrayContaining([expect.objectContaining({ part: 'mjml', line: 6 }), expect.objectContaining({ part: 'subject', line: 1 })]));
    const helper = await t.api('POST', '/api/templates/preview', { mjml: NEWSLETTER_MJML, subject: 'x', text: 'one\ntwo {{lookup a b}}' });
    expect(helper.status).toBe(422);
    expect(helper.body.error.issues).toEqual(expect.arrayContaining([expect.objectContaining({ part: 'text', line: 2 })]));
  });

  it('validates the body: mjml and subject are required, unknown keys refused', async () => {
    const r = await t.api('POST', '/api/templates/preview', { subject: 'x' });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('mjml');
    const extra = await t.api('POST', '/api/templates/preview', { mjml: NEWSLETTER_MJML, subject: 'x', name: 'no' });
    expect(extra.status).toBe(422);
  });
});

describe('GET /api/template-variables', () => {
  it('lists the campaign variables, the helpers, the rules and the limits', async () => {
    const r = await t.api('GET', '/api/template-variables');
    expect(r.status).toBe(200);
    const names = r.body.campaign.map((v: { name: string }) => v.name);
    expect(names).toEqual(expect.arrayContaining(['name', 'email', 'unsubscribeUrl', 'postalAddress', 'attributes']));
    expect(r.body.helpers.map((h: { name: string }) => h.name)).toEqual(['default', 'urlencode', 'formatDate', 'formatMoney']);
    expect(r.body.limits.mjmlChars).toBe(256 * 1024);
    expect(r.body.rules.length).toBeGreaterThan(3);
  });

  it('needs the campaigns scope', async () => {
    const events = await app.tenant({ name: 'Events only', scopes: ['events'] });
    expect((await events.api('GET', '/api/template-variables')).status).toBe(403);
  });
});

describe('POST /api/templates/:id/test', () => {
  it('sends the current version to a verified test address, marked [TEST], through the gate', async () => {
    const before = mailsTo(app, 'qa@acme.org').length;
    const r = await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['QA@acme.org'] });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.messages).toHaveLength(1);
    const got = await waitForMail(app, 'qa@acme.org', before + 1);
    expect(got.parsed.subject).toBe('[TEST] News for Jane Doe');
    expect(got.parsed.html).toContain('1 Main Street, Springfield');
    expect(rawHeader(got.parsed.headerLines, 'list-unsubscribe')).toMatch(/^<https:\/\/postgate\.test\/u\//);
    const ledger = () => ownerQuery<{ kind: string; status: string; purpose: string; template: string; template_version: number }>(app.db.url,
      'SELECT kind, status, purpose, template, template_version FROM messages WHERE id = $1', [r.body.messages[0].id]);
    await waitFor(async () => (await ledger())[0].status === 'sent', { timeout: 10_000, interval: 50, message: 'the ledger never recorded the test send' });
    const [row] = await ledger();
    expect(row).toMatchObject({ kind: 'test', template: `template:${templateId}`, template_version: 1 });
    expect(row.purpose.startsWith(`test-template:${templateId}:`)).toBe(true);
  });

  it('sends the version asked for, and refuses a version that does not exist', async () => {
    const v2 = await t.api('PUT', `/api/templates/${templateId}`, { mjml: NEWSLETTER_MJML, subject: 'Second {{name}}' });
    expect(v2.body.version).toBe(2);
    const before = mailsTo(app, 'qa@acme.org').length;
    expect((await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['qa@acme.org'], version: 1 })).status).toBe(202);
    expect((await waitForMail(app, 'qa@acme.org', before + 1)).parsed.subject).toBe('[TEST] News for Jane Doe');
    expect((await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['qa@acme.org'] })).status).toBe(202);
    expect((await waitForMail(app, 'qa@acme.org', before + 2)).parsed.subject).toBe('[TEST] Second Jane Doe');
    const missing = await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['qa@acme.org'], version: 9 });
    expect(missing.status).toBe(422);
    expect(missing.body.error.field).toBe('version');
    expect((await t.api('POST', '/api/templates/7d0a7f4e-0000-4000-8000-000000000000/test', { emails: ['qa@acme.org'] })).status).toBe(404);
  });

  it('refuses addresses that are not verified test addresses, naming the field, and sends nothing', async () => {
    const pending = await t.api('POST', '/api/test-addresses', { email: 'pending@acme.org' });
    expect(pending.status).toBe(202);
    const count = async () => (await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND kind = 'test'", [t.id]))[0].n;
    const n = await count();
    const stranger = await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['qa@acme.org', 'someone@else.org'] });
    expect(stranger.status).toBe(422);
    expect(stranger.body.error).toMatchObject({ code: 'not_test_address', field: 'emails[1]' });
    const unverified = await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['pending@acme.org'] });
    expect(unverified.body.error).toMatchObject({ code: 'test_address_unverified', field: 'emails[0]' });
    const bad = await t.api('POST', `/api/templates/${templateId}/test`, { emails: ['not an address'] });
    expect(bad.body.error.field).toBe('emails[0]');
    expect(await count()).toBe(n);
  });

  it('refuses with not_compliant when the tenant could not send it (no postal address)', async () => {
    const id = await given(app, noAddress).template();
    await verifiedTestAddress(app, noAddress, 'qa2@acme.org');
    const r = await noAddress.api('POST', `/api/templates/${id}/test`, { emails: ['qa2@acme.org'] });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('not_compliant');
    expect(r.body.error.reasons).toContain('no_postal_address');
  });
});

describe("a viewer's console session", () => {
  it('previews (saved and unsaved) and reads the variables, but cannot save or send a test', async () => {
    const viewer = await given(app, t).staffUser({ role: 'viewer' });
    const login = await fetch(`${app.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: viewer.email, password: STAFF_PASSWORD }) });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const { csrfToken } = await login.json() as { csrfToken: string };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${app.url}${path}`, { method, headers: { cookie, 'x-csrf-token': csrfToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    };
    const unsaved = await call('POST', '/api/templates/preview', { mjml: NEWSLETTER_MJML, subject: 'Hi {{name}}' });
    expect(unsaved.status, JSON.stringify(unsaved.body)).toBe(200);
    expect(unsaved.body.subject).toBe('Hi Jane Doe');
    expect((await call('POST', `/api/templates/${templateId}/preview`, {})).status).toBe(200);
    expect((await call('GET', '/api/template-variables')).status).toBe(200);
    const save = await call('PUT', `/api/templates/${templateId}`, { mjml: NEWSLETTER_MJML, subject: 'Changed' });
    expect(save.status).toBe(403);
    expect(save.body.error.code).toBe('forbidden_role');
    const test = await call('POST', `/api/templates/${templateId}/test`, { emails: ['qa@acme.org'] });
    expect(test.status).toBe(403);
    expect(test.body.error.code).toBe('forbidden_role');
  });
});

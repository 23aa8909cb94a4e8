// POST /api/messages: account, technical, legal and support notices from the built-in templates,
// over real HTTP and SMTP: content, idempotency keys, association, header injection, reply-to.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { sleep } from '../support/wait.js';
import { mailsTo, suppress, waitForMessage } from './helpers.js';
import { addTemplateVersion, insertTemplate } from '../../src/campaigns/templates-store.js';
import { getMessage } from '../../src/mail/ledger.js';
import { getTenant } from '../../src/tenants/store.js';
import { renderNotice } from '../../src/transactional/notices.js';

const { app, t } = useApp();

beforeAll(async () => {
  await given(app, t).pendingContact('fay@example.org', { name: 'Fay' });
});

const count = async (sql: string) => Number((await ownerQuery<{ n: string }>(app.db.url, sql))[0].n);

describe('a notice body must show something', () => {
  it.each([
    ['ZWSP, NBSP and ideographic space', '\u200b\u00a0\u3000'],
    ['word joiner, BOM, line separator and tabs', '\u2060\ufeff\u2028\t\n'],
    ['tag characters and a soft hyphen', '\u{E0041}\u{E0042}\u00ad '],
  ])('refuses a body of only %s (422 data.body) and sends nothing', async (_what, body) => {
    const before = await count(`SELECT count(*) AS n FROM messages WHERE recipient = 'fay@example.org'`);
    const r = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'fay@example.org', data: { body } });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'data.body' });
    const subject = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'fay@example.org', data: { body: 'Text', subject: '\u3000\u00a0' } });
    expect(subject.status).toBe(422);
    expect(subject.body.error).toMatchObject({ code: 'invalid', field: 'data.subject' });
    expect(await count(`SELECT count(*) AS n FROM messages WHERE recipient = 'fay@example.org'`)).toBe(before);
  });
});

describe('notices', () => {
  it.each([
    ['account', 'About your Acme account', 'This is a message about your account with Acme.'],
    ['technical', 'Service notice from Acme', 'This is a service notice about Acme'],
    ['legal', 'Important information from Acme', 'We are required to let you know'],
    ['support', '[#4711] Your support request at Acme', 'This is about your support request #4711.'],
  ])('sends a %s notice with its default subject, text and HTML parts', async (kind, subject, intro) => {
    const r = await t.api('POST', '/api/messages', {
      kind, contact: 'fay@example.org', template: kind,
      data: { body: `First paragraph about ${kind}.\n\nSecond <paragraph>.`, actionUrl: 'https://acme.org/account?x=1&y=2', actionLabel: 'Review', ticketId: 4711 },
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind, template: `notice:${kind}`, status: 'queued' });
    const done = await waitForMessage(t, r.body.id);
    expect(done.status).toBe('sent');
    const mail = mailsTo(app.sink.received, 'fay@example.org').find((m) => m.parsed.messageId === done.messageId);
    expect(mail?.parsed.subject).toBe(subject);
    const text = mail?.parsed.text ?? '';
    expect(text).toContain('Hello Fay,');
    expect(text).toContain(intro);
    expect(text).toContain(`First paragraph about ${kind}.`);
    expect(text).toContain('Second <paragraph>.');
    expect(text).toContain('Review: https://acme.org/account?x=1&y=2');
    const html = String(mail?.parsed.html);
    expect(html).toContain('Second &lt;paragraph&gt;.');
    expect(html).toContain('href="https://acme.org/account?x=1&amp;y=2"');
    expect(mail?.parsed.replyTo?.value[0].address).toBe('support@acme.org');
    expect(mail?.parsed.headers.has('list-unsubscribe')).toBe(false);
  });

  it('takes the subject from data and a per-message reply-to', async () => {
    const r = await t.api('POST', '/api/messages', {
      kind: 'support', contact: 'fay@example.org', template: 'support', replyTo: 'ticket-99@help.acme.org',
      data: { subject: 'Re: the printer is on fire', body: 'We are on it.' },
    });
    expect(r.status).toBe(202);
    const done = await waitForMessage(t, r.body.id, 'sent');
    const mail = mailsTo(app.sink.received, 'fay@example.org').find((m) => m.parsed.messageId === done.messageId);
    expect(mail?.parsed.subject).toBe('Re: the printer is on fire');
    expect(mail?.parsed.replyTo?.value[0].address).toBe('ticket-99@help.acme.org');
    expect(done.subject).toBe('Re: the printer is on fire');
  });

  it('is idempotent on idempotencyKey: 200 with the first message, 409 on a different payload, one email', async () => {
    const body = { kind: 'account', contact: 'fay@example.org', template: 'account', data: { subject: 'Password changed', body: 'Your password was changed.' }, idempotencyKey: 'pwd-change-1' };
    const rs = await Promise.all(Array.from({ length: 5 }, () => t.api('POST', '/api/messages', body)));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    const conflict = await t.api('POST', '/api/messages', { ...body, data: { subject: 'Password reset', body: 'Your password was reset.' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'idempotency_conflict', field: 'idempotencyKey' });
    await waitForMessage(t, rs[0].body.id, 'sent');
    await sleep(300);
    expect(app.sink.received.filter((m) => m.parsed.subject === 'Password changed')).toHaveLength(1);
    expect(await count(`SELECT count(*) AS n FROM messages WHERE purpose = 'notice:pwd-change-1'`)).toBe(1);
  });

  it('without a key, every request is a new message', async () => {
    const body = { kind: 'technical', contact: 'fay@example.org', template: 'technical', data: { subject: 'Maintenance tonight', body: 'From 22:00 to 23:00.' } };
    const a = await t.api('POST', '/api/messages', body);
    const b = await t.api('POST', '/api/messages', body);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it('refuses an unknown contact with no_association and records it', async () => {
    const r = await t.api('POST', '/api/messages', { kind: 'legal', contact: { email: 'nobody@example.org' }, template: 'legal', data: { body: 'New terms.' } });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'no_association', field: 'contact' });
    const list = await t.api('GET', '/api/messages?status=suppressed&recipient=nobody@example.org');
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ kind: 'legal', reason: 'no_association', template: 'notice:legal' });
  });

  it('never sends to a suppressed address', async () => {
    await given(app, t).pendingContact('gone@example.org');
    await suppress(app, t, 'gone@example.org');
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: 'gone@example.org', template: 'account', data: { body: 'Your account.' } });
    expect(r.status).toBe(202);
    expect(await waitForMessage(t, r.body.id)).toMatchObject({ status: 'suppressed', reason: 'suppressed' });
    expect(mailsTo(app.sink.received, 'gone@example.org')).toHaveLength(0);
  });

  it('refuses header injection in whatever reaches the Subject, and stores nothing', async () => {
    const before = await count('SELECT count(*) AS n FROM messages');
    const subj = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account', data: { subject: 'Hi\r\nBcc: victim@example.net' } });
    expect(subj.status).toBe(422);
    expect(subj.body.error).toMatchObject({ code: 'invalid', field: 'data.subject' });
    const ticket = await t.api('POST', '/api/messages', { kind: 'support', contact: 'fay@example.org', template: 'support', data: { ticketId: '1\nBcc: victim@example.net' } });
    expect(ticket.status).toBe(422);
    expect(ticket.body.error.field).toBe('data.ticketId');
    const key = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account', idempotencyKey: 'a\r\nb' });
    expect(key.status).toBe(422);
    expect(key.body.error.field).toBe('idempotencyKey');
    const replyTo = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account', replyTo: 'x@acme.org\r\nBcc: victim@example.net' });
    expect(replyTo.status).toBe(422);
    expect(replyTo.body.error.field).toBe('replyTo');
    expect(await count('SELECT count(*) AS n FROM messages')).toBe(before);
    // Line breaks are fine where they stay in the body.
    const body = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account', data: { body: 'one\r\n\r\ntwo' } });
    expect(body.status).toBe(202);
  });

  it.each([
    ['template', { template: 'nope' }],
    ['template', { template: '../invoice' }],
    ['kind', { kind: 'marketing' }],
    ['data.tenantName', { data: { tenantName: 'Evil Corp' } }],
    ['data.actionUrl', { data: { actionUrl: 'javascript:alert(1)' } }],
    ['data.nested', { data: { nested: { a: 1 } } }],
    ['data', { data: { big: 'x'.repeat(10_000), big2: 'x'.repeat(10_000), big3: 'x'.repeat(10_000), big4: 'x'.repeat(10_000) } }],
    ['replyTo', { replyTo: 'noreply@acme.org' }],
  ])('refuses a bad %s', async (field, over) => {
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account', ...over });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid');
    expect(String(r.body.error.field)).toBe(field);
  });

  it('uses a stored template, pinned to the version current when queued', async () => {
    const mjml = (greeting: string) => `<mjml><mj-body><mj-section><mj-column><mj-text>${greeting} {{name}}, your plan renews on {{renewsOn}}.</mj-text></mj-column></mj-section></mj-body></mjml>`;
    const tpl = await app.pg.deps.db.withTenant(t.id, (c) => insertTemplate(c, t.id, 'Renewal', { mjml: mjml('Hi'), subject: 'Renewal on {{renewsOn}}', text: null }));
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: tpl.id, data: { renewsOn: 'June 1' } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ template: `notice:stored:${tpl.id}`, templateVersion: 1 });
    const injected = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: tpl.id, data: { renewsOn: 'x\r\nBcc: victim@example.net' } });
    expect(injected.status).toBe(422);
    expect(injected.body.error).toMatchObject({ code: 'invalid', field: 'data.renewsOn' });
    // An edit after queueing does not change what this notice says.
    await app.pg.deps.db.withTenant(t.id, (c) => addTemplateVersion(c, t.id, tpl.id, undefined, { mjml: mjml('Changed'), subject: 'Changed', text: null }));
    const done = await waitForMessage(t, r.body.id, 'sent');
    const mail = mailsTo(app.sink.received, 'fay@example.org').find((m) => m.parsed.messageId === done.messageId);
    expect(mail?.parsed.subject).toBe('Renewal on June 1');
    expect(mail?.parsed.text).toContain('Hi Fay, your plan renews on June 1.');
    // Rendered again now (as a retry would be), after the edit: still version 1. A new notice gets version 2.
    const again = await app.pg.deps.db.withTenant(t.id, async (c) => renderNotice({
      tenant: (await getTenant(c, t.id))!, message: (await getMessage(c, r.body.id))!, contact: null,
      publicUrl: 'https://postgate.test', tokens: app.pg.deps.tokens, db: c,
    }));
    expect(again.rendered.subject).toBe('Renewal on June 1');
    const v2 = await t.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: tpl.id, data: { renewsOn: 'June 1' } });
    expect(v2.body.templateVersion).toBe(2);
    expect((await waitForMessage(t, v2.body.id, 'sent')).subject).toBe('Changed');
    const other = await app.tenant({ name: 'Other', fromEmail: 'billing@other.org', replyTo: 'help@other.org' });
    await given(app, other).pendingContact('fay@example.org');
    const foreign = await other.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: tpl.id });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error).toMatchObject({ code: 'invalid', field: 'template' });
  });

  it('needs the transactional scope', async () => {
    const k = await app.tenant({ scopes: ['subscribers'] });
    const r = await k.api('POST', '/api/messages', { kind: 'account', contact: 'fay@example.org', template: 'account' });
    expect(r.status).toBe(403);
    expect((await k.api('GET', '/api/messages')).status).toBe(403);
  });
});

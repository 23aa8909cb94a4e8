// Encryption to the relay (src/platform/smtp.ts createSmtpMailer), over real SMTP with a certificate
// made at test time (test/support/tls.ts): by default STARTTLS is required and the relay's
// certificate verified (SMTP_TLS_CA trusts a private CA). A relay that offers no STARTTLS, or one
// whose certificate is not trusted, gets nothing: the message is deferred (a temporary failure of the
// relay's set-up, never a bounce of the recipient) and nothing is sent in clear.
import { describe, expect, it } from 'vitest';
import { useApp, type TestApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { consent, waitForMail } from '../support/mail.js';
import { makeTestCertificates } from '../support/tls.js';
import { sleep, waitFor } from '../support/wait.js';
import { classifySmtpError } from '../../src/platform/smtp.js';

const certs = makeTestCertificates();
const tls = { cert: certs.certPem, key: certs.keyPem };

async function register(t: TestTenant, email: string): Promise<void> {
  const r = await t.api('POST', '/api/contacts', { email, newsletter: true, consent });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

interface Row { status: string; attempts: number; smtp_response: string | null; reason: string | null }
const messageTo = async (app: TestApp, email: string) =>
  (await ownerQuery<Row>(app.db.url, 'SELECT status, attempts, smtp_response, reason FROM messages WHERE recipient = $1', [email]))[0];

/** The message to `email` was tried at least twice and is deferred; nothing reached the relay; no bounce, no suppression. */
async function expectHeldBack(app: TestApp, email: string, why: RegExp): Promise<void> {
  let last: Row | undefined;
  const row = await waitFor(async () => { last = await messageTo(app, email); return last && last.attempts >= 2 && last.status === 'deferred' ? last : null; },
    { timeout: 30_000, message: () => `not deferred twice: ${JSON.stringify(last)}` });
  console.log(`${email}: ${row.status} after ${row.attempts} attempts: ${row.smtp_response}`);
  expect(row.smtp_response).toMatch(why);
  await sleep(300);
  expect(app.sink.received).toHaveLength(0);
  expect(['deferred', 'sending']).toContain((await messageTo(app, email)).status);
  expect(await ownerQuery(app.db.url, 'SELECT 1 FROM bounces')).toHaveLength(0);
  expect(await ownerQuery(app.db.url, 'SELECT 1 FROM suppressions')).toHaveLength(0);
}

describe('a relay that offers STARTTLS with a certificate of a private CA, trusted through SMTP_TLS_CA', () => {
  const { app, t } = useApp({ sink: { tls }, config: { SMTP_REQUIRE_TLS: true, SMTP_TLS_CA: certs.caFile } });

  it('receives the mail over TLS', async () => {
    await register(t, 'ann@example.org');
    const mail = await waitForMail(app, 'ann@example.org', 1, 30_000);
    expect(mail.secure).toBe(true);
    expect((await messageTo(app, 'ann@example.org')).status).toBe('sent');
  }, 60_000);
});

describe('a relay that offers no STARTTLS, with SMTP_REQUIRE_TLS as it is by default (true; test/config.test.ts)', () => {
  const { app, t } = useApp({ config: { SMTP_REQUIRE_TLS: true } }); // test/support/app.ts turns it off for its plain sink

  it('gets nothing in clear: the message is deferred, the recipient neither bounced nor suppressed', async () => {
    await register(t, 'bob@example.org');
    await expectHeldBack(app, 'bob@example.org', /TLS/);
  }, 60_000);
});

describe('a relay whose certificate is not trusted (no SMTP_TLS_CA)', () => {
  const { app, t } = useApp({ sink: { tls }, config: { SMTP_REQUIRE_TLS: true } });

  it('gets nothing: the certificate is verified by default', async () => {
    await register(t, 'cy@example.org');
    await expectHeldBack(app, 'cy@example.org', /certificate/i);
  }, 60_000);
});

describe('classifySmtpError', () => {
  it('never makes a failure of the relay session permanent, whatever its code', () => {
    expect(classifySmtpError(Object.assign(new Error('Error upgrading connection with STARTTLS'), { code: 'ETLS', command: 'STARTTLS', response: '502 5.5.1 Error: command not recognized', responseCode: 502 })).kind).toBe('temporary');
    expect(classifySmtpError(Object.assign(new Error('EHLO failed'), { code: 'ECONNECTION', command: 'EHLO', response: '550 go away', responseCode: 550 })).kind).toBe('temporary');
    expect(classifySmtpError(Object.assign(new Error('Invalid login: 535 5.7.8 Error: authentication failed'), { code: 'EAUTH', command: 'AUTH PLAIN', response: '535 5.7.8 Error: authentication failed', responseCode: 535 })).kind).toBe('temporary');
    expect(classifySmtpError(Object.assign(new Error('Recipient rejected'), { code: 'EENVELOPE', command: 'RCPT TO', response: '550 5.1.1 no such user', responseCode: 550 })).kind).toBe('permanent');
  });

  it('never makes a refusal of the sender (a 5xx to MAIL FROM) a bounce of the recipient', () => {
    const refused = classifySmtpError(Object.assign(new Error('Mail command failed: 553 5.7.1 Sender address rejected: not owned by user'), { code: 'EENVELOPE', command: 'MAIL FROM', response: '553 5.7.1 Sender address rejected: not owned by user', responseCode: 553 }));
    expect(refused.kind).toBe('temporary');
    expect(refused.response).toMatch(/MAIL FROM.*553 5\.7\.1/);
    expect(classifySmtpError(Object.assign(new Error('Mail command failed: 550 5.1.0 sender domain unknown'), { code: 'EENVELOPE', command: 'mail from', responseCode: 550 })).kind).toBe('temporary');
  });
});

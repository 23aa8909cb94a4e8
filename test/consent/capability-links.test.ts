// Capability links exist only on the wire: the activation link (and a test send's unsubscribe and
// preference links) reach the mailbox over SMTP and work there, while the body Postgate keeps, hence
// GET /api/messages/{id} and the contact export, holds a placeholder. A link minted before an erasure
// never confirms and never lifts the erasure suppression. Real HTTP, SMTP and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { addSuppression } from '../../src/consent/suppressions.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { verifiedTestAddress } from '../support/test-addresses.js';
import { consent, linkOf, mailsTo, post, tokenOf, waitForMail } from './helpers.js';

const { app, t } = useApp();
const PLACEHOLDER = '[confirmation link, sent only to the recipient]';

async function register(address: string): Promise<string> {
  const r = await t.api('POST', '/api/contacts', { email: address, name: 'Cap Holder', newsletter: true, consent });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

/** The latest activation message to an address, as the API shows it once its body is kept. */
async function activationRecord(address: string): Promise<any> {
  return waitFor(async () => {
    const [row] = await ownerQuery<{ id: string }>(app.db.url,
      "SELECT id FROM messages WHERE kind = 'activation' AND lower(recipient) = $1 ORDER BY created_at DESC LIMIT 1", [address]);
    if (!row) return null;
    const r = await t.api('GET', `/api/messages/${row.id}`);
    return r.status === 200 && r.body.status === 'sent' && r.body.body ? r.body : null;
  }, { timeout: 30_000, message: `no kept activation message for ${address}` });
}

const erasureSuppressions = async () => (await ownerQuery<{ n: number }>(app.db.url,
  "SELECT count(*)::int AS n FROM suppressions WHERE tenant_id = $1 AND reason = 'erased'", [t.id]))[0].n;

describe('the activation link', () => {
  it('arrives on the wire and works, while the API and the export hold a placeholder', async () => {
    const address = 'cap@example.org';
    const contactId = await register(address);
    const mail = await waitForMail(app, address, 1, 30_000); // the first render compiles the template (worker pool, cold)
    const link = linkOf(app, mail);
    const token = tokenOf(link);
    expect(String(mail.parsed.html)).toContain(token);

    const m = await activationRecord(address);
    expect(JSON.stringify(m)).not.toContain(token);
    expect(m.body.text).toContain(PLACEHOLDER);
    expect(m.body.html).toContain(`href="${PLACEHOLDER}"`);
    const exported = await t.api('GET', `/api/contacts/${contactId}/export`);
    expect(exported.status).toBe(200);
    expect(JSON.stringify(exported.body)).not.toContain(token);
    expect(JSON.stringify(exported.body)).toContain(PLACEHOLDER);
    const kept = await ownerQuery<{ html: string; text: string }>(app.db.url, 'SELECT html, text FROM message_bodies WHERE message_id = $1', [m.id]);
    expect(JSON.stringify(kept)).not.toContain(token);

    expect((await post(link)).status).toBe(200);
    expect((await t.api('GET', `/api/contacts/${contactId}`)).body.status).toBe('active');
    const records = (await t.api('GET', `/api/contacts/${contactId}/consent`)).body.items.filter((e: any) => e.action === 'confirm');
    expect(records.length).toBeGreaterThan(0);
    for (const e of records) expect(e.detail).toMatchObject({ via: 'activation_link', activationMessageId: m.id });
  });

  it('minted before an erasure, never confirms nor lifts the erasure suppression; a fresh one from the mailbox does', async () => {
    const address = 'erased@example.org';
    const first = await register(address);
    const oldLink = linkOf(app, await waitForMail(app, address));
    await activationRecord(address);
    const before = await erasureSuppressions();
    expect((await t.api('DELETE', `/api/contacts/${first}`)).status).toBe(200);
    expect(await erasureSuppressions()).toBe(before + 1);

    expect((await post(oldLink)).status).toBe(410);
    expect(await erasureSuppressions()).toBe(before + 1);

    // The tenant registers the address again: the new link goes to the mailbox only.
    const second = await register(address);
    const newMail = await waitForMail(app, address, 2);
    const newLink = linkOf(app, newMail);
    const m = await activationRecord(address);
    expect(JSON.stringify(m)).not.toContain(tokenOf(newLink));
    expect(JSON.stringify((await t.api('GET', `/api/contacts/${second}/export`)).body)).not.toContain(tokenOf(newLink));

    expect((await post(oldLink)).status).toBe(410); // still nothing from the old link
    expect(await erasureSuppressions()).toBe(before + 1);
    expect((await t.api('GET', `/api/contacts/${second}`)).body.status).toBe('pending');

    expect((await post(newLink)).status).toBe(200); // the person, from the mailbox
    expect(await erasureSuppressions()).toBe(before);
    expect(mailsTo(app, address)).toHaveLength(2);
  });
});

describe('an erasure suppression newer than the link', () => {
  it('keeps the link from confirming and the suppression in place', async () => {
    const address = 'later-erased@example.org';
    const id = await register(address);
    const link = linkOf(app, await waitForMail(app, address, 1, 30_000));
    await activationRecord(address);
    // The address was erased after this link was mailed (e.g. for another record of the same person).
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, address, 'marketing', 'erased'));
    const before = await erasureSuppressions();
    expect((await post(link)).status).toBe(410);
    expect(await erasureSuppressions()).toBe(before);
    expect((await t.api('GET', `/api/contacts/${id}`)).body.status).toBe('pending');
  });
});

describe('a test send', () => {
  it('keeps its unsubscribe and preference links out of the kept body', async () => {
    await verifiedTestAddress(app, t, 'qa@acme.org');
    const list = await given(app, t).defaultList();
    const c = await given(app, t).campaign(await given(app, t).template(), [list]);
    const r = await t.api('POST', `/api/campaigns/${c.id}/test`, { emails: ['qa@acme.org'] });
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    const mail = await waitForMail(app, 'qa@acme.org', 2, 30_000); // the first was the verification mail
    const url = /https:\/\/postgate\.test\/u\/([A-Za-z0-9_.-]+)/.exec(mail.parsed.text ?? '');
    expect(url).not.toBeNull();
    const token = (url as RegExpExecArray)[1];
    const id = r.body.messages[0].id as string;
    const m = await waitFor(async () => { const x = (await t.api('GET', `/api/messages/${id}`)).body; return x.body ? x : null; }, { timeout: 30_000 });
    expect(JSON.stringify(m)).not.toContain(token);
    expect(m.body.html).toContain('[unsubscribe link, sent only to the recipient]');
    expect(m.body.html).toContain('[preference link, sent only to the recipient]');
  });
});

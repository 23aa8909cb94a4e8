// Campaign drafts (issue 16): PATCH, DELETE and clone, and the template version taken at start
// (latest unless pinned), checked on what the real SMTP sink received.
import { describe, expect, it } from 'vitest';
import { createSegment } from '../../src/audience/segments.js';
import { parseSegmentFilter } from '../../src/audience/segment-filter.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import { verifiedTestAddress } from '../support/test-addresses.js';
import { sleep, waitFor } from '../support/wait.js';
import { setTenant, waitForCampaign } from './helpers.js';

const { app, t } = useApp();
const UNKNOWN = '7d0a7f4e-0000-4000-8000-000000000000';

/** MJML whose body says `words` (and shows the unsubscribe link). */
const mjml = (words: string) => `<mjml><mj-body><mj-section><mj-column>
  <mj-text>${words}, {{name}}</mj-text><mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

async function newVersion(templateId: string, words: string): Promise<number> {
  const r = await t.api('PUT', `/api/templates/${templateId}`, { mjml: mjml(words), subject: 'Template subject' });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.version as number;
}

async function storedVersion(campaignId: string): Promise<number> {
  return (await ownerQuery<{ template_version: number }>(app.db.url, 'SELECT template_version FROM campaigns WHERE id = $1', [campaignId]))[0].template_version;
}

async function startAndWait(campaignId: string): Promise<any> {
  const r = await t.api('POST', `/api/campaigns/${campaignId}/start`);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return waitForCampaign(t, campaignId, (x) => x.status === 'completed');
}

describe('campaign drafts', () => {
  it('PATCHed name, subject, lists and a fixed template are what the sent mail carries', async () => {
    const oldList = await given(app, t).list('Old readers');
    const newList = await given(app, t).list('New readers');
    await given(app, t).subscribedContact('old@readers.example', { name: 'Olga', lists: [oldList] });
    await given(app, t).subscribedContact('new@readers.example', { name: 'Nina', lists: [newList] });
    const tpl = await given(app, t).template({ mjml: mjml('Helo wrold') });
    const c = await given(app, t).campaign(tpl, [oldList], { subject: 'Typo news for {{name}}' });
    expect(c).toMatchObject({ templateVersion: 1, templatePinned: false, segmentId: null });

    const patched = await t.api('PATCH', `/api/campaigns/${c.id}`, { name: 'Autumn', subject: 'Autumn news for {{name}}', listIds: [newList] });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Autumn', subject: 'Autumn news for {{name}}', listIds: [newList], status: 'draft' });
    expect(await newVersion(tpl, 'Hello world')).toBe(2); // the typo is fixed after the draft was made
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body).toMatchObject({ templateVersion: 2, templatePinned: false });

    const done = await startAndWait(c.id);
    expect(done.templateVersion).toBe(2);
    expect(await storedVersion(c.id)).toBe(2); // recorded at start
    const mail = await waitForMail(app, 'new@readers.example');
    expect(mail.parsed.subject).toBe('Autumn news for Nina');
    expect(mail.parsed.html).toContain('Hello world, Nina');
    expect(mail.parsed.html).not.toContain('Helo wrold');
    expect(mailsTo(app, 'old@readers.example')).toHaveLength(0); // no longer on the campaign's lists
    const msg = await ownerQuery<{ template_version: number }>(app.db.url, 'SELECT template_version FROM messages WHERE campaign_id = $1', [c.id]);
    expect(msg).toEqual([{ template_version: 2 }]);

    // Once started, the version is the campaign's: a later template version changes nothing.
    await newVersion(tpl, 'Third take');
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body.templateVersion).toBe(2);
    // Completed: no edit, no delete.
    for (const [method, body] of [['PATCH', { name: 'Again' }], ['DELETE', undefined]] as const) {
      const r = await t.api(method, `/api/campaigns/${c.id}`, body);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'campaign_not_editable', field: 'status', status: 'completed' });
    }
  });

  it('a pinned version is the one sent, on create and by PATCH; templatePinned: false follows the latest again', async () => {
    const list = await given(app, t).list('Pinned readers');
    await given(app, t).subscribedContact('pin@readers.example', { name: 'Pia', lists: [list] });
    const tpl = await given(app, t).template({ mjml: mjml('Version one') });
    await newVersion(tpl, 'Version two');

    const created = await given(app, t).campaign(tpl, [list], { templateVersion: 1 });
    expect(created).toMatchObject({ templateVersion: 1, templatePinned: true });
    const draft = await given(app, t).campaign(tpl, [list]);
    expect(draft).toMatchObject({ templateVersion: 2, templatePinned: false });
    const unpinned = await t.api('PATCH', `/api/campaigns/${created.id}`, { templatePinned: false });
    expect(unpinned.body).toMatchObject({ templateVersion: 2, templatePinned: false });
    const pinned = await t.api('PATCH', `/api/campaigns/${created.id}`, { templateVersion: 1 });
    expect(pinned.body).toMatchObject({ templateVersion: 1, templatePinned: true });
    await newVersion(tpl, 'Version three');
    expect((await t.api('GET', `/api/campaigns/${created.id}`)).body.templateVersion).toBe(1);
    // templatePinned: true pins what the campaign uses now (the latest for an unpinned draft).
    expect((await t.api('PATCH', `/api/campaigns/${draft.id}`, { templatePinned: true })).body).toMatchObject({ templateVersion: 3, templatePinned: true });

    await startAndWait(created.id);
    const mail = await waitForMail(app, 'pin@readers.example');
    expect(mail.parsed.html).toContain('Version one, Pia');
    expect(await storedVersion(created.id)).toBe(1);
  });

  it('the compliance pre-check judges the version the start takes; a test send of a draft uses it too', async () => {
    await verifiedTestAddress(app, t, 'qa@drafts.example');
    const list = await given(app, t).list('Checked readers');
    const tpl = await given(app, t).template({ mjml: mjml('Draft text') });
    const c = await given(app, t).campaign(tpl, [list], { subject: 'Checked' });
    await newVersion(tpl, 'Latest text');
    const before = mailsTo(app, 'qa@drafts.example').length;
    const sent = await t.api('POST', `/api/campaigns/${c.id}/test`, { emails: ['qa@drafts.example'] });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const got = await waitForMail(app, 'qa@drafts.example', before + 1);
    expect(got.parsed.html).toContain('Latest text');
    // The subject edited after that test send is what the next one carries (no stale compiled template).
    expect((await t.api('PATCH', `/api/campaigns/${c.id}`, { subject: 'Checked again' })).status).toBe(200);
    await t.api('POST', `/api/campaigns/${c.id}/test`, { emails: ['qa@drafts.example'] });
    expect((await waitForMail(app, 'qa@drafts.example', before + 2)).parsed.subject).toBe('[TEST] Checked again');

    // A latest version that hides its whole body is refused at start; pinning the good one passes.
    const hidden = '<mjml><mj-head><mj-style>body, .all { display: none }</mj-style></mj-head><mj-body css-class="all"><mj-section><mj-column><mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>';
    expect((await t.api('PUT', `/api/templates/${tpl}`, { mjml: hidden, subject: 'Hidden' })).status).toBe(200);
    const refused = await t.api('POST', `/api/campaigns/${c.id}/start`);
    expect(refused.status).toBe(422);
    expect(refused.body.error.reasons).toEqual(['no_unsubscribe_link']);
    expect((await t.api('PATCH', `/api/campaigns/${c.id}`, { templateVersion: 2 })).status).toBe(200);
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(await storedVersion(c.id)).toBe(2);
  });

  it('refuses bad edits with 422 naming the field, and writes nothing', async () => {
    const list = await given(app, t).list('Valid readers');
    const tpl = await given(app, t).template();
    const c = await given(app, t).campaign(tpl, [list]);
    const archived = await t.api('POST', '/api/lists', { name: 'Archived readers', archived: true });
    expect(archived.status, JSON.stringify(archived.body)).toBe(201);
    const cases: [Record<string, unknown>, string][] = [
      [{ listIds: [list, UNKNOWN] }, 'listIds[1]'],
      [{ listIds: [archived.body.id] }, 'listIds[0]'],
      [{ listIds: [] }, 'listIds'],
      [{ templateId: UNKNOWN }, 'templateId'],
      [{ templateVersion: 9 }, 'templateVersion'],
      [{ templateVersion: 0 }, 'templateVersion'],
      [{ templateVersion: 1, templatePinned: false }, 'templatePinned'],
      [{ segmentId: UNKNOWN }, 'segmentId'],
      [{ segmentId: 'nope' }, 'segmentId'],
      [{ subject: 'Hi {{#if}}' }, 'subject'],
      [{ replyTo: 'noreply@acme.org' }, 'replyTo'],
      [{ name: '' }, 'name'],
      [{ sendAt: '2001-01-01T00:00:00Z' }, 'sendAt'],
      [{ status: 'running' }, 'status'],
    ];
    for (const [body, field] of cases) {
      const r = await t.api('PATCH', `/api/campaigns/${c.id}`, { name: 'Changed', ...body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.error.field, JSON.stringify(r.body)).toBe(field);
    }
    expect((await t.api('PATCH', `/api/campaigns/${c.id}`, {})).status).toBe(422);
    expect((await t.api('PATCH', `/api/campaigns/${UNKNOWN}`, { name: 'X' })).status).toBe(404);
    const other = await app.tenant({ name: 'Elsewhere', fromEmail: 'hi@elsewhere.org', replyTo: 'help@elsewhere.org' });
    expect((await other.api('PATCH', `/api/campaigns/${c.id}`, { name: 'Mine' })).status).toBe(404);
    expect((await other.api('DELETE', `/api/campaigns/${c.id}`)).status).toBe(404);
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body).toMatchObject({ name: 'Spring', listIds: [list], templatePinned: false, segmentId: null });
    const create = await t.api('POST', '/api/campaigns', { name: 'Seg', templateId: tpl, listIds: [list], segmentId: UNKNOWN });
    expect(create.body.error).toMatchObject({ code: 'invalid', field: 'segmentId' });
    const badVersion = await t.api('POST', '/api/campaigns', { name: 'Ver', templateId: tpl, listIds: [list], templateVersion: 5 });
    expect(badVersion.body.error).toMatchObject({ code: 'invalid', field: 'templateVersion' });
  });

  it('a segment narrows a draft and is shown; a clone keeps content, lists and segment as a new draft', async () => {
    const list = await given(app, t).list('Clone readers');
    const tpl = await given(app, t).template({ mjml: mjml('Clone me') });
    const segment = await app.pg.deps.db.withTenant(t.id, (c) => createSegment(c, t.id, { name: 'Everyone active', filter: parseSegmentFilter({ status: 'active' }) }));
    const src = await given(app, t).campaign(tpl, [list], { name: 'Winter', subject: 'Winter {{name}}', replyTo: 'winter@acme.org', segmentId: segment.id });
    expect(src.segmentId).toBe(segment.id);
    const noSegment = await t.api('PATCH', `/api/campaigns/${src.id}`, { segmentId: null });
    expect(noSegment.body.segmentId).toBeNull();
    expect((await t.api('PATCH', `/api/campaigns/${src.id}`, { segmentId: segment.id })).body.segmentId).toBe(segment.id);

    const copy = await t.api('POST', `/api/campaigns/${src.id}/clone`);
    expect(copy.status, JSON.stringify(copy.body)).toBe(201);
    expect(copy.body).toMatchObject({
      name: 'Winter (copy)', subject: 'Winter {{name}}', templateId: tpl, templateVersion: 1, templatePinned: false,
      listIds: [list], segmentId: segment.id, replyTo: 'winter@acme.org', status: 'draft', sendAt: null,
    });
    expect(copy.body.id).not.toBe(src.id);
    const again = await t.api('POST', `/api/campaigns/${copy.body.id}/clone`);
    expect(again.body.name).toBe('Winter (copy) (copy)');
    const long = await t.api('POST', `/api/campaigns/${(await given(app, t).campaign(tpl, [list], { name: 'x'.repeat(200) })).id}/clone`);
    expect(long.body.name).toBe(`${'x'.repeat(193)} (copy)`);

    // A pinned source gives a pinned clone; a sent one can be cloned; the source is untouched.
    await newVersion(tpl, 'Clone me again');
    const pinned = await t.api('PATCH', `/api/campaigns/${src.id}`, { templateVersion: 1 });
    expect(pinned.body.templatePinned).toBe(true);
    expect((await t.api('POST', `/api/campaigns/${src.id}/clone`)).body).toMatchObject({ templateVersion: 1, templatePinned: true });
    expect((await t.api('POST', `/api/campaigns/${copy.body.id}/clone`)).body).toMatchObject({ templateVersion: 2, templatePinned: false });
    await startAndWait(src.id);
    const fromSent = await t.api('POST', `/api/campaigns/${src.id}/clone`);
    expect(fromSent.body).toMatchObject({ status: 'draft', name: 'Winter (copy)', startedAt: null });
    expect((await t.api('POST', `/api/campaigns/${UNKNOWN}/clone`)).status).toBe(404);
  });

  it('deletes a draft (after its test send) and a scheduled campaign, whose start then never fires', async () => {
    await verifiedTestAddress(app, t, 'qa2@drafts.example');
    const list = await given(app, t).list('Deleted readers');
    await given(app, t).subscribedContact('never@readers.example', { lists: [list] });
    const tpl = await given(app, t).template();
    const draft = await given(app, t).campaign(tpl, [list]);
    const test = await t.api('POST', `/api/campaigns/${draft.id}/test`, { emails: ['qa2@drafts.example'] });
    expect(test.status).toBe(202);
    const testId = test.body.messages[0].id as string;
    await waitFor(async () => (await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM messages WHERE id = $1', [testId]))[0].status === 'sent',
      { timeout: 10_000, interval: 50, message: 'the test send was never recorded as sent' });
    const del = await t.api('DELETE', `/api/campaigns/${draft.id}`);
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect((await t.api('GET', `/api/campaigns/${draft.id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/api/campaigns/${draft.id}`)).status).toBe(404);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM campaigns WHERE id = $1', [draft.id])).toEqual([]);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM messages WHERE id = $1', [testId])).toHaveLength(1); // the record of the test copy stays

    const scheduled = await given(app, t).campaign(tpl, [list], { sendAt: new Date(Date.now() + 1500).toISOString() });
    expect(scheduled.status).toBe('scheduled');
    const job = await waitFor(async () => (await ownerQuery<{ start_job_id: string | null }>(app.db.url, 'SELECT start_job_id FROM campaigns WHERE id = $1', [scheduled.id]))[0].start_job_id,
      { timeout: 5000, interval: 50, message: 'the start job was never recorded' });
    expect((await t.api('DELETE', `/api/campaigns/${scheduled.id}`)).status).toBe(204);
    const state = await ownerQuery<{ state: string }>(app.db.url, 'SELECT state::text FROM pgboss.job WHERE id = $1', [job]);
    expect(state).toEqual([{ state: 'cancelled' }]);
    await sleep(2500);
    expect(mailsTo(app, 'never@readers.example')).toHaveLength(0);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM messages WHERE campaign_id = $1', [scheduled.id])).toEqual([]);
  });

  it('a scheduled campaign may be edited: a new sendAt moves its start; running, paused and cancelled ones may not', async () => {
    const list = await given(app, t).list('Scheduled readers');
    await given(app, t).subscribedContact('moved@readers.example', { name: 'Mo', lists: [list] });
    const tpl = await given(app, t).template({ mjml: mjml('Scheduled text') });
    const c = await given(app, t).campaign(tpl, [list], { sendAt: new Date(Date.now() + 1200).toISOString() });
    const later = new Date(Date.now() + 3000).toISOString();
    const moved = await t.api('PATCH', `/api/campaigns/${c.id}`, { sendAt: later, subject: 'Moved for {{name}}' });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ status: 'scheduled', sendAt: later });
    expect(await newVersion(tpl, 'Scheduled fixed')).toBe(2); // the scheduled start job takes the latest version too
    expect((await t.api('PATCH', `/api/campaigns/${c.id}`, { sendAt: null })).body.error.field).toBe('sendAt');
    // A scheduled edit is checked for compliance again: a template that would hide the unsubscribe link is refused, nothing changes.
    const hidden = await given(app, t).template({ name: 'Hidden', mjml: '<mjml><mj-head><mj-style>body, .all { display: none }</mj-style></mj-head><mj-body css-class="all"><mj-section><mj-column><mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>' });
    const refused = await t.api('PATCH', `/api/campaigns/${c.id}`, { templateId: hidden, name: 'Hidden' });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'not_compliant', reasons: ['no_unsubscribe_link'] });
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body).toMatchObject({ templateId: tpl, name: 'Spring' });
    await sleep(2000);
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body.status).toBe('scheduled'); // not at the old time
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(new Date(done.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(later).getTime() - 50);
    const mail = await waitForMail(app, 'moved@readers.example');
    expect(mail.parsed.subject).toBe('Moved for Mo');
    expect(mail.parsed.html).toContain('Scheduled fixed, Mo');
    expect(await storedVersion(c.id)).toBe(2);

    // A draft keeps a PATCHed sendAt for POST /schedule; a scheduled campaign's delete cancels it.
    const draft = await given(app, t).campaign(tpl, [list]);
    const at = new Date(Date.now() + 3600_000).toISOString();
    expect((await t.api('PATCH', `/api/campaigns/${draft.id}`, { sendAt: at })).body).toMatchObject({ status: 'draft', sendAt: at });
    expect((await t.api('POST', `/api/campaigns/${draft.id}/schedule`, {})).body).toMatchObject({ status: 'scheduled', sendAt: at });
    expect((await t.api('DELETE', `/api/campaigns/${draft.id}`)).status).toBe(204);

    // Running (slowly: one message a second) and paused campaigns: 409, naming the status.
    const slow = await app.tenant({ name: 'Slow' });
    await setTenant(app, slow.id, 'send_rate_per_second = 1');
    const slowList = await given(app, slow).defaultList();
    await given(app, slow).contacts({ prefix: 'slow', n: 30, listId: slowList });
    const running = await given(app, slow).campaign(await given(app, slow).template(), [slowList]);
    expect((await slow.api('POST', `/api/campaigns/${running.id}/start`)).status).toBe(202);
    for (const [method, body] of [['PATCH', { name: 'Too late' }], ['DELETE', undefined]] as const) {
      const r = await slow.api(method, `/api/campaigns/${running.id}`, body);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'campaign_not_editable', field: 'status', status: 'running' });
    }
    expect((await slow.api('POST', `/api/campaigns/${running.id}/pause`)).status).toBe(200);
    expect((await slow.api('PATCH', `/api/campaigns/${running.id}`, { name: 'Paused' })).body.error).toMatchObject({ code: 'campaign_not_editable', status: 'paused' });
    expect((await slow.api('POST', `/api/campaigns/${running.id}/cancel`)).status).toBe(200);
    expect((await slow.api('DELETE', `/api/campaigns/${running.id}`)).body.error).toMatchObject({ code: 'campaign_not_editable', status: 'cancelled' });
    expect((await slow.api('GET', `/api/campaigns/${running.id}`)).body.name).toBe('Spring');
  });
});

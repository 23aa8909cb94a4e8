// Templates API: validation of MJML and Handlebars with line numbers, versions, preview escaping.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { NEWSLETTER_MJML } from '../support/given.js';

const { app, t } = useApp({ smtp: false });

describe('templates API', () => {
  it('creates, reads, versions and lists templates', async () => {
    const created = await t.api('POST', '/api/templates', { name: 'News', mjml: NEWSLETTER_MJML, subject: 'Hi {{name}}' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'News', version: 1, subject: 'Hi {{name}}', text: null, usesUnsubscribeLink: true, usesPostalAddress: false });
    const id = created.body.id;
    const updated = await t.api('PUT', `/api/templates/${id}`, { mjml: NEWSLETTER_MJML.replace('Hello', 'Hi'), subject: 'v2 {{name}}', text: 'Plain {{name}}' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, currentVersion: 2, subject: 'v2 {{name}}', text: 'Plain {{name}}', name: 'News' });
    expect((await t.api('GET', `/api/templates/${id}`)).body.version).toBe(2);
    const v1 = await t.api('GET', `/api/templates/${id}?version=1`);
    expect(v1.body).toMatchObject({ version: 1, currentVersion: 2, subject: 'Hi {{name}}' });
    expect((await t.api('GET', `/api/templates/${id}?version=9`)).status).toBe(404);
    const list = await t.api('GET', '/api/templates');
    expect(list.body.templates.map((x: any) => x.id)).toContain(id);
    expect((await t.api('GET', '/api/templates/not-a-uuid')).status).toBe(404);
  });

  it('answers 422 with the line and message of every MJML and Handlebars error', async () => {
    const mjml = '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-text>{{#if x}}open</mj-text>\n<mj-unknown>?</mj-unknown>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>';
    const r = await t.api('POST', '/api/templates', { name: 'Bad', mjml, subject: 'Hi {{name', text: 'ok {{/each}}' });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid_template');
    const issues: { part: string; line: number | null; message: string }[] = r.body.error.issues;
    expect(issues.map((i) => i.part)).toEqual(expect.arrayContaining(['mjml', 'subject', 'text']));
    expect(issues.every((i) => typeof i.message === 'string' && i.message.length > 0)).toBe(true);
    expect(issues.some((i) => i.part === 'mjml' && i.line === 6)).toBe(true); // the unknown MJML tag
    expect(issues.find((i) => i.part === 'subject')?.line).toBe(1);
    // Nothing was stored.
    expect((await t.api('GET', '/api/templates')).body.templates.some((x: any) => x.name === 'Bad')).toBe(false);
  });

  it('rejects header injection in the subject and oversized bodies', async () => {
    const inj = await t.api('POST', '/api/templates', { name: 'X', mjml: NEWSLETTER_MJML, subject: 'Hi\r\nBcc: a@b.c' });
    expect(inj.status).toBe(422);
    expect(inj.body.error.field).toBe('subject');
    const big = await t.api('POST', '/api/templates', { name: 'X', mjml: 'x'.repeat(600 * 1024), subject: 'Hi' });
    expect(big.status).toBe(422);
    expect(big.body.error.field).toBe('mjml');
  });

  it('previews with sample data or given data, escaping subscriber data but not Postgate URLs', async () => {
    const id = (await t.api('POST', '/api/templates', { name: 'P', mjml: NEWSLETTER_MJML, subject: 'For {{name}}' })).body.id;
    const sample = await t.api('POST', `/api/templates/${id}/preview`, {});
    expect(sample.status).toBe(200);
    expect(sample.body.subject).toBe('For Jane Doe');
    expect(sample.body.html).toContain('href="https://postgate.test/u/preview"');
    expect(sample.body.html).toContain('1 Main Street, Springfield'); // the footer Postgate adds
    expect(sample.body.text).toContain('Hello Jane Doe');
    const given = await t.api('POST', `/api/templates/${id}/preview`, { data: { name: '<img src=x onerror=alert(1)>', attributes: { city: 'Q&A' } } });
    expect(given.body.html).toContain('Hello &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(given.body.html).not.toContain('<img src=x');
    expect(given.body.html).toContain('City: Q&amp;A');
  });
});

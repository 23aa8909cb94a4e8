// Bulk compliance by rendering: every campaign mail shows its unsubscribe link, visibly in the HTML
// and in the text part. A template whose own link is hidden (or missing) gets Postgate's footer link;
// a hidden link no longer satisfies the compliance check. Real HTTP, SMTP and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { showsLink } from '../../src/mail/link-visibility.js';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { waitForMail } from '../support/mail.js';
import { rawHeader, waitForCampaign } from './helpers.js';

const { app, t } = useApp();

const body = (inner: string) => `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{name}}, the spring news.</mj-text>${inner}
</mj-column></mj-section></mj-body></mjml>`;

/** Sends a one-recipient campaign of this template; returns the mail as received. */
async function sendTo(address: string, mjml: string, extra: Record<string, unknown> = {}) {
  const list = await given(app, t).list(`List for ${address}`);
  await given(app, t).subscribedContact(address, { name: 'Reader', lists: [list] });
  const tpl = await given(app, t).template({ name: `Template for ${address}`, mjml, ...extra });
  const c = await given(app, t).campaign(tpl, [list]);
  const started = await t.api('POST', `/api/campaigns/${c.id}/start`);
  expect(started.status, JSON.stringify(started.body)).toBeLessThan(300);
  await waitForCampaign(t, c.id, (x) => x.status === 'completed', 40_000);
  return waitForMail(app, address, 1, 30_000);
}

/** The HTML as sent, with the recipient's own unsubscribe URL put back as the placeholder: does it show the link? */
function showsUnsubscribe(html: string, url: string): boolean {
  return showsLink(html.split(url.replace(/&/g, '&amp;')).join('{{unsubscribeUrl}}'));
}

describe('the unsubscribe link of campaign mail', () => {
  it('is added visibly, in HTML and text, when the template hides its own with display:none', async () => {
    const mail = await sendTo('hidden@example.org', body('<mj-text><a href="{{unsubscribeUrl}}" style="display:none">Unsubscribe</a></mj-text>'));
    const url = rawHeader(mail.parsed.headerLines, 'list-unsubscribe').replace(/^<|>$/g, '');
    expect(url).toMatch(/^https:\/\/postgate\.test\/u\//);
    const html = String(mail.parsed.html);
    expect(html).toContain(`style="display:none">Unsubscribe</a>`); // the template's own, still hidden
    expect(html).toContain(`<a href="${url}" style="color:#52525b;text-decoration:underline">Unsubscribe</a>`);
    expect(showsUnsubscribe(html, url)).toBe(true);
    expect(mail.parsed.text).toContain(url);
  });

  it('is added when the template has none, and left alone when the template shows its own', async () => {
    const none = await sendTo('nolink@example.org', body('<mj-text>{{postalAddress}}</mj-text>'));
    const noneUrl = rawHeader(none.parsed.headerLines, 'list-unsubscribe').replace(/^<|>$/g, '');
    expect(showsUnsubscribe(String(none.parsed.html), noneUrl)).toBe(true);
    expect(none.parsed.text).toContain(noneUrl);

    const own = await sendTo('ownlink@example.org', body('<mj-text><a href="{{unsubscribeUrl}}">Leave this list</a> {{postalAddress}}</mj-text>'));
    const ownUrl = rawHeader(own.parsed.headerLines, 'list-unsubscribe').replace(/^<|>$/g, '');
    expect(String(own.parsed.html)).not.toContain('color:#52525b');
    expect(showsUnsubscribe(String(own.parsed.html), ownUrl)).toBe(true);
    expect(own.parsed.text).toContain(ownUrl);
  });

  it('is added to a text part that prints it only conditionally', async () => {
    const mail = await sendTo('textpart@example.org', body('<mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a> {{postalAddress}}</mj-text>'),
      { text: 'Hello {{name}}\n{{#if attributes.vip}}Leave: {{unsubscribeUrl}}{{/if}}\n{{postalAddress}}' });
    const url = rawHeader(mail.parsed.headerLines, 'list-unsubscribe').replace(/^<|>$/g, '');
    expect(mail.parsed.text).toContain(`Unsubscribe: ${url}`);
  });
});

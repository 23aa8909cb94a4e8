// Which compiled templates visibly show their unsubscribe link: decided from the compiled HTML (with
// its template tags) by an HTML parser and the template's own <style> rules, once per template.
import { describe, expect, it } from 'vitest';
import { compileTemplate } from '../../src/mail/render.js';
import { showsLink } from '../../src/mail/link-visibility.js';
import { NEWSLETTER_MJML } from '../support/given.js';

const mjml = (inner: string, head = '') => `<mjml>${head ? `<mj-head>${head}</mj-head>` : ''}<mj-body><mj-section><mj-column>`
  + `<mj-text>Hi {{name}}</mj-text>${inner}</mj-column></mj-section></mj-body></mjml>`;
const link = (attrs = '', text = 'Unsubscribe') => `<a href="{{unsubscribeUrl}}"${attrs}>${text}</a>`;

/** As decided when the template compiles (the flag every compiled template carries). */
async function shows(source: string): Promise<boolean> {
  const t = await compileTemplate({ mjml: source, subject: 's' });
  expect(typeof t.unsubscribeShown).toBe('boolean');
  return t.unsubscribeShown as boolean;
}

describe('showsLink', () => {
  it('reads template tags in the compiled HTML, Postgate\'s context guards included', () => {
    expect(showsLink('<p><a href="{{unsubscribeUrl}}">Leave</a></p>')).toBe(true);
    expect(showsLink('<p><a href="{{_pgUrlValue unsubscribeUrl}}">Leave</a></p>')).toBe(true);
    expect(showsLink('<p><a href="{{#_pgUrl}}{{unsubscribeUrl}}{{/_pgUrl}}">Leave</a></p>')).toBe(true);
    expect(showsLink('<p><a href="{{other unsubscribeUrl}}">Leave</a></p>')).toBe(false);
    expect(showsLink('<p {{#if x}}hidden{{/if}}><a href="{{unsubscribeUrl}}">Leave</a></p>')).toBe(false);
    expect(showsLink('<p><a href="{{unsubscribeUrl}}">Leave</p>{{#if')).toBe(false); // not parsable: not judged visible
  });

  it.each([
    ['an mj-button', NEWSLETTER_MJML],
    ['a plain link in mj-text', mjml(`<mj-text>${link()}</mj-text>`)],
    ['a link whose span restores the font size MJML zeroes on columns', mjml(`<mj-text><div style="font-size:0"><span style="font-size:14px">${link()}</span></div></mj-text>`)],
  ])('sees %s', async (_name, source) => {
    expect(await shows(source)).toBe(true);
  });

  it.each([
    ['no link at all', mjml('<mj-text>nothing</mj-text>')],
    ['display:none on the link', mjml(`<mj-text>${link(' style="display:none"')}</mj-text>`)],
    ['display:none !important on an ancestor', mjml(`<mj-text><div style="display: none !important">x ${link()}</div></mj-text>`)],
    ['visibility:hidden', mjml(`<mj-text><span style="visibility:hidden">${link()}</span></mj-text>`)],
    ['the hidden attribute', mjml(`<mj-text><p hidden>${link()}</p></mj-text>`)],
    ['mso-hide:all', mjml(`<mj-text>${link(' style="mso-hide:all"')}</mj-text>`)],
    ['font-size:0', mjml(`<mj-text font-size="0px">${link()}</mj-text>`)],
    ['max-height:0 with overflow hidden', mjml(`<mj-text><div style="max-height:0;overflow:hidden">${link()}</div></mj-text>`)],
    ['opacity:0', mjml(`<mj-text>${link(' style="opacity:0"')}</mj-text>`)],
    ['a class hidden by mj-style', mjml(`<mj-text css-class="gone">${link()}</mj-text>`, '<mj-style>.gone { display: none }</mj-style>')],
    ['a rule inside @media', mjml(`<mj-text>${link(' class="x"')}</mj-text>`, '<mj-style>@media (max-width: 480px) { a.x { display:none } }</mj-style>')],
    ['a link inside a condition', mjml(`<mj-text>{{#if attributes.vip}}${link()}{{/if}}</mj-text>`)],
    ['a template value in the link\'s style', mjml(`<mj-text>${link(' style="color:{{attributes.c}}"')}</mj-text>`)],
    ['a link without text', mjml(`<mj-text>${link('', ' ')}</mj-text>`)],
    ['a link whose only text is a value', mjml(`<mj-text>${link('', '{{attributes.label}}')}</mj-text>`)],
    ['a link inside an HTML comment', mjml(`<mj-raw><!-- ${link()} --></mj-raw><mj-text>x</mj-text>`)],
  ])('does not count %s', async (_name, source) => {
    expect(await shows(source)).toBe(false);
  });
});

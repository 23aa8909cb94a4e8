// render.ts: MJML once + Handlebars per recipient; placeholders survive MJML, escaping rules,
// derived text part, validation with line numbers, unsubscribe-placeholder detection.
import { describe, expect, it } from 'vitest';
import {
  compileTemplate, renderMessage, TemplateError, usesPlaceholder, validateTemplate, type TemplateSource,
} from '../../src/mail/render.js';

const mjml = (body: string, head = ''): string =>
  `<mjml>${head}<mj-body><mj-section><mj-column>\n${body}\n</mj-column></mj-section></mj-body></mjml>`;

const NEWSLETTER: TemplateSource = {
  subject: 'News for {{name}}',
  mjml: mjml([
    '<mj-text>Hello {{name}}!',
    '{{#if vip}}<p class="vip">VIP offer for {{name}}</p>{{else}}<p class="std">Standard</p>{{/if}}',
    '{{#each items}}<p class="item">{{title}}</p>{{/each}}</mj-text>',
    '<mj-image src="{{imageUrl}}" alt="{{name}}" href="https://shop.example/p?id={{productId}}&src=mail" />',
    '<mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>',
    '<mj-text><a href="{{preferencesUrl}}" title=\'{{name}}\'>Preferences</a> | <a href="{{webViewUrl}}">View online</a></mj-text>',
  ].join('\n'), '<mj-head><mj-title>{{subject}}</mj-title><mj-preview>Preview for {{name}}</mj-preview></mj-head>'),
};

const URLS = {
  unsubscribeUrl: 'https://pg.example/u/eyJhbGciOi.J9?t=abc&x=1==',
  preferencesUrl: 'https://pg.example/u/tok/preferences?lang=de&ref=`mail`',
  webViewUrl: 'https://pg.example/w/abc?sig=a/b+c=',
  imageUrl: 'https://cdn.example/img.png?w=600&h=300',
};

/** Decodes the character references an HTML parser decodes in attribute values. */
function decodeEntities(s: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, ref: string) => {
    if (ref[0] !== '#') return named[ref.toLowerCase()] ?? m;
    return String.fromCodePoint(ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
  });
}

/** Attribute values of every `<tag … attr="…">` in the document, entity-decoded. */
function attrValues(html: string, tag: string, attr: string): string[] {
  const tags = html.match(new RegExp(`<${tag}\\b[^>]*>`, 'gi')) ?? [];
  return tags.flatMap((t) => {
    const m = new RegExp(`\\s${attr}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'i').exec(t);
    return m ? [decodeEntities(m[1] ?? m[2] ?? '')] : [];
  });
}

describe('compileTemplate / renderMessage', () => {
  it('keeps placeholders in attributes and {{#if}}/{{#each}} blocks through MJML', async () => {
    const t = await compileTemplate(NEWSLETTER);
    const data = { name: 'Ann', vip: true, items: [{ title: 'One' }, { title: 'Two' }], productId: 42, subject: 'S', ...URLS };
    const r = renderMessage(t, data);
    expect(r.html).toContain('VIP offer for Ann');
    expect(r.html).not.toContain('Standard');
    expect(r.html).toMatch(/<p class="item">One<\/p><p class="item">Two<\/p>/);
    expect(attrValues(r.html, 'a', 'href')).toEqual(expect.arrayContaining([
      URLS.unsubscribeUrl, URLS.preferencesUrl, URLS.webViewUrl, 'https://shop.example/p?id=42&src=mail',
    ]));
    expect(attrValues(r.html, 'img', 'src')).toContain(URLS.imageUrl);
    expect(r.html).toContain('<title>S</title>');
    expect(r.html).not.toMatch(/\{\{|\}\}|pgtpl/);
    expect(r.html).not.toContain('fonts.googleapis.com'); // no automatic third-party font imports
    const plain = renderMessage(t, { ...data, vip: false });
    expect(plain.html).toContain('<p class="std">Standard</p>');
    expect(plain.html).not.toContain('VIP offer');
  });

  it('keeps placeholders intact when MJML inlines CSS (juice) and applies mj-attributes', async () => {
    const head = '<mj-head><mj-attributes><mj-text color="#123456" /></mj-attributes>'
      + '<mj-style inline="inline">.cta a { color: #f00; }</mj-style></mj-head>';
    const t = await compileTemplate({
      subject: 's',
      mjml: mjml('<mj-text css-class="cta"><a href="{{unsubscribeUrl}}">{{#if name}}Bye {{name}}{{/if}}</a></mj-text>', head),
    });
    const html = t.html({ name: 'Ann', ...URLS });
    expect(attrValues(html, 'a', 'href')).toContain(URLS.unsubscribeUrl);
    expect(html).toMatch(/<a href="[^"]+" style="color: #f00;">Bye Ann<\/a>/);
  });

  it('HTML-escapes subscriber data but leaves it raw in subject and text', async () => {
    const t = await compileTemplate({ ...NEWSLETTER, text: 'Hi {{name}}, unsubscribe: {{unsubscribeUrl}}' });
    const name = '<script>alert("x")</script> & Co';
    const r = renderMessage(t, { name, ...URLS });
    expect(r.html).not.toContain('<script>');
    expect(r.html).toContain('Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co!');
    expect(attrValues(r.html, 'a', 'title')).toContain(name);
    expect(attrValues(r.html, 'img', 'alt')).toContain(name);
    expect(r.subject).toBe(`News for ${name}`);
    expect(r.text).toBe(`Hi ${name}, unsubscribe: ${URLS.unsubscribeUrl}`);
  });

  it('writes Postgate URLs into hrefs without entity-encoding "=" or "`"', async () => {
    const t = await compileTemplate(NEWSLETTER);
    const r = renderMessage(t, { name: 'x', ...URLS });
    expect(r.html).toContain('href="https://pg.example/u/eyJhbGciOi.J9?t=abc&amp;x=1=="');
    expect(r.html).toContain('href="https://pg.example/u/tok/preferences?lang=de&amp;ref=`mail`"');
    expect(r.html).not.toMatch(/&#x3D;|&#x60;/);
  });

  it('strips CR/LF from the rendered subject', async () => {
    const t = await compileTemplate({ ...NEWSLETTER, subject: 'Hi {{name}}\n!' });
    expect(t.subject({ name: 'a\r\nBcc: evil@example.com' })).toBe('Hi a Bcc: evil@example.com !');
  });

  it('derives the text part from the HTML with links as "text [url]"', async () => {
    const t = await compileTemplate(NEWSLETTER);
    const data = { name: 'Ann & Bob', items: [{ title: 'One' }], ...URLS };
    const r = renderMessage(t, data);
    expect(r.text).toContain('Hello Ann & Bob!');
    expect(r.text).toContain(`Unsubscribe [${URLS.unsubscribeUrl}]`);
    expect(r.text).toContain(`Preferences [${URLS.preferencesUrl}]`);
    expect(r.text).not.toContain('Preview for');     // hidden preheader stays out of the text part
    expect(r.text).not.toMatch(/<|&amp;/);
    expect(t.text(data)).toBe(r.text);
  });

  it('renders many recipients from one compiled template independently', async () => {
    const t = await compileTemplate(NEWSLETTER);
    const out = ['a', 'b', 'c'].map((name) => renderMessage(t, { name, ...URLS, unsubscribeUrl: `https://pg.example/u/${name}` }));
    expect(out.map((r) => r.subject)).toEqual(['News for a', 'News for b', 'News for c']);
    expect(attrValues(out[1].html, 'a', 'href')).toContain('https://pg.example/u/b');
  });

  it('throws TemplateError with the issues when the template is invalid', async () => {
    const err = await compileTemplate({ ...NEWSLETTER, subject: '{{#if x}}' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).issues).toEqual([expect.objectContaining({ part: 'subject', line: 1 })]);
  });
});

describe('validateTemplate', () => {
  it('returns [] for a valid template', async () => {
    expect(await validateTemplate({ ...NEWSLETTER, text: 'Hi {{name}}' })).toEqual([]);
  });

  it('reports MJML errors with the author line number', async () => {
    const src = mjml('<mj-text>ok</mj-text>\n<mj-buton href="#">x</mj-buton>\n<mj-button foo="bar">y</mj-button>');
    const issues = await validateTemplate({ mjml: src, subject: 's' });
    expect(issues).toEqual([
      { part: 'mjml', line: 3, message: "Element mj-buton doesn't exist or is not registered" },
      { part: 'mjml', line: 4, message: 'Attribute foo is illegal' },
    ]);
  });

  it('keeps MJML line numbers right when a template tag spans lines', async () => {
    const src = mjml('<mj-text>{{#if\n  vip}}x{{/if}}</mj-text>\n<mj-bogus />');
    const issues = await validateTemplate({ mjml: src, subject: 's' });
    expect(issues).toEqual([{ part: 'mjml', line: 4, message: "Element mj-bogus doesn't exist or is not registered" }]);
  });

  it('refuses placeholders in MJML attributes that MJML type-checks (colors, sizes)', async () => {
    const issues = await validateTemplate({ mjml: mjml('<mj-text>a</mj-text>\n<mj-text color="{{brandColor}}">x</mj-text>'), subject: 's' });
    expect(issues).toEqual([{ part: 'mjml', line: 3, message: 'Attribute color has invalid value: {{brandColor}} for type Color' }]);
  });

  it('reports Handlebars errors with line numbers in all three parts', async () => {
    const broken = mjml('<mj-text>a</mj-text>\n<mj-text>{{#if vip}}b</mj-text>\n<mj-text>c</mj-text>');
    const issues = await validateTemplate({ mjml: broken, subject: 'Hi {{name', text: 'one\n{{#if a}}\n{{/each}}' });
    expect(issues).toEqual([
      { part: 'mjml', line: 3, message: '{{#if vip}} is never closed' },
      { part: 'subject', line: 1, message: expect.stringMatching(/^Parse error on line 1:\nHi \{\{name/) },
      { part: 'text', line: 2, message: "if doesn't match each" },
    ]);
  });

  it('reports a mismatched block on the line that opens it', async () => {
    const broken = mjml('<mj-text>a</mj-text>\n<mj-text>{{#if vip}}b{{/unless}}</mj-text>');
    expect(await validateTemplate({ mjml: broken, subject: 's' }))
      .toEqual([{ part: 'mjml', line: 3, message: "if doesn't match unless" }]);
  });

  it('reports template tags that MJML would silently drop', async () => {
    const src = '<mjml><mj-body>\n{{#if vip}}\n<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>\n{{/if}}\n</mj-body></mjml>';
    const issues = await validateTemplate({ mjml: src, subject: 's' });
    expect(issues).toEqual([
      { part: 'mjml', line: 2, message: expect.stringMatching(/^MJML dropped the template tag \{\{#if vip\}\}: put template tags inside/) },
      { part: 'mjml', line: 4, message: expect.stringMatching(/^MJML dropped the template tag \{\{\/if\}\}/) },
    ]);
  });

  it('accepts conditional sections wrapped in mj-raw', async () => {
    const src = '<mjml><mj-body><mj-raw>{{#if vip}}</mj-raw><mj-section><mj-column><mj-text>VIP</mj-text></mj-column></mj-section><mj-raw>{{/if}}</mj-raw></mj-body></mjml>';
    const t = await compileTemplate({ mjml: src, subject: 's' });
    expect(t.html({ vip: true })).toContain('VIP');
    expect(t.html({ vip: false })).not.toContain('VIP');
  });

  it('rejects unknown helpers, partials and non-MJML input', async () => {
    const helper = await validateTemplate({ mjml: mjml('<mj-text>{{shout name}}</mj-text>'), subject: 's' });
    expect(helper).toEqual([{ part: 'mjml', line: 2, message: 'You specified knownHelpersOnly, but used the unknown helper shout' }]);
    const partial = await validateTemplate({ mjml: mjml('<mj-text>\n{{> footer}}</mj-text>'), subject: 's' });
    expect(partial).toEqual([expect.objectContaining({ part: 'mjml', line: 3, message: expect.stringMatching(/partials/) })]);
    expect(await validateTemplate({ mjml: 'hello', subject: 's' })).toEqual([{ part: 'mjml', line: null, message: 'Parsing failed. Check your mjml.' }]);
  });
});

describe('usesPlaceholder', () => {
  it('finds {{name}} and {{{name}}} in the MJML or the text part', () => {
    expect(usesPlaceholder(NEWSLETTER, 'unsubscribeUrl')).toBe(true);
    expect(usesPlaceholder({ mjml: '<mjml/>', subject: '', text: 'stop: {{{unsubscribeUrl}}}' }, 'unsubscribeUrl')).toBe(true);
    expect(usesPlaceholder(NEWSLETTER, 'activationUrl')).toBe(false);
  });

  it('ignores comments, conditions, prefixes and unparsable templates', () => {
    const fake = '<!-- {{unsubscribeUrl}} --> {{!-- {{unsubscribeUrl}} --}} {{#if unsubscribeUrl}}x{{/if}} {{unsubscribeUrlX}}';
    expect(usesPlaceholder({ mjml: fake, subject: '{{unsubscribeUrl}}' }, 'unsubscribeUrl')).toBe(false);
    expect(usesPlaceholder({ mjml: '{{unsubscribeUrl}} {{#if}}', subject: '' }, 'unsubscribeUrl')).toBe(false);
  });
});

describe('text part derived once per template', () => {
  const src = {
    subject: 'Hi {{name}}',
    mjml: `<mjml><mj-body><mj-section><mj-column>
      <mj-text><h1>News for {{name}}</h1><p>{{#if vip}}You are a VIP.{{else}}Welcome.{{/if}}</p></mj-text>
      <mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>
    </mj-column></mj-section></mj-body></mjml>`,
  };

  it('renders the same text per recipient without re-deriving it from the HTML', async () => {
    const t = await compileTemplate(src);
    expect(t.textFromHtml ?? null).toBeNull();
    const a = renderMessage(t, { name: 'Ann <b>', vip: true, unsubscribeUrl: 'https://x.test/u/abc?t=1' });
    expect(a.text).toContain('Ann <b>');
    expect(a.text).toContain('You are a VIP.');
    expect(a.text).not.toContain('Welcome.');
    expect(a.text).toContain('https://x.test/u/abc?t=1');
    expect(a.text).not.toMatch(/<\/?(p|h1|a|table)\b/);
    const b = renderMessage(t, { name: 'Bob', vip: false, unsubscribeUrl: 'https://x.test/u/def' });
    expect(b.text).toContain('Welcome.');
    expect(b.text).toContain('https://x.test/u/def');
  });

  it('falls back to per-recipient derivation when a raw {{{html}}} value is used', async () => {
    const t = await compileTemplate({ ...src, mjml: src.mjml.replace('{{name}}</h1>', '{{{nameHtml}}}</h1>') });
    expect(typeof t.textFromHtml).toBe('function');
    const r = renderMessage(t, { nameHtml: '<em>Ann</em>', unsubscribeUrl: 'https://x.test/u/a' });
    expect(r.text).toMatch(/NEWS FOR ANN/);
    expect(r.text).not.toContain('<em>');
  });
});

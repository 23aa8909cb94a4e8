// render.ts: MJML once + Handlebars per recipient; placeholders survive MJML, escaping rules,
// derived text part, validation with line numbers, unsubscribe-placeholder detection.
import { Parser } from 'htmlparser2';
import { describe, expect, it, vi } from 'vitest';
import {
  compileTemplate, compileTemplateSpec, cssEscape, renderMessage, RenderBudgetError, RUNTIME_OPTIONS, TEMPLATE_HELPERS, TEMPLATE_LIMITS, TemplateError, usesPlaceholder,
  validateTemplate, type TemplateSource,
} from '../../src/mail/render.js';
import { TEMPLATE_POOL_DEFAULTS } from '../../src/mail/template-pool.js';
import { TEMPLATE_VARIABLES } from '../../src/mail/template-variables.js';
import { recipientData } from '../../src/campaigns/content.js';
import { noticeView } from '../../src/transactional/notices.js';
import { cpuMsOf } from '../support/loop-hold.js';

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
    expect(helper).toEqual([{ part: 'mjml', line: 2, message: expect.stringMatching(/^unknown helper "shout": the helpers are if, unless, each, with, default, urlencode, formatDate, formatMoney$/) }]);
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

  it('refuses raw {{{html}}} output, so the text part is always a template', async () => {
    const err = await compileTemplate({ ...src, mjml: src.mjml.replace('{{name}}</h1>', '{{{nameHtml}}}</h1>') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as TemplateError).issues).toEqual([{ part: 'mjml', line: 2, message: expect.stringMatching(/^raw output/) }]);
  });
});

/** Every attribute of the document as a real HTML parser sees it (entities decoded), and the <style> texts. */
function parseHtml(html: string): { attrs: Array<{ tag: string; name: string; value: string }>; styles: string[] } {
  const attrs: Array<{ tag: string; name: string; value: string }> = [];
  const styles: string[] = [];
  let tag = '';
  let inStyle = false;
  const parser = new Parser({
    onopentagname(name) { tag = name; },
    onattribute(name, value) { attrs.push({ tag, name, value }); },
    onopentag(name) { inStyle = name === 'style'; },
    ontext(text) { if (inStyle) styles.push(text); },
    onclosetag() { inStyle = false; },
  }, { decodeEntities: true, lowerCaseAttributeNames: true });
  parser.write(html);
  parser.end();
  return { attrs, styles };
}

/** CSS string contents of every url('…') / url("…") / url(…) in a CSS text; throws if one is not closed. */
function cssUrls(css: string): string[] {
  const out: string[] = [];
  const re = /url\(\s*(['"]?)/gi;
  for (let m = re.exec(css); m; m = re.exec(css)) {
    const quote = m[1];
    let i = re.lastIndex;
    let value = '';
    for (; i < css.length; i++) {
      const c = css[i];
      if (c === '\\') { value += css.slice(i, i + 2); i++; continue; }
      if (quote ? c === quote : c === ')') break;
      if (!quote && /['"(\s]/.test(c)) throw new Error(`bad unquoted url in ${css}`);
      value += c;
    }
    if (i >= css.length) throw new Error(`unterminated url( in ${css}`);
    out.push(value);
    re.lastIndex = i + 1;
  }
  return out;
}

describe('hostile templates (issue 14)', () => {
  const body = (b: string, head = ''): string => `<mjml>${head}<mj-body><mj-section><mj-column>\n${b}\n</mj-column></mj-section></mj-body></mjml>`;

  it('has no log helper: {{log}} calls are refused and nothing a template does reaches the console', async () => {
    const issues = await validateTemplate({ mjml: body('<mj-text>{{log "forged" level="error"}}{{log attributes}}</mj-text>'), subject: 's' });
    expect(issues).toEqual([{ part: 'mjml', line: 2, message: expect.stringMatching(/^unknown helper "log"/) }]);
    expect(await validateTemplate({ mjml: body('<mj-text>hi</mj-text>'), subject: '{{log "x"}}', text: '\n{{log email}}' })).toEqual([
      { part: 'subject', line: 1, message: expect.stringMatching(/^unknown helper "log"/) },
      { part: 'text', line: 2, message: expect.stringMatching(/^unknown helper "log"/) },
    ]);
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    try {
      const t = await compileTemplate({ subject: '{{constructor}}', mjml: body('<mj-text>{{log}}|{{constructor.name}}|{{__proto__.constructor.name}}|{{attributes.__defineGetter__}}|{{name.constructor}}</mj-text>') });
      const html = t.html({ log: 'L', name: 'Ann', attributes: { city: 'X' } });
      expect(html).toContain('L||||');
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('gives no prototype access: lookup is refused, constructor and __proto__ resolve to nothing', async () => {
    expect(RUNTIME_OPTIONS).toMatchObject({ allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
    const lookup = await validateTemplate({ mjml: body('<mj-text>\n{{lookup this "constructor"}}</mj-text>'), subject: 's' });
    expect(lookup).toEqual([{ part: 'mjml', line: 3, message: expect.stringMatching(/^unknown helper "lookup"/) }]);
    const t = await compileTemplate({
      subject: '{{#with constructor}}{{name}}{{/with}}[{{__proto__}}]',
      mjml: body('<mj-text>[{{#with __proto__}}{{constructor.name}}{{/with}}][{{#each constructor}}{{this}}{{/each}}][{{attributes.constructor.prototype}}][{{toString}}]</mj-text>'),
    });
    const r = renderMessage(t, { attributes: { a: 1 } });
    expect(r.html).toContain('[][][][]');
    expect(r.subject).toBe('[]');
    // Own data keys named like prototype members are plain data.
    expect(t.html({ attributes: JSON.parse('{"constructor":{"prototype":"own"}}') })).toContain('[own]');
  });

  it('refuses unknown helpers with the line, and offers Postgate\'s own: default, urlencode, formatDate, formatMoney', async () => {
    const unknown = await validateTemplate({ mjml: body('<mj-text>a</mj-text>\n<mj-text>{{#shout}}x{{/shout}}{{upper name}}</mj-text>'), subject: 's' });
    expect(unknown).toEqual([{ part: 'mjml', line: 3, message: expect.stringMatching(/^unknown helper "upper": the helpers are if, unless, each, with, default/) }]);
    const t = await compileTemplate({
      subject: 'Hi {{default name "friend"}}',
      mjml: body('<mj-text>[{{default name "friend"}}] [{{urlencode q}}] [{{formatDate day "de-DE" "medium"}}] [{{formatDate day}}] [{{formatDate bad}}] '
        + '[{{formatMoney cents "EUR" "de-DE"}}] [{{formatMoney yen "JPY"}}] [{{formatMoney 1.5 "EUR"}}] [{{formatMoney cents "XXX"}}] [{{formatDate day locale="fr" style="full"}}]</mj-text>'),
    });
    const r = renderMessage(t, { q: 'a b&c/é', day: '2026-03-01', bad: 'yesterday', cents: 123450, yen: '1235' });
    expect(r.subject).toBe('Hi friend');
    expect(r.html.replace(/\u00a0/g, ' ')).toContain('[friend] [a%20b%26c%2F%C3%A9] [01.03.2026] [March 1, 2026] [] [1.234,50 €] [¥1,235] [] [] [dimanche 1 mars 2026]');
  });

  it('neutralises javascript: and other schemes given as data in URL attributes, keeping http(s), mailto and Postgate URLs', async () => {
    const t = await compileTemplate({
      subject: 's',
      mjml: body('<mj-text><a class="l" href="{{link}}">x</a><a class="m" href="mailto:{{email}}">m</a><a class="q" href="https://shop.example/?q={{q}}">q</a>'
        + '<a class="b" href="{{#if vip}}{{vipUrl}}{{else}}{{link}}{{/if}}">b</a></mj-text>\n<mj-image src="{{img}}" href="{{link}}" />\n<mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>'),
    });
    const hostile = ['javascript:alert(1)', ' JavaScript:alert(1)', 'java\tscript:alert(1)', '\u0001javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', '//evil.example/x'.replace('//', 'jav&#x61;script:')];
    for (const link of hostile) {
      const html = t.html({ link, img: link, vip: false, unsubscribeUrl: 'https://pg.example/u/t?a=1&b=2', email: 'a@b.c', q: 'javascript:alert(1)' });
      const { attrs } = parseHtml(html);
      const urls = attrs.filter((a) => ['href', 'src'].includes(a.name)).map((a) => a.value);
      expect(urls.filter((u) => !/^(https?:|mailto:|#$)/i.test(u)), link).toEqual([]);
      expect(urls).toEqual(expect.arrayContaining(['#', 'https://pg.example/u/t?a=1&b=2', 'mailto:a@b.c', 'https://shop.example/?q=javascript:alert(1)']));
    }
    const fine = parseHtml(t.html({ link: 'https://ok.example/a?b=1', img: 'https://cdn.example/i.png', vip: true, vipUrl: 'https://vip.example/' })).attrs;
    expect(fine.map((a) => a.value)).toEqual(expect.arrayContaining(['https://ok.example/a?b=1', 'https://cdn.example/i.png', 'https://vip.example/']));
  });

  it('refuses literal and half-literal script URLs at compile time', async () => {
    const issues = await validateTemplate({ subject: 's', mjml: body('<mj-text><a href="javascript:alert(1)">a</a></mj-text>\n<mj-text><a href="java{{x}}">b</a><a href="&#106;avascript:{{x}}">c</a></mj-text>') });
    // Literal script URLs (entities decoded) are active content: refused with their line before MJML runs (src/mail/html-safety.ts).
    expect(issues).toEqual([
      { part: 'mjml', line: 2, message: expect.stringMatching(/^the href attribute holds a javascript:/) },
      { part: 'mjml', line: 3, message: expect.stringMatching(/^the href attribute holds a javascript:/) },
    ]);
    // A URL that only becomes one with a tag is guarded in MJML's output.
    const half = await validateTemplate({ subject: 's', mjml: body('<mj-text><a href="java{{x}}">b</a></mj-text>') });
    expect(half).toEqual([
      { part: 'mjml', line: 2, message: expect.stringMatching(/^\{\{x\}\} in the href attribute of <a>: a URL that holds a template tag must start with http/) },
    ]);
  });

  it('keeps a \' in an MJML background-url inside its CSS string (and the URL http(s))', async () => {
    const t = await compileTemplate({
      subject: 's',
      mjml: '<mjml><mj-head><mj-style>.x { background: url("{{bg}}"); color: {{c}} }</mj-style></mj-head><mj-body>'
        + '<mj-section background-url="{{bg}}"><mj-column><mj-text><span style="color:{{c}};font-family:\'{{font}}\'">t</span></mj-text></mj-column></mj-section></mj-body></mjml>',
    });
    const bg = "https://cdn.example/a.png');background:url('https://evil.example/track.gif');x:('\"</style><script>alert(1)</script>";
    const html = t.html({ bg, c: 'red;position:fixed;top:0', font: "A'}*{display:none" });
    const { attrs, styles } = parseHtml(html);
    expect(html).not.toContain('<script>');
    const css = [...attrs.filter((a) => a.name === 'style').map((a) => a.value), ...styles];
    const urls = css.flatMap(cssUrls);
    expect(urls.length).toBeGreaterThanOrEqual(2);
    // Each url(…) holds exactly the given value, CSS-escaped: one url, nothing added after it.
    for (const u of urls) expect(u).toBe(cssEscape(bg));
    // No declaration or rule was added: the ; } { ' in the data are escaped, so "position", "top" and "*{…}" stay inside one value.
    expect(css.join(' ')).not.toMatch(/evil\.example\/track\.gif'\)|;\s*(position|top):|\}\s*\*\s*\{/);
    expect(css.join(' ')).toContain(`color:${cssEscape('red;position:fixed;top:0')};font-family:'${cssEscape("A'}*{display:none")}'`);
    expect(attrs.find((a) => a.name === 'background')?.value).toBe(bg); // an HTML attribute: one value, still https
    const evil = parseHtml(t.html({ bg: 'javascript:alert(1)' }));
    const evilUrls = [...evil.attrs.filter((a) => a.name === 'style').map((a) => a.value), ...evil.styles].flatMap(cssUrls);
    expect(evilUrls.length).toBeGreaterThanOrEqual(2);
    expect(evilUrls.filter((u) => u !== '')).toEqual([]);
    expect(evil.attrs.find((a) => a.name === 'background')?.value).toBe('#');
  });

  it('refuses triple-stash, tags in script, event handlers, tag names and unquoted attributes', async () => {
    const issues = await validateTemplate({ subject: '{{{name}}}', mjml: body('<mj-text>\n{{{name}}} {{& name}}</mj-text>'), text: 'Hi\n{{{name}}}' });
    expect(issues).toEqual([
      { part: 'mjml', line: 3, message: expect.stringMatching(/^raw output/) },
      { part: 'mjml', line: 3, message: expect.stringMatching(/^raw output/) },
      { part: 'subject', line: 1, message: expect.stringMatching(/^raw output/) },
      { part: 'text', line: 2, message: expect.stringMatching(/^raw output/) },
    ]);
    // A script element and an event handler are refused as active content, tags or not (src/mail/html-safety.ts).
    const active = await validateTemplate({ subject: 's', mjml: body('<mj-raw><script>var n = "{{name}}";</script></mj-raw>\n<mj-text><a onclick="go({{id}})">x</a></mj-text>') });
    expect(active.map((i) => [i.line, i.message])).toEqual([
      [2, '<script> is not allowed in an email template (active content)'],
      [3, 'the onclick attribute is not allowed: event handlers are active content'],
    ]);
    const contexts = await validateTemplate({ subject: 's', mjml: body('<mj-text>\n<b title={{name}}>y</b><i {{attr}}="1">z</i></mj-text>') });
    expect(contexts.map((i) => [i.line, i.message])).toEqual([
      [3, '{{name}}: quote the value of the title attribute of <b>'],
      [3, '{{attr}}: a template tag cannot be an attribute name'],
    ]);
  });

  it('HTML-escapes text, and CSS-escapes values in style attributes', async () => {
    const t = await compileTemplate({ subject: 's', mjml: body('<mj-text><p style="color:{{c}}">{{name}}</p></mj-text>') });
    const { attrs } = parseHtml(t.html({ c: 'red;background:url(https://evil.example/x)', name: '<b>' }));
    expect(attrs.find((a) => a.tag === 'p')?.value).toBe(`color:${cssEscape('red;background:url(https://evil.example/x)')}`);
    expect(t.html({ c: '#ff0000', name: '<b>' })).toContain('<p style="color:#ff0000">&lt;b&gt;</p>');
  });

  it('refuses templates over the size and tag limits before parsing them (the 500 KB, 30,000-block case)', async () => {
    const huge = body(`<mj-text>${'{{#if a}}x{{/if}}'.repeat(30_000)}</mj-text>`);
    expect(huge.length).toBeGreaterThan(500_000);
    // Main-thread CPU time (test/support/loop-hold.ts): the shared test machine's load does not count.
    const refused = await cpuMsOf(() => validateTemplate({ mjml: huge, subject: 's' }));
    expect(refused.result).toEqual([{ part: 'mjml', line: null, message: `the mjml is ${huge.length} characters; the limit is ${TEMPLATE_LIMITS.mjmlChars}` }]);
    expect(refused.ms).toBeLessThan(50);
    const many = body(`<mj-text>${'{{#if a}}x{{/if}}'.repeat(15_000)}</mj-text>`);
    expect(many.length).toBeLessThan(TEMPLATE_LIMITS.mjmlChars);
    const tooMany = await cpuMsOf(() => validateTemplate({ mjml: many, subject: 's' }));
    expect(tooMany.result).toEqual([{ part: 'mjml', line: null, message: 'the mjml has more than 1000 template tags' }]);
    expect(tooMany.ms).toBeLessThan(50);
    // usesPlaceholder runs on the main thread (template views): its cost follows the tags, not the size.
    const big = body(`<mj-text>${'lorem ipsum '.repeat(20_000)}${'{{#if a}}{{name}}{{/if}}'.repeat(300)}{{unsubscribeUrl}}</mj-text>`);
    const scans = await cpuMsOf(() => [usesPlaceholder({ mjml: `${huge}{{unsubscribeUrl}}`, subject: '' }, 'unsubscribeUrl'), usesPlaceholder({ mjml: big, subject: '' }, 'unsubscribeUrl')]);
    expect(scans.result).toEqual([false, true]);
    expect(scans.ms).toBeLessThan(50);
  });

  it('precompiles to a spec that renders the same as the in-process template', async () => {
    const { issues, spec } = await compileTemplateSpec(NEWSLETTER);
    expect(issues).toEqual([]);
    expect(spec).toMatchObject({ html: expect.any(String), subject: expect.any(String), text: expect.any(String) });
    const data = { name: 'Ann', vip: true, items: [{ title: 'One' }], productId: 7, ...URLS };
    expect(renderMessage(await compileTemplate(NEWSLETTER), data)).toEqual(renderMessage(await compileTemplate(NEWSLETTER), data));
  });

  it('refuses the forms that can never render or hide a loop: internal helpers, raw blocks, blocks of values, deep #each', async () => {
    const cases: Array<[string, string]> = [
      ['{{helperMissing}}', '"helperMissing" cannot be called'],
      ['{{blockHelperMissing}}', '"blockHelperMissing" cannot be called'],
      ['{{default (helperMissing) "x"}}', '"helperMissing" cannot be called'],
      ['{{{{raw}}}} {{name}} {{{{/raw}}}}', 'raw blocks ({{{{raw}}}}…{{{{/raw}}}}) are not supported'],
      ['{{#items}}{{title}}{{/items}}', '{{#items}} is not a block helper'],
      ['{{^items}}none{{/items}}', '{{^items}} is not a block helper'],
      ['{{#if a}}x{{else items}}y{{/if}}', '{{#items}} is not a block helper'],
      ['{{#default a}}x{{/default}}', '{{#default}} is not a block helper'],
      ['{{#each a}}{{#each b}}{{#each c}}{{#each d}}x{{/each}}{{/each}}{{/each}}{{/each}}', '{{#each}} is nested 4 deep; the limit is 3'],
    ];
    for (const [tag, message] of cases) {
      const issues = await validateTemplate({ mjml: body(`<mj-text>\n${tag}</mj-text>`), subject: 's' });
      expect(issues, tag).toEqual([expect.objectContaining({ part: 'mjml', line: 3, message: expect.stringContaining(message) })]);
      const inText = await validateTemplate({ mjml: body('<mj-text>ok</mj-text>'), subject: 's', text: `line\n${tag}` });
      expect(inText, tag).toEqual([expect.objectContaining({ part: 'text', line: 2, message: expect.stringContaining(message) })]);
    }
    // The documented ways stay valid, {{else if}} chains and 3-deep #each included.
    const fine = '{{#with a}}{{b}}{{/with}}{{#if a}}x{{else if b}}y{{/if}}{{#unless a}}z{{/unless}}{{#each a as |x|}}{{#each x}}{{#each this}}{{.}}{{/each}}{{/each}}{{/each}}';
    expect(await validateTemplate({ mjml: body(`<mj-text>${fine}</mj-text>`), subject: 's', text: fine })).toEqual([]);
  });

  it('refuses a payment-card number in the template\'s own text however it is spelled (card_data)', async () => {
    for (const spelled of ['&#52;&#49;&#49;&#49;111111111111', '4111<span></span>1111 1111 1111', '4111&nbsp;1111&nbsp;1111&nbsp;1111', '4111{{!-- x --}}1111 1111 1111', '<span style="display:none">4111 1111 1111 1111</span>']) {
      const issues = await validateTemplate({ mjml: body(`<mj-text>Card ${spelled}</mj-text>`), subject: 's' });
      expect(issues, spelled).toEqual([expect.objectContaining({ part: 'mjml', code: 'card_data', message: expect.stringContaining('payment-card number') })]);
    }
    const text = await validateTemplate({ mjml: body('<mj-text>ok</mj-text>'), subject: 's', text: 'Hello\nyour card 4111{{#if a}}{{/if}} 1111 1111 1111' });
    expect(text).toEqual([expect.objectContaining({ part: 'text', line: 2, code: 'card_data' })]);
    // A printed value between digit groups is not the template's own card; amounts, dates and phone numbers are fine.
    expect(await validateTemplate({ mjml: body('<mj-text>4111{{name}}111111111111 · 100.00 200.00 · 2024-01-15 · +33 1 23 45 67 89</mj-text>'), subject: 's' })).toEqual([]);
  });
});

describe('render budget (issue 14: one render never stalls the server)', () => {
  const body = (b: string): string => `<mjml><mj-body><mj-section><mj-column><mj-text>${b}</mj-text></mj-column></mj-section></mj-body></mjml>`;
  const sixty = Array.from({ length: 60 }, (_, i) => i);
  const budgetError = (f: () => unknown): string => {
    try { f(); } catch (err) { expect(err).toBeInstanceOf(RenderBudgetError); return (err as Error).message; }
    throw new Error('rendered within the budget');
  };

  it('stops a nest of loops at TEMPLATE_LIMITS.renderIterations with a clear error, and the next message starts afresh', async () => {
    const t = await compileTemplate({ subject: 's', mjml: body('{{#each attributes.a}}{{#each ../attributes.a}}{{#each ../../attributes.a}}x{{/each}}{{/each}}{{/each}}') });
    const hold = await cpuMsOf(async () => budgetError(() => renderMessage(t, { attributes: { a: sixty } })));
    expect(hold.result).toBe(`the template exceeds the render budget: more than ${TEMPLATE_LIMITS.renderIterations} block iterations ({{#each}} items, {{#with}} bodies) in one message`);
    expect(hold.ms).toBeLessThan(1000); // (generous: the figure is in the bench; unbounded it is seconds)
    // 15 + 15^2 + 15^3 = 3,615 iterations at most in the HTML, as many in the text part derived from it:
    // within the budget, for every message in turn (the count is per message).
    for (let i = 0; i < 3; i++) expect(renderMessage(t, { attributes: { a: sixty.slice(0, 15) } }).html).toContain('x'.repeat(3_000));
  });

  it('counts subject, HTML and text of one message together, and a part rendered on its own', async () => {
    const loop = '{{#each attributes.a}}{{#each ../attributes.a}}y{{/each}}{{/each}}'; // 60 × 61 = 3,660 iterations per part
    const t = await compileTemplate({ subject: loop, mjml: body(loop), text: loop });
    expect(budgetError(() => renderMessage(t, { attributes: { a: sixty } }))).toContain('block iterations');
    expect(t.html({ attributes: { a: sixty } })).toContain('y'.repeat(60)); // one part alone is within it
    expect(t.subject({ attributes: { a: sixty } })).toHaveLength(3_600);
  });

  it('weighs each iteration by the tags of its body: a wide loop body is bounded like a deep nest', async () => {
    const t = await compileTemplate({ subject: 's', mjml: body(`{{#each attributes.a}}${'{{formatMoney this "EUR"}}'.repeat(900)}{{/each}}`) });
    const hold = await cpuMsOf(async () => budgetError(() => renderMessage(t, { attributes: { a: Array.from({ length: 5_000 }, (_, i) => i) } })));
    expect(hold.result).toContain(`more than ${TEMPLATE_LIMITS.renderTags} template tags evaluated`);
    expect(hold.ms).toBeLessThan(1000);
    expect(renderMessage(t, { attributes: { a: [1, 2] } }).html).toContain('€0.01');
    // The weight is the compiler's: a template cannot pass its own.
    const cheat = await compileTemplate({ subject: 's', mjml: body(`{{#each attributes.a _pgw=0}}${'{{this}}'.repeat(900)}{{/each}}`) });
    expect(budgetError(() => renderMessage(cheat, { attributes: { a: Array.from({ length: 5_000 }, (_, i) => i) } }))).toContain('template tags evaluated');
  });

  it('stops a part growing over TEMPLATE_LIMITS.renderedChars while the loop runs', async () => {
    const t = await compileTemplate({ subject: 's', mjml: body('{{#each attributes.a}}{{../attributes.big}}{{/each}}') });
    const big = 'z'.repeat(100_000);
    expect(budgetError(() => renderMessage(t, { attributes: { a: sixty, big } }))).toContain(`a rendered part would be over ${TEMPLATE_LIMITS.renderedChars} characters`);
    expect(renderMessage(t, { attributes: { a: sixty.slice(0, 10), big } }).html.length).toBeGreaterThan(1_000_000);
  });

  it('keeps Handlebars\' own checks and counts #with bodies', async () => {
    await expect(compileTemplate({ subject: 's', mjml: body('{{#with}}x{{/with}}') }).then((t) => renderMessage(t, {}))).rejects.toThrow('#with requires exactly one argument');
    const t = await compileTemplate({ subject: 's', mjml: body('{{#each attributes.a}}{{#with ../attributes}}{{#each a}}w{{/each}}{{/with}}{{/each}}') });
    expect(budgetError(() => renderMessage(t, { attributes: { a: Array.from({ length: 100 }, (_, i) => i) } }))).toContain('block iterations');
    expect(renderMessage(t, { attributes: { a: [1, 2, 3] } }).html).toContain('wwwwwwwww');
  });
});

describe('TEMPLATE_VARIABLES (the documented variables, helpers and limits)', () => {
  it('documents exactly the helpers and limits the compiler has, and its examples render as documented', async () => {
    expect(TEMPLATE_VARIABLES.helpers.map((h) => h.name)).toEqual([...TEMPLATE_HELPERS]);
    expect(TEMPLATE_VARIABLES.limits).toEqual({ ...TEMPLATE_LIMITS, compileSeconds: TEMPLATE_POOL_DEFAULTS.budgetMs / 1000 });
    const data = { attributes: { city: 'São Paulo', renewal: '2026-03-01' } };
    for (const h of TEMPLATE_VARIABLES.helpers) {
      const t = await compileTemplate({ subject: h.example, mjml: '<mjml><mj-body></mj-body></mjml>' });
      expect(t.subject(data).replace(/\u00a0/g, ' '), h.name).toBe(h.output);
    }
    expect(JSON.parse(JSON.stringify(TEMPLATE_VARIABLES))).toEqual(TEMPLATE_VARIABLES); // plain JSON
  });

  it('lists the keys the campaign and notice renderers really give', () => {
    const paths = (o: Record<string, unknown>, prefix = ''): string[] => Object.entries(o).flatMap(([k, v]) => (
      v && typeof v === 'object' && !Array.isArray(v) && k !== 'attributes' ? paths(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const campaign = recipientData({
      contact: { id: 'c', email: 'a@b.c', name: 'A', attributes: {} }, unsubscribeUrl: 'u', preferencesUrl: 'p',
      tenant: { name: 'T', postalAddress: 'addr' }, campaign: { id: 'k', name: 'K' },
    });
    expect(TEMPLATE_VARIABLES.campaign.map((v) => v.name).sort()).toEqual(paths(campaign).sort());
    const notice = noticeView({ subject: 's', preview: 'p', body: 'b', actionUrl: 'https://x', actionLabel: 'go' }, {
      tenant: { name: 'T', fromName: 'F', postalAddress: null } as never, contact: { name: 'A', email: 'a@b.c' } as never,
    });
    expect(TEMPLATE_VARIABLES.notice.map((v) => v.name).filter((n) => n !== '<key>').sort()).toEqual(paths(notice).sort());
  });
});

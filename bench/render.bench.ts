// Micro-benchmark for src/mail/render.ts: compile one realistic newsletter once, then render
// 20,000 recipients (Handlebars per recipient, text part derived by html-to-text or templated).
// Run: npx tsx bench/render.ts [recipients]
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { compileTemplate, renderMessage, type CompiledTemplate, type TemplateSource } from '../src/mail/render.js';

// Repeating sections: block tags between MJML sections must sit in mj-raw, or MJML drops them.
const ARTICLES = `
      <mj-raw>{{#each articles}}</mj-raw>
      <mj-section padding="10px 0">
        <mj-column width="35%"><mj-image src="{{imageUrl}}" alt="{{title}}" href="{{url}}" border-radius="4px" /></mj-column>
        <mj-column width="65%">
          <mj-text font-size="18px" font-weight="bold"><a href="{{url}}" style="color:#1a1a1a;text-decoration:none">{{title}}</a></mj-text>
          <mj-text color="#555">{{summary}}</mj-text>
          <mj-button href="{{url}}" align="left" background-color="#0b5fff">Read more</mj-button>
        </mj-column>
      </mj-section>
      <mj-raw>{{/each}}</mj-raw>`;

export const NEWSLETTER: TemplateSource = {
  subject: '{{#if firstName}}{{firstName}}, your{{else}}Your{{/if}} weekly digest — issue {{issue}}',
  mjml: `<mjml>
  <mj-head>
    <mj-title>Weekly digest {{issue}}</mj-title>
    <mj-preview>{{preheader}}</mj-preview>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /><mj-text line-height="1.5" /></mj-attributes>
    <mj-style inline="inline">.footer a { color: #888; }</mj-style>
  </mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff">
      <mj-column><mj-image width="120px" src="https://cdn.acme.example/logo.png" alt="Acme" href="{{webViewUrl}}" /></mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="22px">Hello {{#if firstName}}{{firstName}}{{else}}there{{/if}},</mj-text>
        <mj-text>Here is what happened this week at {{company}}. {{#if vip}}<strong>As a VIP member you get early access to our sale.</strong>{{/if}}</mj-text>
      </mj-column>
    </mj-section>
    <mj-wrapper background-color="#ffffff">${ARTICLES}
    </mj-wrapper>
    <mj-raw>{{#if vip}}</mj-raw>
    <mj-section background-color="#fff3cd">
      <mj-column><mj-text>Your VIP code: <strong>{{vipCode}}</strong></mj-text></mj-column>
    </mj-section>
    <mj-raw>{{/if}}</mj-raw>
    <mj-section>
      <mj-column>
        <mj-text css-class="footer" font-size="12px" color="#888" align="center">
          You receive this because you subscribed to {{listName}} as {{email}}.<br />
          <a href="{{unsubscribeUrl}}">Unsubscribe</a> · <a href="{{preferencesUrl}}">Preferences</a> · <a href="{{webViewUrl}}">View in browser</a><br />
          {{postalAddress}}
        </mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`,
};

function recipient(i: number): Record<string, unknown> {
  const tok = `eyJ0IjoiJHtpfSJ9.${i.toString(36)}sig`;
  return {
    firstName: i % 7 === 0 ? '' : `Name${i} <O'Brien & Co>`, email: `user${i}@example.org`, vip: i % 5 === 0, vipCode: `VIP-${i}`,
    issue: 42, company: 'Acme', listName: 'Acme Weekly', preheader: 'Three stories you should not miss',
    postalAddress: 'Acme Ltd, 1 Main St, Springfield',
    unsubscribeUrl: `https://pg.example/u/${tok}`, preferencesUrl: `https://pg.example/u/${tok}/preferences?lang=en&src=mail`,
    webViewUrl: `https://pg.example/w/${tok}?v=1`,
    articles: [0, 1, 2].map((n) => ({
      title: `Story ${n}: what's new`, summary: 'A short summary of the story that fits in two lines of text in most clients.',
      url: `https://acme.example/blog/${n}?utm_source=newsletter&utm_medium=email&id=${i}`, imageUrl: `https://cdn.acme.example/a${n}.jpg`,
    })),
  };
}

function run(label: string, t: CompiledTemplate, data: Array<Record<string, unknown>>): void {
  for (let i = 0; i < 200; i++) renderMessage(t, data[i % data.length]); // warm-up (lazy Handlebars compile, JIT)
  let bytes = 0;
  const t0 = performance.now();
  for (const d of data) bytes += renderMessage(t, d).html.length;
  const ms = performance.now() - t0;
  const perSec = Math.round(data.length / (ms / 1000));
  console.log(`${label}: ${data.length} renders in ${ms.toFixed(0)} ms → ${perSec} renders/s, ${(ms / data.length).toFixed(3)} ms/message (avg html ${Math.round(bytes / data.length)} B)`);
}

export default async function main(count = 20_000): Promise<void> {
  const c0 = performance.now();
  const derived = await compileTemplate(NEWSLETTER);
  console.log(`compile (MJML + Handlebars, once per campaign): ${(performance.now() - c0).toFixed(0)} ms`);
  const templated = await compileTemplate({ ...NEWSLETTER, text: 'Hi {{firstName}},\n\nThis week at {{company}}…\n\nUnsubscribe: {{unsubscribeUrl}}\n' });
  const data = Array.from({ length: count }, (_, i) => recipient(i));
  run('text derived via html-to-text', derived, data);
  run('text from a text template   ', templated, data);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(Number(process.argv[2] ?? 20_000));
}

// The benchmark newsletter (~25 KiB of HTML + text per recipient, personalised): MJML with three
// articles, merge fields and the compliant footer links. Shared by the campaign, mime and fleet benches.
const ARTICLE = (i: number) => `
    <mj-section background-color="#ffffff" padding="12px 24px">
      <mj-column width="35%"><mj-image src="https://cdn.acme.example/a${i}.jpg" alt="Story ${i}" href="https://acme.example/blog/${i}?utm_source=newsletter" border-radius="4px" /></mj-column>
      <mj-column width="65%">
        <mj-text font-size="18px" font-weight="bold">Story ${i}: what is new this week</mj-text>
        <mj-text color="#555555">A short summary of the story that fits in two lines of text in most mail clients, {{name}}.</mj-text>
        <mj-button href="https://acme.example/blog/${i}?utm_source=newsletter" align="left" background-color="#0b5fff">Read more</mj-button>
      </mj-column>
    </mj-section>`;
export const NEWSLETTER_MJML = `<mjml>
  <mj-head>
    <mj-title>Weekly digest</mj-title>
    <mj-preview>Three stories you should not miss</mj-preview>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /><mj-text line-height="1.5" /></mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff"><mj-column><mj-image width="120px" src="https://cdn.acme.example/logo.png" alt="Acme" /></mj-column></mj-section>
    <mj-section background-color="#ffffff"><mj-column>
      <mj-text font-size="22px">Hello {{name}},</mj-text>
      <mj-text>Here is what happened this week at {{tenantName}}{{#if attributes.city}} and around {{attributes.city}}{{/if}}.</mj-text>
    </mj-column></mj-section>${[1, 2, 3].map(ARTICLE).join('')}
    <mj-section><mj-column>
      <mj-text font-size="12px" color="#888888" align="center">You receive this as {{email}}.<br />
        <a href="{{unsubscribeUrl}}">Unsubscribe</a> · <a href="{{preferencesUrl}}">Preferences</a><br />{{postalAddress}}</mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>`;

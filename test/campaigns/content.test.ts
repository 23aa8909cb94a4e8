// Pure pieces of campaign delivery: the postal footer, per-recipient data and checks, the
// compliance reasons, one recipient from claimed row to message (gate, headers), and batching.
import { describe, expect, it } from 'vitest';
import { compileTemplate } from '../../src/mail/render.js';
import { OutcomeBuffer, Semaphore } from '../../src/campaigns/batching.js';
import { complianceReasons } from '../../src/campaigns/compliance.js';
import { CompiledCache, recipientData, renderChecked, unsubscribeVisibility, withCompliantFooter } from '../../src/campaigns/content.js';
import { precheck, prepareRecipient, type BatchContext } from '../../src/campaigns/recipient.js';
import type { ClaimedRow } from '../../src/campaigns/claim.js';
import type { Tenant } from '../../src/tenants/store.js';
import { NEWSLETTER_MJML } from '../support/given.js';
import { sleep } from '../support/wait.js';

const TENANT: Tenant = {
  id: '11111111-1111-4111-8111-111111111111', name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org',
  postalAddress: '1 Main Street, Springfield', bounceDomain: null, requireDkim: false, sendRatePerSecond: null,
  trackClicks: false, trackOpens: false, defaultLocale: 'en', logoUrl: null, accentColor: null, privacyUrl: null,
};
const KEYS = { current: 'k1', keys: { k1: 'unit-test-secret-0123456789' } };

async function ctx(mjml = NEWSLETTER_MJML, tenant: Tenant = TENANT, footer = true): Promise<BatchContext> {
  const src = { mjml, subject: 'Hi {{name}}', text: null };
  return {
    tenant, campaign: { id: '22222222-2222-4222-8222-222222222222', name: 'Spring' }, replyTo: tenant.replyTo,
    compiled: await compileTemplate(footer ? withCompliantFooter(src) : src), dkim: null, domains: { verified: ['acme.org'], envelope: null },
    fromDomain: 'acme.org', publicUrl: 'https://pg.example', bounceDomain: 'bounces.example.net', tokens: KEYS,
  };
}

function row(over: Partial<ClaimedRow> = {}): ClaimedRow {
  return {
    id: '33333333-3333-4333-8333-333333333333', recipient: 'ann@inbox.example', attempts: 1, reclaimed: false,
    contactId: '44444444-4444-4444-8444-444444444444', contactStatus: 'active', email: 'ann@inbox.example', name: 'Ann', attributes: {},
    subscription: 'subscribed', suppressedAll: false, suppressedMarketing: false, ...over,
  };
}

describe('withCompliantFooter', () => {
  it('adds the postal address before </mj-body> only when the MJML never outputs it', () => {
    const out = withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 's' });
    expect(out.mjml).toMatch(/\{\{postalAddress\}\}<\/mj-text><\/mj-column><\/mj-section>\s*<\/mj-body>/);
    const own = NEWSLETTER_MJML.replace('Unsubscribe</mj-button>', 'Unsubscribe</mj-button><mj-text>{{postalAddress}}</mj-text>');
    expect(withCompliantFooter({ mjml: own, subject: 's' }).mjml).toBe(own);
    // A comment or a condition on it is not output: the footer is still added.
    const cond = NEWSLETTER_MJML.replace('Unsubscribe</mj-button>', 'Unsubscribe</mj-button><mj-text>{{#if postalAddress}}x{{/if}}</mj-text>');
    expect(withCompliantFooter({ mjml: cond, subject: 's' }).mjml).toContain('<mj-text align="center" font-size="11px"');
  });

  it('completes a text part with the unsubscribe link and the address', () => {
    expect(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 's', text: 'Hello {{name}}\n' }).text).toBe('Hello {{name}}\n\n--\nUnsubscribe: {{unsubscribeUrl}}\n{{postalAddress}}\n');
    const full = 'Hi {{name}}\nLeave: {{unsubscribeUrl}}\n{{postalAddress}}';
    expect(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 's', text: full }).text).toBe(full);
  });
});

describe('recipient data and rendering checks', () => {
  it('keeps subscriber data out of the top-level *Url keys the renderer leaves unescaped', () => {
    const d = recipientData({
      contact: { id: 'c', email: 'a@b.example', name: 'A', attributes: { homeUrl: 'javascript:alert(1)' } },
      unsubscribeUrl: 'https://x/u/t', preferencesUrl: 'https://x/u/t/preferences', tenant: TENANT, campaign: { id: 'k', name: 'K' },
    });
    expect(Object.keys(d).filter((k) => k.endsWith('Url')).sort()).toEqual(['preferencesUrl', 'unsubscribeUrl']);
    expect(d.attributes).toEqual({ homeUrl: 'javascript:alert(1)' });
  });

  it('reports whether the link and the postal address came out', async () => {
    const t = await compileTemplate({ mjml: NEWSLETTER_MJML.replace('href="{{unsubscribeUrl}}"', 'href="https://elsewhere.example"'), subject: 's' });
    const out = renderChecked(t, { name: 'x', unsubscribeUrl: 'https://x/u/t', postalAddress: '1 A & B St' }, 'https://x/u/t', '1 A & B St');
    expect(out.hasUnsubscribeLink).toBe(false);
    expect(out.hasPostalAddress).toBe(false);
    const ok = await compileTemplate(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 's' }));
    const good = renderChecked(ok, { name: 'x', unsubscribeUrl: 'https://x/u/t', postalAddress: '1 A & B St' }, 'https://x/u/t', '1 A & B St');
    expect(good).toMatchObject({ hasUnsubscribeLink: true, hasPostalAddress: true });
  });

  it('compiles once per key and forgets failures', async () => {
    const cache = new CompiledCache(2);
    let loads = 0;
    const load = () => { loads++; return { mjml: NEWSLETTER_MJML, subject: 's' }; };
    const [a, b] = await Promise.all([cache.get('k', load), cache.get('k', load)]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
    await expect(cache.get('bad', () => ({ mjml: '<mjml><mj-body><mj-text>{{#if}}</mj-text></mj-body></mjml>', subject: 's' }))).rejects.toThrow();
    await expect(cache.get('bad', () => ({ mjml: NEWSLETTER_MJML, subject: 's' }))).resolves.toBeDefined();
  });
});

describe('the unsubscribe link must show', () => {
  const HIDDEN = NEWSLETTER_MJML.replace('<mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>',
    '<mj-text><a href="{{unsubscribeUrl}}" style="display:none">Unsubscribe</a></mj-text>');
  const data = { name: 'Ann', unsubscribeUrl: 'https://x.example/u/tok', postalAddress: '1 Main Street' };

  it('adds Postgate\'s footer link, once per compiled template, when the template hides its own', async () => {
    const cache = new CompiledCache(4);
    let loads = 0;
    const t = await cache.get('hidden', () => { loads++; return { mjml: HIDDEN, subject: 's' }; });
    expect(loads).toBe(2); // compiled as written, found hidden, compiled again with the footer
    expect(await cache.get('hidden', () => { loads++; return { mjml: HIDDEN, subject: 's' }; })).toBe(t);
    expect(loads).toBe(2);
    expect(unsubscribeVisibility(t)).toBe(true);
    const out = renderChecked(t, data, data.unsubscribeUrl, data.postalAddress);
    expect(out.hasUnsubscribeLink).toBe(true);
    expect(out.rendered.html).toContain('<a href="https://x.example/u/tok" style="color:#52525b;text-decoration:underline">Unsubscribe</a>');
    expect(out.rendered.text).toContain('https://x.example/u/tok');
    // A visible link of the template's own needs no footer: one compilation.
    const own = await cache.get('own', () => { loads++; return { mjml: NEWSLETTER_MJML, subject: 's' }; });
    expect(loads).toBe(3);
    expect(own.unsubscribeShown).toBe(true);
    expect(renderChecked(own, data, data.unsubscribeUrl, data.postalAddress).rendered.html).not.toContain('color:#52525b');
  });

  it('does not count a hidden link, in the HTML or missing from the text part', async () => {
    const hidden = await compileTemplate({ mjml: HIDDEN, subject: 's' });
    expect(renderChecked(hidden, data, data.unsubscribeUrl, data.postalAddress).hasUnsubscribeLink).toBe(false);
    const noText = await compileTemplate({ mjml: NEWSLETTER_MJML, subject: 's', text: 'Hello' });
    expect(renderChecked(noText, data, data.unsubscribeUrl, data.postalAddress).hasUnsubscribeLink).toBe(false);
    expect(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 's', text: '{{#if x}}{{unsubscribeUrl}}{{/if}}' }).text).toContain('Unsubscribe: {{unsubscribeUrl}}');
  });
});

describe('complianceReasons', () => {
  const template = { mjml: NEWSLETTER_MJML, subject: 's', text: null };
  it('is empty for a compliant set-up and lists every failing reason otherwise', () => {
    expect(complianceReasons({ template, tenant: TENANT, replyTo: null, hasDkimKey: false })).toEqual([]);
    const noLink = { ...template, mjml: '<mjml><mj-body></mj-body></mjml>', text: 'Leave: {{unsubscribeUrl}}' };
    // A template without a link is fine (Postgate's footer adds one); one where even that would not show is not.
    expect(complianceReasons({ template: noLink, tenant: TENANT, replyTo: null, hasDkimKey: false, unsubscribeShown: true })).toEqual([]);
    expect(complianceReasons({ template: noLink, unsubscribeShown: false, tenant: { ...TENANT, postalAddress: '  ', requireDkim: true, fromEmail: 'bad' }, replyTo: 'noreply@acme.org', hasDkimKey: false }))
      .toEqual(['no_unsubscribe_link', 'no_postal_address', 'no_reply_to', 'bad_from', 'no_dkim_key']);
    expect(complianceReasons({ template, tenant: { ...TENANT, requireDkim: true }, replyTo: 'team@acme.org', hasDkimKey: true })).toEqual([]);
  });
});

describe('one recipient', () => {
  it('builds the message with one-click headers, Feedback-ID, VERP envelope and Message-ID', async () => {
    const b = await ctx();
    const p = prepareRecipient(b, row());
    expect(p.kind).toBe('mail');
    if (p.kind !== 'mail') return;
    const headers = p.mail.headers as Record<string, string>;
    expect(headers['List-Unsubscribe']).toMatch(/^<https:\/\/pg\.example\/u\/[^>]+>$/);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(headers['Feedback-ID']).toBe(`${b.campaign.id}:${TENANT.id}:marketing:postgate`);
    expect(p.messageIdHeader).toBe('<33333333-3333-4333-8333-333333333333@acme.org>');
    expect(p.mail.messageId).toBe(p.messageIdHeader);
    expect((p.mail.envelope as { from: string }).from).toMatch(/^bounces\+[a-z0-9-]+@bounces\.example\.net$/);
    expect(String(p.mail.html)).toContain(headers['List-Unsubscribe'].slice(1, -1));
    expect(p.subject).toBe('Hi Ann');
  });

  it('refuses by the gate before rendering, in its order of reasons', async () => {
    const b = await ctx();
    expect(precheck(b, row())).toBeNull();
    expect(precheck(b, row({ suppressedAll: true, suppressedMarketing: true }))).toBe('suppressed');
    expect(precheck(b, row({ suppressedMarketing: true }))).toBe('complained');
    expect(precheck(b, row({ contactStatus: 'pending' }))).toBe('not_active');
    expect(precheck(b, row({ subscription: 'unsubscribed' }))).toBe('unsubscribed');
    expect(precheck(b, row({ subscription: null }))).toBe('not_subscribed');
    expect(precheck(b, row({ email: 'someone.else@inbox.example' }))).toBe('no_association');
    expect(precheck(b, row({ contactId: null, contactStatus: null }))).toBe('no_association');
  });

  it('refuses a message whose body lost the unsubscribe link or the postal address', async () => {
    const linkless = NEWSLETTER_MJML.replace('href="{{unsubscribeUrl}}"', 'href="https://elsewhere.example"')
      .replace('</mj-column>', '<mj-text>{{postalAddress}}</mj-text></mj-column>');
    const noLink = await ctx(linkless, TENANT, false);
    expect(prepareRecipient(noLink, row())).toEqual({ kind: 'refused', reason: 'no_unsubscribe_link' });
    // As compiled for sending, Postgate's footer puts the link in: the message goes.
    expect(prepareRecipient(await ctx(linkless), row()).kind).toBe('mail');
    const hidden = await ctx(NEWSLETTER_MJML.replace('Unsubscribe</mj-button>', 'Unsubscribe</mj-button><mj-text>{{#if nope}}{{postalAddress}}{{/if}}</mj-text>'));
    expect(prepareRecipient(hidden, row())).toEqual({ kind: 'refused', reason: 'no_postal_address' });
  });
});

describe('batching', () => {
  it('the semaphore never lets more than its size through', async () => {
    const sem = new Semaphore(3);
    let active = 0;
    let peak = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      await sem.acquire();
      active++; peak = Math.max(peak, active);
      await sleep(2);
      active--; sem.release();
    }));
    expect(peak).toBe(3);
  });

  it('the outcome buffer writes in order, in batches, and reports a failed write on close', async () => {
    const writes: number[][] = [];
    const buf = new OutcomeBuffer<number>(async (items) => { writes.push(items); }, 3, 1000);
    for (let i = 0; i < 7; i++) buf.add(i);
    await buf.close();
    expect(writes).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const failing = new OutcomeBuffer<number>(async () => { throw new Error('db down'); }, 2, 5);
    failing.add(1);
    await expect(failing.close()).rejects.toThrow('db down');
  });
});

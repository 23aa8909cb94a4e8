// The consent pages' HTML (in the shared page shell): escaped, accessible, script-free, a real form.
import { describe, expect, it } from 'vitest';
import { activationPage, type ActivationPage } from '../../src/consent/activation-pages.js';
import { renderPage as renderShell } from '../../src/html.js';

const renderPage = (p: ActivationPage): string => renderShell(activationPage(p));
import { confirmationWording, type Plan } from '../../src/consent/confirm.js';

describe('activation pages', () => {
  it('escapes every value and uses no script', () => {
    const html = renderPage({ tenantName: '<script>alert(1)</script> & Co', title: 'A "title"', paragraphs: ['<img src=x onerror=alert(1)>'],
      items: ['<b>News</b>'], form: { action: '/a/x"><script>', button: 'Confirm' } });
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co');
    expect(html).toContain('<form method="post" action="/a/x&quot;&gt;&lt;script&gt;"><button type="submit">Confirm</button></form>');
    expect(html).toMatch(/^<!doctype html>\n<html lang="en" dir="ltr">/);
    expect(html).toContain('<meta name="viewport"');
  });

  it('omits the form, list and brand when not given', () => {
    const html = renderPage({ tenantName: null, title: 'Expired', paragraphs: ['Nothing has been changed.'] });
    expect(html).not.toContain('<form');
    expect(html).not.toContain('<ul>');
    expect(html).toContain('<title>Expired</title>');
  });
});

describe('confirmationWording', () => {
  const base = { tenant: { name: 'Acme' }, contact: { email: 'a@example.com' } } as unknown as Plan;
  it('names the address and every list the click confirms', () => {
    const w = confirmationWording({ ...base, verify: true, lists: [{ id: '1', name: 'News' }, { id: '2', name: 'Deals' }] });
    expect(w).toContain('a@example.com is your email address for Acme');
    expect(w).toContain('subscribes to the following from Acme: News, Deals');
  });
  it('says nothing about newsletters when there are none', () => {
    const w = confirmationWording({ ...base, verify: true, lists: [] });
    expect(w).not.toContain('subscribe');
  });
});

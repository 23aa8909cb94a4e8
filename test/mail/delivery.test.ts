// The delivery core's prepare step (pure: no database, no SMTP): a renderer that throws fails the
// message as render_error, except when the template compiler ran over its budget (TemplateBusyError),
// which is the machine's fault and is handed back for the sender to retry later.
import { describe, expect, it } from 'vitest';
import { prepareMessageAsync, type DeliveryJob } from '../../src/mail/delivery.js';
import { TemplateBusyError } from '../../src/mail/render.js';
import type { GateFacts } from '../../src/policy/gate.js';

const facts: GateFacts = {
  kind: 'account', recipient: 'ann@example.com', contact: { status: 'active', email: 'ann@example.com' },
  suppressed: { all: false, marketing: false }, subscription: null,
  replyTo: 'support@acme.io', fromAddress: 'news@acme.io', tenantFromAddress: 'news@acme.io',
  domains: { verified: ['acme.io'], envelope: null }, postalAddress: 'Acme GmbH, Hauptstr. 1, 10115 Berlin',
  hasUnsubscribeLink: false, hasListUnsubscribeHeaders: false, isTestAddress: false, testAddressVerified: false,
};

const job: DeliveryJob = {
  envelope: {
    messageId: '00000000-0000-4000-8000-000000000001', kind: 'account',
    tenant: { id: '00000000-0000-4000-8000-000000000002', fromName: 'Acme', fromEmail: 'news@acme.io', bounceDomain: null },
    replyTo: 'support@acme.io', to: { name: 'Ann', address: 'ann@example.com' }, fromDomain: 'acme.io', dkim: null,
  },
  facts: () => facts,
};
const signer = { tokens: { current: 'k1', keys: { k1: 'test-secret-key-0123456789' } }, bounceDomain: 'bounces.postgate.test' };

describe('prepareMessageAsync', () => {
  it('fails the message as render_error when its renderer throws', async () => {
    const p = await prepareMessageAsync(job, async () => { throw new Error('notice data is gone'); }, signer);
    expect(p).toEqual({ kind: 'failed', reason: 'render_error', error: expect.stringContaining('notice data is gone'), stage: 'render' });
  });

  it('hands a compile over its time budget back to the caller, to retry the message later', async () => {
    const busy = new TemplateBusyError('the template took too long to compile (over 5 s): make it smaller or simpler');
    await expect(prepareMessageAsync(job, async () => { throw busy; }, signer)).rejects.toBe(busy);
  });
});

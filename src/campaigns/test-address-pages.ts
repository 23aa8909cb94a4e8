// GET/POST /t/:token, the test address verification link. GET never changes state (mail scanners
// follow links): it says what the click will do and shows a button. POST uses the single-use link
// and marks the address verified. Expired, used or tampered links, and links of an address that was
// deleted, erased or suppressed since, get a page with 410 or 400 and change nothing.
import type { Response, Router } from 'express';
import type { Db, PoolClient } from '../platform/db.js';
import type { TokenKeys } from '../policy/tokens.js';
import { sendPage } from '../platform/http.js';
import { activationPage } from '../consent/activation-pages.js';
import { getTenant } from '../tenants/store.js';
import { confirmVerification, planVerification, readVerificationToken, type VerificationClaim, type VerificationPlan } from './test-addresses.js';

type Failure = 'invalid' | 'expired' | 'used' | 'gone';

const FAILURES: Record<Failure, { status: number; title: string; text: string }> = {
  invalid: { status: 400, title: 'This link is not valid', text: 'The link is incomplete or has been altered. Copy the whole link from the email.' },
  expired: { status: 410, title: 'This link has expired', text: 'Confirmation links are valid for a limited time. Ask the sender for a new one.' },
  used: { status: 410, title: 'This link was already used', text: 'Each confirmation link works once, and this one has already been used. If you confirmed, there is nothing more to do.' },
  gone: { status: 410, title: 'This link is no longer valid', text: 'The address this link was sent to can no longer be confirmed.' },
};

function sendFailure(res: Response, reason: Failure): void {
  const p = FAILURES[reason];
  sendPage(res, p.status, activationPage({ tenantName: null, title: p.title, paragraphs: [p.text, 'Nothing has been changed.'] }));
}

/** The wording of the page: what confirming means. */
function wording(tenantName: string, address: string): string {
  return `By confirming, you agree that ${address} receives test copies of ${tenantName}'s email campaigns, sent by its staff to check them before they go out.`;
}

/** The plan (or outcome) of a link and the tenant's name, read in one tenant transaction. */
async function withTenantName(db: Db, claim: VerificationClaim, step: (c: PoolClient) => Promise<VerificationPlan>): Promise<{ plan: VerificationPlan; name: string | null }> {
  return db.withTenant(claim.tenantId, async (c) => ({ plan: await step(c), name: (await getTenant(c, claim.tenantId))?.name ?? null }));
}

export function testAddressPages(pages: Router, db: Db, keys: TokenKeys): void {
  pages.get('/t/:token', async (req, res) => {
    const r = readVerificationToken(keys, req.params.token);
    if (!r.ok) { sendFailure(res, r.error); return; }
    const { plan, name } = await withTenantName(db, r.claim, (c) => planVerification(c, r.claim));
    if (!plan.ok) { sendFailure(res, plan.reason); return; }
    if (name === null) { sendFailure(res, 'gone'); return; }
    const address = plan.testAddress.address;
    if (plan.testAddress.state === 'verified') {
      sendPage(res, 200, activationPage({ tenantName: name, title: 'Already confirmed', paragraphs: [`${address} is already confirmed: there is nothing more to do.`] }));
      return;
    }
    sendPage(res, 200, activationPage({
      tenantName: name, title: 'Confirm test copies', paragraphs: [wording(name, address)],
      form: { action: `/t/${String(req.params.token)}`, button: 'Confirm' },
    }));
  });

  pages.post('/t/:token', async (req, res) => {
    const r = readVerificationToken(keys, req.params.token);
    if (!r.ok) { sendFailure(res, r.error); return; }
    const { plan, name } = await withTenantName(db, r.claim, (c) => confirmVerification(c, r.claim));
    if (!plan.ok) { sendFailure(res, plan.reason); return; }
    const who = name ?? 'the sender';
    sendPage(res, 200, activationPage({
      tenantName: name, title: 'Confirmed',
      paragraphs: [`Thank you: ${plan.testAddress.address} will receive test copies of ${who}'s campaigns.`,
        'To stop them, reply to any of them and ask the sender to remove this address.'],
    }));
  });
}

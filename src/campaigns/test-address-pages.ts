// GET/POST /t/:token, the test address verification link. GET never changes state (mail scanners
// follow links): it says what the click will do and shows a button. POST uses the single-use link
// and marks the address verified. Expired, used or tampered links, and links of an address that was
// deleted, erased or suppressed since, get a page with 410 or 400 and change nothing.
import type { Request, Response, Router } from 'express';
import type { Db, PoolClient } from '../platform/db.js';
import type { TokenKeys } from '../policy/tokens.js';
import { sendPage } from '../platform/http.js';
import { activationPage } from '../consent/activation-pages.js';
import { getPageTenant, type PageTenant } from '../tenants/store.js';
import { pageTranslator } from '../i18n/pages.js';
import { confirmVerification, planVerification, readVerificationToken, type VerificationClaim, type VerificationPlan } from './test-addresses.js';

type Failure = 'invalid' | 'expired' | 'used' | 'gone';

/** Status and message ids (locales/<lang>/pages.json) of each failure. */
const FAILURES: Record<Failure, { status: number; title: string; text: string }> = {
  invalid: { status: 400, title: 'page.link.invalid.title', text: 'page.testAddress.invalid.text' },
  expired: { status: 410, title: 'page.link.expired.title', text: 'page.testAddress.expired.text' },
  used: { status: 410, title: 'page.link.used.title', text: 'page.link.used.text' },
  gone: { status: 410, title: 'page.link.gone.title', text: 'page.link.gone.text' },
};

/** A failure page in the browser's language (then the tenant's default, when the tenant is known). */
function sendFailure(req: Request, res: Response, reason: Failure, tenant: PageTenant | null = null): void {
  const p = FAILURES[reason];
  const t = pageTranslator(req, res, { tenant });
  sendPage(res, p.status, activationPage({ tenantName: null, t, title: t.t(p.title), paragraphs: [t.t(p.text), t.t('page.common.nothingHasChanged')] }));
}

/** The plan (or outcome) of a link and the tenant's name, read in one tenant transaction. */
async function withTenantName(db: Db, claim: VerificationClaim, step: (c: PoolClient) => Promise<VerificationPlan>): Promise<{ plan: VerificationPlan; name: string | null; tenant: PageTenant | null }> {
  return db.withTenant(claim.tenantId, async (c) => {
    const plan = await step(c);
    const tenant = await getPageTenant(c, claim.tenantId);
    return { plan, name: tenant?.name ?? null, tenant };
  });
}

export function testAddressPages(pages: Router, db: Db, keys: TokenKeys): void {
  pages.get('/t/:token', async (req, res) => {
    const r = readVerificationToken(keys, req.params.token);
    if (!r.ok) { sendFailure(req, res, r.error); return; }
    const { plan, name, tenant } = await withTenantName(db, r.claim, (c) => planVerification(c, r.claim));
    if (!plan.ok) { sendFailure(req, res, plan.reason, tenant); return; }
    if (name === null) { sendFailure(req, res, 'gone'); return; }
    const address = plan.testAddress.address;
    // A test address is no contact: the browser's language, then the tenant's default.
    const t = pageTranslator(req, res, { tenant });
    if (plan.testAddress.state === 'verified') {
      sendPage(res, 200, activationPage({ tenantName: name, tenant, t, title: t.t('page.testAddress.already.title'), paragraphs: [t.t('page.testAddress.already.text', { address })] }));
      return;
    }
    sendPage(res, 200, activationPage({
      tenantName: name, tenant, t, title: t.t('page.testAddress.title'), paragraphs: [t.t('page.testAddress.wording', { address, tenant: name })],
      form: { action: `/t/${String(req.params.token)}`, button: t.t('page.common.confirm.button') },
    }));
  });

  pages.post('/t/:token', async (req, res) => {
    const r = readVerificationToken(keys, req.params.token);
    if (!r.ok) { sendFailure(req, res, r.error); return; }
    const { plan, name, tenant } = await withTenantName(db, r.claim, (c) => confirmVerification(c, r.claim));
    if (!plan.ok) { sendFailure(req, res, plan.reason, tenant); return; }
    const t = pageTranslator(req, res, { tenant });
    const address = plan.testAddress.address;
    sendPage(res, 200, activationPage({
      tenantName: name, tenant, t, title: t.t('page.common.confirmed.title'),
      paragraphs: [name === null ? t.t('page.testAddress.done.unnamed', { address }) : t.t('page.testAddress.done', { address, tenant: name }),
        t.t('page.testAddress.stop')],
    }));
  });
}

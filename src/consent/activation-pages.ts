// GET/POST /a/:token. GET never changes state (mail scanners follow links): it shows what the click
// will do and a button. POST uses the token. Expired, used or tampered links get a clear page with
// 410 or 400, and change nothing.
import type { Request, Response, Router } from 'express';
import type { Db } from '../platform/db.js';
import type { TokenKeys } from '../policy/tokens.js';
import { readActivationToken, type ActivationClaim } from './activation.js';
import { confirm, confirmationWording, planConfirmation, type Plan, type PlanResult } from './confirm.js';
import { html, type PageSpec } from '../html.js';
import { sendPage } from '../platform/http.js';
import { keptHeaderValue } from '../platform/header-value.js';

const MAX_UA = 500;

export interface ActivationPage { tenantName: string | null; title: string; paragraphs: string[]; items?: string[]; form?: { action: string; button: string } }

/** An activation page in the shared page shell: paragraphs, an optional list and an optional one-button form. */
export function activationPage(p: ActivationPage): PageSpec {
  const items = p.items && p.items.length > 0 ? html`<ul>${p.items.map((i) => html`<li>${i}</li>`)}</ul>\n` : '';
  const form = p.form ? html`<form method="post" action="${p.form.action}"><button type="submit">${p.form.button}</button></form>\n` : '';
  return {
    title: p.title, brand: p.tenantName ? { name: p.tenantName, postalAddress: null } : null,
    body: html`${p.paragraphs.map((t) => html`<p>${t}</p>\n`)}${items}${form}`,
  };
}

function sendFailure(res: Response, tenantName: string | null, reason: 'invalid' | 'expired' | 'used' | 'gone'): void {
  const pages = {
    invalid: { status: 400, title: 'This link is not valid', text: 'The link is incomplete or has been altered. Copy the whole link from the email, or ask for a new one.' },
    expired: { status: 410, title: 'This link has expired', text: 'Confirmation links are valid for a limited time. Ask for a new one where you signed up.' },
    used: { status: 410, title: 'This link was already used', text: 'Each confirmation link works once, and this one has already been used. If you confirmed, there is nothing more to do.' },
    gone: { status: 410, title: 'This link is no longer valid', text: 'The address this link was sent to can no longer be confirmed.' },
  }[reason];
  sendPage(res, pages.status, activationPage({ tenantName, title: pages.title, paragraphs: [pages.text, 'Nothing has been changed.'] }));
}

function verified(keys: TokenKeys, req: Request, res: Response): ActivationClaim | null {
  const r = readActivationToken(keys, req.params.token);
  if (r.ok) return r.claim;
  sendFailure(res, null, r.error);
  return null;
}

function previewPage(res: Response, token: string, plan: Plan): void {
  const title = plan.verify ? 'Confirm your email address' : 'Confirm your subscription';
  sendPage(res, 200, activationPage({
    tenantName: plan.tenant.name, title, paragraphs: [confirmationWording(plan)],
    items: plan.lists.map((l) => l.name), form: { action: `/a/${token}`, button: 'Confirm' },
  }));
}

function donePage(res: Response, plan: Plan): void {
  const paragraphs = [plan.verify ? `Thank you: ${plan.contact.email} is confirmed.` : `Thank you: ${plan.contact.email} was already confirmed.`];
  if (plan.lists.length > 0) paragraphs.push('You are now subscribed to:');
  sendPage(res, 200, activationPage({ tenantName: plan.tenant.name, title: 'Confirmed', paragraphs, items: plan.lists.map((l) => l.name) }));
}

function answer(res: Response, r: PlanResult, ok: (plan: Plan) => void): void {
  if (r.ok) ok(r.plan);
  else sendFailure(res, null, r.reason);
}

export function activationPages(pages: Router, db: Db, keys: TokenKeys): void {
  pages.get('/a/:token', async (req, res) => {
    const claim = verified(keys, req, res);
    if (!claim) return;
    const r = await db.withTenant(claim.tenantId, (c) => planConfirmation(c, claim));
    answer(res, r, (plan) => previewPage(res, String(req.params.token), plan));
  });
  pages.post('/a/:token', async (req, res) => {
    const claim = verified(keys, req, res);
    if (!claim) return;
    // The User-Agent's bytes read as UTF-8, controls blanked, card numbers redacted (platform/header-value).
    const who = { ip: req.ip ?? null, userAgent: keptHeaderValue(req.get('user-agent'), MAX_UA) };
    const r = await db.withTenant(claim.tenantId, (c) => confirm(c, claim, who));
    answer(res, r, (plan) => donePage(res, plan));
  });
}

// The one opt-out action, shared by every way out: one-click, the unsubscribe and preference pages,
// both API routes (POST /api/contacts/:id/unsubscribe, DELETE /api/contacts/:id/subscriptions/:listId),
// complaints (bounces) and mailto. It sets the contact's subscriptions (given lists, or all) to 'unsubscribed' and appends one
// consent record per list it changed. Runs in the caller's transaction (a client from withTenant),
// so the caller's other writes commit or roll back with it. Takes effect at once: the campaign claim
// query and the send-time gate read subscription state, so a queued message is skipped.
import { isIP } from 'node:net';
import type { Queryable } from '../platform/db.js';
import { keptHeaderValue } from '../platform/header-value.js';
import { findContact } from './contacts.js';
import { recordOptOuts } from './records.js';
import { unsubscribeLists } from './subscriptions.js';

export type UnsubscribeSource = 'one_click' | 'page' | 'preferences' | 'api' | 'complaint' | 'mailto';

export interface UnsubscribeInput {
  tenantId: string;
  contactId: string;
  /** The lists to leave, or 'all' for every list of the tenant. */
  listIds: readonly string[] | 'all';
  source: UnsubscribeSource;
  campaignId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Extra facts for the consent record's detail (e.g. {messageId} for a complaint). */
  detail?: Record<string, unknown>;
}

export interface UnsubscribeResult {
  /** False when the contact does not exist in this tenant (or was erased): nothing was written. */
  found: boolean;
  /** Lists whose subscription changed to 'unsubscribed' by this call. */
  changedListIds: string[];
}

const MAX_USER_AGENT = 512;

/** Accepts only a syntactically valid IPv4/IPv6 literal for the inet column; anything else is dropped. */
export function cleanIp(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const v = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return isIP(v) ? v : null;
}

/** Read as UTF-8 when it is header bytes, controls blanked, card numbers redacted before and after the cut (platform/header-value). */
function cleanUserAgent(ua: string | null | undefined): string | null {
  return keptHeaderValue(ua, MAX_USER_AGENT);
}

export async function unsubscribeContact(c: Queryable, input: UnsubscribeInput): Promise<UnsubscribeResult> {
  const contact = await findContact(c, { id: input.contactId }, true);
  if (!contact || contact.status === 'erased') return { found: false, changedListIds: [] };
  const all = input.listIds === 'all';
  const lists = all ? [] : [...new Set(input.listIds)];
  const changed = await unsubscribeLists(c, input.tenantId, input.contactId, all ? 'all' : lists);
  const detail: Record<string, unknown> = { ...(input.detail ?? {}), scope: all ? 'all' : 'lists' };
  if (input.campaignId) detail.campaignId = input.campaignId;
  const ip = cleanIp(input.ip);
  const ua = cleanUserAgent(input.userAgent);
  // One record per list that changed; a request that changed nothing (already out) is still recorded
  // once, with no list, so every unsubscribe request leaves a trace.
  const targets: (string | null)[] = changed.length ? changed : [null];
  if (!changed.length) detail.alreadyUnsubscribed = true;
  if (!changed.length && !all) detail.listIds = lists;
  await recordOptOuts(c, input.tenantId, { contactId: input.contactId, listIds: targets, source: input.source, ip, userAgent: ua, detail });
  return { found: true, changedListIds: changed };
}

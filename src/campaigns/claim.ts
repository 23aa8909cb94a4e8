// The campaign kind's claim: what the delivery core is handed for a campaign is a batch of due
// recipients claimed by the ledger (FOR UPDATE SKIP LOCKED, under a lease) together with the consent
// facts the gate needs, read in the same statement so an unsubscribe committed a moment ago is seen.
// The SQL lives in the ledger (mail/ledger.ts), which owns message state; this file supplies the
// campaign's data: its lists and the tenant's suppression-hash formula.
import type { Queryable } from '../platform/db.js';
import { sqlAddressHash } from '../consent/suppressions.js';
import { claimCampaignBatch, type ClaimedRow } from '../mail/ledger.js';

export type { ClaimedRow, Outcome, OutcomeStatus } from '../mail/ledger.js';

/** Claims up to `limit` due rows of the campaign for `worker` (reclaimed rows get their event in the same statement). */
export function claimBatch(c: Queryable, tenantId: string, campaignId: string, listIds: readonly string[], limit: number,
  leaseSeconds: number, worker: string): Promise<ClaimedRow[]> {
  return claimCampaignBatch(c, {
    tenantId, campaignId, listIds, limit, leaseSeconds, worker, addressHashSql: sqlAddressHash('salt.hash_salt', 'k.recipient'),
  });
}

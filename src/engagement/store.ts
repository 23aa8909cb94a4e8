// The owner of `engagements` (migration 076): one row per recorded click or open of a campaign
// message, and its event in the tenant's feed (message.clicked / message.opened), in one transaction.
// Reads for the data export and deletes for erasure live in src/data-rights (they touch every table).
import type { Db, Queryable } from '../platform/db.js';
import { getMessage } from '../mail/ledger.js';
import { appendEvent } from '../events/feed.js';
import { scannerReason, type ScannerReason } from './scanners.js';

export type EngagementKind = 'click' | 'open';

/**
 * Most hits recorded per message and link (opens: per message), counted apart for scanners and
 * people (so a scanner flood cannot hide a later click); later hits still redirect, unrecorded.
 */
export const MAX_HITS_PER_LINK = 100;

export interface HitInput {
  kind: EngagementKind;
  messageId: string;
  /** The signed target (clicks); null for opens. */
  url: string | null;
  method: string;
  userAgent: string | undefined;
  /** When the hit arrived, ms since the epoch. */
  now: number;
}

/** What became of a hit: recorded (with its scanner verdict and uniqueness), or why not. */
export type HitOutcome =
  | { recorded: true; scanner: ScannerReason | null; unique: boolean }
  | { recorded: false; why: 'unknown_message' | 'erased' | 'not_marketing' | 'capped' };

/** The tenant of a message, across tenants (message_tenant(), a definer function of 001); null when there is none. */
async function tenantOfMessage(c: Queryable, messageId: string): Promise<string | null> {
  const r = await c.query<{ t: string | null }>('SELECT message_tenant($1::uuid) AS t', [messageId]);
  return r.rows[0]?.t ?? null;
}

interface Seen { scanners: number; humans: number }

/** Hits already recorded for this message and link, scanners' and people's (each at most the cap). Serialised per link. */
async function seen(c: Queryable, h: HitInput): Promise<Seen> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [`engagement:${h.kind}`, `${h.messageId}:${h.url ?? ''}`]);
  const r = await c.query<Seen>(`SELECT count(*) FILTER (WHERE scanner)::int AS scanners, count(*) FILTER (WHERE NOT scanner)::int AS humans
    FROM engagements WHERE message_id = $1 AND kind = $2 AND ${h.url === null ? 'url IS NULL AND $3::text IS NULL' : 'url = $3'}`,
  [h.messageId, h.kind, h.url]);
  return r.rows[0];
}

/**
 * Records one hit on a click or open link: the row and its feed event, in one transaction, unless
 * the message is unknown, erased (no recipient) or not marketing mail, or the link already has
 * MAX_HITS_PER_LINK hits of the same verdict (scanner or person). `unique` is the first non-scanner hit of this message on this link.
 * Scanner verdict: scanners.ts with `scannerSeconds` (ENGAGEMENT_SCANNER_SECONDS).
 */
export async function recordHit(db: Db, h: HitInput, scannerSeconds: number): Promise<HitOutcome> {
  const tenantId = await db.withSystem((c) => tenantOfMessage(c, h.messageId));
  if (!tenantId) return { recorded: false, why: 'unknown_message' };
  return db.withTenant(tenantId, async (c): Promise<HitOutcome> => {
    const m = await getMessage(c, h.messageId);
    if (!m) return { recorded: false, why: 'unknown_message' };
    if (m.recipient === null) return { recorded: false, why: 'erased' };
    if (m.kind !== 'marketing') return { recorded: false, why: 'not_marketing' };
    const scanner = scannerReason({ method: h.method, userAgent: h.userAgent, now: h.now, sentAt: m.sentAt?.getTime() ?? null }, scannerSeconds);
    const before = await seen(c, h);
    if ((scanner ? before.scanners : before.humans) >= MAX_HITS_PER_LINK) return { recorded: false, why: 'capped' };
    const unique = scanner === null && before.humans === 0;
    await c.query(`INSERT INTO engagements (tenant_id, message_id, campaign_id, contact_id, kind, url, scanner, scanner_reason)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [tenantId, m.id, m.campaignId, m.contactId, h.kind, h.url, scanner !== null, scanner]);
    await appendEvent(c, tenantId, {
      type: h.kind === 'click' ? 'message.clicked' : 'message.opened', messageId: m.id, contactId: m.contactId, campaignId: m.campaignId,
      data: {
        messageId: m.id, campaignId: m.campaignId, contactId: m.contactId, recipient: m.recipient,
        ...(h.kind === 'click' ? { url: h.url } : { machineOpenPossible: true }),
        unique, scanner: scanner !== null, ...(scanner ? { scannerReason: scanner } : {}),
      },
    });
    return { recorded: true, scanner, unique };
  });
}

/** One recorded hit as the API and the data export show it. */
export interface Engagement {
  messageId: string; campaignId: string | null; kind: EngagementKind; url: string | null; at: Date; scanner: boolean; scannerReason: ScannerReason | null;
}

/** A message's recorded hits, oldest first (tests and support look-ups). */
export async function messageEngagements(c: Queryable, messageId: string): Promise<Engagement[]> {
  const r = await c.query<Engagement>(`SELECT message_id AS "messageId", campaign_id AS "campaignId", kind, url, at, scanner,
      scanner_reason AS "scannerReason" FROM engagements WHERE message_id = $1 ORDER BY at, id`, [messageId]);
  return r.rows;
}

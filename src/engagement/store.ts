// The owner of `engagements` (migration 076): one row per recorded click or open of a campaign
// message, and its event in the tenant's feed (message.clicked / message.opened), in one transaction.
// Reads for the data export and deletes for erasure live in src/data-rights (they touch every table).
import type { Db, Queryable } from '../platform/db.js';
import { getMessage } from '../mail/ledger.js';
import { appendEvent } from '../events/feed.js';
import { scannerReason, type ScannerReason } from './scanners.js';
import { statsLink } from './links.js';

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
  | { recorded: true; scanner: ScannerReason | null; unique: boolean; firstClick?: boolean }
  | { recorded: false; why: 'unknown_message' | 'erased' | 'not_marketing' | 'capped' };

/** The tenant of a message, across tenants (message_tenant(), a definer function of 001); null when there is none. */
async function tenantOfMessage(c: Queryable, messageId: string): Promise<string | null> {
  const r = await c.query<{ t: string | null }>('SELECT message_tenant($1::uuid) AS t', [messageId]);
  return r.rows[0]?.t ?? null;
}

/**
 * What this message already has: hits on this exact url (scanners', people's: the cap), whether a
 * person already hit this link (statsLink: per-link unique) and whether a person already clicked
 * any link (firstClick). Serialised per message and kind, so both verdicts hold under concurrency.
 */
interface Seen { scanners: number; humans: number; humanOnLink: boolean; humanAny: boolean }

async function seen(c: Queryable, h: HitInput, link: string | null): Promise<Seen> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [`engagement:${h.kind}`, h.messageId]);
  const r = await c.query<{ url: string | null; scanner: boolean; n: number }>(`SELECT url, scanner, count(*)::int AS n
    FROM engagements WHERE message_id = $1 AND kind = $2 GROUP BY url, scanner`, [h.messageId, h.kind]);
  const s: Seen = { scanners: 0, humans: 0, humanOnLink: false, humanAny: false };
  for (const row of r.rows) {
    if (row.url === h.url) { if (row.scanner) s.scanners = row.n; else s.humans = row.n; }
    if (row.scanner) continue;
    s.humanAny = true;
    if (row.url === h.url || (link !== null && row.url !== null && statsLink(row.url) === link)) s.humanOnLink = true;
  }
  return s;
}

/**
 * Records one hit on a click or open link: the row and its feed event, in one transaction, unless
 * the message is unknown, erased (no recipient) or not marketing mail, or the link already has
 * MAX_HITS_PER_LINK hits of the same verdict (scanner or person). Decided under one lock per message:
 * `unique`, the first non-scanner hit of this message on this link (clicks: the same statsLink, so
 * a link's figures count each message once); `firstClick` (clicks), its first non-scanner click on
 * any link (the campaign's unique clicks). The click event carries the full `url` and its `link`.
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
    const link = h.url === null ? null : statsLink(h.url);
    const before = await seen(c, h, link);
    if ((scanner ? before.scanners : before.humans) >= MAX_HITS_PER_LINK) return { recorded: false, why: 'capped' };
    const unique = scanner === null && !before.humanOnLink;
    const firstClick = scanner === null && !before.humanAny;
    await c.query(`INSERT INTO engagements (tenant_id, message_id, campaign_id, contact_id, kind, url, scanner, scanner_reason)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [tenantId, m.id, m.campaignId, m.contactId, h.kind, h.url, scanner !== null, scanner]);
    await appendEvent(c, tenantId, {
      type: h.kind === 'click' ? 'message.clicked' : 'message.opened', messageId: m.id, contactId: m.contactId, campaignId: m.campaignId,
      data: {
        messageId: m.id, campaignId: m.campaignId, contactId: m.contactId, recipient: m.recipient,
        ...(h.kind === 'click' ? { url: h.url, link, firstClick } : { machineOpenPossible: true }),
        unique, scanner: scanner !== null, ...(scanner ? { scannerReason: scanner } : {}),
      },
    });
    return h.kind === 'click' ? { recorded: true, scanner, unique, firstClick } : { recorded: true, scanner, unique };
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

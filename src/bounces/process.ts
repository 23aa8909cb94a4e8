// The one path every bounce takes, whether it arrived at the SMTP listener, through POST /api/inbound
// or as a 5xx at send time: classify → locate message and contact (VERP token first, then the
// original Message-ID, then Final-Recipient) → in ONE tenant transaction: the bounce row, the
// message timeline and status, the suppression / unsubscribe actions, the campaign auto-pause.
// Mail to an `unsubscribe+<token>` address unsubscribes that contact from every list (mailto).
import { createHash } from 'node:crypto';
import type { Db, Queryable } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { SendOutcome } from '../platform/smtp.js';
import type { TokenKeys } from '../policy/tokens.js';
import { getMessage, markBounced, markComplained, recordEvent, type LedgerMessage } from '../mail/ledger.js';
import { unsubscribeContact } from '../consent/unsubscribe.js';
import { applyBounceActions, checkCampaignPause, type BounceAction, type BounceSettings } from './actions.js';
import { classifyMessage, classifyStatus, type Classification } from './classify.js';
import { rawWithheldReason, type RawWithheld } from './card-check.js';
import { redactedPrefix } from '../policy/cards.js';
import { inboundTargets, type InboundTarget } from './recipients.js';
import {
  contactByEmail, contactById, insertBounce, messageByHeader, messageByHeaderAnyTenant, setBounceAction, tenantOfContact, tenantOfMessage,
  type BounceKind, type BounceSource, type BounceContact, type MatchedBy,
} from './store.js';

export interface BounceDeps {
  db: Db; tokens: TokenKeys; log: Logger; settings: BounceSettings;
  /** Called once per recorded (non-duplicate) bounce: metrics. */
  onRecorded?: (kind: BounceKind, source: BounceSource) => void;
  /** Off-loop classification with a time budget (classify-pool.ts); in-process classifyMessage when absent. */
  classify?: (raw: Buffer) => Promise<Classification>;
  /**
   * Off-loop check of what keeps a raw report from being stored: card numbers and capability links in
   * any decoded part (classify-pool.ts; 'unchecked' over budget); in-process rawWithheldReason when absent.
   */
  withheldReason?: (raw: Buffer) => Promise<RawWithheld | 'unchecked' | null>;
}

export interface InboundInput {
  raw: Buffer;
  source: 'smtp' | 'api';
  /** Envelope recipients (RCPT TO), or the addresses a relay says the report was sent to. */
  recipients: readonly string[];
  /** Only this tenant's messages and contacts may be affected (API keys); null = any (the listener). */
  tenantScope: string | null;
}

export interface RecordedBounce {
  tenantId: string; bounceId: string | null; duplicate: boolean; messageId: string | null; contactId: string | null;
  matchedBy: MatchedBy; kind: BounceKind; action: BounceAction | null; campaignPaused: string | null;
}
export interface UnsubscribeDone { tenantId: string; contactId: string; found: boolean; changedListIds: string[] }
export interface InboundResult {
  classification: Classification; bounces: RecordedBounce[]; unsubscribes: UnsubscribeDone[];
  /** Ledger messages whose timeline got a delivery report (delayed, relayed, delivered, expanded): not bounces. */
  timeline: string[];
}

interface Located { tenantId: string; messageId: string | null; matchedBy: MatchedBy }

interface RawFacts { raw: Buffer | null; rawHash: string; withheld: string | null }

const EVENT_OF: Record<BounceKind, string> = {
  hard: 'bounced', complaint: 'complained', soft: 'soft_bounce', blocked: 'blocked', autoreply: 'autoreply', unknown: 'inbound_unknown',
  feedback: 'feedback',
};

/** Handles one inbound message (a DSN, complaint, auto-reply, or mail to a mailto unsubscribe address). */
export async function processInbound(deps: BounceDeps, input: InboundInput): Promise<InboundResult> {
  const classification = sanitize(await (deps.classify ?? classifyMessage)(input.raw));
  const addresses = input.source === 'api' ? [...input.recipients, ...classification.envelopeTo] : [...input.recipients];
  const targets = inboundTargets(deps.tokens, addresses);
  const unsubscribes = await mailtoUnsubscribes(deps, targets, input.tenantScope);
  const bounces: RecordedBounce[] = [];
  const timeline: string[] = [];
  const hasVerp = targets.some((t) => t.kind === 'verp');
  if (!hasVerp && unsubscribes.length > 0) return { classification, bounces, unsubscribes, timeline };
  const located = await locate(deps.db, targets, classification, input.tenantScope);
  if (located.length === 0) return { classification, bounces, unsubscribes, timeline };
  const raw = await rawFacts(input.raw, deps.settings.rawRetentionDays, deps.withheldReason ?? rawWithheldReason);
  for (const loc of located) {
    if (isDeliveryReportOnly(classification)) {
      if (await recordDeliveryReport(deps, loc, classification)) timeline.push(loc.messageId as string);
    }
    // The raw report is kept only when it matched a ledger message (VERP token or original Message-ID).
    else bounces.push(await recordBounce(deps, loc, classification, input.source, loc.messageId ? raw : { ...raw, raw: null }));
  }
  return { classification, bounces, unsubscribes, timeline };
}

/**
 * Text from an untrusted report, fit for text columns and jsonb: no NUL, bounded length, and card
 * numbers redacted (policy/cards) before and after the cut, so no half of one survives it: a report
 * is a third party's text, kept, so it is redacted rather than refused.
 */
function text(v: string | null, max: number): string | null {
  if (v === null) return null;
  // eslint-disable-next-line no-control-regex
  const t = redactedPrefix(v.replace(/\u0000/g, ''), max);
  return t || null;
}

/** Every free-text field of a classification as it may be stored, logged or answered (see text()). */
function sanitize(c: Classification): Classification {
  return {
    ...c, status: text(c.status, 32), diagnostic: text(c.diagnostic, 1000),
    recipient: text(c.recipient, 320), originalMessageId: text(c.originalMessageId, 998), feedbackType: text(c.feedbackType, 64),
    envelopeTo: c.envelopeTo.slice(0, 20).map((a) => text(a, 1024) ?? ''),
    recipients: c.recipients.map((r) => ({
      ...r, recipient: text(r.recipient, 320), action: text(r.action, 32), status: text(r.status, 32), diagnostic: text(r.diagnostic, 1000),
    })),
  };
}

/** A 5xx at send time (the relay refused the recipient): classified from the response, handled like a DSN. */
export async function processSendFailure(deps: BounceDeps, tenantId: string, messageId: string,
  outcome: Extract<SendOutcome, { kind: 'permanent' }>): Promise<RecordedBounce> {
  const status = enhancedStatus(outcome.response, outcome.code);
  const verdict = classifyStatus(status, outcome.response);
  const classification: Classification = sanitize({
    kind: verdict.kind, status, reason: verdict.reason, diagnostic: outcome.response.slice(0, 1000), recipient: null,
    originalMessageId: null, envelopeTo: [], feedbackType: null, recipients: [],
  });
  const rawHash = sha256(`send:${messageId}:${outcome.response}`);
  return recordBounce(deps, { tenantId, messageId, matchedBy: 'ledger' }, classification, 'send', { raw: null, rawHash, withheld: null });
}

/** RFC 3463 code right after the reply code ("550 5.1.1 …", "550-5.1.1 …"), else the reply code's class (5.0.0 / 4.0.0). */
export function enhancedStatus(response: string, code: number): string {
  const cls = Math.floor(code / 100);
  const m = /^\s*\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})(?![.\d])/.exec(response);
  if (m && Number(m[1]) === cls) return `${m[1]}.${m[2]}.${m[3]}`;
  return `${cls}.0.0`;
}

async function mailtoUnsubscribes(deps: BounceDeps, targets: InboundTarget[], scope: string | null): Promise<UnsubscribeDone[]> {
  const out: UnsubscribeDone[] = [];
  for (const t of targets) {
    if (t.kind !== 'unsubscribe') continue;
    const { contactId, campaignId } = t;
    const tenantId = t.tenantId ?? await deps.db.withSystem((c) => tenantOfContact(c, contactId));
    if (!tenantId || (scope && tenantId !== scope)) continue;
    const r = await deps.db.withTenant(tenantId, (c) =>
      unsubscribeContact(c, { tenantId, contactId, listIds: 'all', source: 'mailto', campaignId, detail: { via: 'mailto' } }));
    out.push({ tenantId, contactId, ...r });
  }
  return out;
}

/** VERP token first; then the original Message-ID; with a tenant scope, the report alone (Final-Recipient). */
async function locate(db: Db, targets: InboundTarget[], cls: Classification, scope: string | null): Promise<Located[]> {
  const out: Located[] = [];
  for (const t of targets) {
    if (t.kind !== 'verp') continue;
    const tenantId = await db.withSystem((c) => tenantOfMessage(c, t.messageId));
    if (tenantId && (!scope || tenantId === scope)) out.push({ tenantId, messageId: t.messageId, matchedBy: 'verp' });
  }
  if (out.length > 0 || targets.some((t) => t.kind === 'verp')) return out;
  if (cls.originalMessageId) {
    const header = cls.originalMessageId;
    if (scope) {
      const m = await db.withTenant(scope, (c) => messageByHeader(c, header));
      if (m) return [{ tenantId: scope, messageId: m.id, matchedBy: 'message_id' }];
    } else {
      const m = await db.withSystem((c) => messageByHeaderAnyTenant(c, header));
      if (m) return [{ tenantId: m.tenantId, messageId: m.messageId, matchedBy: 'message_id' }];
    }
  }
  return scope ? [{ tenantId: scope, messageId: null, matchedBy: 'none' }] : [];
}

/**
 * The raw report as it may be stored. Reports quote the original message (RFC 3464 DSNs, RFC 3834
 * auto-replies), whose confirm and unsubscribe links act for the recipient. Two steps:
 * 1. the tokens written plainly (or quoted-printable) are replaced (withoutCapabilityLinks), so the
 *    common report is kept, readable;
 * 2. the result is decoded part by part, off the loop (card-check.ts rawWithheldReason: base64,
 *    quoted-printable, HTML, attached messages): a card number ('card_data') or a token step 1 could
 *    not see ('capability_link': base64, percent-encoded, QP-escaped letters) withholds the raw bytes
 *    (raw NULL, raw_withheld says why; the classification is stored as always). 'unchecked': the check
 *    ran over its time budget or failed, so nothing proves the bytes clean.
 */
async function rawFacts(raw: Buffer, retentionDays: number,
  withheldReason: (raw: Buffer) => Promise<RawWithheld | 'unchecked' | null>): Promise<RawFacts> {
  const rawHash = sha256(raw);
  if (retentionDays <= 0) return { raw: null, rawHash, withheld: null };
  const kept = withoutCapabilityLinks(raw);
  const withheld = await withheldReason(kept);
  return withheld ? { raw: null, rawHash, withheld } : { raw: kept, rawHash, withheld: null };
}

// A signed token in a confirm (/a/…), unsubscribe (/u/…) or test-address verification (/t/…) path, also across quoted-printable soft
// line breaks ("=\r\n"). No overlap between the class and "=": linear on hostile input.
const CAPABILITY_PATH = /\/([aut])\/(?:[A-Za-z0-9_.-]|=\r?\n){20,}/g;

/**
 * The raw report with each confirm and unsubscribe token written plainly or quoted-printable replaced
 * by "[link removed]" (step 1 of rawFacts). Tokens in other encodings (base64) are not found here:
 * rawWithheldReason withholds a report that still holds one once decoded.
 */
export function withoutCapabilityLinks(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  CAPABILITY_PATH.lastIndex = 0;
  if (!CAPABILITY_PATH.test(text)) return raw;
  return Buffer.from(text.replace(CAPABILITY_PATH, '/$1/[link removed]'), 'latin1');
}

function sha256(v: Buffer | string): string {
  return createHash('sha256').update(v).digest('hex');
}

async function matchContact(c: Queryable, m: LedgerMessage | null, loc: Located, cls: Classification): Promise<{ contact: BounceContact | null; matchedBy: MatchedBy }> {
  if (m?.contactId) {
    const contact = await contactById(c, m.contactId);
    if (contact) return { contact, matchedBy: loc.matchedBy };
  }
  if (m?.recipient) return { contact: await contactByEmail(c, m.recipient), matchedBy: loc.matchedBy };
  if (m || !cls.recipient) return { contact: null, matchedBy: loc.matchedBy };
  const contact = await contactByEmail(c, cls.recipient);
  return { contact, matchedBy: contact ? 'recipient' : loc.matchedBy };
}

async function recordBounce(deps: BounceDeps, loc: Located, cls: Classification, source: BounceSource, raw: RawFacts): Promise<RecordedBounce> {
  const r = await deps.db.withTenant(loc.tenantId, async (c): Promise<RecordedBounce> => {
    const m = loc.messageId ? await getMessage(c, loc.messageId, true) : null;
    const { contact, matchedBy } = await matchContact(c, m, loc, cls);
    const address = m ? m.recipient ?? contact?.email ?? null : contact?.email ?? cls.recipient;
    const base = { tenantId: loc.tenantId, messageId: m?.id ?? null, contactId: contact?.id ?? null, matchedBy: m || contact ? matchedBy : 'none' as MatchedBy, kind: cls.kind };
    const bounceId = await insertBounce(c, {
      ...base, campaignId: m?.campaignId ?? null, source, status: cls.status, reason: cls.reason, diagnostic: cls.diagnostic,
      recipient: cls.recipient ?? m?.recipient ?? null, feedbackType: cls.feedbackType, raw: raw.raw, rawWithheld: raw.withheld,
      rawHash: raw.rawHash, rawRetentionDays: deps.settings.rawRetentionDays,
    });
    if (!bounceId) return { ...base, bounceId: null, duplicate: true, action: null, campaignPaused: null };
    if (m) await recordOnMessage(c, m, cls, bounceId);
    const action = await applyBounceActions(c, {
      tenantId: loc.tenantId, kind: cls.kind, bounceId, messageId: m?.id ?? null, contact, address, status: cls.status, feedbackType: cls.feedbackType,
    }, deps.settings);
    await setBounceAction(c, bounceId, action);
    const campaignPaused = m?.campaignId ? await checkCampaignPause(c, m.campaignId, cls.kind, deps.settings) : null;
    return { ...base, bounceId, duplicate: false, action, campaignPaused };
  });
  if (!r.duplicate) deps.onRecorded?.(r.kind, source);
  deps.log.info({ tenantId: r.tenantId, messageId: r.messageId, kind: r.kind, matchedBy: r.matchedBy, action: r.action, duplicate: r.duplicate,
    campaignPaused: r.campaignPaused }, 'bounce processed');
  return r;
}

/**
 * RFC 3464 reports whose recipients were delayed, relayed, delivered or expanded (no `Action: failed`)
 * are not bounces: they go on the message's timeline and nowhere else (no bounce row, no counting).
 */
export function isDeliveryReportOnly(c: Classification): boolean {
  if (c.kind === 'complaint' || c.kind === 'feedback' || c.kind === 'autoreply') return false;
  return c.recipients.length > 0 && c.recipients.every((r) => r.action !== null && r.action !== 'failed');
}

async function recordDeliveryReport(deps: BounceDeps, loc: Located, cls: Classification): Promise<boolean> {
  if (!loc.messageId) return false;
  const messageId = loc.messageId;
  const report = cls.recipients[0];
  const found = await deps.db.withTenant(loc.tenantId, async (c) => {
    const m = await getMessage(c, messageId, false);
    if (!m) return false;
    const event = report.action === 'delayed' ? 'delayed' : 'delivery_report';
    await recordEvent(c, m, event, {
      action: report.action, status: report.status, reason: report.reason, diagnostic: report.diagnostic?.slice(0, 300) ?? null,
    });
    return true;
  });
  deps.log.info({ tenantId: loc.tenantId, messageId, action: report.action }, 'delivery report recorded on the timeline');
  return found;
}

/** The message's timeline always gets an event; its status changes for hard bounces and complaints. */
async function recordOnMessage(c: Queryable, m: LedgerMessage, cls: Classification, bounceId: string): Promise<void> {
  const detail = { bounceId, status: cls.status, classification: cls.reason, diagnostic: cls.diagnostic?.slice(0, 300) ?? null, feedbackType: cls.feedbackType };
  if (cls.kind === 'complaint') return markComplained(c, m, detail);
  if (cls.kind === 'hard' && m.status !== 'complained') return markBounced(c, m, detail);
  await recordEvent(c, m, EVENT_OF[cls.kind], detail);
}

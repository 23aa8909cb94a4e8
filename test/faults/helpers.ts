// Helpers for the fault tests (audiences: test/support/given.ts), a campaign made and started
// through the real API, polling, and the reconciliation of the ledger with what the SMTP server
// accepted (every duplicate must be explained by a drop after acceptance or a reclaimed lease).
import { expect } from 'vitest';
import pg from 'pg';
import type { FaultSmtp } from '../support/fault-smtp.js';
import { sleep } from '../support/wait.js';

export type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

export const NEWSLETTER_MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{name}}, this month at {{tenantName}}.</mj-text>
        <mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;


export async function query<T extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query<T>(sql, params)).rows; } finally { await c.end(); }
}

/** A JSON API caller for one key against one base URL. */
export function caller(base: string, key: string): Call {
  return async (method, path, body) => {
    const res = await fetch(base + path, {
      method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, body: parsed };
  };
}

export async function defaultListId(dbUrl: string, tenantId: string): Promise<string> {
  return (await query<{ id: string }>(dbUrl, 'SELECT id FROM lists WHERE tenant_id = $1 AND is_default', [tenantId]))[0].id;
}

/** Lifts the tenant's campaign rate (the default 50/s would make 5,000 recipients take 100 s). */
export async function fastTenant(api: Call): Promise<void> {
  const r = await api('PATCH', '/api/tenant', { sendRatePerSecond: 100_000 });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** Creates a template and a campaign on the list through the API, and starts it. Returns the campaign id. */
export async function startCampaign(api: Call, listId: string, name = 'Fault run'): Promise<string> {
  const t = await api('POST', '/api/templates', { name: 'Newsletter', mjml: NEWSLETTER_MJML, subject: 'News for {{name}}' });
  expect(t.status, JSON.stringify(t.body)).toBe(201);
  const c = await api('POST', '/api/campaigns', { name, templateId: t.body.id, listIds: [listId] });
  expect(c.status, JSON.stringify(c.body)).toBe(201);
  const s = await api('POST', `/api/campaigns/${c.body.id}/start`);
  expect(s.status, JSON.stringify(s.body)).toBe(202);
  return c.body.id as string;
}

export interface LedgerCounts { total: number; byStatus: Record<string, number> }

export async function ledgerCounts(dbUrl: string, campaignId: string): Promise<LedgerCounts> {
  const rows = await query<{ status: string; n: number }>(dbUrl, 'SELECT status, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY status', [campaignId]);
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  return { total: rows.reduce((a, r) => a + r.n, 0), byStatus };
}

/** Polls the campaign (owner connection) until it is completed; fails with its last state and figures. */
export async function waitForCompletion(dbUrl: string, campaignId: string, timeoutMs: number, onTick?: () => void): Promise<number> {
  const t0 = Date.now();
  let last: unknown = null;
  while (Date.now() - t0 < timeoutMs) {
    const [c] = await query<{ status: string; paused_reason: string | null }>(dbUrl, 'SELECT status, paused_reason FROM campaigns WHERE id = $1', [campaignId]);
    if (c?.status === 'completed') return Date.now() - t0;
    if (c && c.status !== 'running') throw new Error(`campaign is ${c.status} (${c.paused_reason})`);
    last = { campaign: c, ledger: await ledgerCounts(dbUrl, campaignId) };
    onTick?.();
    await sleep(250);
  }
  throw new Error(`campaign not completed after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

export interface Reconciliation {
  ledgerSent: number; distinctAccepted: number; totalAccepted: number;
  duplicates: number; duplicatedMessages: number;
  /** Duplicates explained by a connection dropped after the server accepted the DATA. */
  dropAfterAcceptDuplicates: number;
  /** Duplicates explained by a lease reclaimed from a dead (or cut-off) worker. */
  reclaimDuplicates: number;
  reclaimedMessages: number;
  /** Accepted by the server but not 'sent' in the ledger, or 'sent' but never accepted: must be empty. */
  acceptedNotSent: string[]; sentNotAccepted: string[];
  /** Duplicates neither explanation covers: must be empty. */
  unexplained: { id: string; count: number; dropsAfterAccept: number; reclaims: number }[];
}

/**
 * The ledger against the SMTP server: every 'sent' row was accepted at least once, everything
 * accepted is 'sent', and each extra copy of a message is explained by a drop after acceptance or by
 * a reclaimed lease (the only two ways a message may go out twice).
 */
export async function reconcile(dbUrl: string, campaignId: string, smtp: FaultSmtp): Promise<Reconciliation> {
  const sent = new Set((await query<{ id: string }>(dbUrl, "SELECT id FROM messages WHERE campaign_id = $1 AND status = 'sent'", [campaignId])).map((r) => r.id));
  const reclaims = new Map((await query<{ id: string; n: number }>(dbUrl, `SELECT e.message_id AS id, count(*)::int AS n FROM message_events e
    JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.type = 'reclaimed' GROUP BY e.message_id`, [campaignId])).map((r) => [r.id, r.n]));
  const r: Reconciliation = {
    ledgerSent: sent.size, distinctAccepted: 0, totalAccepted: 0, duplicates: 0, duplicatedMessages: 0,
    dropAfterAcceptDuplicates: 0, reclaimDuplicates: 0, reclaimedMessages: reclaims.size, acceptedNotSent: [], sentNotAccepted: [], unexplained: [],
  };
  for (const [id, count] of smtp.accepted) {
    r.distinctAccepted++;
    r.totalAccepted += count;
    if (!sent.has(id)) r.acceptedNotSent.push(id);
    if (count < 2) continue;
    r.duplicates += count - 1;
    r.duplicatedMessages++;
    const drops = smtp.droppedAfterAccept.get(id) ?? 0;
    const reclaimed = reclaims.get(id) ?? 0;
    const byDrop = Math.min(count - 1, drops);
    r.dropAfterAcceptDuplicates += byDrop;
    r.reclaimDuplicates += Math.min(count - 1 - byDrop, reclaimed);
    if (count - 1 > drops + reclaimed) r.unexplained.push({ id, count, dropsAfterAccept: drops, reclaims: reclaimed });
  }
  for (const id of sent) if (!smtp.accepted.has(id)) r.sentNotAccepted.push(id);
  return r;
}

/** Prints a figure line that shows up in the vitest output (and in CI logs). */
export function report(label: string, figures: Record<string, unknown>): void {
  console.log(`[faults] ${label}: ${Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ')}`);
}

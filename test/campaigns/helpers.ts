// Helpers for campaign tests: polling for a campaign's state, tenant settings, what the sink got.
// (Lists, audiences, templates and campaigns are made with test/support/given.ts.)
import { expect } from 'vitest';
import type { TestApp, TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { waitFor } from '../support/wait.js';

export async function getCampaign(t: TestTenant, id: string): Promise<any> {
  const r = await t.api('GET', `/api/campaigns/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

/** Polls until the predicate holds for the campaign (or fails with the last state seen). */
export async function waitForCampaign(t: TestTenant, id: string, pred: (c: any) => boolean, timeoutMs = 20_000): Promise<any> {
  let last: any = null;
  return waitFor(async () => { last = await getCampaign(t, id); return pred(last) && last; }, {
    timeout: timeoutMs, interval: 100, message: () => `campaign never reached the expected state; last: ${JSON.stringify(last)}`,
  });
}

export async function setTenant(app: TestApp, tenantId: string, sql: string, params: unknown[] = []): Promise<void> {
  await ownerQuery(app.db.url, `UPDATE tenants SET ${sql} WHERE id = $1`, [tenantId, ...params]);
}

/** How many messages each envelope recipient got. */
export function perRecipient(app: TestApp): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of app.sink.received) for (const to of r.envelopeTo) m.set(to.toLowerCase(), (m.get(to.toLowerCase()) ?? 0) + 1);
  return m;
}

/** The unfolded value of a header as sent (mailparser turns List-* headers into objects). */
export function rawHeader(lines: readonly { key: string; line: string }[], name: string): string {
  const l = lines.find((x) => x.key === name);
  return l ? l.line.slice(l.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { startFaultSmtp, type FaultSmtp } from '../support/fault-smtp.js';
import { killAll, startProcess } from '../support/processes.js';
import { defaultListId, fastTenant, query, seedSubscribers, startCampaign, waitForCompletion } from '../faults/helpers.js';
let app: TestApp; let smtp: FaultSmtp;
beforeAll(async () => { app = await startTestApp({ roles: { worker: false, inbound: false } }); });
afterEach(async () => { await killAll(); await smtp?.close(); });
afterAll(() => app?.stop());
it('debug three', async () => {
  const N = 3000;
  smtp = await startFaultSmtp({ seed: 3, slowMs: [1, 8] });
  const t = await app.tenant(); await fastTenant(t.api);
  const list = await defaultListId(app.db.url, t.id);
  await seedSubscribers(app.db.url, t.id, list, N, 'three');
  const env = { SEND_LEASE_SECONDS: '5', RETRY_BASE_SECONDS: '0.05', MAX_ATTEMPTS: '20', SMTP_POOL_SIZE: '5' };
  await Promise.all([1, 2, 3].map(() => startProcess('worker', { databaseUrl: app.db.url, smtpUrl: smtp.url, env })));
  const campaignId = await startCampaign(t.api, list, 'Three');
  await waitForCompletion(app.db.url, campaignId, 120_000);
  const dups = smtp.duplicates();
  console.log('DUPS', JSON.stringify(dups), JSON.stringify(smtp.stats));
  for (const d of dups.slice(0, 3)) {
    console.log('EVENTS', d.key, JSON.stringify(await query(app.db.url, 'SELECT type, detail, at FROM message_events WHERE message_id = $1 ORDER BY id', [d.key])));
    console.log('FATES', JSON.stringify(smtp.messages.filter((m) => m.key === d.key).map((m) => ({ at: m.at, rcpt: m.rcpt }))));
    console.log('ROW', JSON.stringify(await query(app.db.url, 'SELECT status, attempts, lease_until, updated_at FROM messages WHERE id = $1', [d.key])));
  }
  expect(dups).toEqual([]);
}, 150_000);

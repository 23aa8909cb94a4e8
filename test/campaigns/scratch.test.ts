import { afterAll, beforeAll, it } from 'vitest';
import { startTestApp, type TestApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { createCampaign, createTemplate, defaultList, seedContacts } from './helpers.js';
let app: TestApp; let t: TestTenant;
beforeAll(async () => { app = await startTestApp(); t = await app.tenant(); });
afterAll(() => app.stop());
it('debug', async () => {
  const list = await defaultList(app, t.id);
  await seedContacts(app, t.id, { prefix: 'ok', n: 5, listId: list });
  const templateId = await createTemplate(t);
  const campaign = await createCampaign(t, templateId, [list]);
  console.log((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).body);
  await new Promise((r) => setTimeout(r, 3000));
  console.log(await ownerQuery(app.db.url, 'SELECT name, state, output, retry_count FROM pgboss.job'));
  console.log(await ownerQuery(app.db.url, 'SELECT status, audience_ready_at, heartbeat_at FROM campaigns'));
  console.log(await ownerQuery(app.db.url, 'SELECT status, reason, count(*) FROM messages GROUP BY 1,2'));
  console.log(app.sink.received.length);
});

import { it, expect } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { startProcess } from '../support/processes.js';
it('starts', async () => {
  const db = await createTestDatabase();
  const t0 = Date.now();
  const w = await startProcess('worker', { databaseUrl: db.url });
  const t1 = Date.now();
  const web = await startProcess('web', { databaseUrl: db.url });
  const t2 = Date.now();
  const r = await fetch(web.url + '/readyz');
  console.log('worker', t1 - t0, 'web', t2 - t1, r.status, JSON.stringify(w.output()), web.output().slice(0, 500));
  await w.kill9(); await web.stop();
  console.log(await web.exited);
  await db.drop();
});

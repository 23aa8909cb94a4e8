// Processes started at the same moment on a fresh database (a deploy that starts web and workers
// together) must all come up: each one runs the migrations and creates pg-boss's queues at boot.
// First the boot step that races (startQueue, as many processes would run it, on fresh databases),
// then real processes.
import { afterAll, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/log.js';
import { QUEUES, startQueue, type Boss } from '../../src/platform/queue.js';
import { createTestDatabase } from '../support/db.js';
import { killAll, startProcess } from '../support/processes.js';
import { query, report } from './helpers.js';

afterAll(() => killAll());

const QUEUE_NAMES = Object.values(QUEUES);

it('the queue set-up of six processes booting at once on a fresh database never fails', async () => {
  const log = createLogger('silent', false);
  const failures: string[] = [];
  const ROUNDS = 3;
  for (let round = 0; round < ROUNDS; round++) {
    const db = await createTestDatabase();
    const booted = await Promise.allSettled(Array.from({ length: 6 }, () => startQueue(db.url, log, { supervise: false, schedule: false })));
    for (const b of booted) if (b.status === 'rejected') failures.push(String((b.reason as Error).message));
    await Promise.all(booted.filter((b): b is PromiseFulfilledResult<Boss> => b.status === 'fulfilled').map((b) => b.value.stop({ graceful: false, wait: true })));
    const queues = await query<{ name: string }>(db.url, 'SELECT name FROM pgboss.queue').catch(() => []);
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(QUEUE_NAMES));
    await db.drop();
  }
  report('queue set-up, 6 at once', { rounds: ROUNDS, failures: failures.length, first: failures[0] ?? '-' });
  expect(failures).toEqual([]);
}, 60_000);

it('a web process and three workers started together on a fresh database all start', async () => {
  const db = await createTestDatabase();
  try {
    const started = await Promise.allSettled([
      startProcess('web', { databaseUrl: db.url }),
      ...[1, 2, 3].map(() => startProcess('worker', { databaseUrl: db.url })),
    ]);
    const outcomes = started.map((s) => (s.status === 'fulfilled' ? 'started' : String((s.reason as Error).message).split('\n').slice(0, 2).join(' ')));
    expect(outcomes).toEqual(outcomes.map(() => 'started'));
  } finally {
    await killAll();
    await db.drop();
  }
}, 60_000);

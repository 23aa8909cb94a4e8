// The capture outbox (src/platform/outbox.ts) on a real file system: private modes, names that carry
// the ledger id, erasure by id (also of a send still in flight), and a large outbox listed and
// searched without holding the event loop.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { createOutboxMailer, ledgerIdOf, listOutbox, outboxDir, outboxFileId, readOutbox, removeOutboxFiles } from '../../src/platform/outbox.js';

const tempDataDir = () => mkdtemp(path.join(os.tmpdir(), 'postgate-outbox-'));

function mail(id: string, to = 'ann@example.org') {
  return {
    from: 'news@acme.org', to, subject: 'Hello', text: 'Hi', messageId: `<${id}@acme.org>`,
    headers: { 'X-Postgate-Message': id }, envelope: { from: 'bounces@acme.org', to },
  };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('outbox files', () => {
  it('writes each message 0600 in a 0700 directory, named by its ledger id', async () => {
    const dataDir = await tempDataDir();
    const mailer = createOutboxMailer(dataDir);
    const id = randomUUID();
    expect(await mailer.send(mail(id))).toEqual({ kind: 'sent', response: '250 written to outbox' });
    const files = await readdir(outboxDir(dataDir));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\dTZ-]+_${id}\\.eml$`));
    expect(outboxFileId(files[0])).toBe(id);
    expect(await mode(outboxDir(dataDir))).toBe(0o700);
    expect(await mode(path.join(outboxDir(dataDir), files[0]))).toBe(0o600);
    expect((await readOutbox(dataDir, files[0]))?.toString()).toContain('Subject: Hello');
    mailer.close();
  });

  it('closes an outbox directory made world-readable before (0755 → 0700)', async () => {
    const dataDir = await tempDataDir();
    await mkdir(outboxDir(dataDir), { mode: 0o755 });
    await writeFile(path.join(outboxDir(dataDir), `2020-01-01T00-00-00-000Z_${randomUUID()}@acme.org.eml`), 'old', { mode: 0o644 });
    const mailer = createOutboxMailer(dataDir);
    await mailer.send(mail(randomUUID()));
    expect(await mode(outboxDir(dataDir))).toBe(0o700);
    mailer.close();
  });

  it('reads the ledger id from X-Postgate-Message, else from a uuid Message-ID', () => {
    const id = randomUUID();
    expect(ledgerIdOf(mail(id))).toBe(id);
    expect(ledgerIdOf({ messageId: `<${id.toUpperCase()}@x.org>` })).toBe(id);
    expect(ledgerIdOf({ messageId: '<abc@x.org>' })).toBeNull();
    expect(outboxFileId(`2020-01-01T00-00-00-000Z_${id}@acme.org.eml`)).toBe(id); // names written before this change
    expect(outboxFileId('../etc/passwd')).toBeNull();
  });
});

describe('erasure in the outbox', () => {
  it('deletes exactly the files of the given messages', async () => {
    const dataDir = await tempDataDir();
    const mailer = createOutboxMailer(dataDir);
    const [a1, a2, b] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [a1, a2, b]) await mailer.send(mail(id));
    await writeFile(path.join(outboxDir(dataDir), `2020-01-01T00-00-00-000Z_${a1}@acme.org.eml`), 'an older copy');
    expect(await mailer.forget?.([a1, a2])).toBe(3);
    const left = await readdir(outboxDir(dataDir));
    expect(left.map(outboxFileId)).toEqual([b]);
    expect(await removeOutboxFiles(dataDir, [randomUUID()])).toBe(0);
    expect(await removeOutboxFiles(await tempDataDir(), [b])).toBe(0); // no outbox yet
    mailer.close();
  });

  it('deletes the file of a send that was in flight while its person was erased', async () => {
    const dataDir = await tempDataDir();
    const mailer = createOutboxMailer(dataDir);
    const id = randomUUID();
    await mailer.send(mail(randomUUID())); // the directory exists
    expect(await mailer.forget?.([id])).toBe(0); // nothing written yet
    await mailer.send(mail(id)); // the worker finishes the send afterwards
    expect((await readdir(outboxDir(dataDir))).map(outboxFileId)).not.toContain(id);
    mailer.close();
  });
});

describe('a large outbox', () => {
  const N = 50_000;

  it(`lists the newest and erases by id among ${N} files without holding the event loop`, async () => {
    const dataDir = await tempDataDir();
    const dir = outboxDir(dataDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const ids: string[] = [];
    const base = Date.UTC(2026, 0, 1);
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, k) => {
        const id = randomUUID();
        ids[i + k] = id;
        const stamp = new Date(base + (i + k) * 1000).toISOString().replace(/[:.]/g, '-');
        return writeFile(path.join(dir, `${stamp}_${id}.eml`), 'x');
      }));
    }
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t0 = performance.now();
    const newest = await listOutbox(dataDir, 200);
    const listMs = performance.now() - t0;
    const t1 = performance.now();
    const removed = await removeOutboxFiles(dataDir, [ids[7], ids[N - 1]]);
    const eraseMs = performance.now() - t1;
    delay.disable();
    const maxBlockMs = delay.max / 1e6;
    console.log(`outbox of ${N} files: list newest 200 in ${listMs.toFixed(0)} ms, erase 2 by id in ${eraseMs.toFixed(0)} ms, longest event-loop delay ${maxBlockMs.toFixed(1)} ms`);
    expect(newest).toHaveLength(200);
    expect(newest[0].messageId).toBe(ids[N - 1]);
    expect(newest[199].messageId).toBe(ids[N - 200]);
    expect(removed).toBe(2);
    expect(maxBlockMs).toBeLessThan(250); // a blocking walk (readdirSync + reading each file) holds it for over a second here
  }, 120_000);
});

// Erasure reaches the capture outbox (no SMTP_URL): DELETE /api/contacts/:id deletes the .eml files of
// the person's messages (found by the ledger id in their names) and no one else's.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { consent } from '../support/mail.js';
import { waitFor } from '../support/wait.js';
import { outboxDir, outboxFileId } from '../../src/platform/outbox.js';

const { app, t } = useApp({ smtp: false });

async function files(): Promise<string[]> {
  return readdir(outboxDir(app.pg.config.DATA_DIR)).catch(() => []);
}

describe('erasure and the outbox', () => {
  it("deletes the person's outbox files and keeps everyone else's", async () => {
    const ann = await t.api('POST', '/api/contacts', { email: 'ann@example.org', newsletter: true, consent });
    const bob = await t.api('POST', '/api/contacts', { email: 'bob@example.org', newsletter: true, consent });
    expect([ann.status, bob.status]).toEqual([201, 201]);
    await waitFor(async () => (await files()).length === 2, { timeout: 30_000, message: 'two activation mails in the outbox' });
    const ids = async (contact: string) => (await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM messages WHERE contact_id = $1', [contact])).map((r) => r.id);
    const [annMessage] = await ids(ann.body.id);
    const [bobMessage] = await ids(bob.body.id);
    expect((await files()).map(outboxFileId).sort()).toEqual([annMessage, bobMessage].sort());

    const erased = await t.api('DELETE', `/api/contacts/${ann.body.id}`);
    expect(erased.status).toBe(200);
    expect(erased.body).not.toHaveProperty('messageIds');
    const left = await files();
    expect(left.map(outboxFileId)).toEqual([bobMessage]);
    const all = await Promise.all(left.map((f) => readFile(path.join(outboxDir(app.pg.config.DATA_DIR), f), 'utf8')));
    expect(all.join('')).not.toContain('ann@example.org');
  }, 60_000);
});

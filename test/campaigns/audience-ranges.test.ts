// Audience materialisation in parallel key ranges (issue 18, a million recipients): the uuid space is
// cut into consecutive ranges, each materialised chunk by chunk on its own connection. Every
// subscribed contact becomes exactly one ledger row, including ids on and next to a range boundary
// and contacts on two of the campaign's lists, and a repeated (resumed) run adds nobody.
import { describe, expect, it } from 'vitest';
import { idRanges, materialiseAudience, materialiseChunk } from '../../src/campaigns/audience.js';
import { getCampaign } from '../../src/campaigns/campaigns-store.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';

const { app, t } = useApp();

describe('idRanges', () => {
  it('cuts the uuid space into consecutive ranges that cover every id once', () => {
    expect(idRanges(1)).toEqual([{ after: null, through: null }]);
    const four = idRanges(4);
    expect(four.map((r) => [r.after?.slice(0, 8) ?? null, r.through?.slice(0, 8) ?? null])).toEqual([
      [null, '3fffffff'], ['3fffffff', '7fffffff'], ['7fffffff', 'bfffffff'], ['bfffffff', null],
    ]);
    for (const n of [2, 3, 5, 7, 16, 256]) {
      const r = idRanges(n);
      expect(r).toHaveLength(n);
      expect(r[0].after).toBeNull();
      expect(r[n - 1].through).toBeNull();
      for (let k = 1; k < n; k++) expect(r[k].after).toBe(r[k - 1].through);
      for (let k = 1; k < n - 1; k++) expect(r[k].through! > r[k].after!).toBe(true);
    }
    expect(idRanges(0)).toHaveLength(1);
    expect(idRanges(1000)).toHaveLength(256);
  });
});

describe('parallel materialisation', () => {
  it('queues every subscribed contact once, boundary ids and contacts on two lists included, and a rerun adds nobody', async () => {
    const list = await given(app, t).defaultList();
    const other = await given(app, t).list('Second');
    const random = await given(app, t).contacts({ prefix: 'r', n: 37, listId: list });
    const edges = ['00000000-0000-4000-8000-000000000000', '3fffffff-ffff-ffff-ffff-ffffffffffff', '40000000-0000-4000-8000-000000000000',
      '7fffffff-ffff-ffff-ffff-ffffffffffff', 'bfffffff-ffff-ffff-ffff-fffffffffffe', 'ffffffff-ffff-ffff-ffff-ffffffffffff'];
    await ownerQuery(app.db.url, `WITH c AS (INSERT INTO contacts (id, tenant_id, email, email_key, status, verified_at)
        SELECT id::uuid, $1, 'edge' || n || '@inbox.example', 'edge' || n || '@inbox.example', 'active', now()
        FROM unnest($2::text[]) WITH ORDINALITY AS e(id, n) RETURNING id)
      INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
        SELECT $1, c.id, l, 'subscribed' FROM c CROSS JOIN unnest(ARRAY[$3::uuid, $4::uuid]) AS l`, [t.id, edges, list, other]);
    const created = await given(app, t).campaign(await given(app, t).template(), [list, other]);
    const campaign = (await app.pg.deps.db.withTenant(t.id, (c) => getCampaign(c, created.id as string)))!;

    expect(await materialiseAudience(app.pg.deps.db, campaign, 4, 4)).toBe(random.length + edges.length);
    const rows = await ownerQuery<{ contact_id: string; n: number }>(app.db.url,
      'SELECT contact_id::text, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY contact_id', [campaign.id]);
    expect(rows).toHaveLength(random.length + edges.length);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(rows.map((r) => r.contact_id)).toEqual(expect.arrayContaining(edges));

    expect(await materialiseAudience(app.pg.deps.db, campaign, 3, 7)).toBe(0);
    expect(await materialiseAudience(app.pg.deps.db, campaign, 100, 1)).toBe(0);

    // Each range takes exactly the ids inside it: no overlap (the sum) and the right ones (per range).
    const ids = rows.map((r) => r.contact_id);
    const second = await given(app, t).campaign(await given(app, t).template(), [list, other]);
    const c2 = (await app.pg.deps.db.withTenant(t.id, (c) => getCampaign(c, second.id as string)))!;
    const scanned = await app.pg.deps.db.withTenant(t.id, async (c) => {
      const out: number[] = [];
      for (const r of idRanges(4)) out.push((await materialiseChunk(c, c2, r.after, 1000, null, r.through)).scanned);
      return out;
    });
    expect(scanned).toEqual(idRanges(4).map((r) => ids.filter((id) => (r.after === null || id > r.after) && (r.through === null || id <= r.through)).length));
    expect(scanned.reduce((a, b) => a + b, 0)).toBe(ids.length);
  });
});

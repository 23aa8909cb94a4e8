// POST /api/imports/preview over real HTTP: a file's columns, first rows and the mapping the import
// would use, read as the import reads it (encoding, delimiter, quoted line breaks); the start of a
// larger file (partial=true); whole-file faults with the import's codes; nothing is stored; and the
// suggested mapping, edited, is accepted back by POST /api/imports.
import { describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { measureLoop } from '../support/loop-hold.js';
import { waitFor } from '../support/wait.js';

const { app, t } = useApp();

async function preview(tt: TestTenant, body: string | Buffer, query = '', type = 'text/csv') {
  const res = await fetch(`${app.url}/api/imports/preview${query}`, {
    method: 'POST', headers: { authorization: `Bearer ${tt.key}`, 'content-type': type }, body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const countImports = async (tenantId: string) =>
  Number((await ownerQuery(app.db.url, 'SELECT count(*) AS n FROM imports WHERE tenant_id = $1', [tenantId]))[0].n);

describe('preview', () => {
  it('gives the headers, the first rows as raw cells and the mapping the import would use; stores nothing', async () => {
    const csv = 'E-Mail;First Name;Last Name;Plan;consent_date\n'
      + 'ann@example.org;Ann;"Lee\nJr";gold;2024-03-01\n'
      + Array.from({ length: 7 }, (_, i) => `p${i}@example.org;P;${i};free;2024-03-02\n`).join('');
    const r = await preview(t, csv);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      encoding: 'utf-8', delimiter: ';', headers: ['E-Mail', 'First Name', 'Last Name', 'Plan', 'consent_date'], more: true,
      mapping: { email: 'E-Mail', name: ['First Name', 'Last Name'], consentDate: 'consent_date', attributes: { Plan: { attribute: 'Plan', type: 'string' } } },
      ignored: [],
    });
    expect(r.body.rows).toHaveLength(5);
    expect(r.body.rows[0]).toEqual(['ann@example.org', 'Ann', 'Lee\nJr', 'gold', '2024-03-01']);
    expect(await countImports(t.id)).toBe(0);
  });

  it('detects windows-1252 as the import does, and says when there are no more rows', async () => {
    const bytes = Buffer.concat([Buffer.from('email,name\nz@example.org,'), Buffer.from([0x4a, 0xfc, 0x72, 0x67, 0x65, 0x6e]), Buffer.from('\n')]);
    const r = await preview(t, bytes);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ encoding: 'windows-1252', delimiter: ',', rows: [['z@example.org', 'Jürgen']], more: false });
  });

  it('without an address column the mapping has no email, and the rest are still offered', async () => {
    const r = await preview(t, 'Kontakt,Stadt\nx@example.org,Bern\n');
    expect(r.status).toBe(200);
    expect(r.body.mapping.email).toBeUndefined();
    expect(Object.keys(r.body.mapping.attributes)).toEqual(['Kontakt', 'Stadt']);
  });

  it('partial=true: the start of a larger file, its cut last line dropped, an open quote at the cut forgiven', async () => {
    const start = 'email,note\na@example.org,x\nb@example.org,"two\nli';
    const whole = await preview(t, start);
    expect(whole.status).toBe(422);
    expect(whole.body.error.code).toBe('unclosed_quote');
    const partial = await preview(t, start, '?partial=true');
    expect(partial.status, JSON.stringify(partial.body)).toBe(200);
    expect(partial.body).toMatchObject({ headers: ['email', 'note'], rows: [['a@example.org', 'x']], more: true });
  });

  it('refuses a file that is not CSV with the import\'s code and field: 422; an unsupported type is 415', async () => {
    const empty = await preview(t, '');
    expect(empty.status).toBe(422);
    expect(empty.body.error).toMatchObject({ code: 'empty_file', field: 'file' });
    const binary = await preview(t, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x0a]));
    expect(binary.status).toBe(422);
    expect(binary.body.error.code).toBe('not_csv');
    const badDelimiter = await preview(t, 'email\n', '?delimiter=%7C');
    expect(badDelimiter.status).toBe(422);
    expect(badDelimiter.body.error.field).toBe('query.delimiter');
    expect((await preview(t, '{"email":1}', '', 'application/json')).status).toBe(415);
    expect(await countImports(t.id)).toBe(0);
  });

  it('the suggested mapping, edited, is taken back by POST /api/imports (a dry run)', async () => {
    const csv = 'Email,Score,Town\nm1@example.org,7,Bern\nm2@example.org,x,Genf\n';
    const { body } = await preview(t, csv);
    const mapping = { ...body.mapping, attributes: { Score: { attribute: 'score', type: 'number' } } }; // Town left out
    const res = await fetch(`${app.url}/api/imports?options=${encodeURIComponent(JSON.stringify({ dryRun: true, mapping }))}`, {
      method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' }, body: csv,
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    let view: any;
    await waitFor(async () => { view = (await t.api('GET', `/api/imports/${id}`)).body; return view.status === 'completed'; }, { timeout: 20_000 });
    expect(view.counts).toMatchObject({ rows: 2, created: 1, errors: 1 });
    expect(view.rowErrors[0]).toMatchObject({ row: 2, column: 'Score', code: 'invalid_number' });
  });

  it('hostile 1 MB files (one huge quoted field, a row of é): only the first 64 KiB are parsed, the event loop held < 50 ms', async () => {
    const pairs = 'email,name\n"a@b.org","' + '""'.repeat(520_000) + '"\n';
    const pairsInPrefix = 'email,name\n"a@b.org","' + '""'.repeat(32_700) + '"\nz@b.org,Z\n' + 'y@b.org,Y\n'.repeat(90_000);
    const accents = 'email,name\na@b.org,' + 'é'.repeat(520_000) + '\n';
    const accentsInPrefix = 'email,name\na@b.org,' + 'é'.repeat(32_700) + '\n' + 'y@b.org,Y\n'.repeat(90_000);
    const openHeader = '"' + '""\n'.repeat(330_000);
    const cases: { name: string; csv: string; status: number; check: (b: any) => void }[] = [
      { name: 'header never closed', csv: openHeader, status: 422, check: (b) => expect(b.error).toMatchObject({ code: 'unclosed_quote', field: 'file' }) },
      { name: 'huge quoted field', csv: pairs, status: 200, check: (b) => expect(b).toMatchObject({ headers: ['email', 'name'], rows: [], more: true, partial: true }) },
      { name: 'quoted field filling the prefix', csv: pairsInPrefix, status: 200, check: (b) => {
        expect(b).toMatchObject({ headers: ['email', 'name'], more: true, partial: true });
        expect(b.rows[0][1]).toHaveLength(32_700);
        expect(b.rows[1]).toEqual(['z@b.org', 'Z']);
      } },
      { name: 'row of é', csv: accents, status: 200, check: (b) => expect(b).toMatchObject({ encoding: 'utf-8', rows: [], more: true, partial: true }) },
      { name: 'é filling the prefix', csv: accentsInPrefix, status: 200, check: (b) => expect(b.rows[0][1]).toBe('é'.repeat(32_700)) },
    ];
    for (const c of cases) {
      const body = Buffer.from(c.csv, 'utf8');
      expect(body.length).toBeGreaterThan(512 * 1024);
      expect(body.length).toBeLessThanOrEqual(1024 * 1024);
      const { result, loop } = await measureLoop(() => preview(t, body));
      expect(result.status, `${c.name}: ${JSON.stringify(result.body).slice(0, 300)}`).toBe(c.status);
      c.check(result.body);
      console.log(`preview of ${c.name} (${body.length} bytes): main-thread hold max ${loop.holdMaxMs.toFixed(1)} ms, loop delay max ${loop.delayMaxMs.toFixed(1)} ms`);
      expect(loop.holdMaxMs, c.name).toBeLessThan(50);
    }
    const noHeader = await preview(t, Buffer.from('"' + 'x'.repeat(70_000), 'utf8'), '?partial=true');
    expect(noHeader.status).toBe(422);
    expect(noHeader.body.error).toMatchObject({ code: 'record_too_large', field: 'file' });
    expect(noHeader.body.error.message).toContain('64 KiB');
  });

  it('needs the subscribers scope', async () => {
    const campaignsOnly = await app.tenant({ scopes: ['campaigns'] });
    expect((await preview(campaignsOnly, 'email\na@example.org\n')).status).toBe(403);
  });
});

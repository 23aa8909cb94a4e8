// GET /api/contacts/export.csv: a streamed CSV of the contacts the listing's filters select, across
// several keyset pages, with formula-looking cells neutralised (OWASP CSV injection) and deleted
// lists left out; errors before the first byte are the API's JSON 422/403.
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_PAGE } from '../../src/consent/contacts-export.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });
let weekly: string;
let doomed: string;

const HOSTILE = ['=HYPERLINK("http://evil.test","x")', '+1+2', '-2+3', '@SUM(A1)', '\tTabbed', '\rReturn'];

async function exportCsv(query = '', key?: string): Promise<{ status: number; headers: Headers; rows: string[][]; text: string }> {
  const res = await fetch(`${app.url}/api/contacts/export.csv${query}`, { headers: { authorization: `Bearer ${key ?? t.key}` } });
  const text = await res.text();
  const rows = res.headers.get('content-type')?.startsWith('text/csv') ? parse(text, { bom: true, relax_column_count: false }) as string[][] : [];
  return { status: res.status, headers: res.headers, rows, text };
}

beforeAll(async () => {
  const g = given(app, t);
  weekly = await g.list('Weekly');
  doomed = await g.list('Doomed');
  await g.subscribedContact('anna@gmx.de', { name: 'Anna', attributes: { city: 'Köln', vip: true }, lists: ['default', weekly, doomed] });
  for (const [i, name] of HOSTILE.entries()) await g.pendingContact(`hostile${i}@example.com`, { name, attributes: { formula: name } });
  await g.pendingContact('-dash@example.com', { name: 'Dash' });
  expect((await t.api('DELETE', `/api/lists/${doomed}`)).status).toBe(204);
  await given(app, other).subscribedContact('other@gmx.de');
});

describe('the CSV', () => {
  it('is an attachment, streamed (chunked, no length), with the columns of the brief', async () => {
    const r = await exportCsv();
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="contacts-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(r.headers.get('content-length')).toBeNull();
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.rows[0]).toEqual(['id', 'email', 'name', 'status', 'created_at', 'verified_at', 'attributes', 'lists']);
    expect(r.rows).toHaveLength(1 + 1 + HOSTILE.length + 1); // no other tenant's contact
    const anna = r.rows.find((row) => row[1] === 'anna@gmx.de') as string[];
    expect(anna[2]).toBe('Anna');
    expect(anna[3]).toBe('active');
    expect(Date.parse(anna[4])).not.toBeNaN();
    expect(Date.parse(anna[5])).not.toBeNaN();
    expect(JSON.parse(anna[6])).toEqual({ city: 'Köln', vip: true });
    expect(anna[7]).toBe('Newsletter:subscribed|Weekly:subscribed'); // the deleted list is not shown
  });

  it('neutralises cells a spreadsheet would run as a formula (a leading single quote)', async () => {
    const r = await exportCsv();
    for (const [i, name] of HOSTILE.entries()) {
      const row = r.rows.find((x) => x[1] === `hostile${i}@example.com`) as string[];
      expect(row[2]).toBe(`'${name}`);
      expect(row[6]).toBe(JSON.stringify({ formula: name })); // JSON starts with {: left as it is
    }
    expect(r.rows.find((x) => x[2] === 'Dash')?.[1]).toBe("'-dash@example.com");
    expect(r.rows.find((x) => x[2] === 'Dash')?.[5]).toBe(''); // never verified
  });

  it('takes the listing filters: status, listId, q', async () => {
    expect((await exportCsv('?status=active')).rows.slice(1).map((x) => x[1])).toEqual(['anna@gmx.de']);
    expect((await exportCsv(`?listId=${weekly}`)).rows.slice(1).map((x) => x[1])).toEqual(['anna@gmx.de']);
    expect((await exportCsv(`?listId=${doomed}`)).rows).toHaveLength(1); // a deleted list selects no one
    expect((await exportCsv('?q=hostile&status=pending')).rows).toHaveLength(1 + HOSTILE.length);
    expect((await exportCsv(`?q=gmx&listId=${weekly}&subscriptionStatus=subscribed`)).rows.slice(1).map((x) => x[1])).toEqual(['anna@gmx.de']);
  });

  it('refuses bad filters and paging parameters with a JSON 422 naming the field, and needs the subscribers scope', async () => {
    for (const [query, field] of [['?status=zombie', 'query.status'], ['?listId=nope', 'query.listId'], ['?limit=5', 'query.limit'], ['?cursor=x', 'query.cursor']]) {
      const r = await exportCsv(query);
      expect(r.status, query).toBe(422);
      expect(JSON.parse(r.text).error).toMatchObject({ code: 'invalid', field });
    }
    const key = (await t.api('POST', '/api/keys', { scopes: ['transactional'] })).body.key;
    expect((await exportCsv('', key)).status).toBe(403);
  });
});

describe('many contacts', () => {
  it(`streams every contact across keyset pages of ${EXPORT_PAGE}, each once, in order`, async () => {
    const n = 2 * EXPORT_PAGE + 345;
    await ownerQuery(app.db.url, `INSERT INTO contacts (tenant_id, email, email_key, created_at)
      SELECT $1, 'bulk' || i || '@example.net', 'bulk' || i || '@example.net', now() - interval '1 day' + i * interval '1 millisecond'
      FROM generate_series(1, $2::int) i`, [t.id, n]);
    const r = await exportCsv('?q=@example.net');
    expect(r.status).toBe(200);
    const emails = r.rows.slice(1).map((x) => x[1]);
    expect(emails).toHaveLength(n);
    expect(new Set(emails).size).toBe(n);
    expect(emails[0]).toBe('bulk1@example.net');
    expect(emails[n - 1]).toBe(`bulk${n}@example.net`);
    expect((await exportCsv()).rows).toHaveLength(1 + n + 1 + HOSTILE.length + 1);
  });
});

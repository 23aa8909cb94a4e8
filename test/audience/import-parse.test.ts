// The CSV import parser (pure, streaming): encodings, delimiters, quoting, line numbers, mapping and
// presets, typed values, row errors, whole-file errors, deduplication, and that it streams (bounded
// slices, turns for the event loop, early stop).
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ImportFormatError, parseImport, sniffDelimiter, type ParseEvent, type ParseOptions, type ParsedRow, type RowError,
} from '../../src/audience/import-parse.js';
import { isIpAddress, parseBooleanCell, parseDateCell, parseNumberCell, splitListNames, splitMailchimpTags } from '../../src/audience/import-values.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/imports');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));

/** The bytes in pieces of `size` (1: byte by byte, to cross every boundary). */
async function* chunks(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function run(input: Buffer | AsyncIterable<Buffer> | NodeJS.ReadableStream, opts: ParseOptions = {}) {
  const p = parseImport(Buffer.isBuffer(input) ? chunks(input) : input, opts);
  const events: ParseEvent[] = [];
  for await (const e of p.events) events.push(e);
  const rows = events.flatMap((e) => (e.kind === 'row' ? [e.row] : []));
  const errors = events.flatMap((e) => (e.kind === 'error' ? [e.error] : []));
  const duplicates = events.flatMap((e) => (e.kind === 'duplicate' ? [e] : []));
  return { events, rows, errors, duplicates, summary: p.summary() };
}

async function formatError(input: Buffer | AsyncIterable<Buffer>, opts: ParseOptions = {}): Promise<ImportFormatError> {
  const err = await run(input, opts).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ImportFormatError);
  return err as ImportFormatError;
}

const byEmail = (rows: ParsedRow[], email: string) => rows.find((r) => r.email === email);
const codes = (errors: RowError[]) => errors.map((e) => [e.row, e.line, e.column, e.code]);

describe('encodings', () => {
  it('reads a UTF-8 file with a BOM: the BOM is not part of the first header', async () => {
    const { rows, summary } = await run(fixture('bom.csv'));
    expect(fixture('bom.csv').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(summary).toMatchObject({ encoding: 'utf-8', delimiter: ',', headers: ['email', 'name', 'plan'], rows: 2 });
    expect(rows.map((r) => [r.email, r.name, r.attributes])).toEqual([
      ['mia@example.com', 'Mia Example', { plan: 'pro' }], ['noah@example.org', 'Noah Example', { plan: 'free' }]]);
  });

  it('reads a BOM split across chunks (one byte at a time)', async () => {
    const { rows, summary } = await run(chunks(fixture('bom.csv'), 1));
    expect(summary.headers[0]).toBe('email');
    expect(rows).toHaveLength(2);
  });

  it('detects Windows-1252 (ü 0xFC, € 0x80) with ";" and CRLF, and maps typed German columns', async () => {
    const bytes = fixture('latin1-semicolon-crlf.csv');
    expect(bytes.includes(0xfc)).toBe(true);
    expect(bytes.includes(Buffer.from('\r\n'))).toBe(true);
    const { rows, errors, summary } = await run(bytes, {
      mapping: {
        email: 'E-Mail', name: 'Name',
        attributes: { Stadt: { attribute: 'city', type: 'string' }, Umsatz: { attribute: 'revenue', type: 'number' }, 'Kunde seit': { attribute: 'since', type: 'date' } },
      },
    });
    expect(errors).toEqual([]);
    expect(summary).toMatchObject({ encoding: 'windows-1252', delimiter: ';', rows: 3, ignoredColumns: ['Newsletter'] });
    expect(rows.map((r) => [r.line, r.email, r.name, r.attributes])).toEqual([
      [2, 'jana.mueller@example.com', 'Jana Müller', { city: 'Köln', revenue: 1234.5, since: '2019-12-31' }],
      [3, 'kai@example.org', 'Kai Weiß', { city: 'Düsseldorf', revenue: 99.9, since: '2020-02-01' }],
      [4, 'lea@example.com', 'Léa Façade', { city: 'Preis 5 €', revenue: 0.5, since: '2021-07-15' }],
    ]);
  });

  it('decides on the first non-ASCII byte even when it comes late or arrives byte by byte', async () => {
    const head = Buffer.from(`email,name\n${Array.from({ length: 1000 }, (_, i) => `a${i}@example.com,A\n`).join('')}`);
    const utf8 = Buffer.concat([head, Buffer.from('z@example.com,Zoë €\n')]);
    const cp1252 = Buffer.concat([head, Buffer.from('z@example.com,Zo'), Buffer.from([0xeb, 0x20, 0x80]), Buffer.from('\n')]);
    for (const size of [1, 4096]) {
      const a = await run(chunks(utf8, size));
      expect([a.summary.encoding, a.rows.at(-1)?.name]).toEqual(['utf-8', 'Zoë €']);
      const b = await run(chunks(cp1252, size));
      expect([b.summary.encoding, b.rows.at(-1)?.name]).toEqual(['windows-1252', 'Zoë €']);
    }
  });

  it('a pure ASCII file is reported as utf-8', async () => {
    expect((await run(Buffer.from('email\nx@example.com\n'))).summary.encoding).toBe('utf-8');
  });

  it('latin1 given: 0x80 is the C1 control, not €', async () => {
    const bytes = Buffer.concat([Buffer.from('email;city\nx@example.com;'), Buffer.from([0x80, 0xfc]), Buffer.from('\n')]);
    expect((await run(bytes, { encoding: 'latin1' })).rows[0].attributes).toEqual({ city: '\u0080ü' });
    expect((await run(bytes, { encoding: 'windows-1252' })).rows[0].attributes).toEqual({ city: '€ü' });
  });

  it('utf-8 given but the bytes are not UTF-8: invalid_encoding naming the field', async () => {
    const bytes = Buffer.concat([Buffer.from('email,name\nx@example.com,M'), Buffer.from([0xfc]), Buffer.from('ller\n')]);
    const err = await formatError(bytes, { encoding: 'utf-8' });
    expect([err.code, err.field]).toEqual(['invalid_encoding', 'encoding']);
  });

  it('the first non-ASCII character decides: valid UTF-8 there and a stray byte later is invalid_encoding, never windows-1252', async () => {
    const rowsOf = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `u${from + i}@example.com,N${from + i}\n`).join('');
    const bytes = Buffer.concat([Buffer.from(`email,name\nzoe@example.com,Zoë\n${rowsOf(4500)}bad@example.com,Ren`), Buffer.from([0xe9]), Buffer.from(`\n${rowsOf(10, 9000)}`)]);
    for (const size of [7, 65_536, 1 << 20]) {
      const p = parseImport(chunks(bytes, size));
      const rows: ParsedRow[] = [];
      const err = await (async () => { for await (const e of p.events) if (e.kind === 'row') rows.push(e.row); })().then(() => null, (e: unknown) => e as ImportFormatError);
      expect(err).toBeInstanceOf(ImportFormatError);
      // every row before the fault is read (so the job can import and report them), none after it; the byte and line are exact
      expect([err?.code, err?.field, err?.line, rows.length, rows[0].name, rows.at(-1)?.email]).toEqual(['invalid_encoding', 'encoding', 4503, 4501, 'Zoë', 'u4499@example.com']);
      expect(err?.message).toContain(`at byte ${bytes.indexOf(0xe9)} (0xe9)`);
      expect(p.summary().encoding).toBe('utf-8');
    }
  });

  it('a file that turns invalid after UTF-8 was decided fails with invalid_encoding (never mis-decodes)', async () => {
    const bytes = Buffer.concat([Buffer.from('email,name\nx@example.com,Zoë\ny@example.com,M'), Buffer.from([0xfc]), Buffer.from('\n')]);
    expect((await formatError(bytes)).code).toBe('invalid_encoding');
  });
});

describe('delimiters, quoting and line numbers', () => {
  it('sniffs the delimiter from the header line, counting outside quotes only', () => {
    expect(sniffDelimiter('email,name,city\n')).toBe(',');
    expect(sniffDelimiter('email;name;city\r\n')).toBe(';');
    expect(sniffDelimiter('email\tname\tcity\n')).toBe('\t');
    expect(sniffDelimiter('"a;b;c;d",email,name\n')).toBe(',');
    expect(sniffDelimiter('"a,b,c,d";email;name\n')).toBe(';');
    expect(sniffDelimiter('email\n')).toBe(',');
    expect(sniffDelimiter('email,name\nx;y;z;w;v\n')).toBe(',');
  });

  it('reads a tab-separated file, and honours a given delimiter over the sniffed one', async () => {
    const tsv = await run(Buffer.from('email\tname\nx@example.com\tX, Y\n'));
    expect([tsv.summary.delimiter, tsv.rows[0].name]).toEqual(['\t', 'X, Y']);
    const given = await run(Buffer.from('email;x,name\nx@example.com;1,X\n'), { delimiter: ',', mapping: { email: 'email;x', name: 'name' } });
    expect(given.errors.map((e) => e.code)).toEqual(['invalid_email']);
    expect(given.summary.delimiter).toBe(',');
  });

  it('keeps line breaks inside quoted fields and counts lines as a spreadsheet user does', async () => {
    const { rows, summary } = await run(fixture('quoted-newlines.csv'), { mapping: { email: 'email', name: 'name', attributes: { notes: { attribute: 'notes', type: 'string' } } } });
    expect(summary.rows).toBe(4);
    expect(rows.map((r) => [r.row, r.line, r.name, r.attributes.notes])).toEqual([
      [1, 2, 'Olga', 'first line\nsecond line'],
      [2, 4, 'Paul', 'windows\r\nbreak\r\nand a third'],
      [3, 7, 'Quinn Example', 'plain'], // a line break in a name becomes a space
      [4, 9, 'Rosa', 'a "quoted" word, and a comma'],
    ]);
  });

  it('skips blank lines but counts them, with CRLF', async () => {
    const { rows } = await run(Buffer.from('email\r\n\r\na@example.com\r\n\r\n\r\nb@example.com'));
    expect(rows.map((r) => [r.row, r.line])).toEqual([[1, 3], [2, 6]]);
  });

  it('a ragged row is a column_count row error, and the rows after it are read', async () => {
    const { rows, errors } = await run(Buffer.from('email,name\na@example.com,A,extra\nb@example.com\nc@example.com,C\n'));
    expect(codes(errors)).toEqual([[1, 2, null, 'column_count'], [2, 3, null, 'column_count']]);
    expect(rows.map((r) => r.email)).toEqual(['c@example.com']);
  });

  it('a stray quote inside an unquoted field is kept as text', async () => {
    const { rows } = await run(Buffer.from('email,name\na@example.com,Dwayne "The Rock" J\n'));
    expect(rows[0].name).toBe('Dwayne "The Rock" J');
  });
});

describe('rows: addresses, typed attributes, lists and consent', () => {
  const typed: ParseOptions = {
    mapping: {
      email: 'email', name: 'name', lists: 'lists',
      attributes: { age: { attribute: 'age', type: 'number' }, member: { attribute: 'member', type: 'boolean' }, joined: { attribute: 'joined', type: 'date' } },
    },
  };

  it('reports each invalid row with its row, line, column and code, and deduplicates the rest', async () => {
    const { rows, errors, duplicates, summary } = await run(fixture('duplicates-invalid.csv'), typed);
    expect(summary.rows).toBe(12);
    expect(codes(errors)).toEqual([
      [3, 4, 'email', 'invalid_email'],
      [4, 5, 'email', 'missing_email'],
      [5, 6, 'age', 'invalid_number'],
      [6, 7, 'member', 'invalid_boolean'],
      [7, 8, 'joined', 'invalid_date'],
      [8, 9, null, 'column_count'],
      [9, 10, 'joined', 'invalid_date'], // 03/04/2020: ambiguous
      [10, 11, 'name', 'invalid_name'],
    ]);
    expect(duplicates).toEqual([
      { kind: 'duplicate', row: 2, line: 3, emailKey: 'sam@example.com' },
      { kind: 'duplicate', row: 11, line: 12, emailKey: 'sam@example.com' },
    ]);
    expect(rows.map((r) => [r.row, r.email, r.attributes, r.lists])).toEqual([
      [1, 'sam@example.com', { age: 40, member: true, joined: '2020-01-31' }, ['Newsletter', 'Offers']],
      [12, 'zoe@example.org', { age: 27, member: false, joined: '2019-12-25' }, ['News', 'Offers']],
    ]);
    for (const e of errors) expect(e.message.length).toBeGreaterThan(5);
  });

  it('normalises addresses as the API does: trimmed, domain lower-cased and IDNA, key lower-cased', async () => {
    const { rows, duplicates } = await run(Buffer.from('email\n  Ann.Lee@Example.COM \nkunde@Bücher.example\nann.lee@example.com\n'));
    expect(rows.map((r) => [r.email, r.emailKey])).toEqual([
      ['Ann.Lee@example.com', 'ann.lee@example.com'], ['kunde@xn--bcher-kva.example', 'kunde@xn--bcher-kva.example']]);
    expect(duplicates.map((d) => d.row)).toEqual([3]);
  });

  it('joins several name columns and treats empty cells as absent', async () => {
    const { rows } = await run(Buffer.from('mail,First Name,Last Name,score\na@example.com,Ann,Lee,\nb@example.com,,,2\n'),
      { mapping: { email: 'mail', name: ['First Name', 'Last Name'], attributes: { score: { attribute: 'score', type: 'number' } } } });
    expect(rows.map((r) => [r.name, r.attributes])).toEqual([['Ann Lee', {}], [null, { score: 2 }]]);
  });

  it('reads a decimal comma only with the ";" delimiter', async () => {
    const mapping = { email: 'email', attributes: { n: { attribute: 'n', type: 'number' as const } } };
    expect((await run(Buffer.from('email;n\na@example.com;3,5\n'), { mapping })).rows[0].attributes).toEqual({ n: 3.5 });
    expect((await run(Buffer.from('email,n\na@example.com,"3,5"\n'), { mapping })).errors[0].code).toBe('invalid_number');
  });

  it('maps consent columns: date (UTC unless an offset is given), IP, wording and source', async () => {
    const csv = 'email,when,ip,wording,src\n'
      + 'a@example.com,2024-03-01 10:00:00,192.0.2.1,"Yes, send me the newsletter",signup form\n'
      + 'b@example.com,2024-03-01T10:00:00+02:00,2001:db8::2,,\n'
      + 'c@example.com,yesterday,,,\n'
      + 'd@example.com,,300.1.1.1,,\n';
    const { rows, errors } = await run(Buffer.from(csv), { mapping: { email: 'email', consentDate: 'when', consentIp: 'ip', consentText: 'wording', consentSource: 'src' } });
    expect(rows.map((r) => r.consent)).toEqual([
      { at: '2024-03-01T10:00:00.000Z', ip: '192.0.2.1', text: 'Yes, send me the newsletter', source: 'signup form' },
      { at: '2024-03-01T08:00:00.000Z', ip: '2001:db8::2', text: null, source: null },
    ]);
    expect(codes(errors)).toEqual([[3, 4, 'when', 'invalid_date'], [4, 5, 'ip', 'invalid_ip']]);
  });

  it('maps a status column; an unknown status is a row error, never a guess', async () => {
    const { rows, errors } = await run(Buffer.from('email,state\na@example.com,Unsubscribed\nb@example.com,confirmed\nc@example.com,\nd@example.com,VIP\ne@example.com,Pending\nf@example.com,unconfirmed\n'),
      { mapping: { email: 'email', status: 'state' } });
    expect(rows.map((r) => r.sourceStatus)).toEqual(['unsubscribed', 'subscribed', null, 'pending', 'pending']);
    expect(codes(errors)).toEqual([[4, 5, 'state', 'invalid_status']]);
  });

  it('without a mapping recognises email/name/lists/status headers and keeps the other columns as string attributes', async () => {
    const { rows, summary } = await run(Buffer.from('E-Mail Address,Full Name,Lists,Status,City\na@example.com,Ann Lee,News|Offers,subscribed,Köln\n'));
    expect(rows[0]).toMatchObject({ email: 'a@example.com', name: 'Ann Lee', lists: ['News', 'Offers'], sourceStatus: 'subscribed', attributes: { City: 'Köln' } });
    expect(summary.ignoredColumns).toEqual([]);
  });

  it('caps cells at 10 KiB (field_too_long) and refuses NUL characters, and the next rows still come', async () => {
    const long = 'x'.repeat(10_241);
    const { rows, errors } = await run(Buffer.from(`email,notes\na@example.com,${long}\nb@example.com,a\u0000b\nc@example.com,ok\n`));
    expect(codes(errors)).toEqual([[1, 2, 'notes', 'field_too_long'], [2, 3, 'notes', 'invalid_character']]);
    expect(rows.map((r) => r.email)).toEqual(['c@example.com']);
  });

  it('never takes __proto__ as an attribute name (header, mapping or listmonk JSON)', async () => {
    const { rows } = await run(Buffer.from('email,__proto__,city\na@example.com,x,Köln\n'));
    expect(rows[0].attributes).toEqual({ city: 'Köln' });
    expect(Object.getPrototypeOf(rows[0].attributes)).toBe(Object.prototype);
    const lm = await run(Buffer.from('email,attributes\na@example.com,"{""__proto__"": {""polluted"": 1}, ""ok"": 1}"\nb@example.com,"{""__proto__"": ""x""}"\n'), { preset: 'listmonk' });
    expect(lm.rows.map((r) => r.attributes)).toEqual([{ '__proto__.polluted': 1, ok: 1 }, {}]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => parseImport(chunks(Buffer.from('')), { mapping: { email: 'e', attributes: { a: { attribute: '__proto__', type: 'string' } } } })).toThrow(ImportFormatError);
  });

  it('caps one row\'s attributes at 16 KiB of JSON', async () => {
    const cols = Array.from({ length: 3 }, (_, i) => `c${i}`);
    const cell = 'y'.repeat(6000);
    const { errors } = await run(Buffer.from(`email,${cols.join(',')}\na@example.com,${cols.map(() => cell).join(',')}\n`));
    expect(codes(errors)).toEqual([[1, 2, null, 'field_too_long']]);
  });
});

describe('presets', () => {
  it('listmonk: JSON attributes flattened one level and typed, status, created_at as the consent date', async () => {
    const { rows, errors, summary } = await run(fixture('listmonk.csv'), { preset: 'listmonk' });
    expect(summary.headers).toEqual(['uuid', 'email', 'name', 'attributes', 'status', 'created_at', 'updated_at']);
    expect(summary.ignoredColumns).toEqual(['uuid', 'updated_at']);
    expect(byEmail(rows, 'anna@example.com')).toMatchObject({
      name: 'Anna Example', sourceStatus: 'subscribed',
      attributes: { city: 'Berlin', age: 31, vip: true, 'prefs.lang': 'de', 'prefs.topics': '["a","b"]' },
      consent: { at: '2023-03-14T09:26:53.589Z', ip: null, text: null, source: null },
    });
    expect(byEmail(rows, 'bert@example.org')).toMatchObject({ sourceStatus: 'blocklisted', consent: { at: '2022-11-01T17:00:00.000Z' } });
    expect(byEmail(rows, 'carla@example.com')).toMatchObject({ name: null, sourceStatus: 'unsubscribed', attributes: { score: 4.5 } });
    expect(codes(errors)).toEqual([[4, 5, 'attributes', 'invalid_json']]);
  });

  it('mailchimp subscribed export: names joined, merge fields kept, CONFIRM_TIME/CONFIRM_IP before OPTIN_*, TAGS as an attribute', async () => {
    const bytes = fixture('mailchimp-subscribed.csv');
    const { rows, errors, summary } = await run(bytes, { preset: 'mailchimp' });
    expect(errors).toEqual([]);
    expect(summary.ignoredColumns).toContain('MEMBER_RATING');
    expect(rows.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(byEmail(rows, 'erik@example.com')).toEqual({
      row: 1, line: 2, email: 'erik@example.com', emailKey: 'erik@example.com', name: 'Erik Example',
      attributes: { 'Phone Number': '+49 30 1234567', tags: 'Newsletter, Offers, monthly' }, lists: [],
      consent: { at: '2022-05-01T08:05:10.000Z', ip: '198.51.100.8', text: null, source: null }, sourceStatus: 'subscribed', sourceStatusAt: null,
    });
    expect(byEmail(rows, 'fiona@example.org')).toMatchObject({ consent: { at: '2021-02-03T04:05:06.000Z', ip: '2001:db8::1' }, attributes: { tags: 'Newsletter' } });
    expect(byEmail(rows, 'gustav@example.com')).toMatchObject({ consent: { at: null, ip: null } });
  });

  it('mailchimp unsubscribed and cleaned exports: every row carries that status', async () => {
    const unsub = await run(fixture('mailchimp-unsubscribed.csv'), { preset: 'mailchimp' });
    expect(unsub.rows.map((r) => [r.email, r.sourceStatus, r.sourceStatusAt])).toEqual([['hanna@example.com', 'unsubscribed', '2024-02-01T09:00:00.000Z']]);
    const cleaned = await run(fixture('mailchimp-cleaned.csv'), { preset: 'mailchimp' });
    expect(cleaned.rows.map((r) => [r.email, r.sourceStatus, r.consent.at])).toEqual([['ivan@example.org', 'cleaned', '2018-01-01T00:10:00.000Z']]);
  });

  it('an explicit mapping overrides a preset key by key', async () => {
    const { rows } = await run(fixture('mailchimp-subscribed.csv'), {
      preset: 'mailchimp', mapping: { email: 'Email Address', lists: 'REGION', attributes: { MEMBER_RATING: { attribute: 'rating', type: 'number' } } },
    });
    expect(byEmail(rows, 'erik@example.com')).toMatchObject({ lists: ['BE'], attributes: { rating: 2, 'Phone Number': '+49 30 1234567' }, name: 'Erik Example' });
    // email may be left to the preset (the README's own example): only the keys given override it
    const tagsAsLists = await run(fixture('mailchimp-subscribed.csv'), { preset: 'mailchimp', mapping: { lists: 'TAGS' } });
    expect(byEmail(tagsAsLists.rows, 'erik@example.com')).toMatchObject({ lists: ['Newsletter', 'Offers, monthly'], attributes: { 'Phone Number': '+49 30 1234567' } });
    expect(byEmail(tagsAsLists.rows, 'erik@example.com')?.attributes).not.toHaveProperty('tags');
  });

  it('a preset on a file without its address column: no_email_column', async () => {
    const err = await formatError(fixture('bom.csv'), { preset: 'mailchimp' });
    expect([err.code, err.field]).toEqual(['no_email_column', 'mapping.email']);
  });
});

describe('whole-file problems', () => {
  it('bad options are refused at once, naming the field', () => {
    const bad = (opts: unknown) => {
      try {
        parseImport(chunks(Buffer.from('email\n')), opts as ParseOptions);
      } catch (err) {
        return [(err as ImportFormatError).code, (err as ImportFormatError).field];
      }
      return null;
    };
    expect(bad({ delimiter: '|' })).toEqual(['invalid_option', 'delimiter']);
    expect(bad({ encoding: 'utf-16' })).toEqual(['invalid_option', 'encoding']);
    expect(bad({ preset: 'sendgrid' })).toEqual(['invalid_option', 'preset']);
    expect(bad({ maxRows: 0 })).toEqual(['invalid_option', 'maxRows']);
    expect(bad({ mapping: {} })).toEqual(['invalid_option', 'mapping.email']);
    expect(bad({ preset: 'mailchimp', mapping: { lists: 'TAGS' } })).toBeNull();
    expect(bad({ mapping: { email: 'e', attributes: { a: { attribute: 'x', type: 'json' } } } })).toEqual(['invalid_option', 'mapping.attributes.a.type']);
    expect(bad({ mapping: { email: 'e', attributes: { a: { attribute: 'x'.repeat(101), type: 'string' } } } })).toEqual(['invalid_option', 'mapping.attributes.a.attribute']);
    expect(bad({})).toBeNull();
  });

  it('no address column, or a mapped header the file lacks', async () => {
    expect((await formatError(Buffer.from('name,city\nA,B\n'))).code).toBe('no_email_column');
    const err = await formatError(Buffer.from('email,name\na@example.com,A\n'), { mapping: { email: 'email', name: 'Nom' } });
    expect([err.code, err.field]).toEqual(['unknown_column', 'mapping.name']);
  });

  it('an empty file, a binary file, an unclosed quote, too many columns', async () => {
    expect((await formatError(Buffer.alloc(0))).code).toBe('empty_file');
    expect((await formatError(Buffer.from([0xef, 0xbb, 0xbf]))).code).toBe('empty_file');
    expect((await formatError(Buffer.from('PK\u0003\u0004\u0000\u0000binary'))).code).toBe('not_csv');
    expect((await formatError(Buffer.from('email,name\na@example.com,"open\nb@example.com,B\n'))).code).toBe('unclosed_quote');
    expect((await formatError(Buffer.from(`${Array.from({ length: 501 }, (_, i) => `c${i}`).join(',')},email\n`))).code).toBe('too_many_columns');
  });

  it('an unclosed quote late in the file: every row before it is read first, and the error names its line', async () => {
    const good = Array.from({ length: 5010 }, (_, i) => `u${i}@example.com,N${i}\n`).join('');
    const bytes = Buffer.from(`email,name\n${good}x@example.com,"open\n${good}`);
    for (const size of [7, 65_536, 1 << 20]) {
      const p = parseImport(chunks(bytes, size));
      let rows = 0;
      const err = await (async () => { for await (const e of p.events) if (e.kind === 'row') rows++; })().then(() => null, (e: unknown) => e as ImportFormatError);
      expect([err?.code, err?.line, rows]).toEqual(['unclosed_quote', 5012, 5010]);
      expect(err?.message).toContain('line 5012');
    }
  });

  it('a runaway quoted field stops at 1 MiB (record_too_large), not at the end of memory', async () => {
    async function* runaway(): AsyncGenerator<Buffer> {
      yield Buffer.from('email,notes\na@example.com,"');
      for (let i = 0; i < 40; i++) yield Buffer.alloc(65_536, 0x61);
      yield Buffer.from('"\n');
    }
    expect((await formatError(runaway())).code).toBe('record_too_large');
  });

  it('more rows than maxRows: too_many_rows, after the allowed rows', async () => {
    const p = parseImport(chunks(Buffer.from('email\na@example.com\nb@example.com\nc@example.com\n')), { maxRows: 2 });
    const seen: number[] = [];
    const err = await (async () => { for await (const e of p.events) if (e.kind === 'row') seen.push(e.row.row); })().then(() => null, (e: unknown) => e);
    expect([(err as ImportFormatError).code, (err as ImportFormatError).field, seen]).toEqual(['too_many_rows', 'maxRows', [1, 2]]);
  });

  it('a failing input stream surfaces its own error', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('email\na@example.com\n');
      throw new Error('disk on fire');
    }
    await expect(run(failing())).rejects.toThrow('disk on fire');
  });
});

describe('streaming', () => {
  const many = (n: number) => {
    const lines = ['email,name,city,score,lists'];
    for (let i = 0; i < n; i++) lines.push(`user${i}@example.com,User ${i},City ${i % 100},${i % 1000}.5,news|offers`);
    return Buffer.from(`${lines.join('\n')}\n`);
  };

  it('gives the event loop turns while parsing an in-memory file', async () => {
    const bytes = many(60_000);
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => { const now = performance.now(); longest = Math.max(longest, now - last); last = now; ticks++; }, 1);
    const { rows } = await run(chunks(bytes, 1 << 20), { mapping: { email: 'email', name: 'name' } });
    clearInterval(timer);
    expect(rows).toHaveLength(60_000);
    expect(ticks).toBeGreaterThan(5);
    console.log(`60,000 rows: ${ticks} timer turns, longest gap ${longest.toFixed(0)} ms`);
  });

  it('parses a file stream and stops cleanly when the reader stops early', async () => {
    let finished = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; i < 1000; i++) yield Buffer.from(`${i === 0 ? 'email\n' : ''}${Array.from({ length: 100 }, (_, j) => `u${i}-${j}@example.com`).join('\n')}\n`);
      } finally {
        finished = true;
      }
    }
    const p = parseImport(source());
    let n = 0;
    for await (const e of p.events) if (e.kind === 'row' && ++n === 250) break;
    for (let i = 0; i < 200 && !finished; i++) await new Promise((r) => setTimeout(r, 10));
    expect(finished).toBe(true);
    expect(p.summary().rows).toBeLessThan(100_000);
  });

  it('never splits a character: emoji across every slice and chunk boundary survive', async () => {
    const lines = ['email,notes'];
    const notes = (i: number) => `${i % 3 === 0 ? 'a' : ''}${'😀'.repeat(40 + (i % 7))}`; // 14 of the 25 slice ends fall inside an emoji
    for (let i = 0; i < 4000; i++) lines.push(`x${i}@example.com,${notes(i)}`);
    const { rows, errors } = await run(chunks(Buffer.from(lines.join('\n')), 1 << 20));
    expect(errors).toEqual([]);
    expect(rows.filter((r, i) => r.attributes.notes !== notes(i))).toEqual([]);
  });

  it('reads a node ReadableStream (fs) as input', async () => {
    const { rows } = await run(createReadStream(path.join(FIXTURES, 'mailchimp-subscribed.csv')), { preset: 'mailchimp' });
    expect(rows).toHaveLength(3);
  });
});

describe('cell values', () => {
  it.each([
    ['2024-02-29', '2024-02-29T00:00:00.000Z', '2024-02-29'],
    ['2024-03-01T10:20:30Z', '2024-03-01T10:20:30.000Z', null],
    ['2024-03-01T10:20', '2024-03-01T10:20:00.000Z', null],
    ['2024-03-01T10:20:30.123456+05:30', '2024-03-01T04:50:30.123Z', null],
    ['2024-03-01 10:20:30', '2024-03-01T10:20:30.000Z', null],
    ['2023-03-14 09:26:53.589793 +0000 UTC', '2023-03-14T09:26:53.589Z', null],
    ['2022-11-01 18:00:00 +0100 CET', '2022-11-01T17:00:00.000Z', null],
    ['31.12.2019', '2019-12-31T00:00:00.000Z', '2019-12-31'],
    ['1.2.2020', '2020-02-01T00:00:00.000Z', '2020-02-01'],
    ['25/12/2019', '2019-12-25T00:00:00.000Z', '2019-12-25'],
    ['12/25/2019', '2019-12-25T00:00:00.000Z', '2019-12-25'],
    ['04/04/2020', '2020-04-04T00:00:00.000Z', '2020-04-04'],
  ])('date %s', (input, iso, date) => {
    expect(parseDateCell(input)).toEqual({ iso, date });
  });

  it.each(['2023-02-29', '2024-13-01', '2024-01-01 24:00:00', '03/04/2020', '31/31/2020', '32.01.2020', 'yesterday', '2024-01-01T10:00:00+25:00', '0999-01-01', '1'.repeat(100)])(
    'not a date: %s', (input) => expect(parseDateCell(input)).toBeNull(),
  );

  it('numbers, booleans', () => {
    expect(['-12', '3.5', '.5', '1e3', '+7'].map((v) => parseNumberCell(v, false))).toEqual([-12, 3.5, 0.5, 1000, 7]);
    expect(['1,000', '3,5', 'NaN', 'Infinity', '0x10', '1.2.3', ''].map((v) => parseNumberCell(v, false))).toEqual(Array(7).fill(null));
    expect(parseNumberCell('3,5', true)).toBe(3.5);
    expect(parseNumberCell('1,000,5', true)).toBeNull();
    expect(['TRUE', 'yes', 'Y', '1', 'false', 'No', 'n', '0', 'maybe', 'ja'].map(parseBooleanCell)).toEqual([true, true, true, true, false, false, false, false, null, null]);
  });

  it('IP addresses', () => {
    expect(['192.0.2.1', '2001:db8::1', '::1', '::ffff:192.0.2.1'].every(isIpAddress)).toBe(true);
    expect(['256.1.1.1', '1.2.3', 'example.com', '2001:db8::g', 'fe80::1%eth0', ':::', '01.2.3.4'].some(isIpAddress)).toBe(false);
  });

  it('list names and Mailchimp tags', () => {
    expect(splitListNames('News | Offers|News|')).toEqual(['News', 'Offers']);
    expect(splitListNames('News, Offers')).toEqual(['News', 'Offers']);
    expect(splitListNames('"News","A, B"')).toEqual(['News', 'A, B']);
    expect(splitMailchimpTags('"Newsletter","Offers, monthly","say ""hi"""')).toEqual(['Newsletter', 'Offers, monthly', 'say "hi"']);
    expect(splitMailchimpTags('Newsletter,Offers')).toEqual(['Newsletter', 'Offers']);
    expect(splitMailchimpTags('"'.repeat(10_240))).toEqual(['"'.repeat(5119)]); // hostile quotes: one linear pass
    expect(splitMailchimpTags('"unclosed, tag')).toEqual([]);
  });
});

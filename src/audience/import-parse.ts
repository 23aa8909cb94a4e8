// The CSV import parser (PURE: no platform, fs, net or pg; node:stream only). Bytes in, events out:
// decode (UTF-8 with or without BOM, Windows-1252, Latin-1; detected or given) → sniff the delimiter
// from the header line (`,` `;` or tab, counted outside quotes) → csv-parse as a stream (quoted fields
// with line breaks, CRLF) → map and validate each row (import-map.ts) → deduplicate within the file.
//
// Memory is flat apart from the set of address keys seen for deduplication (~60 bytes a key: 58 MiB
// for 1,000,000 short addresses).
// The work is done in slices: text reaches csv-parse in pieces of at most 16 Ki characters, and the
// event generator gives the event loop a turn (setImmediate) at least every ~10 ms.
import { Readable, pipeline } from 'node:stream';
import { CsvError, parse as csvParse, type Parser } from 'csv-parse';
import iconv from 'iconv-lite';
import { ImportFormatError, mapRow, resolveMapping, validateMapping, type ColumnMapping, type ImportPreset, type ParsedRow, type RowError } from './import-map.js';

export { ImportFormatError, validateMapping, type ColumnMapping, type ImportPreset, type ParsedRow, type RowError, type SourceStatus } from './import-map.js';
export type { AttributeType } from './import-values.js';

export type ImportEncoding = 'utf-8' | 'windows-1252' | 'latin1';
export type ImportDelimiter = ',' | ';' | '\t';

export interface ParseOptions {
  /** Sniffed from the header line when absent. */
  delimiter?: ImportDelimiter;
  /** Detected when absent: a BOM or valid UTF-8 → utf-8, else windows-1252. */
  encoding?: ImportEncoding;
  /** Or a preset; neither: headers recognised by name (import-map.ts). */
  mapping?: ColumnMapping;
  preset?: ImportPreset;
  /** More data rows than this: ImportFormatError too_many_rows. Default 5,000,000. */
  maxRows?: number;
}

export type ParseEvent =
  | { kind: 'row'; row: ParsedRow }
  | { kind: 'error'; error: RowError }
  | { kind: 'duplicate'; row: number; line: number; emailKey: string };

export interface ParseSummary {
  encoding: ImportEncoding;
  delimiter: string;
  headers: string[];
  /** Data rows read so far (rows, errors and duplicates). */
  rows: number;
  /** Headers no mapping key uses (not imported). */
  ignoredColumns: string[];
}

export const DEFAULT_MAX_ROWS = 5_000_000;
export const MAX_COLUMNS = 500;
/** csv-parse's limit on one record (characters): beyond it the file is refused (an unclosed quote, most likely). */
export const MAX_RECORD_CHARS = 1_048_576;
const SLICE_CHARS = 16_384;
const SNIFF_CHARS = 65_536;
const YIELD_EVERY_MS = 10;

const ENCODINGS: ReadonlySet<string> = new Set(['utf-8', 'windows-1252', 'latin1']);
const DELIMITERS: ReadonlySet<string> = new Set([',', ';', '\t']);
const PRESETS: ReadonlySet<string> = new Set(['listmonk', 'mailchimp']);

function validateOptions(opts: ParseOptions): void {
  const bad = (field: string, what: string): never => { throw new ImportFormatError('invalid_option', field, `${field} ${what}`); };
  if (opts.delimiter !== undefined && !DELIMITERS.has(opts.delimiter)) bad('delimiter', "must be ',', ';' or a tab");
  if (opts.encoding !== undefined && !ENCODINGS.has(opts.encoding)) bad('encoding', 'must be utf-8, windows-1252 or latin1');
  if (opts.preset !== undefined && !PRESETS.has(opts.preset)) bad('preset', 'must be listmonk or mailchimp');
  if (opts.maxRows !== undefined && !(Number.isSafeInteger(opts.maxRows) && opts.maxRows > 0)) bad('maxRows', 'must be a positive integer');
  if (opts.mapping !== undefined) validateMapping(opts.mapping, opts.preset !== undefined);
}

// ---- bytes → text -----------------------------------------------------------------------------

/** offset: bytes decoded before the current chunk; fault: an invalid byte ended the text early (thrown after the rows before it). */
interface DecodeState { encoding: ImportEncoding | null; offset: number; fault: ImportFormatError | null }

async function* bytesOf(input: AsyncIterable<Buffer> | NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  for await (const chunk of input as AsyncIterable<Buffer | string | Uint8Array>) {
    yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
  }
}

/** Ends the last record the parser sees once the decoder met an invalid byte: that record (the line at fault, cut short) is dropped. */
const FAULT_MARK = '\uffff';

/** Bytes at the end of buf that start a UTF-8 sequence not yet complete (0–3; the streaming decoder holds them). */
function incompleteTail(buf: Buffer): number {
  for (let k = 1; k <= Math.min(3, buf.length); k++) {
    const b = buf[buf.length - k];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/** Index of the first byte of data that is not valid UTF-8 (data.length when none): the prefix before it decodes cleanly. */
function firstInvalidUtf8(data: Buffer): number {
  const text = data.toString('utf8'); // invalid bytes become U+FFFD; a U+FFFD written in the file is EF BF BD
  for (let i = text.indexOf('\ufffd'); i >= 0; i = text.indexOf('\ufffd', i + 1)) {
    const at = Buffer.byteLength(text.slice(0, i));
    if (!(data[at] === 0xef && data[at + 1] === 0xbf && data[at + 2] === 0xbd)) return at;
  }
  return data.length;
}

/**
 * A decoder for a decided encoding: UTF-8 strictly (fatal), single-byte codecs chunk by chunk (they
 * keep no state). At an invalid UTF-8 byte it returns the text before it ending with FAULT_MARK and
 * sets state.fault (invalid_encoding at that exact byte): the rows before the fault are still read.
 */
function decoderFor(encoding: ImportEncoding, state: DecodeState): (buf: Buffer, end: boolean) => string {
  if (encoding !== 'utf-8') return (buf) => iconv.decode(buf, encoding === 'latin1' ? 'latin1' : 'windows-1252');
  const td = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let carried: Buffer = Buffer.alloc(0); // what the streaming decoder holds from the chunk before
  return (buf, end) => {
    if (state.fault) return '';
    try {
      const text = td.decode(buf, { stream: !end });
      const joined = buf.length < 4 ? Buffer.concat([carried, buf]) : buf; // tiny pieces: the held bytes may span several
      carried = joined.subarray(joined.length - incompleteTail(joined));
      return text;
    } catch {
      const data = Buffer.concat([carried, buf]);
      const at = firstInvalidUtf8(data);
      const byte = state.offset - carried.length + at;
      state.fault = new ImportFormatError('invalid_encoding', 'encoding',
        `the file is not valid UTF-8 at byte ${byte} (0x${(data[at] ?? 0).toString(16).padStart(2, '0')}); give encoding windows-1252 or latin1`);
      return new TextDecoder('utf-8', { ignoreBOM: false }).decode(data.subarray(0, at)) + FAULT_MARK;
    }
  };
}

/** Decides between UTF-8 and Windows-1252 on the first non-ASCII character alone (what follows is judged as it is decoded); null: need more bytes. */
function detect(rest: Buffer, end: boolean): ImportEncoding | null {
  const lead = rest[0];
  const need = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (need === 0) return 'windows-1252';
  if (rest.length < need && !end) return null;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(rest.subarray(0, need));
    return 'utf-8';
  } catch {
    return 'windows-1252';
  }
}

const NON_ASCII = /[^\x00-\x7f]/;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Text of the file. With no encoding given, ASCII passes through (the same in every candidate) until
 * the first non-ASCII byte, which decides: a valid UTF-8 sequence (or a BOM) → utf-8, else windows-1252.
 * A file decided UTF-8 that turns invalid later fails with invalid_encoding.
 */
async function* decode(bytes: AsyncIterable<Buffer>, given: ImportEncoding | undefined, state: DecodeState): AsyncGenerator<string> {
  let dec = given ? decoderFor(given, state) : null;
  state.encoding = given ?? null;
  let pending: Buffer | null = null;
  for await (const chunk of bytes) {
    let buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    if (!dec) {
      const r = undecided(buf, state, false);
      if (r.text) yield r.text;
      if (r.pending) { pending = r.pending; continue; }
      if (!state.encoding) continue; // all ASCII so far: still undecided
      dec = decoderFor(state.encoding, state);
      buf = r.rest;
    }
    if (buf.length) yield dec(buf, false);
    state.offset += buf.length;
    if (state.fault) return; // the rest is not read: the import fails after the rows before the fault
  }
  yield* finish(dec, pending, state);
}

function* finish(dec: ((buf: Buffer, end: boolean) => string) | null, pending: Buffer | null, state: DecodeState): Generator<string> {
  if (!dec && pending) {
    const r = undecided(pending, state, true);
    if (r.text) yield r.text;
    dec = decoderFor(state.encoding as ImportEncoding, state);
    pending = r.rest;
  }
  if (dec && !state.fault) yield dec(pending ?? Buffer.alloc(0), true);
  state.encoding ??= 'utf-8';
}

/** ASCII prefix as text; the remainder to decode once decided, or bytes to keep until more arrive. */
function undecided(buf: Buffer, state: DecodeState, end: boolean): { text: string; rest: Buffer; pending: Buffer | null } {
  if (state.offset === 0 && buf.length < 3 && !end && UTF8_BOM.subarray(0, buf.length).equals(buf)) return { text: '', rest: buf, pending: buf };
  if (state.offset === 0 && buf.subarray(0, 3).equals(UTF8_BOM)) {
    state.encoding = 'utf-8';
    return { text: '', rest: buf, pending: null };
  }
  const latin = buf.toString('latin1');
  const at = latin.search(NON_ASCII);
  if (at < 0) {
    state.offset += buf.length;
    return { text: latin, rest: Buffer.alloc(0), pending: null };
  }
  const rest = buf.subarray(at);
  const encoding = detect(rest, end);
  state.offset += at;
  if (encoding === null) return { text: latin.slice(0, at), rest, pending: rest };
  state.encoding = encoding;
  return { text: latin.slice(0, at), rest, pending: null };
}

/** Splits text into slices of at most SLICE_CHARS (so one csv-parse call stays short), never inside a surrogate pair. */
async function* sliced(texts: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const t of texts) {
    for (let i = 0; i < t.length;) {
      let end = Math.min(i + SLICE_CHARS, t.length);
      const last = t.charCodeAt(end - 1);
      if (end < t.length && last >= 0xd800 && last <= 0xdbff) end--;
      yield t.slice(i, end);
      i = end;
    }
  }
}

// ---- delimiter sniffing -----------------------------------------------------------------------

/** The delimiter most frequent in the header line outside quotes (',' on a tie or none). */
export function sniffDelimiter(headerText: string): ImportDelimiter {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerText) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch]++;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  return counts['\t'] > counts[','] && counts['\t'] > counts[';'] ? '\t' : ',';
}

/** True once the text holds a line break outside quotes (the header line is complete). */
function headerComplete(text: string): boolean {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) return true;
  }
  return false;
}

/** Reads text until the header line is complete (or SNIFF_CHARS), decides the delimiter, then replays everything. */
async function* withDelimiter(texts: AsyncIterable<string>, given: ImportDelimiter | undefined, onDelimiter: (d: ImportDelimiter) => void): AsyncGenerator<string> {
  const it = texts[Symbol.asyncIterator]();
  let head = '';
  let done = false;
  try {
    while (!done && head.length < SNIFF_CHARS && !headerComplete(head)) {
      const next = await it.next();
      if (next.done) done = true;
      else head += next.value;
    }
    if (head.includes('\u0000')) throw new ImportFormatError('not_csv', null, 'the file is not CSV text (it holds NUL bytes: a spreadsheet or archive?)');
    onDelimiter(given ?? sniffDelimiter(head));
    if (head) yield head;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  } finally {
    await it.return?.(); // a reader that stops early closes the input too
  }
}

// ---- records → events -------------------------------------------------------------------------

/** Line breaks inside a record's fields (CRLF, LF or a lone CR each count once). */
function breaksIn(record: string[]): number {
  let n = 0;
  for (const f of record) {
    if (f.indexOf('\n') < 0 && f.indexOf('\r') < 0) continue;
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i);
      if (c === 10 || (c === 13 && f.charCodeAt(i + 1) !== 10)) n++;
    }
  }
  return n;
}

function csvError(err: unknown): unknown {
  if (!(err instanceof CsvError)) return err;
  const { code, message: msg } = err;
  if (code === 'CSV_MAX_RECORD_SIZE') return new ImportFormatError('record_too_large', null, `a row is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?): ${msg}`);
  if (code === 'CSV_QUOTE_NOT_CLOSED') return new ImportFormatError('unclosed_quote', null, `a quoted field is never closed: ${msg}`);
  return new ImportFormatError('not_csv', null, `the file is not valid CSV: ${msg}`);
}

function csvStream(texts: AsyncIterable<string>, delimiter: ImportDelimiter): Parser {
  const source = Readable.from(texts, { objectMode: false });
  const parser = csvParse({ bom: true, relax_column_count: true, relax_quotes: true, max_record_size: MAX_RECORD_CHARS, delimiter });
  pipeline(source, parser, () => { /* errors reach the parser's iterator */ });
  return parser;
}

interface RunState { summary: ParseSummary; decode: DecodeState }

const isBlank = (record: string[]): boolean => record.length === 1 && record[0] === '';

function headersOf(record: string[]): string[] {
  if (record.length > MAX_COLUMNS) throw new ImportFormatError('too_many_columns', null, `the header has ${record.length} columns; at most ${MAX_COLUMNS}`);
  return record.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h));
}

async function* events(input: AsyncIterable<Buffer> | NodeJS.ReadableStream, opts: ParseOptions, st: RunState): AsyncGenerator<ParseEvent> {
  const decoded = decode(bytesOf(input), opts.encoding, st.decode);
  let delimiter: ImportDelimiter = ',';
  const texts = withDelimiter(sliced(decoded), opts.delimiter, (d) => { delimiter = d; });
  // The parser needs the delimiter at construction: pull the first slice (which sniffs) before making it.
  const first = await texts.next();
  if (first.done) throw new ImportFormatError('empty_file', null, 'the file is empty: no header row');
  st.summary.delimiter = delimiter;
  const parser = csvStream(prepend(first.value, texts), delimiter);
  try {
    yield* records(parser, opts, st);
  } catch (err) {
    throw st.decode.fault ?? csvError(err); // an invalid byte cut the text short (inside a quoted field, say): the byte is the fault
  } finally {
    st.summary.encoding = st.decode.encoding ?? 'utf-8';
    parser.destroy();
  }
}

async function* prepend(first: string, rest: AsyncIterable<string>): AsyncGenerator<string> {
  yield first;
  yield* rest;
}

/**
 * The parser's records, every one it produced before it failed: its async iterator drops the records
 * still buffered when an error (an unclosed quote, found at the end of the input) arrives.
 */
async function* drained(parser: Parser): AsyncGenerator<string[]> {
  let error: unknown = null;
  let ended = false;
  let wake: (() => void) | null = null;
  parser.on('readable', () => wake?.());
  parser.on('end', () => { ended = true; wake?.(); });
  parser.on('error', (err) => { error = err; wake?.(); });
  for (;;) {
    for (let r = parser.read() as string[] | null; r !== null; r = parser.read() as string[] | null) yield r;
    if (error) throw error;
    if (ended) return;
    await new Promise<void>((resolve) => { wake = resolve; });
    wake = null;
  }
}

async function* records(parser: Parser, opts: ParseOptions, st: RunState): AsyncGenerator<ParseEvent> {
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  const seen = new Set<string>();
  let mapping: ReturnType<typeof resolveMapping> | null = null;
  let line = 1;
  let lastYield = performance.now();
  let n = 0;
  try {
  for await (const record of drained(parser)) {
    const start = line;
    line += 1 + breaksIn(record);
    if (st.decode.fault && record[record.length - 1].endsWith(FAULT_MARK)) { // the line of the invalid byte, cut short
      st.decode.fault.line = line - 1;
      st.decode.fault.message += ` (line ${line - 1})`;
      break;
    }
    if (!mapping) {
      if (isBlank(record)) continue;
      st.summary.headers = headersOf(record);
      mapping = resolveMapping(st.summary.headers, opts);
      st.summary.ignoredColumns = mapping.ignored;
      st.summary.encoding = st.decode.encoding ?? 'utf-8';
      continue;
    }
    if (isBlank(record)) continue;
    if (st.summary.rows >= maxRows) throw new ImportFormatError('too_many_rows', 'maxRows', `the file has more than ${maxRows} data rows`);
    const row = ++st.summary.rows;
    yield toEvent(mapRow(record, mapping, { row, line: start, decimalComma: st.summary.delimiter === ';' }), seen);
    if ((++n & 63) === 0 && performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  } catch (err) {
    // csv-parse fails at the end of the input (an unclosed quote): the fault is the record starting at `line`.
    const e = csvError(err);
    if (err instanceof CsvError && e instanceof ImportFormatError) {
      e.line = line;
      if (e.code === 'unclosed_quote') e.message = `a quoted field is never closed: the row starting at line ${line}`;
      if (e.code === 'record_too_large') e.message = `the row starting at line ${line} is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?)`;
    }
    throw e;
  }
  if (st.decode.fault) throw st.decode.fault;
  if (!mapping) throw new ImportFormatError('empty_file', null, 'the file is empty: no header row');
}

function toEvent(r: { row: ParsedRow } | { error: RowError }, seen: Set<string>): ParseEvent {
  if ('error' in r) return { kind: 'error', error: r.error };
  if (seen.has(r.row.emailKey)) return { kind: 'duplicate', row: r.row.row, line: r.row.line, emailKey: r.row.emailKey };
  seen.add(r.row.emailKey);
  return { kind: 'row', row: r.row };
}

/**
 * Streams decoded, parsed, mapped, validated rows of a CSV file; deduplicates within the file on
 * emailKey (a later row with an address already seen is a 'duplicate' event). Options are checked
 * at once: a bad one throws ImportFormatError('invalid_option', field). Whole-file problems found
 * while reading make the events iterator throw ImportFormatError: empty_file, not_csv,
 * invalid_encoding (field encoding), no_email_column / unknown_column (field mapping.…),
 * too_many_columns, too_many_rows (field maxRows), unclosed_quote, record_too_large. A bad row never
 * throws: it is an 'error' event (codes: column_count, field_too_long, invalid_character,
 * missing_email, invalid_email, invalid_name, invalid_number, invalid_boolean, invalid_date,
 * invalid_json, invalid_list, invalid_ip, invalid_source, invalid_status).
 * summary() is complete once the events are consumed (encoding, delimiter and headers are known
 * after the first event).
 */
export function parseImport(input: AsyncIterable<Buffer> | NodeJS.ReadableStream, opts: ParseOptions = {}): { events: AsyncIterable<ParseEvent>; summary(): ParseSummary } {
  validateOptions(opts);
  const st: RunState = {
    summary: { encoding: opts.encoding ?? 'utf-8', delimiter: opts.delimiter ?? ',', headers: [], rows: 0, ignoredColumns: [] },
    decode: { encoding: null, offset: 0, fault: null },
  };
  const summary = (): ParseSummary => ({ ...st.summary, encoding: st.decode.encoding ?? st.summary.encoding, headers: [...st.summary.headers] });
  return { events: events(input, opts, st), summary };
}

// ---- preview ----------------------------------------------------------------------------------

async function* once(b: Buffer): AsyncGenerator<Buffer> { yield b; }

/** Data rows a preview shows by default. */
export const PREVIEW_ROWS = 5;
/**
 * The most of a file a preview parses (bytes): a longer input is read as its start (partial). Sized so
 * the worst input (one long quoted field of "" pairs, or of multi-byte characters) holds the event loop
 * well under 50 ms; the text also reaches the parser a slice at a time with a turn of the loop between.
 */
export const PREVIEW_PARSE_BYTES = 64 * 1024;

export interface ImportPreview {
  encoding: ImportEncoding;
  delimiter: ImportDelimiter;
  headers: string[];
  /** The first data rows as the file has them (raw cells, not mapped or checked); blank lines skipped. */
  rows: string[][];
  /** True when the file holds more data rows than `rows` (always, for a partial input). */
  more: boolean;
  /** True when only the file's first PREVIEW_PARSE_BYTES were read (a longer input, or partial). */
  partial: boolean;
}

/**
 * The header and first data rows of a CSV file, decoded and split as the import would (encoding
 * detected or given, delimiter sniffed or given), for a column-mapping form. Nothing is mapped or
 * validated. `partial`: the input is only the start of a larger file: everything after its last line
 * break is dropped, and a quoted field left open at the end is not an error once the header is read.
 * Only the first PREVIEW_PARSE_BYTES are parsed: a longer input is read as partial (`partial` and
 * `more` true; rows that do not fit are not shown), and a header row that does not fit in them is
 * record_too_large (field file).
 * Throws ImportFormatError: invalid_option (field encoding or delimiter), empty_file, not_csv,
 * invalid_encoding (field encoding), too_many_columns, unclosed_quote, record_too_large.
 */
export async function previewImport(input: Buffer, opts: { encoding?: ImportEncoding; delimiter?: ImportDelimiter; rows?: number; partial?: boolean } = {}): Promise<ImportPreview> {
  validateOptions({ encoding: opts.encoding, delimiter: opts.delimiter });
  const max = opts.rows ?? PREVIEW_ROWS;
  const truncated = input.length > PREVIEW_PARSE_BYTES;
  const partial = Boolean(opts.partial) || truncated;
  const head = truncated ? input.subarray(0, PREVIEW_PARSE_BYTES) : input;
  const cut = partial ? head.lastIndexOf(0x0a) : -1; // 0x0A is never inside a character in any accepted encoding
  if (truncated && cut < 0) {
    throw new ImportFormatError('record_too_large', 'file', `the header row does not fit in the first ${PREVIEW_PARSE_BYTES / 1024} KiB of the file the preview reads (an unclosed quote?)`);
  }
  const bytes = cut >= 0 ? head.subarray(0, cut + 1) : head;
  const state: DecodeState = { encoding: opts.encoding ?? null, offset: 0, fault: null };
  let delimiter: ImportDelimiter = ',';
  // Sliced again after the sniff: it hands its whole head (up to SNIFF_CHARS) on as one piece.
  const texts = turns(sliced(withDelimiter(sliced(decode(bytesOf(once(bytes)), opts.encoding, state)), opts.delimiter, (d) => { delimiter = d; })));
  const first = await texts.next();
  if (first.done) throw new ImportFormatError('empty_file', null, 'the file is empty: no header row');
  const parser = csvStream(prepend(first.value, texts), delimiter);
  let headers: string[] | null = null;
  const rows: string[][] = [];
  let more = partial;
  try {
    for await (const record of drained(parser)) {
      if (state.fault && record[record.length - 1].endsWith(FAULT_MARK)) break;
      if (isBlank(record)) continue;
      if (!headers) { headers = headersOf(record); continue; }
      if (rows.length >= max) { more = true; break; }
      rows.push(record);
    }
  } catch (err) {
    if (state.fault) throw state.fault;
    if (!(partial && headers && err instanceof CsvError)) throw csvError(err);
  } finally {
    parser.destroy();
  }
  if (state.fault) throw state.fault;
  if (!headers) throw new ImportFormatError('empty_file', null, 'the file is empty: no header row');
  return { encoding: state.encoding ?? 'utf-8', delimiter, headers, rows, more, partial };
}

/** Passes the slices on with a turn of the event loop before each one after the first (one slice is one csv-parse call). */
async function* turns(texts: AsyncIterable<string>): AsyncGenerator<string> {
  let first = true;
  for await (const t of texts) {
    if (!first) await new Promise((resolve) => setImmediate(resolve));
    first = false;
    yield t;
  }
}

// Column mapping of a CSV import (PURE): which header is the address, the name, the attributes, the
// lists, the consent facts and the source system's status; the listmonk and Mailchimp presets; and
// one data row turned into a ParsedRow or a RowError. No I/O, never throws for a row.
//
// Without a mapping or preset the headers are recognised by name (case-insensitive): see AUTO below;
// every other column becomes a string attribute named after its header. An explicit mapping uses
// only the columns it names; given with a preset, it overrides the preset key by key.
import { displayNameProblem, hasHeaderInjection, parseAddress } from '../policy/addresses.js';
import {
  isIpAddress, parseBooleanCell, parseDateCell, parseNumberCell, splitListNames, splitMailchimpTags, type AttributeType,
} from './import-values.js';

export type { AttributeType } from './import-values.js';
export type ImportPreset = 'listmonk' | 'mailchimp';
export type SourceStatus = 'subscribed' | 'pending' | 'unsubscribed' | 'cleaned' | 'blocklisted';

export interface ColumnMapping {
  /** Header of the address column: required without a preset; with one, it overrides the preset's. */
  email?: string;
  /** One header, or several joined with a space (First/Last). */
  name?: string | string[];
  /** Header -> attribute name (1–100 characters) and type. */
  attributes?: Record<string, { attribute: string; type: AttributeType }>;
  /** Header whose cell names lists, separated by '|' or ','. */
  lists?: string;
  consentDate?: string; consentIp?: string; consentText?: string; consentSource?: string;
  /** The source system's own status column (values: see STATUS_VALUES). */
  status?: string;
}

export interface ParsedRow {
  /** 1-based data row number (the header is not counted). */
  row: number;
  /** 1-based line of the file where the row starts (the header is line 1; quoted line breaks count). */
  line: number;
  /** Normalised as the API does (policy/addresses parseAddress: trimmed, domain lower-cased, IDNA). */
  email: string;
  /** The address lower-cased (the same as consent/contacts emailKey). */
  emailKey: string;
  name: string | null;
  /** Typed attributes; dates as ISO 8601 strings (`YYYY-MM-DD` for a date without a time). */
  attributes: Record<string, string | number | boolean>;
  lists: string[];
  /** Consent facts from the row: `at` is an ISO 8601 UTC timestamp. */
  consent: { at: string | null; ip: string | null; text: string | null; source: string | null };
  /** What the source system said (Mailchimp: which export file; listmonk or a mapped status column: its value). */
  sourceStatus: SourceStatus | null;
  /** When the source says its status began (Mailchimp UNSUB_TIME / CLEAN_TIME), ISO 8601 UTC; null when unknown or unreadable. */
  sourceStatusAt: string | null;
}

export interface RowError { row: number; line: number; column: string | null; code: string; message: string }

/** A whole-file problem (no email column, unknown mapped header, bad option, not CSV…): a code and the option field at fault. */
export class ImportFormatError extends Error {
  /** The file's line at fault (1-based), when the error is at a place in the file. */
  line: number | null = null;

  constructor(readonly code: string, readonly field: string | null, message: string) {
    super(message);
    this.name = 'ImportFormatError';
  }
}

export const MAX_CELL_CHARS = 10_240;
export const MAX_NAME_CHARS = 200;
export const MAX_ATTRIBUTE_NAME = 100;
/** The JSON of one row's attributes, as the contacts API allows. */
export const MAX_ATTRIBUTES_JSON = 16_384;
export const MAX_LISTS_PER_ROW = 50;
const MAX_SOURCE_CHARS = 50;

type ValueType = AttributeType | 'json' | 'tags';
interface AttributeColumn { index: number; header: string; attribute: string; type: ValueType }

/** A mapping resolved against the header row: column indexes (-1: absent). */
export interface ResolvedMapping {
  headers: string[];
  email: number;
  name: number[];
  attributes: AttributeColumn[];
  lists: { index: number } | null;
  consentDate: number[];
  consentIp: number[];
  consentText: number;
  consentSource: number;
  status: number;
  /** Mailchimp: the status every row of this export file has. */
  fileStatus: SourceStatus | null;
  /** Mailchimp: the column saying when that status began (UNSUB_TIME, CLEAN_TIME), or -1. */
  statusAt: number;
  /** Headers no key uses. */
  ignored: string[];
}

const AUTO = {
  email: ['email', 'e-mail', 'email address', 'e-mail address', 'email_address', 'emailaddress', 'mail'],
  name: ['name', 'full name', 'full_name', 'fullname', 'display name'],
  first: ['first name', 'first_name', 'firstname', 'given name'],
  last: ['last name', 'last_name', 'lastname', 'surname', 'family name'],
  lists: ['lists', 'list'],
  consentDate: ['consent_date', 'consent date', 'consented_at', 'optin_time', 'opt_in_date', 'subscribed_at'],
  consentIp: ['consent_ip', 'optin_ip', 'ip', 'ip_address'],
  consentText: ['consent_text', 'consent text'],
  consentSource: ['consent_source', 'consent source'],
  status: ['status'],
};

const MAILCHIMP_SYSTEM = new Set(['MEMBER_RATING', 'OPTIN_TIME', 'OPTIN_IP', 'CONFIRM_TIME', 'CONFIRM_IP', 'LATITUDE', 'LONGITUDE',
  'GMTOFF', 'DSTOFF', 'TIMEZONE', 'CC', 'REGION', 'LAST_CHANGED', 'LEID', 'EUID', 'NOTES', 'TAGS']);

/** Status cell values (lower-cased) and what they mean; an empty cell is null; `unconfirmed`/`pending` is 'pending' (never subscribed on import). */
export const STATUS_VALUES: Record<string, SourceStatus | null> = {
  subscribed: 'subscribed', confirmed: 'subscribed', active: 'subscribed', enabled: 'subscribed',
  unsubscribed: 'unsubscribed', disabled: 'unsubscribed', inactive: 'unsubscribed', 'opted out': 'unsubscribed',
  cleaned: 'cleaned', bounced: 'cleaned',
  blocklisted: 'blocklisted', blacklisted: 'blocklisted', blocked: 'blocklisted', suppressed: 'blocklisted',
  unconfirmed: 'pending', pending: 'pending',
};

const TYPES: ReadonlySet<string> = new Set(['string', 'number', 'boolean', 'date']);
const MAPPING_KEYS = ['email', 'lists', 'consentDate', 'consentIp', 'consentText', 'consentSource', 'status'] as const;

const isHeaderName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1000;
/** 1–100 characters, and not `__proto__` (assigning it would set an object's prototype, not a key). */
const isAttributeName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ATTRIBUTE_NAME && v !== '__proto__';

/**
 * Checks a mapping's shape before any byte is read; throws ImportFormatError('invalid_option', 'mapping.…').
 * withPreset: the mapping overrides a preset key by key, so email may be left to the preset.
 */
export function validateMapping(mapping: unknown, withPreset = false): asserts mapping is ColumnMapping {
  const bad = (field: string, what: string): never => { throw new ImportFormatError('invalid_option', `mapping.${field}`, `mapping.${field} ${what}`); };
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping)) throw new ImportFormatError('invalid_option', 'mapping', 'mapping must be an object');
  const m = mapping as Record<string, unknown>;
  for (const key of MAPPING_KEYS) if (m[key] !== undefined && !isHeaderName(m[key])) bad(key, 'must be a header name');
  if (m.email === undefined && !withPreset) bad('email', 'is required without a preset: the header of the address column');
  const names = Array.isArray(m.name) ? m.name : m.name === undefined ? [] : [m.name];
  if (names.length > 5 || !names.every(isHeaderName)) bad('name', 'must be a header name or up to 5 of them');
  if (m.attributes !== undefined) validateAttributes(m.attributes, bad);
}

function validateAttributes(attrs: unknown, bad: (field: string, what: string) => never): void {
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) bad('attributes', 'must be an object: header -> {attribute, type}');
  const entries = Object.entries(attrs as Record<string, unknown>);
  if (entries.length > 200) bad('attributes', 'may map at most 200 columns');
  for (const [header, spec] of entries) {
    const s = (typeof spec === 'object' && spec !== null ? spec : {}) as Record<string, unknown>;
    if (!isAttributeName(s.attribute)) bad(`attributes.${header}.attribute`, 'must be 1–100 characters (not __proto__)');
    if (typeof s.type !== 'string' || !TYPES.has(s.type)) bad(`attributes.${header}.type`, 'must be string, number, boolean or date');
  }
}

/** Index of a header: exact match first, else case-insensitive and trimmed; -1 when absent. */
export function findHeader(headers: string[], name: string): number {
  const exact = headers.indexOf(name);
  if (exact >= 0) return exact;
  const want = name.trim().toLowerCase();
  return headers.findIndex((h) => h.trim().toLowerCase() === want);
}

const firstOf = (headers: string[], names: string[]): number => {
  for (const n of names) {
    const i = findHeader(headers, n);
    if (i >= 0) return i;
  }
  return -1;
};
const present = (indexes: number[]): number[] => indexes.filter((i) => i >= 0);

function empty(headers: string[]): ResolvedMapping {
  return { headers, email: -1, name: [], attributes: [], lists: null, consentDate: [], consentIp: [], consentText: -1, consentSource: -1, status: -1, fileStatus: null, statusAt: -1, ignored: [] };
}

function autoName(headers: string[]): number[] {
  const full = firstOf(headers, AUTO.name);
  return full >= 0 ? [full] : present([firstOf(headers, AUTO.first), firstOf(headers, AUTO.last)]);
}

/** Every column no key uses becomes a string attribute named after its header (when 1–100 characters). */
function remainingAsAttributes(m: ResolvedMapping, skip: (header: string) => boolean): void {
  const used = usedColumns(m);
  m.headers.forEach((header, index) => {
    if (used.has(index) || skip(header)) return;
    const name = header.trim();
    if (isAttributeName(name) && !m.attributes.some((a) => a.attribute === name)) {
      m.attributes.push({ index, header, attribute: name, type: 'string' });
    }
  });
}

function usedColumns(m: ResolvedMapping): Set<number> {
  return new Set([m.email, ...m.name, ...m.attributes.map((a) => a.index), m.lists?.index ?? -1, ...m.consentDate, ...m.consentIp,
    m.consentText, m.consentSource, m.status].filter((i) => i >= 0));
}

function autoMapping(headers: string[]): ResolvedMapping {
  const m = empty(headers);
  m.email = firstOf(headers, AUTO.email);
  m.name = autoName(headers);
  const lists = firstOf(headers, AUTO.lists);
  m.lists = lists >= 0 ? { index: lists } : null;
  m.consentDate = present([firstOf(headers, AUTO.consentDate)]);
  m.consentIp = present([firstOf(headers, AUTO.consentIp)]);
  m.consentText = firstOf(headers, AUTO.consentText);
  m.consentSource = firstOf(headers, AUTO.consentSource);
  m.status = firstOf(headers, AUTO.status);
  remainingAsAttributes(m, () => false);
  return m;
}

/**
 * Mailchimp audience export (one CSV per status in the export's zip): "Email Address", "First Name",
 * "Last Name", merge fields (kept as string attributes), MEMBER_RATING, OPTIN_TIME, OPTIN_IP,
 * CONFIRM_TIME, CONFIRM_IP, location columns, LAST_CHANGED, LEID, EUID, NOTES, TAGS; the
 * unsubscribed file adds UNSUB_TIME and UNSUB_* columns, the cleaned file CLEAN_TIME and CLEAN_*.
 * Consent: CONFIRM_TIME else OPTIN_TIME, CONFIRM_IP else OPTIN_IP. TAGS become the string attribute
 * `tags` (names joined with ', '), not lists: map `lists: "TAGS"` to use them as list names.
 */
function mailchimpMapping(headers: string[]): ResolvedMapping {
  const m = empty(headers);
  m.email = findHeader(headers, 'Email Address');
  const names = present([findHeader(headers, 'First Name'), findHeader(headers, 'Last Name')]);
  m.name = names.length > 0 ? names : autoName(headers);
  m.consentDate = present([findHeader(headers, 'CONFIRM_TIME'), findHeader(headers, 'OPTIN_TIME')]);
  m.consentIp = present([findHeader(headers, 'CONFIRM_IP'), findHeader(headers, 'OPTIN_IP')]);
  const tags = findHeader(headers, 'TAGS');
  if (tags >= 0) m.attributes.push({ index: tags, header: headers[tags], attribute: 'tags', type: 'tags' });
  m.fileStatus = findHeader(headers, 'UNSUB_TIME') >= 0 ? 'unsubscribed' : findHeader(headers, 'CLEAN_TIME') >= 0 ? 'cleaned' : 'subscribed';
  m.statusAt = Math.max(findHeader(headers, 'UNSUB_TIME'), findHeader(headers, 'CLEAN_TIME'));
  remainingAsAttributes(m, (h) => MAILCHIMP_SYSTEM.has(h.trim().toUpperCase()) || /^(UNSUB|CLEAN|SSM)_/i.test(h.trim()));
  return m;
}

/**
 * listmonk subscriber export: uuid, email, name, attributes (a JSON object: flattened one level,
 * typed from JSON), status (enabled → subscribed, disabled → unsubscribed, blocklisted), created_at
 * (the consent date), updated_at. uuid and updated_at are not imported.
 */
function listmonkMapping(headers: string[]): ResolvedMapping {
  const m = empty(headers);
  m.email = findHeader(headers, 'email');
  m.name = present([findHeader(headers, 'name')]);
  const attrs = findHeader(headers, 'attributes');
  if (attrs >= 0) m.attributes.push({ index: attrs, header: headers[attrs], attribute: '', type: 'json' });
  m.status = findHeader(headers, 'status');
  m.consentDate = present([findHeader(headers, 'created_at')]);
  return m;
}

function required(headers: string[], header: string, field: string): number {
  const i = findHeader(headers, header);
  if (i < 0) throw new ImportFormatError('unknown_column', `mapping.${field}`, `mapping.${field}: the file has no column "${header}"`);
  return i;
}

/** Applies an explicit mapping over `base` (a preset's, or nothing), key by key. */
function applyExplicit(base: ResolvedMapping, mapping: ColumnMapping): ResolvedMapping {
  const h = base.headers;
  const m = base;
  if (mapping.email !== undefined) m.email = required(h, mapping.email, 'email');
  if (mapping.name !== undefined) m.name = (Array.isArray(mapping.name) ? mapping.name : [mapping.name]).map((n) => required(h, n, 'name'));
  if (mapping.lists !== undefined) m.lists = { index: required(h, mapping.lists, 'lists') };
  if (mapping.consentDate !== undefined) m.consentDate = [required(h, mapping.consentDate, 'consentDate')];
  if (mapping.consentIp !== undefined) m.consentIp = [required(h, mapping.consentIp, 'consentIp')];
  if (mapping.consentText !== undefined) m.consentText = required(h, mapping.consentText, 'consentText');
  if (mapping.consentSource !== undefined) m.consentSource = required(h, mapping.consentSource, 'consentSource');
  if (mapping.status !== undefined) m.status = required(h, mapping.status, 'status');
  const explicit = new Set<number>();
  for (const [header, spec] of Object.entries(mapping.attributes ?? {})) {
    const index = required(h, header, `attributes.${header}`);
    m.attributes = m.attributes.filter((a) => a.index !== index && a.attribute !== spec.attribute);
    m.attributes.push({ index, header, attribute: spec.attribute, type: spec.type });
    explicit.add(index);
  }
  // A column the mapping gives another key is no longer a preset's attribute too.
  const keyed = new Set([m.email, ...m.name, m.lists?.index ?? -1, ...m.consentDate, ...m.consentIp, m.consentText, m.consentSource, m.status]);
  m.attributes = m.attributes.filter((a) => explicit.has(a.index) || !keyed.has(a.index));
  return m;
}

/**
 * Resolves the mapping against the header row. Throws ImportFormatError: `unknown_column` (a mapped
 * header the file lacks; field `mapping.<key>`), `no_email_column` (field `mapping.email`).
 */
export function resolveMapping(headers: string[], opts: { mapping?: ColumnMapping; preset?: ImportPreset }): ResolvedMapping {
  let m = opts.preset === 'mailchimp' ? mailchimpMapping(headers) : opts.preset === 'listmonk' ? listmonkMapping(headers)
    : opts.mapping ? empty(headers) : autoMapping(headers);
  if (opts.mapping) m = applyExplicit(m, opts.mapping);
  if (m.email < 0) {
    const expected = opts.preset === 'mailchimp' ? '"Email Address"' : opts.preset === 'listmonk' ? '"email"' : 'email, e-mail or email address';
    throw new ImportFormatError('no_email_column', 'mapping.email', `no address column: expected a header named ${expected}, or give mapping.email`);
  }
  const used = usedColumns(m);
  m.ignored = headers.filter((_, i) => !used.has(i));
  return m;
}

/** What a column-mapping form starts from: the mapping the import would use without one, as header names. */
export interface MappingSuggestion {
  /** Explicit mapping with the same effect as none (auto-recognised headers; every other column a string attribute). */
  mapping: ColumnMapping;
  /** Headers the mapping leaves out (not imported). */
  ignored: string[];
}

/**
 * The automatic mapping of a header row (headers recognised by name, see AUTO; other columns string
 * attributes named after their header) as an explicit ColumnMapping of header names, so a form can
 * show it and send it back changed. Never throws: without an address column, mapping.email is absent.
 */
export function suggestMapping(headers: string[]): MappingSuggestion {
  const m = autoMapping(headers);
  const h = (i: number): string | undefined => (i >= 0 ? headers[i] : undefined);
  const mapping: ColumnMapping = {};
  const set = <K extends keyof ColumnMapping>(key: K, v: ColumnMapping[K] | undefined) => { if (v !== undefined) mapping[key] = v; };
  set('email', h(m.email));
  set('name', m.name.length === 0 ? undefined : m.name.length === 1 ? headers[m.name[0]] : m.name.map((i) => headers[i]));
  set('lists', m.lists ? headers[m.lists.index] : undefined);
  set('consentDate', h(m.consentDate[0] ?? -1));
  set('consentIp', h(m.consentIp[0] ?? -1));
  set('consentText', h(m.consentText));
  set('consentSource', h(m.consentSource));
  set('status', h(m.status));
  if (m.attributes.length > 0) {
    mapping.attributes = Object.fromEntries(m.attributes.map((a) => [a.header, { attribute: a.attribute, type: a.type as AttributeType }]));
  }
  const used = usedColumns(m);
  return { mapping, ignored: headers.filter((_, i) => !used.has(i)) };
}

// ---- one row ----------------------------------------------------------------------------------

type Cells = string[];
interface RowContext { row: number; line: number; decimalComma: boolean }
class RowFault { constructor(readonly column: string | null, readonly code: string, readonly message: string) {} }

const cell = (cells: Cells, i: number): string => (i >= 0 ? (cells[i] ?? '').trim() : '');
const firstCell = (cells: Cells, indexes: number[]): [string, number] => {
  for (const i of indexes) {
    const v = cell(cells, i);
    if (v) return [v, i];
  }
  return ['', -1];
};

function checkCells(cells: Cells, headers: string[]): void {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (c.length > MAX_CELL_CHARS) throw new RowFault(headers[i], 'field_too_long', `${headers[i]}: longer than ${MAX_CELL_CHARS} characters`);
    if (c.includes('\u0000')) throw new RowFault(headers[i], 'invalid_character', `${headers[i]}: contains a NUL character`);
  }
}

function emailOf(cells: Cells, m: ResolvedMapping): { email: string; key: string } {
  const header = m.headers[m.email];
  const raw = cell(cells, m.email);
  if (!raw) throw new RowFault(header, 'missing_email', `${header}: no address`);
  const parsed = parseAddress(raw);
  if (!parsed.ok) throw new RowFault(header, 'invalid_email', `${header}: not a valid address (${parsed.error})`);
  return { email: parsed.value.address, key: parsed.value.key };
}

function nameOf(cells: Cells, m: ResolvedMapping): string | null {
  // Line breaks and tabs (a quoted multi-line cell) become spaces; other control characters are refused.
  const name = m.name.map((i) => cell(cells, i)).filter(Boolean).join(' ').replace(/[\r\n\t]+/g, ' ');
  if (!name) return null;
  const header = m.headers[m.name[0]];
  if (name.length > MAX_NAME_CHARS) throw new RowFault(header, 'field_too_long', `${header}: a name is at most ${MAX_NAME_CHARS} characters`);
  const problem = displayNameProblem(name);
  if (problem) throw new RowFault(header, 'invalid_name', `${header}: the name cannot be a display name (${problem})`);
  return name;
}

function typedValue(value: string, col: AttributeColumn, ctx: RowContext): string | number | boolean {
  const fault = (code: string, what: string) => new RowFault(col.header, code, `${col.header}: ${what}`);
  if (col.type === 'number') {
    const n = parseNumberCell(value, ctx.decimalComma);
    if (n === null) throw fault('invalid_number', `"${value.slice(0, 40)}" is not a number`);
    return n;
  }
  if (col.type === 'boolean') {
    const b = parseBooleanCell(value);
    if (b === null) throw fault('invalid_boolean', `"${value.slice(0, 40)}" is not true/false/yes/no/1/0`);
    return b;
  }
  if (col.type === 'date') {
    const d = parseDateCell(value);
    if (d === null) throw fault('invalid_date', `"${value.slice(0, 40)}" is not a date (ISO 8601, YYYY-MM-DD HH:MM:SS, DD.MM.YYYY, or unambiguous DD/MM/YYYY)`);
    return d.date ?? d.iso;
  }
  return value;
}

/** listmonk's attributes JSON: an object, flattened one level ("a.b"); nested arrays and objects kept as JSON text. */
function jsonAttributes(value: string, col: AttributeColumn, out: Record<string, string | number | boolean>): void {
  let parsed: unknown;
  try { parsed = JSON.parse(value); } catch { parsed = undefined; }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RowFault(col.header, 'invalid_json', `${col.header}: not a JSON object`);
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) putJson(out, `${k}.${k2}`, v2);
    } else putJson(out, k, v);
  }
}

function putJson(out: Record<string, string | number | boolean>, key: string, v: unknown): void {
  if (v === null || v === undefined || !isAttributeName(key)) return;
  out[key] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
}

function attributesOf(cells: Cells, m: ResolvedMapping, ctx: RowContext): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  let chars = 0;
  for (const col of m.attributes) {
    const value = cell(cells, col.index);
    if (!value) continue;
    if (col.type === 'json') jsonAttributes(value, col, out);
    else if (col.type === 'tags') out[col.attribute] = splitMailchimpTags(value).join(', ');
    else out[col.attribute] = typedValue(value, col, ctx);
    chars += value.length + col.attribute.length;
  }
  if (chars > MAX_ATTRIBUTES_JSON / 2 && JSON.stringify(out).length > MAX_ATTRIBUTES_JSON) {
    throw new RowFault(null, 'field_too_long', `the row's attributes are more than ${MAX_ATTRIBUTES_JSON} characters of JSON`);
  }
  return out;
}

function listsOf(cells: Cells, m: ResolvedMapping): string[] {
  if (!m.lists) return [];
  const value = cell(cells, m.lists.index);
  if (!value) return [];
  const header = m.headers[m.lists.index];
  const lists = splitListNames(value);
  if (lists.length > MAX_LISTS_PER_ROW) throw new RowFault(header, 'field_too_long', `${header}: at most ${MAX_LISTS_PER_ROW} lists per row`);
  const bad = lists.find((l) => l.length > 200 || hasHeaderInjection(l));
  if (bad !== undefined) throw new RowFault(header, 'invalid_list', `${header}: a list name is 1–200 characters without control characters`);
  return lists;
}

/** How far in the future a consent date may be (clock skew between the source system and this one). */
export const CONSENT_CLOCK_SKEW_MS = 5 * 60_000;

function consentOf(cells: Cells, m: ResolvedMapping): ParsedRow['consent'] {
  const [dateText, dateCol] = firstCell(cells, m.consentDate);
  const date = dateText ? parseDateCell(dateText) : null;
  if (dateText && !date) throw new RowFault(m.headers[dateCol], 'invalid_date', `${m.headers[dateCol]}: "${dateText.slice(0, 40)}" is not a date`);
  if (date && Date.parse(date.iso) > Date.now() + CONSENT_CLOCK_SKEW_MS) {
    throw new RowFault(m.headers[dateCol], 'invalid_date', `${m.headers[dateCol]}: "${dateText.slice(0, 40)}" is in the future; consent is given before it is imported`);
  }
  const [ip, ipCol] = firstCell(cells, m.consentIp);
  if (ip && !isIpAddress(ip)) throw new RowFault(m.headers[ipCol], 'invalid_ip', `${m.headers[ipCol]}: "${ip.slice(0, 45)}" is not an IP address`);
  const source = cell(cells, m.consentSource);
  if (source && (source.length > MAX_SOURCE_CHARS || hasHeaderInjection(source))) {
    throw new RowFault(m.headers[m.consentSource], 'invalid_source', `${m.headers[m.consentSource]}: a source is at most ${MAX_SOURCE_CHARS} characters without line breaks`);
  }
  return { at: date?.iso ?? null, ip: ip || null, text: cell(cells, m.consentText) || null, source: source || null };
}

function statusOf(cells: Cells, m: ResolvedMapping): SourceStatus | null {
  if (m.status < 0) return m.fileStatus;
  const value = cell(cells, m.status).toLowerCase();
  if (!value) return m.fileStatus;
  const status = STATUS_VALUES[value];
  if (status === undefined || !Object.hasOwn(STATUS_VALUES, value)) {
    throw new RowFault(m.headers[m.status], 'invalid_status', `${m.headers[m.status]}: unknown status "${value.slice(0, 40)}"`);
  }
  return status ?? m.fileStatus;
}

/** One data row mapped and validated: the ParsedRow, or the first RowError found (never throws). */
export function mapRow(cells: Cells, m: ResolvedMapping, ctx: RowContext): { row: ParsedRow } | { error: RowError } {
  try {
    if (cells.length !== m.headers.length) {
      throw new RowFault(null, 'column_count', `the row has ${cells.length} columns, the header ${m.headers.length}`);
    }
    checkCells(cells, m.headers);
    const { email, key } = emailOf(cells, m);
    const row: ParsedRow = {
      row: ctx.row, line: ctx.line, email, emailKey: key, name: nameOf(cells, m), attributes: attributesOf(cells, m, ctx),
      lists: listsOf(cells, m), consent: consentOf(cells, m), sourceStatus: statusOf(cells, m),
      sourceStatusAt: m.statusAt >= 0 ? parseDateCell(cell(cells, m.statusAt))?.iso ?? null : null,
    };
    return { row };
  } catch (err) {
    if (!(err instanceof RowFault)) throw err;
    return { error: { row: ctx.row, line: ctx.line, column: err.column, code: err.code, message: err.message } };
  }
}

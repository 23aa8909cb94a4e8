// The shapes of /api/imports and /api/imports/preview as the imports page reads them, and the
// translation between the API's column mapping (options.mapping, header names) and what the mapping
// form shows (one choice per column). What a mapping means is the server's (src/audience/import-map.ts).

export type AttributeType = 'string' | 'number' | 'boolean' | 'date';

/** options.mapping of POST /api/imports. */
export interface ColumnMapping {
  email?: string;
  name?: string | string[];
  lists?: string;
  consentDate?: string; consentIp?: string; consentText?: string; consentSource?: string;
  status?: string;
  attributes?: Record<string, { attribute: string; type: AttributeType }>;
}

/** POST /api/imports/preview. */
export interface Preview {
  encoding: string; delimiter: string; headers: string[]; rows: string[][]; more: boolean;
  mapping: ColumnMapping; ignored: string[];
}

export const SKIP_REASONS = ['unsubscribed', 'complained', 'bounced', 'erased', 'suppressed'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface RowReport { row: number; line: number; column: string | null; code: string; message: string }

/** GET /api/imports/{id}. */
export interface ImportView {
  id: string; status: 'queued' | 'running' | 'completed' | 'failed'; dryRun: boolean;
  progress: { rows: number; bytesRead: number; bytes: number; percent: number };
  counts: {
    rows: number; created: number; updated: number; subscribed: number; unconfirmed: number; unchanged: number;
    skipped: Record<SkipReason, number>; duplicates: number; errors: number; activations: number; optedOut: number;
  };
  rowErrors: RowReport[];
  encoding: string | null; delimiter: string | null;
  error: { code: string; field: string | null; message: string; line?: number | null; partial?: boolean } | null;
  options: Record<string, unknown>;
  attestation: { by: string; source: string; text: string | null; date: string | null; ip: string | null } | null;
  createdAt: string; startedAt: string | null; finishedAt: string | null;
}

export const isRunning = (v: ImportView): boolean => v.status === 'queued' || v.status === 'running';

/** What one column of the file becomes. Single keys (email, lists, consent…, status) belong to one column at most. */
export type ColumnRole =
  | 'email' | 'name' | 'lists' | 'consentDate' | 'consentIp' | 'consentText' | 'consentSource' | 'status'
  | 'attr:string' | 'attr:number' | 'attr:boolean' | 'attr:date' | 'ignore';

export const SINGLE_ROLES = ['email', 'lists', 'consentDate', 'consentIp', 'consentText', 'consentSource', 'status'] as const;
type SingleRole = (typeof SINGLE_ROLES)[number];

export const ROLE_OPTIONS: { value: ColumnRole; label: string }[] = [
  { value: 'email', label: 'Email address' },
  { value: 'name', label: 'Name (or part of it)' },
  { value: 'attr:string', label: 'Attribute: text' },
  { value: 'attr:number', label: 'Attribute: number' },
  { value: 'attr:boolean', label: 'Attribute: yes/no' },
  { value: 'attr:date', label: 'Attribute: date' },
  { value: 'lists', label: 'List names' },
  { value: 'consentDate', label: 'Consent date' },
  { value: 'consentIp', label: 'Consent IP address' },
  { value: 'consentText', label: 'Consent wording' },
  { value: 'consentSource', label: 'Consent source' },
  { value: 'status', label: 'Status in the old system' },
  { value: 'ignore', label: 'Do not import' },
];

/** One choice per column from a mapping (the preview's suggestion, say); a column the mapping leaves out is 'ignore'. */
export function rolesOf(headers: string[], m: ColumnMapping): ColumnRole[] {
  const names = m.name === undefined ? [] : Array.isArray(m.name) ? m.name : [m.name];
  const taken = new Set<string>();
  return headers.map((h): ColumnRole => {
    for (const key of SINGLE_ROLES) {
      if (m[key] === h && !taken.has(key)) { taken.add(key); return key; }
    }
    if (names.includes(h)) return 'name';
    const a = m.attributes?.[h];
    if (a) return `attr:${a.type}`;
    return 'ignore';
  });
}

/** The mapping of the choices, as options.mapping takes it; attributes are named after their header (trimmed). */
export function mappingOf(headers: string[], roles: ColumnRole[]): ColumnMapping {
  const m: ColumnMapping = {};
  const names: string[] = [];
  const attributes: NonNullable<ColumnMapping['attributes']> = {};
  headers.forEach((h, i) => {
    const r = roles[i] ?? 'ignore';
    if (r === 'ignore') return;
    if (r === 'name') names.push(h);
    else if (r.startsWith('attr:')) attributes[h] = { attribute: h.trim(), type: r.slice(5) as AttributeType };
    else m[r as SingleRole] = h;
  });
  if (names.length > 0) m.name = names.length === 1 ? names[0] : names;
  if (Object.keys(attributes).length > 0) m.attributes = attributes;
  return m;
}

/** Sets column `i` to `role`; a single role moves from the column that had it (that one is then not imported). */
export function withRole(roles: ColumnRole[], i: number, role: ColumnRole): ColumnRole[] {
  const single = (SINGLE_ROLES as readonly string[]).includes(role);
  return roles.map((r, j) => (j === i ? role : single && r === role ? 'ignore' : r));
}

/** An error's field as this page keys it: without the "options." prefix of the upload's 422s. */
export const fieldKey = (field: string | null | undefined): string => (field ?? '').replace(/^options\./, '');

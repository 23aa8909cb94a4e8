// The options of a CSV import (POST /api/imports), as a zod schema: validated at upload (422 naming
// the field, e.g. options.consent.source), stored on the import, read again by the job.
import { z } from 'zod';
import { uuid } from '../platform/schemas.js';
import { CONSENT_CLOCK_SKEW_MS, ImportFormatError, validateMapping } from './import-map.js';

const header = z.string().min(1).max(1000);
const attributeType = z.enum(['string', 'number', 'boolean', 'date']);

/** Column mapping: header names of the file (see src/audience/import-map.ts for what each does). */
export const columnMapping = z.strictObject({
  email: header.optional().describe('Required without a preset; with one, each key given overrides the preset\'s'),
  name: z.union([header, z.array(header).min(1).max(5)]).optional(),
  attributes: z.record(header, z.strictObject({ attribute: z.string().min(1).max(100), type: attributeType })).optional(),
  lists: header.optional(),
  consentDate: header.optional(), consentIp: header.optional(), consentText: header.optional(), consentSource: header.optional(),
  status: header.optional(),
}).superRefine((m, ctx) => {
  try { validateMapping(m, true); } catch (err) { // email without a preset: checked on the options below
    if (!(err instanceof ImportFormatError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message, path: (err.field ?? 'mapping').split('.').slice(1) });
  }
});

/** ISO 8601: a date (2024-03-01) or a date-time with a zone (2024-03-01T10:00:00Z). */
const isoDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/** What the importer attests about the consent of the rows: required for any row to arrive subscribed. */
export const consentAttestation = z.strictObject({
  source: z.string().trim().min(1).max(200).describe('Where and how consent was given, e.g. "signup form on example.org (Mailchimp export)"'),
  text: z.string().min(1).max(5000).optional().describe('The wording the people agreed to (stored once, referenced by each consent record)'),
  date: isoDate.refine((d) => Date.parse(d) <= Date.now() + CONSENT_CLOCK_SKEW_MS, 'must not be in the future (consent is given before it is imported)')
    .optional().describe('When consent was given, for rows without their own consent date column'),
  ip: z.union([z.ipv4(), z.ipv6()]).optional().describe('Where from, when one address applies to every row (rare)'),
});

export const importOptions = z.strictObject({
  dryRun: z.boolean().default(false).describe('Parse and check everything, write nothing but the report'),
  delimiter: z.enum([',', ';', '\t']).optional().describe('Sniffed from the header line when absent'),
  encoding: z.enum(['utf-8', 'windows-1252', 'latin1']).optional().describe('Detected when absent (BOM or valid UTF-8, else windows-1252)'),
  preset: z.enum(['listmonk', 'mailchimp']).optional(),
  mapping: columnMapping.optional(),
  lists: z.array(uuid).max(100).default([]).describe('List ids every row is added to, besides the lists column (names); neither: the default list'),
  updateExisting: z.boolean().default(false).describe("Update existing contacts' name and attributes from the file"),
  consent: consentAttestation.optional().describe('The attestation; without it every row is unconfirmed'),
  sendActivation: z.boolean().default(false).describe('Queue the double opt-in mail for unconfirmed rows, paced at IMPORT_ACTIVATIONS_PER_MINUTE'),
}).superRefine((o, ctx) => {
  if (o.mapping && !o.preset && o.mapping.email === undefined) {
    ctx.addIssue({ code: 'custom', message: 'is required without a preset: the header of the address column', path: ['mapping', 'email'] });
  }
  // A row is subscribed only with a consent date (its own, else the attestation's): an attestation
  // with neither would make nobody subscribed. Decided here when the mapping is given in full (no
  // preset); otherwise the job decides once it has read the header (ATTESTATION_WITHOUT_DATE).
  if (o.consent && o.consent.date === undefined && o.mapping && !o.preset && o.mapping.consentDate === undefined) {
    ctx.addIssue({ code: 'custom', message: ATTESTATION_WITHOUT_DATE, path: ['consent', 'date'] });
  }
});
/**
 * Why an attestation without a date is refused when no column holds each row's consent date
 * (422 at upload, or the import fails with it, field options.consent.date).
 */
export const ATTESTATION_WITHOUT_DATE = 'is required when no column holds a consent date (mapping.consentDate): '
  + 'without a date nobody would arrive subscribed; give the date consent was given, map the column, or import without consent (unconfirmed)';
export type ImportOptions = z.infer<typeof importOptions>;

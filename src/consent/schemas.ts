// Request schemas of the consent API (zod): contacts, opt-ins, lists, listing filters.
import { z } from 'zod';
import { attributes, bodyText, displayName, email, headerText, pagination, uuid } from '../platform/schemas.js';
import { CONTACT_STATUSES, SUBSCRIPTION_STATUSES } from './state.js';
import { localeTag } from '../tenants/module.js';

export const consentSchema = z.object({
  text: bodyText(10_000).refine((v) => v.trim().length > 0, 'the consent wording shown to the person is required'),
  source: headerText(50).min(1),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: headerText(500).optional(),
}).strict();
export type ConsentInput = z.infer<typeof consentSchema>;

export const registerSchema = z.object({
  email,
  name: displayName(200).trim().min(1).optional(), // the To display name
  attributes: attributes.optional(),
  newsletter: z.union([z.boolean(), z.array(uuid).max(50)]),
  consent: consentSchema,
  locale: localeTag.optional().describe('The person\'s locale (BCP 47, e.g. de-DE) for their pages and mail; stored on a new contact only'),
}).strict();
export type RegisterInput = z.infer<typeof registerSchema>;

export const optInSchema = z.object({
  listIds: z.array(uuid).min(1).max(50),
  consent: consentSchema,
}).strict();

export const contactStatus = z.enum(CONTACT_STATUSES);
export const subscriptionStatus = z.enum(SUBSCRIPTION_STATUSES);

export const contactsQuery = z.object({
  status: contactStatus.optional(),
  listId: uuid.optional(),
  subscriptionStatus: subscriptionStatus.optional(),
  email: email.optional(),
  q: z.string().trim().min(1).max(200).refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters').optional()
    .describe('part of the address or the name (case-insensitive; % and _ match themselves)'),
  ...pagination,
}).strict();
export type ContactsQuery = z.infer<typeof contactsQuery>;

export const listVisibility = z.enum(['public', 'private']);

export const newListSchema = z.object({
  name: headerText(200).trim().min(1),
  description: bodyText(2000).nullable().optional(),
  isDefault: z.boolean().optional(),
  visibility: listVisibility.optional().describe("public (default): on the preference page and open to self-subscription; private: joined only by the tenant"),
  archived: z.boolean().optional().describe('an archived list takes no new opt-ins and no campaigns; the default list cannot be archived'),
}).strict();

export const listPatchSchema = z.object({
  name: headerText(200).trim().min(1).optional(),
  description: bodyText(2000).nullable().optional(),
  isDefault: z.literal(true, { message: 'make another list the default instead' }).optional(),
  visibility: listVisibility.optional(),
  archived: z.boolean().optional().describe('true archives the list, false restores it'),
}).strict();

/** PATCH /api/contacts/{id}: a new name (null clears it) and attributes merged in (a null value removes that key). */
export const contactPatchSchema = z.object({
  name: displayName(200).trim().min(1).nullable().optional(),
  attributes: attributes.optional(),
  locale: localeTag.nullable().optional().describe('The person\'s locale (BCP 47) for their pages and mail; null clears it (then the browser\'s or the tenant\'s)'),
}).strict().refine((v) => v.name !== undefined || v.attributes !== undefined || v.locale !== undefined, 'give name, attributes or locale');
export type ContactPatch = z.infer<typeof contactPatchSchema>;

/** GET /api/contacts/export.csv: the listing's filters, without paging (the export streams every match). */
export const contactsExportQuery = contactsQuery.omit({ limit: true, cursor: true });

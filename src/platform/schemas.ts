// Zod building blocks for request schemas shared by every domain: header-safe text, strict
// addresses (normalised), a reply-to on a real domain, uuids.
import { z } from 'zod';
import { hasHeaderInjection, isReplyToAcceptable, parseAddress } from '../policy/addresses.js';
import { UUID_PATTERN } from '../policy/ids.js';

export const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID');

/** Text that may reach a mail header: no CR, LF, NUL or other control characters. */
export const headerText = (max: number) => z.string().max(max).refine((v) => !hasHeaderInjection(v), 'must not contain line breaks or control characters');

/** Free text that stays in a body or the database: no NUL (PostgreSQL refuses it). */
export const bodyText = (max: number) => z.string().max(max).refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');

export const email = z.string().max(320).transform((v, ctx) => {
  const r = parseAddress(v);
  if (!r.ok) { ctx.addIssue({ code: 'custom', message: `invalid email address (${r.error})` }); return z.NEVER; }
  return r.value.address;
});

export const replyTo = z.string().max(320).transform((v, ctx) => {
  const r = isReplyToAcceptable(v);
  if (!r.ok) { ctx.addIssue({ code: 'custom', message: `reply-to must be a valid address on a real domain (${r.error})` }); return z.NEVER; }
  return r.value.address;
});

export const attributes = z.record(z.string().max(100), z.unknown()).refine((v) => JSON.stringify(v).length <= 16_384, 'attributes are limited to 16 KiB');

export const pagination = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};

// Zod building blocks for request schemas shared by every domain: header-safe text, display names
// and subjects (no encoded-words, no bidi controls), strict addresses (normalised), a reply-to on a
// real domain, uuids.
import { z } from 'zod';
import { displayNameProblem, hasBidiControl, hasEncodedWord, hasHeaderInjection, isReplyToAcceptable, parseAddress, type DisplayNameProblem } from '../policy/addresses.js';
import { UUID_PATTERN } from '../policy/ids.js';

export const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID');

/** Text that may reach a mail header: no CR, LF, NUL or other control characters. */
export const headerText = (max: number) => z.string().max(max).refine((v) => !hasHeaderInjection(v), 'must not contain line breaks or control characters');

const NAME_PROBLEM: Record<DisplayNameProblem, string> = {
  control: 'must not contain line breaks or control characters',
  encoded_word: 'must not contain an RFC 2047 encoded-word (=?charset?q?…?=)',
  bidi_control: 'must not contain bidi control characters (U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C)',
  angle_bracket: "must not contain '<' or '>'",
  at_sign: "must not contain '@' (a sender name must not look like an address)",
};

const nameSchema = (max: number, sender: boolean) => z.string().max(max).superRefine((v, ctx) => {
  const problem = displayNameProblem(v, sender);
  if (problem) ctx.addIssue({ code: 'custom', message: NAME_PROBLEM[problem] });
});

/**
 * A name Postgate writes as a display name (To: the contact's name): header-safe text without
 * encoded-words, bidi controls, '<' or '>' (policy/addresses displayNameProblem). Quotes, commas and
 * semicolons are fine: the name is quoted on the wire.
 */
export const displayName = (max: number) => nameSchema(max, false);

/** A sender name (From, and the tenant name used in subjects): a displayName without '@' either. */
export const senderName = (max: number) => nameSchema(max, true);

/** A subject a person writes (templates, campaigns, notices): header-safe, no encoded-words, no bidi controls. */
export const subjectText = (max: number) => headerText(max)
  .refine((v) => !hasEncodedWord(v), NAME_PROBLEM.encoded_word)
  .refine((v) => !hasBidiControl(v), NAME_PROBLEM.bidi_control);

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

// Zod building blocks for request schemas shared by every domain: header-safe text, display names
// and subjects (no encoded-words, no bidi controls, no invisible format characters, no look-alikes of
// '<', '>' or '@' in names), strict addresses (normalised), a reply-to on a real domain, uuids, and
// the one blank test (isBlank).
import { z } from 'zod';
import {
  displayNameProblem, hasBidiControl, hasEncodedWord, hasFormatCharacter, hasHeaderInjection, isReplyToAcceptable, parseAddress, type DisplayNameProblem,
} from '../policy/addresses.js';
import { UUID_PATTERN } from '../policy/ids.js';

export const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID');

/** Text that may reach a mail header: no CR, LF, NUL or other control characters. */
export const headerText = (max: number) => z.string().max(max).refine((v) => !hasHeaderInjection(v), 'must not contain line breaks or control characters');

const NAME_PROBLEM: Record<DisplayNameProblem, string> = {
  control: 'must not contain line breaks or control characters',
  encoded_word: 'must not contain an RFC 2047 encoded-word (=?charset?q?…?=)',
  bidi_control: 'must not contain bidi control characters (U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C)',
  format_character: 'must not contain invisible format characters (zero-width characters, tag characters U+E0000–E007F, soft hyphen, BOM)',
  angle_bracket: "must not contain '<' or '>', or a look-alike of them ('＜', '﹤', '‹', '〈'…)",
  at_sign: "must not contain '@' or a look-alike ('＠', '﹫'): a sender name must not look like an address",
};

const nameSchema = (max: number, sender: boolean) => z.string().max(max).superRefine((v, ctx) => {
  const problem = displayNameProblem(v, sender);
  if (problem) ctx.addIssue({ code: 'custom', message: NAME_PROBLEM[problem] });
});

/**
 * A name Postgate writes as a display name (To: the contact's name): header-safe text without
 * encoded-words, bidi controls, invisible format characters (Unicode Cf), '<' or '>' read in NFKC
 * form (UAX #15: '＜' is '<'), see policy/addresses displayNameProblem. Quotes, commas and semicolons
 * are fine: the name is quoted on the wire.
 */
export const displayName = (max: number) => nameSchema(max, false);

/** A sender name (From, and the tenant name used in subjects): a displayName without '@' (nor '＠', '﹫') either. */
export const senderName = (max: number) => nameSchema(max, true);

/**
 * A subject a person writes (templates, campaigns, notices): header-safe, no encoded-words (RFC 2047),
 * no bidi controls (UAX #9), no invisible format characters (Unicode Cf, emoji ZWJ sequences kept).
 */
export const subjectText = (max: number) => headerText(max)
  .refine((v) => !hasEncodedWord(v), NAME_PROBLEM.encoded_word)
  .refine((v) => !hasBidiControl(v), NAME_PROBLEM.bidi_control)
  .refine((v) => !hasFormatCharacter(v), NAME_PROBLEM.format_character);

// White space (\s), every Unicode space separator (Z: NBSP, ideographic space, line and paragraph
// separators) and invisible format characters (Cf: ZWSP, WJ, BOM, soft hyphen, tag characters).
const INVISIBLE_ONLY = /^[\s\p{Z}\p{Cf}]*$/u;

/** True when a text shows nothing: only white space and the Unicode General_Category (UAX #44) separators Z and format characters Cf. */
export function isBlank(v: string): boolean {
  return INVISIBLE_ONLY.test(v);
}

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

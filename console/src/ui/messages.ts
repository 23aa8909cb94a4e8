// The API's validator messages in plain words. The server answers a 422 with zod's own text
// ("name: Too small: expected string to have >=1 characters"); people read "Required". Only the
// wording changes: the field the error names stays where it is (formErrors).

const NAME_PROBLEM: Record<string, string> = {
  angle_bracket: "must not contain '<' or '>'",
  at_sign: "must not contain '@'",
  control: 'must not contain line breaks or control characters',
  encoded_word: 'must not contain an encoded-word (=?…?=)',
  bidi_control: 'must not contain text-direction control characters',
  format_character: 'must not contain invisible characters',
};

const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'yes or no', array: 'a list', object: 'an object', date: 'a date',
};

const plural = (n: string, one: string, many: string): string => `${n} ${n === '1' ? one : many}`;

/** One message without its leading "<field>: " (the field is shown by the control the error sits at). */
function bare(text: string, field?: string | null): string {
  if (field && text.startsWith(`${field}: `)) return text.slice(field.length + 2);
  return text.replace(/^(?:body|query)\.[\w.[\]]+: /, '');
}

/**
 * A validator message in plain words: zod's common codes (too small/big, wrong type, invalid email/URL,
 * invalid option, pattern) and an import's display-name problems ("(angle_bracket)"). `field` (the
 * ApiFailure's) is dropped from the front of the text. Any other text is returned unchanged.
 */
export function plainMessage(text: string, field?: string | null): string {
  const m = bare(text, field);
  let r: RegExpMatchArray | null;
  if ((r = m.match(/^Too small: expected string to have >=?(\d+) characters?$/))) {
    return r[1] === '1' ? 'Required' : `Too short (at least ${plural(r[1], 'character', 'characters')})`;
  }
  if ((r = m.match(/^Too big: expected string to have <=?(\d+) characters?$/))) return `Too long (at most ${plural(r[1], 'character', 'characters')})`;
  if ((r = m.match(/^Too small: expected array to have >=?(\d+) items?$/))) return r[1] === '1' ? 'Choose at least one' : `Choose at least ${r[1]}`;
  if ((r = m.match(/^Too big: expected array to have <=?(\d+) items?$/))) return `At most ${r[1]} allowed`;
  if ((r = m.match(/^Too small: expected (?:number|int|bigint) to be >(=?)(-?[\d.]+)$/))) return r[1] ? `Must be at least ${r[2]}` : `Must be more than ${r[2]}`;
  if ((r = m.match(/^Too big: expected (?:number|int|bigint) to be <(=?)(-?[\d.]+)$/))) return r[1] ? `Must be at most ${r[2]}` : `Must be less than ${r[2]}`;
  if (/^Invalid input: expected \w+, received (?:undefined|null)$/.test(m)) return 'Required';
  if (/^Invalid input: expected number, received NaN$/.test(m)) return 'Must be a number';
  if ((r = m.match(/^Invalid input: expected (\w+), received \w+$/))) return `Must be ${TYPE_WORDS[r[1]] ?? r[1]}`;
  if ((r = m.match(/^Invalid option: expected one of (.+)$/))) return `Choose one of: ${r[1].split('|').map((o) => o.replace(/^"|"$/g, '')).join(', ')}`;
  if (/^Invalid email address$/i.test(m)) return 'Not a valid email address';
  if (/^Invalid URL$/i.test(m)) return 'Not a valid URL';
  if (/^Invalid UUID$/i.test(m)) return 'Not a valid id';
  if (/^Invalid ISO (?:datetime|date)/i.test(m)) return 'Not a valid date';
  if (/^Invalid string: must match pattern /.test(m)) return 'Not in the expected format';
  if (/cannot be a display name \(\w+\)/.test(m)) {
    const out = m.replace(/(?:the name )?cannot be a display name \((\w+)\)/, (_, p: string) => `the name ${NAME_PROBLEM[p] ?? `is not allowed (${p.replace(/_/g, ' ')})`}`);
    return out[0].toUpperCase() + out.slice(1);
  }
  return m;
}
